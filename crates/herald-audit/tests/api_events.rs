//! `/events` and `/events/{seq}` through the router: every filter, full-text search,
//! ordering, cursor pagination, app scoping and the 400/404 answers.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

/// What the test recorded, to compute expected answers from.
#[derive(Debug, Clone)]
struct Spec {
    seq: i64,
    at: i64,
    action: &'static str,
    model: &'static str,
    object_id: i64,
    user: &'static str,
    name: String,
}

const ACTIONS: [&str; 3] = ["created", "updated", "deleted"];
const MODELS: [&str; 2] = ["service", "invoice"];
const USERS: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];

/// 30 audit events over Jan 7–9 (10 a day), then 3 plain-text notes on Jan 10, and an
/// event for another app that must never show up.
async fn fixture(store: &TestStore) -> (herald_audit::Audit, axum::Router, Vec<Spec>) {
    let audit = store.open().await;
    let mut specs = Vec::new();
    for i in 0..30i64 {
        let spec = Spec {
            seq: i + 1,
            at: JAN_7 + (i / 10) * DAY + (i % 10) * MINUTE,
            action: ACTIONS[(i % 3) as usize],
            model: MODELS[(i % 2) as usize],
            object_id: i % 4,
            user: USERS[(i % 5 % 3) as usize],
            name: format!("Widget number{i}"),
        };
        audit
            .recorder
            .record(vec![audit_event(
                "1",
                spec.at,
                spec.action,
                spec.model,
                spec.object_id,
                spec.user,
                &spec.name,
            )])
            .await
            .unwrap();
        specs.push(spec);
    }
    for (i, text) in [
        "quarterly report sent",
        "server restarted",
        "quarterly figures approved",
    ]
    .iter()
    .enumerate()
    {
        audit
            .recorder
            .record(vec![event(
                "1",
                JAN_7 + 3 * DAY + i as i64,
                "note",
                &["notes"],
                text,
            )])
            .await
            .unwrap();
    }
    audit
        .recorder
        .record(vec![audit_event(
            "2",
            JAN_7,
            "created",
            "service",
            1,
            "alice@example.com",
            "Other app",
        )])
        .await
        .unwrap();
    let api = api(&audit);
    (audit, api, specs)
}

fn expected(specs: &[Spec], keep: impl Fn(&Spec) -> bool) -> Vec<i64> {
    let mut v: Vec<i64> = specs.iter().filter(|s| keep(s)).map(|s| s.seq).collect();
    v.reverse(); // newest first
    v
}

store_tests! {
async fn lists_newest_first_with_a_count_and_summary_fields(store) {
    let (_audit, api, _specs) = fixture(&store).await;
    let page = ok_json(&api, "/apps/1/audit/events").await;
    assert_eq!(page["count"], 33);
    assert_eq!(seqs(&page), (1..=33).rev().collect::<Vec<i64>>());
    assert!(page["next"].is_null());
    let row = &page["results"][32];
    assert_eq!(row["seq"], 1);
    assert_eq!(row["received_at"], "2025-01-07T00:00:00.000000Z");
    assert_eq!(row["name"], "model-change");
    assert_eq!(
        row["channels"],
        json!(["audit-channel", "model-service", "user-alice@example.com"])
    );
    assert_eq!(row["action"], "created");
    assert_eq!(row["model"], "service");
    assert_eq!(row["object_id"], "0");
    assert_eq!(row["user"], "alice@example.com");
    assert_eq!(row["timestamp"], "2025-01-07T12:04:26.123456Z");
    assert_eq!(
        row["changes"],
        json!({"name": {"old": null, "new": "Widget number0"}})
    );
    assert!(
        row.get("data").is_none(),
        "lists leave the raw payload to the detail view"
    );
}
}

store_tests! {
async fn every_filter_selects_exactly_the_matching_rows(store) {
    let (_audit, api, specs) = fixture(&store).await;
    let cases: Vec<(&str, Vec<i64>)> = vec![
        (
            "action=updated",
            expected(&specs, |s| s.action == "updated"),
        ),
        ("model=invoice", expected(&specs, |s| s.model == "invoice")),
        (
            "model_name=invoice",
            expected(&specs, |s| s.model == "invoice"),
        ),
        (
            "user=bob@example.com",
            expected(&specs, |s| s.user == "bob@example.com"),
        ),
        (
            "user_email=bob%40example.com",
            expected(&specs, |s| s.user == "bob@example.com"),
        ),
        ("object_id=3", expected(&specs, |s| s.object_id == 3)),
        (
            "channel=model-invoice",
            expected(&specs, |s| s.model == "invoice"),
        ),
        (
            "channel=user-carol@example.com",
            expected(&specs, |s| s.user == "carol@example.com"),
        ),
        ("channel=notes", vec![33, 32, 31]),
        ("event=note", vec![33, 32, 31]),
        (
            "event=model-change&action=deleted&model=service",
            expected(&specs, |s| s.action == "deleted" && s.model == "service"),
        ),
        (
            "channel=audit-channel&user=alice@example.com&action=created",
            expected(&specs, |s| {
                s.user == "alice@example.com" && s.action == "created"
            }),
        ),
        ("from=2025-01-08", (11..=33).rev().collect()),
        ("to=2025-01-08", (1..=20).rev().collect()),
        ("from=2025-01-08&to=2025-01-08", (11..=20).rev().collect()),
        (
            "from=2025-01-08T00:03:00Z&to=2025-01-08T00:05:00Z",
            vec![16, 15, 14],
        ),
        (
            "from=2025-01-08T01:03:00%2B01:00&to=2025-01-08T00:05:00Z",
            vec![16, 15, 14],
        ),
        (
            "date_from=2025-01-09&action=created",
            expected(&specs, |s| s.at >= JAN_7 + 2 * DAY && s.action == "created"),
        ),
        ("from=2030-01-01", vec![]),
        ("to=2020-01-01", vec![]),
        ("action=nothing", vec![]),
        ("severity=high", vec![]),
    ];
    for (query, want) in cases {
        let page = ok_json(&api, &format!("/apps/1/audit/events?{query}&limit=1000")).await;
        assert_eq!(seqs(&page), want, "{query}");
        assert_eq!(page["count"], want.len(), "{query}");
    }
}
}

store_tests! {
async fn full_text_searches_data_user_model_and_names(store) {
    let (_audit, api, specs) = fixture(&store).await;
    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("q=quarterly", vec![33, 31]),
        ("q=QUARTER", vec![33, 31]),       // prefix, case-insensitive
        ("q=quarterly+figures", vec![33]), // every word must occur
        ("search=restarted", vec![32]),
        ("q=number7", vec![8]), // inside `changes` in the payload
        (
            "q=bob@example.com",
            expected(&specs, |s| s.user == "bob@example.com"),
        ),
        (
            "q=invoice&action=created",
            expected(&specs, |s| s.model == "invoice" && s.action == "created"),
        ),
        ("q=notes", vec![33, 32, 31]), // channel names are searchable
        ("q=quarterly&channel=notes", vec![33, 31]),
        ("q=quarterly&channel=audit-channel", vec![]),
        (
            "q=widget&channel=user-bob@example.com&from=2025-01-08",
            expected(&specs, |s| {
                s.user == "bob@example.com" && s.at >= JAN_7 + DAY
            }),
        ),
        ("q=%22unbalanced", vec![]),
        ("q=Other+app", vec![]), // another app's payload
    ];
    for (query, want) in cases {
        let page = ok_json(&api, &format!("/apps/1/audit/events?{query}&limit=1000")).await;
        assert_eq!(seqs(&page), want, "{query}");
        assert_eq!(page["count"], want.len(), "{query}");
    }
}
}

store_tests! {
async fn ordering_by_time_or_seq_in_both_directions(store) {
    let (_audit, api, _specs) = fixture(&store).await;
    let asc: Vec<i64> = (1..=33).collect();
    let desc: Vec<i64> = (1..=33).rev().collect();
    for (ordering, want) in [
        ("seq", &asc),
        ("time", &asc),
        ("-seq", &desc),
        ("-time", &desc),
    ] {
        let page = ok_json(&api, &format!("/apps/1/audit/events?ordering={ordering}")).await;
        assert_eq!(&seqs(&page), want, "{ordering}");
    }
}
}

store_tests! {
async fn cursor_pages_cover_every_row_once_even_while_recording(store) {
    let (_, _, specs) = fixture(&store).await;
    for (query, want) in [
        ("limit=7", (1..=33).rev().collect::<Vec<i64>>()),
        ("limit=4&ordering=seq", (1..=33).collect()),
        (
            "limit=3&model=service",
            expected(&specs, |s| s.model == "service"),
        ),
        ("limit=2&channel=audit-channel&ordering=time", {
            let mut v = expected(&specs, |_| true);
            v.reverse();
            v
        }),
    ] {
        let fresh = store.fresh().await;
        let (audit, api, _) = fixture(&fresh).await;
        let mut seen = Vec::new();
        let mut uri = format!("/apps/1/audit/events?{query}");
        let mut pages = 0;
        loop {
            let page = ok_json(&api, &uri).await;
            if pages == 0 {
                assert_eq!(
                    page["count"],
                    want.len(),
                    "{query}: count is of all matches, not the page"
                );
            }
            seen.extend(seqs(&page));
            pages += 1;
            if pages == 2 {
                // New events arrive mid-pagination: they must not disturb the walk.
                audit
                    .recorder
                    .record(vec![audit_event(
                        "1",
                        JAN_7 + 9 * DAY,
                        "created",
                        "service",
                        99,
                        "zed@example.com",
                        "late",
                    )])
                    .await
                    .unwrap();
            }
            match page["next"].as_str() {
                Some(next) => uri = format!("/apps/1/audit/events?{query}&cursor={next}"),
                None => break,
            }
        }
        let late: BTreeSet<i64> = seen.iter().copied().filter(|s| *s > 33).collect();
        let seen_old: Vec<i64> = seen.iter().copied().filter(|s| *s <= 33).collect();
        assert_eq!(seen_old, want, "{query}");
        // Descending walks never reach the late events; ascending ones may, exactly once each.
        assert_eq!(
            late.len(),
            seen.len() - seen_old.len(),
            "{query}: a late event repeated"
        );
    }
}
}

store_tests! {
async fn bad_parameters_get_400_naming_the_parameter(store) {
    let (_audit, api, _specs) = fixture(&store).await;
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("ordering=name", "ordering"),
        ("from=yesterday", "from"),
        ("to=2025-02-30", "to"),
        ("from=2025-02-01&to=2025-01-01", "to"),
        ("days=0", "days"),
        ("days=3&from=2025-01-01", "days"),
        ("cursor=garbage", "cursor"),
        ("q=---", "q"),
        ("acton=created", "acton"),
        ("action=a&action=b", "action"),
        ("model=a&model_name=b", "model_name"),
    ] {
        let (status, body) = get_json(&api, &format!("/apps/1/audit/events?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["parameter"], param, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{param}`")),
            "{query}: {message}"
        );
    }
    // Pusher's request-signing parameters are not filters and not errors.
    let page = ok_json(&api, "/apps/1/audit/events?auth_key=k&auth_timestamp=1&auth_version=1.0&auth_signature=s&body_md5=x").await;
    assert_eq!(page["count"], 33);
}
}

store_tests! {
async fn detail_returns_one_event_in_full_or_404(store) {
    let (_audit, api, _specs) = fixture(&store).await;
    let event = ok_json(&api, "/apps/1/audit/events/2").await;
    assert_eq!(event["seq"], 2);
    assert_eq!(event["app_id"], "1");
    assert_eq!(event["action"], "updated");
    assert_eq!(
        event["changes"],
        json!({"name": {"old": null, "new": "Widget number1"}})
    );
    let data: serde_json::Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["object_id"], 1);
    assert_eq!(event["auth_key"], "app-key");
    assert_eq!(event["client_ip"], "127.0.0.1");
    assert_eq!(event["library"], "pusher-http-python 3.3.2");
    assert_eq!(event["user_agent"], "pusher-http-python 3.3.2");
    assert!(event["socket_id"].is_null());

    let (status, body) = get_json(&api, "/apps/1/audit/events/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("999"), "{body}");
    let (status, body) = get_json(&api, "/apps/1/audit/events/abc").await;
    assert_eq!(
        (status, body["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("seq"))
    );
}
}

store_tests! {
async fn every_query_is_scoped_to_the_app_in_the_path(store) {
    let (_audit, api, _specs) = fixture(&store).await;
    let page = ok_json(&api, "/apps/2/audit/events").await;
    assert_eq!(seqs(&page), [1]);
    assert_eq!(page["results"][0]["changes"]["name"]["new"], "Other app");
    let page = ok_json(&api, "/apps/2/audit/events?q=Widget").await;
    assert_eq!(page["count"], 0);
    assert_eq!(ok_json(&api, "/apps/3/audit/events").await["count"], 0);
    let (status, _) = get_json(&api, "/apps/2/audit/events/2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
}

store_tests! {
async fn search_is_scoped_to_apps_with_any_characters_in_their_id(store) {
    let audit = store.open().await;
    for app in ["my-app", "my.app", "my app", "MY-APP", "1"] {
        audit
            .recorder
            .record(vec![event(
                app,
                JAN_7,
                "e",
                &["c"],
                &format!("hello from {app}"),
            )])
            .await
            .unwrap();
    }
    let api = api(&audit);
    for (path, want) in [
        ("my-app", "hello from my-app"),
        ("my.app", "hello from my.app"),
        ("my%20app", "hello from my app"),
        ("MY-APP", "hello from MY-APP"),
    ] {
        let page = ok_json(&api, &format!("/apps/{path}/audit/events?q=hello")).await;
        assert_eq!(page["count"], 1, "{path}");
        let seq = page["results"][0]["seq"].as_i64().unwrap();
        let detail = ok_json(&api, &format!("/apps/{path}/audit/events/{seq}")).await;
        assert_eq!(detail["data"], want);
    }
    // The token standing for an app is not searchable text.
    assert_eq!(
        ok_json(&api, "/apps/1/audit/events?q=a31").await["count"],
        0
    );
}
}
