//! `/stats` and the activity views (`/users/{user}`, `/models/{model}`,
//! `/models/{model}/objects/{object_id}`): the numbers must be exactly those of the
//! recorded events.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::*;
use herald_audit::timefmt;
use serde_json::json;

/// Events today, 3, 10 and 40 days ago (recorded in time order, as a server receives them).
async fn fixture(store: &TestStore) -> (herald_audit::Audit, axum::Router, i64) {
    let audit = store.open().await;
    let now = timefmt::now_micros();
    let today_start = timefmt::day_index(now) * DAY;
    let today = today_start + (now - today_start) / 2;
    let events = vec![
        audit_event(
            "1",
            now - 40 * DAY,
            "created",
            "invoice",
            7,
            "carol@example.com",
            "old",
        ),
        audit_event(
            "1",
            now - 10 * DAY,
            "deleted",
            "service",
            1,
            "alice@example.com",
            "gone",
        ),
        audit_event(
            "1",
            now - 3 * DAY,
            "updated",
            "invoice",
            7,
            "bob@example.com",
            "paid",
        ),
        audit_event(
            "1",
            today,
            "created",
            "service",
            1,
            "alice@example.com",
            "again",
        ),
        audit_event(
            "1",
            today,
            "created",
            "service",
            2,
            "alice@example.com",
            "another",
        ),
        event("1", today, "note", &["notes"], "plain text"),
    ];
    for e in events {
        audit.recorder.record(vec![e]).await.unwrap();
    }
    let api = api(&audit);
    (audit, api, now)
}

store_tests! {
async fn stats_count_windows_breakdowns_days_and_recent_activity(store) {
    let (_audit, api, now) = fixture(&store).await;
    let s = ok_json(&api, "/apps/1/audit/stats").await;
    assert_eq!(
        (s["total"].as_u64(), s["today"].as_u64()),
        (Some(6), Some(3))
    );
    assert_eq!(
        (s["last_7_days"].as_u64(), s["last_30_days"].as_u64()),
        (Some(4), Some(5))
    );
    assert_eq!(s["range"], json!({"from": null, "to": null, "count": 6}));
    assert_eq!(
        s["by_action"],
        json!([{"action": "created", "count": 3}, {"action": "deleted", "count": 1}, {"action": "updated", "count": 1}])
    );
    assert_eq!(
        s["by_model"],
        json!([{"model": "service", "count": 3}, {"model": "invoice", "count": 2}])
    );
    assert_eq!(
        s["by_user"],
        json!([{"user": "alice@example.com", "count": 3}, {"user": "bob@example.com", "count": 1}, {"user": "carol@example.com", "count": 1}])
    );
    assert_eq!(
        s["by_channel"],
        json!([
            {"channel": "audit-channel", "count": 5},
            {"channel": "model-service", "count": 3},
            {"channel": "user-alice@example.com", "count": 3},
            {"channel": "model-invoice", "count": 2},
            {"channel": "notes", "count": 1},
            {"channel": "user-bob@example.com", "count": 1},
            {"channel": "user-carol@example.com", "count": 1},
        ])
    );
    // Open range: only the days that have events.
    let day = |ago: i64| timefmt::format_day(timefmt::day_index(now - ago * DAY));
    let today = timefmt::format_day(timefmt::day_index(now));
    assert_eq!(
        s["per_day"],
        json!([
            {"day": day(40), "count": 1},
            {"day": day(10), "count": 1},
            {"day": day(3), "count": 1},
            {"day": today, "count": 3},
        ])
    );
    assert_eq!(seqs(&json!({"results": s["recent"]})), [6, 5, 4, 3, 2, 1]);
}
}

store_tests! {
async fn stats_over_a_range_and_with_filters(store) {
    let (_audit, api, now) = fixture(&store).await;
    let s = ok_json(&api, "/apps/1/audit/stats?days=7").await;
    assert_eq!(s["total"], 6, "windows ignore the range");
    assert_eq!(s["range"]["count"], 4);
    assert_eq!(
        s["by_action"],
        json!([{"action": "created", "count": 2}, {"action": "updated", "count": 1}])
    );
    let per_day = s["per_day"].as_array().unwrap();
    assert_eq!(
        per_day.len(),
        8,
        "every day from 7 days ago through today: {per_day:?}"
    );
    assert_eq!(
        per_day
            .iter()
            .map(|d| d["count"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert_eq!(
        per_day.last().unwrap()["day"],
        timefmt::format_day(timefmt::day_index(now))
    );
    assert_eq!(per_day.last().unwrap()["count"], 3);

    let s = ok_json(&api, "/apps/1/audit/stats?action=created").await;
    assert_eq!(
        [
            &s["total"],
            &s["today"],
            &s["last_7_days"],
            &s["last_30_days"]
        ]
        .map(|v| v.as_u64().unwrap()),
        [3, 2, 2, 2]
    );
    assert_eq!(
        s["by_model"],
        json!([{"model": "service", "count": 2}, {"model": "invoice", "count": 1}])
    );
    assert_eq!(
        s["by_channel"][0],
        json!({"channel": "audit-channel", "count": 3})
    );

    let s = ok_json(
        &api,
        "/apps/1/audit/stats?channel=model-invoice&top=1&recent=1",
    )
    .await;
    assert_eq!(s["total"], 2);
    assert_eq!(s["by_action"], json!([{"action": "created", "count": 1}]));
    assert_eq!(
        s["by_channel"],
        json!([{"channel": "audit-channel", "count": 2}])
    );
    assert_eq!(seqs(&json!({"results": s["recent"]})), [3]);

    let s = ok_json(&api, "/apps/1/audit/stats?from=2000-01-01&to=2000-01-03").await;
    assert_eq!(s["range"]["count"], 0);
    assert_eq!(s["per_day"].as_array().unwrap().len(), 3);

    for (query, param) in [
        ("top=0", "top"),
        ("recent=500", "recent"),
        ("days=x", "days"),
        ("bogus=1", "bogus"),
    ] {
        let (status, body) = get_json(&api, &format!("/apps/1/audit/stats?{query}")).await;
        assert_eq!(
            (status, body["parameter"].as_str()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{query}"
        );
    }
}
}

store_tests! {
async fn user_model_and_object_activity(store) {
    let (_audit, api, _now) = fixture(&store).await;
    let a = ok_json(&api, "/apps/1/audit/users/alice@example.com").await;
    assert_eq!(a["user"], "alice@example.com");
    assert_eq!(a["count"], 3);
    assert_eq!(seqs(&a), [5, 4, 2]);
    assert_eq!(a["stats"]["total"], 3);
    assert_eq!(
        a["stats"]["by_model"],
        json!([{"model": "service", "count": 3}])
    );
    assert_eq!(
        a["stats"]["by_action"],
        json!([{"action": "created", "count": 2}, {"action": "deleted", "count": 1}])
    );

    let a = ok_json(
        &api,
        "/apps/1/audit/users/alice@example.com?action=created&limit=1",
    )
    .await;
    assert_eq!((a["count"].as_u64(), seqs(&a)), (Some(2), vec![5]));
    let next = a["next"].as_str().unwrap();
    let a = ok_json(
        &api,
        &format!("/apps/1/audit/users/alice@example.com?action=created&limit=1&cursor={next}"),
    )
    .await;
    assert_eq!((seqs(&a), a["next"].is_null()), (vec![4], true));

    let m = ok_json(&api, "/apps/1/audit/models/invoice").await;
    assert_eq!(
        (m["model"].as_str(), seqs(&m)),
        (Some("invoice"), vec![3, 1])
    );
    assert_eq!(m["stats"]["by_user"][0]["count"], 1);

    let o = ok_json(&api, "/apps/1/audit/models/service/objects/1?ordering=seq").await;
    assert_eq!((o["object_id"].as_str(), seqs(&o)), (Some("1"), vec![2, 4]));
    assert_eq!(o["results"][0]["action"], "deleted");
    assert_eq!(o["results"][1]["changes"]["name"]["new"], "again");

    assert_eq!(
        ok_json(&api, "/apps/1/audit/users/nobody@example.com").await["count"],
        0
    );
    let (status, body) = get_json(
        &api,
        "/apps/1/audit/users/alice@example.com?user=bob@example.com",
    )
    .await;
    assert_eq!(
        (status, body["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("user"))
    );
}
}

store_tests! {
/// Whole days come from the writer's rollups and partial days from rows; whatever the
/// range, the answer must equal counting every row (forced here by a filter that matches
/// every event).
async fn rollups_and_rows_agree_for_any_range(store) {
    let audit = store.open().await;
    let actions = ["created", "updated", "deleted"];
    let mut events = Vec::new();
    for i in 0..200i64 {
        let at = JAN_7 + i * 47 * MINUTE; // ~6.5 days, crossing midnights at odd times
        events.push(audit_event(
            "1",
            at,
            actions[(i % 3) as usize],
            ["service", "invoice"][(i % 2) as usize],
            i % 7,
            ["a@x.io", "b@x.io", "c@x.io", "d@x.io"][(i % 4) as usize],
            "n",
        ));
    }
    audit.recorder.record(events).await.unwrap();
    let api = api(&audit);
    for range in [
        "",
        "from=2025-01-08",
        "to=2025-01-10",
        "from=2025-01-08&to=2025-01-10",
        "from=2025-01-07T13:31:00Z",
        "to=2025-01-11T02:17:00Z",
        "from=2025-01-07T13:31:00Z&to=2025-01-11T02:17:00Z",
        "from=2025-01-09T01:00:00Z&to=2025-01-09T20:00:00Z",
        "from=2025-01-08T23:00:00Z&to=2025-01-09T01:00:00Z",
        "from=2025-01-30",
    ] {
        let rolled = ok_json(&api, &format!("/apps/1/audit/stats?top=100&{range}")).await;
        let counted = ok_json(
            &api,
            &format!("/apps/1/audit/stats?top=100&event=model-change&{range}"),
        )
        .await;
        for key in [
            "by_action",
            "by_model",
            "by_user",
            "by_channel",
            "per_day",
            "range",
            "recent",
        ] {
            assert_eq!(rolled[key], counted[key], "{range}: {key}");
        }
        let per_day_sum: u64 = rolled["per_day"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            per_day_sum,
            rolled["range"]["count"].as_u64().unwrap(),
            "{range}"
        );
    }
}
}
