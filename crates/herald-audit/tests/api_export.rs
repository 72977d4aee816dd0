//! `/export`: exact CSV and NDJSON bodies, headers, filters, ordering, chunked output of
//! more rows than one chunk, and the CLI's export producing the same bytes.

#[macro_use]
mod common;

use axum::http::{StatusCode, header};
use clap::Parser;
use common::*;
use herald_audit::NewEvent;
use herald_audit::cli::AuditCommand;

async fn small(store: &TestStore) -> (herald_audit::Audit, axum::Router, String) {
    let audit = store.open().await;
    let first = NewEvent {
        socket_id: Some("1.2".into()),
        idempotency_key: Some("k".into()),
        ..audit_event(
            "1",
            JAN_7,
            "created",
            "service",
            53,
            "test@example.com",
            "Test Service",
        )
    };
    let data = first.data.clone();
    audit
        .recorder
        .record(vec![
            first,
            event("1", JAN_7 + 1, "note", &["notes"], "line one,\n\"two\""),
        ])
        .await
        .unwrap();
    let api = api(&audit);
    (audit, api, data)
}

store_tests! {
async fn csv_export_is_exact(store) {
    let (_audit, api, data) = small(&store).await;
    let (status, headers, body) = get(&api, "/apps/1/audit/export?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"herald-audit-1-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let expected = format!(
        "seq,received_at,app_id,name,channels,action,model,object_id,object_repr,user,timestamp,severity,status,error,changes,ip,socket_id,client_ip,user_agent,library,auth_key,idempotency_key,data\r\n\
         1,2025-01-07T00:00:00.000000Z,1,model-change,audit-channel model-service user-test@example.com,created,service,53,,test@example.com,2025-01-07T12:04:26.123456Z,,,,\"{{\"\"name\"\":{{\"\"old\"\":null,\"\"new\"\":\"\"Test Service\"\"}}}}\",127.0.0.1,1.2,127.0.0.1,pusher-http-python 3.3.2,pusher-http-python 3.3.2,app-key,k,\"{}\"\r\n\
         2,2025-01-07T00:00:00.000001Z,1,note,notes,,,,,,,,,,,127.0.0.1,,127.0.0.1,pusher-http-python 3.3.2,pusher-http-python 3.3.2,app-key,,\"line one,\n\"\"two\"\"\"\r\n",
        data.replace('"', "\"\"")
    );
    assert_eq!(String::from_utf8(body).unwrap(), expected);
}
}

store_tests! {
async fn ndjson_export_lines_are_the_detail_records(store) {
    let (_audit, api, _data) = small(&store).await;
    let (status, headers, body) =
        get(&api, "/apps/1/audit/export?format=ndjson&ordering=-seq").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-ndjson");
    let body = String::from_utf8(body).unwrap();
    assert!(body.ends_with('\n'));
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], ok_json(&api, "/apps/1/audit/events/2").await);
    assert_eq!(lines[1], ok_json(&api, "/apps/1/audit/events/1").await);

    let (_, _, body) = get(&api, "/apps/1/audit/export?format=ndjson&event=note").await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(body.lines().count(), 1);
    assert!(body.contains("\"seq\":2"));
    let (_, _, body) = get(&api, "/apps/1/audit/export?format=ndjson&from=2030-01-01").await;
    assert!(body.is_empty());
}
}

store_tests! {
async fn export_parameters_are_checked(store) {
    let (_audit, api, _data) = small(&store).await;
    for (query, param) in [
        ("", "format"),
        ("format=xml", "format"),
        ("format=csv&ordering=x", "ordering"),
        ("format=csv&limit=5", "limit"),
    ] {
        let (status, body) = get_json(&api, &format!("/apps/1/audit/export?{query}")).await;
        assert_eq!(
            (status, body["parameter"].as_str()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{query}"
        );
    }
}
}

store_tests! {
async fn exports_span_many_chunks_in_order(store) {
    let audit = store.open().await;
    let events: Vec<NewEvent> = (0..2500)
        .map(|i| event("1", JAN_7 + i, "e", &["c"], &format!("row {i}")))
        .collect();
    audit.recorder.record(events).await.unwrap();
    let api = api(&audit);
    let (_, _, body) = get(&api, "/apps/1/audit/export?format=csv").await;
    let body = String::from_utf8(body).unwrap();
    let seqs: Vec<i64> = body
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=2500).collect::<Vec<i64>>());
    let (_, _, body) = get(
        &api,
        "/apps/1/audit/export?format=ndjson&ordering=-seq&to=2025-01-07T00:00:00.001999Z",
    )
    .await;
    let seqs: Vec<i64> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=2000).rev().collect::<Vec<i64>>());
}
}

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: AuditCommand,
}

store_tests! {
async fn the_cli_exports_the_same_bytes_and_names_bad_flags(store) {
    let dir = tempfile::tempdir().unwrap();
    let url = store.url();
    let audit = open_with(store.persistent_config()).await;
    audit
        .recorder
        .record(vec![
            audit_event(
                "1",
                JAN_7,
                "created",
                "service",
                53,
                "test@example.com",
                "Test Service",
            ),
            audit_event(
                "1",
                JAN_7 + DAY,
                "deleted",
                "service",
                53,
                "test@example.com",
                "Test Service",
            ),
        ])
        .await
        .unwrap();
    let api = api(&audit);
    let out = dir.path().join("out.csv");
    let cli = Cli::parse_from([
        "audit",
        "export",
        "--db",
        &url,
        "--format",
        "csv",
        "--action",
        "deleted",
        "--output",
        out.to_str().unwrap(),
    ]);
    herald_audit::cli::run(cli.command).await.unwrap();
    let (_, _, http) = get(&api, "/apps/1/audit/export?format=csv&action=deleted").await;
    let file = std::fs::read(&out).unwrap();
    assert_eq!(file, http);
    assert_eq!(String::from_utf8(file).unwrap().lines().count(), 2);

    let cli = Cli::parse_from(["audit", "query", "--db", &url, "--from", "last week"]);
    let err = herald_audit::cli::run(cli.command)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid --from:"), "{err}");
    let cli = Cli::parse_from([
        "audit", "query", "--db", &url, "--model", "service", "--json",
    ]);
    herald_audit::cli::run(cli.command).await.unwrap();
    if store.is_postgres() {
        // A database (or schema) without herald's tables is refused, not created.
        let cli = Cli::parse_from(["audit", "query", "--db", &url, "--pg-schema", "elsewhere"]);
        let err = format!(
            "{:#}",
            herald_audit::cli::run(cli.command).await.unwrap_err()
        );
        assert!(err.contains("no herald audit data"), "{err}");
    } else {
        let missing = format!("sqlite://{}/none.db", dir.path().display());
        let cli = Cli::parse_from(["audit", "query", "--db", &missing]);
        let err = format!(
            "{:#}",
            herald_audit::cli::run(cli.command).await.unwrap_err()
        );
        assert!(err.contains("no audit database"), "{err}");
    }
}
}

/// Issue 10: payloads come from whoever can trigger, and a CSV export is opened in a
/// spreadsheet, so cells that would be formulas are neutralised; NDJSON stays exact.
#[tokio::test]
async fn csv_cells_that_would_be_formulas_are_neutralised() {
    let audit = open_memory().await;
    let data =
        serde_json::json!({"action": "@SUM(1+1)*cmd|' /C calc'!A0", "user": "-2+3"}).to_string();
    audit
        .recorder
        .record(vec![
            event(
                "1",
                JAN_7,
                "attack",
                &["c"],
                "=HYPERLINK(\"http://evil\",\"x\")",
            ),
            event("1", JAN_7 + 1, "attack", &["c"], &data),
        ])
        .await
        .unwrap();
    let api = api(&audit);
    let (_, _, body) = get(&api, "/apps/1/audit/export?format=csv").await;
    let csv = String::from_utf8(body).unwrap();
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"\r\n"),
        "{csv}"
    );
    assert!(csv.contains(",'@SUM(1+1)*cmd|' /C calc'!A0,"), "{csv}");
    assert!(csv.contains(",'-2+3,"), "{csv}");
    for line in csv.lines() {
        for cell in line.split(',') {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell} in {line}");
        }
    }
    let (_, _, body) = get(&api, "/apps/1/audit/export?format=ndjson").await;
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(body).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["data"], "=HYPERLINK(\"http://evil\",\"x\")");
}
