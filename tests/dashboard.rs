//! The dashboard's server side: the embedded page, the secret-free app list, and the server
//! view (`/apps/{id}/server`) with its audit-token authorisation, over real sockets.

mod common;

use common::*;
use herald_protocol::signature::{auth_string, presence_string_to_sign};
use serde_json::{Value, json};

const TOKEN: &str = "dashboard-token";

fn config() -> herald::Config {
    let mut c = test_config();
    c.apps[0].audit_token = Some(TOKEN.into());
    c
}

async fn get(url: String, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_server_view_lists_channels_counts_and_presence_members_for_the_audit_token() {
    let server = TestServer::start(config()).await;
    let (mut a, socket_a) = server.connect_established().await;
    let (mut b, _) = server.connect_established().await;
    a.subscribe("audit-channel").await;
    b.subscribe("audit-channel").await;
    let channel = "presence-room";
    let data = r#"{"user_id":"ana","user_info":{"name":"Ana"}}"#;
    let auth = auth_string(
        KEY,
        SECRET,
        &presence_string_to_sign(&socket_a, channel, data),
    );
    a.send(json!({"event":"pusher:subscribe","data":{"auth":auth,"channel_data":data,"channel":channel}}))
        .await;
    let joined = a.recv().await;
    assert_eq!(joined["event"], "pusher_internal:subscription_succeeded");

    let url = format!("http://{}/apps/1/server", server.addr);
    let (status, body) = get(url.clone(), Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["node_connections"], 2);
    assert_eq!(view["channels_total"], 2);
    assert_eq!(view["subscriptions_total"], 3);
    assert_eq!(view["cluster"], false);
    // Busiest first.
    assert_eq!(
        view["channels"],
        json!([
            {"name": "audit-channel", "subscription_count": 2},
            {"name": "presence-room", "subscription_count": 1, "user_count": 1},
        ])
    );
    assert_eq!(
        view["presence"],
        json!([{"channel": "presence-room", "user_count": 1, "members": ["ana"]}])
    );

    // The app's Pusher signature opens it too (a backend's generic signed get).
    let (status, _) = server.http().get("/apps/1/server", &[]).await;
    assert_eq!(status, 200);
    // No token, a wrong token: 401 with a reason; an unknown app: 404.
    let (status, body) = get(url.clone(), None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(url, Some("wrong")).await;
    assert_eq!(status, 401);
    assert!(body.contains("Invalid bearer token"), "{body}");
    let (status, _) = get(format!("http://{}/apps/9/server", server.addr), Some(TOKEN)).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_embedded_and_the_app_list_names_no_secret() {
    let mut c = config();
    let mut second = c.apps[0].clone();
    second.id = "2".into();
    second.key = "second-key".into();
    second.secret = "second-secret".into();
    second.audit_token = None;
    c.apps.push(second);
    let server = TestServer::start(c).await;
    let base = format!("http://{}", server.addr);

    let (status, page) = get(format!("{base}/dashboard/"), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("app.js"), "{page}");
    let (status, js) = get(format!("{base}/dashboard/app.js"), None).await;
    assert_eq!(status, 200);
    assert!(js.len() > 1000, "the built bundle, not a placeholder");
    let (status, body) = get(format!("{base}/dashboard/secrets.txt"), None).await;
    assert_eq!(status, 404, "{body}");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "dashboard/");

    let (status, body) = get(format!("{base}/dashboard/apps"), None).await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        list,
        json!({"apps": [
            {"id": "1", "enabled": true, "audit_token": true},
            {"id": "2", "enabled": true, "audit_token": false},
        ], "audit_enabled": true})
    );
    for secret in [TOKEN, SECRET, KEY, "second-secret"] {
        assert!(!body.contains(secret), "{body} leaks {secret}");
    }
    // An app without a token says how to get one.
    let (status, body) = get(format!("{base}/apps/2/server"), Some("anything")).await;
    assert_eq!(status, 401);
    assert!(body.contains("has no audit token"), "{body}");
    server.stop().await;
}
