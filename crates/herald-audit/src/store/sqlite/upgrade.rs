//! Filling in audit fields for events recorded before the extraction learned them (schema
//! version 2): `error` and `ip`, and `action`, `model`, `object_repr`, `user` and
//! `severity` where the older extraction found nothing but today's finds a value (an
//! `event_code`, a `content_type`, a nested `user` object, …). The per-day rollups are
//! bumped for every `action`, `model` and `user` filled in, so statistics agree with the
//! rows. A value recorded before is never changed; only empty ones are filled.
//!
//! The default keys are used: per-app overrides are server configuration, which the store
//! does not know when it is opened.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::schema::EVENTS_APPEND_ONLY_UPDATE;
use crate::error::StoreError;
use crate::extract::AuditFields;
use crate::timefmt;

/// Rows read per round: bounded memory whatever the size of the store.
const CHUNK: i64 = 2000;

/// One stored row's identity and the fields the upgrade may fill.
struct Row {
    id: i64,
    app_id: String,
    received_at: i64,
    data: String,
    client_ip: Option<String>,
    action: Option<String>,
    model: Option<String>,
    object_repr: Option<String>,
    user: Option<String>,
    severity: Option<String>,
}

/// Runs inside the migration's transaction. Returns how many events were updated.
pub fn extract_new_fields(conn: &Connection) -> Result<u64, StoreError> {
    // The append-only trigger is lifted for this transaction only; it is re-created before
    // COMMIT, so no other connection ever sees the table without it.
    conn.execute_batch("DROP TRIGGER events_append_only_update")?;
    let mut select = conn.prepare(
        "SELECT id, app_id, received_at, data, client_ip, action, model, object_repr, user,
                severity
         FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut update = conn.prepare(
        "UPDATE events SET error = ?2, ip = ?3, action = ?4, model = ?5, object_repr = ?6,
                user = ?7, severity = ?8
         WHERE id = ?1",
    )?;
    let mut rollup: HashMap<(String, i64, &'static str, String), i64> = HashMap::new();
    let mut updated = 0u64;
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = select
            .query_map(params![after, CHUNK], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    app_id: r.get(1)?,
                    received_at: r.get(2)?,
                    data: r.get(3)?,
                    client_ip: r.get(4)?,
                    action: r.get(5)?,
                    model: r.get(6)?,
                    object_repr: r.get(7)?,
                    user: r.get(8)?,
                    severity: r.get(9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            let f = AuditFields::extract(&row.data);
            let ip = f.ip.or(row.client_ip);
            let day = timefmt::day_index(row.received_at);
            let mut changed = f.error.is_some() || ip.is_some();
            let mut fill = |old: Option<String>, new: Option<String>, dim: Option<&'static str>| {
                if old.is_some() {
                    return old;
                }
                if let Some(v) = &new {
                    changed = true;
                    if let Some(dim) = dim {
                        *rollup
                            .entry((row.app_id.clone(), day, dim, v.clone()))
                            .or_default() += 1;
                    }
                }
                new
            };
            let action = fill(row.action, f.action, Some("action"));
            let model = fill(row.model, f.model, Some("model"));
            let object_repr = fill(row.object_repr, f.object_repr, None);
            let user = fill(row.user, f.user, Some("user"));
            let severity = fill(row.severity, f.severity, None);
            if !changed {
                continue;
            }
            update.execute(params![
                row.id,
                f.error,
                ip,
                action,
                model,
                object_repr,
                user,
                severity
            ])?;
            updated += 1;
        }
    }
    let mut upsert = conn.prepare(
        "INSERT INTO daily_counts (app_id, day, dim, value, count) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (app_id, day, dim, value) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((app, day, dim, value), n) in rollup {
        upsert.execute(params![app, day, dim, value, n])?;
    }
    conn.execute_batch(EVENTS_APPEND_ONLY_UPDATE)?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::schema::{self, EVENTS_APPEND_ONLY_UPDATE, SCHEMA_V1};

    /// A store as herald 0.1 (schema 1) left it, with two events it recorded.
    fn version_1_store() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(EVENTS_APPEND_ONLY_UPDATE).unwrap();
        conn.execute_batch(
            r#"
            PRAGMA user_version = 1;
            INSERT INTO events (app_id, seq, received_at, name, channels, data, client_ip,
                                auth_key, action, user)
            VALUES ('1', 1, 86400000000, 'log', '["c"]',
                    '{"event_code":"permit_create","error_message":"denied","ip_address":"10.0.0.5","user":{"email":"a@x.io"}}',
                    '192.0.2.1', 'k', NULL, NULL),
                   ('1', 2, 86400000001, 'change', '["c"]',
                    '{"action":"created","user":"b@x.io","level":"high"}',
                    '192.0.2.2', 'k', 'created', 'b@x.io');
            INSERT INTO daily_counts VALUES ('1', 1, 'action', 'created', 1),
                                            ('1', 1, 'user', 'b@x.io', 1);
            "#,
        )
        .unwrap();
        conn
    }

    #[test]
    fn upgrading_fills_new_fields_and_rollups_but_keeps_recorded_values() {
        let conn = version_1_store();
        schema::migrate(&conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        let row = |seq: i64| -> [Option<String>; 5] {
            conn.query_row(
                "SELECT action, user, error, ip, severity FROM events WHERE seq = ?1",
                [seq],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
            )
            .unwrap()
        };
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            row(1),
            [
                s("permit_create"),
                s("a@x.io"),
                s("denied"),
                s("10.0.0.5"),
                None
            ]
        );
        assert_eq!(
            row(2),
            [s("created"), s("b@x.io"), None, s("192.0.2.2"), s("high")]
        );
        let count = |dim: &str, value: &str| -> i64 {
            conn.query_row(
                "SELECT count FROM daily_counts WHERE dim = ?1 AND value = ?2",
                [dim, value],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(count("action", "permit_create"), 1);
        assert_eq!(count("user", "a@x.io"), 1);
        // Values recorded before are not counted twice.
        assert_eq!(count("action", "created"), 1);
        // The append-only guard is back.
        let err = conn
            .execute("UPDATE events SET ip = 'x' WHERE seq = 1", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        // Migrating again is a no-op.
        schema::migrate(&conn).unwrap();
        assert_eq!(row(1)[3], s("10.0.0.5"));
    }
}
