//! Every scenario, end to end, against a real `herald` process on a small load. These check
//! that the numbers are sane (nothing lost, counts add up, latencies recorded), never how
//! fast the server is: speed is for benchmarks, not for the test suite.

mod common;

use common::{Server, bench, count, float};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_every_trigger_to_every_subscriber() {
    let server = Server::start();
    let r = bench(
        &server,
        &[
            "fanout",
            "-n",
            "20",
            "--triggers",
            "50",
            "--rate",
            "200",
            "--duration",
            "30s",
        ],
    )
    .await;
    assert_eq!(count(&r, "subscribed"), 20);
    assert_eq!(count(&r, "triggers_accepted"), 50);
    assert_eq!(count(&r, "triggers_failed"), 0);
    assert_eq!(count(&r, "deliveries_expected"), 1000);
    assert_eq!(count(&r, "deliveries_received"), 1000);
    assert_eq!(count(&r, "deliveries_lost"), 0);
    assert!(float(&r, "deliveries_per_s") > 0.0);
    let e2e = &r.latencies[0].summary;
    assert_eq!(e2e.count, 1000);
    assert!(
        e2e.p50_ms > 0.0 && e2e.p50_ms <= e2e.p99_ms && e2e.p99_ms <= e2e.max_ms,
        "{e2e:?}"
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_over_several_channels_expects_per_channel_subscribers() {
    let server = Server::start();
    let r = bench(
        &server,
        &[
            "fanout",
            "-n",
            "20",
            "--channels",
            "4",
            "--triggers",
            "40",
            "--rate",
            "200",
        ],
    )
    .await;
    // 5 subscribers per channel, each trigger to one channel.
    assert_eq!(count(&r, "deliveries_expected"), 200);
    assert_eq!(count(&r, "deliveries_received"), 200);
    assert_eq!(count(&r, "deliveries_lost"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_open_idle_and_measure_server_memory() {
    let server = Server::start();
    let pid = server.pid().to_string();
    let r = bench(
        &server,
        &[
            "connections",
            "-n",
            "50",
            "--rate",
            "500",
            "--hold",
            "300ms",
            "--server-pid",
            &pid,
        ],
    )
    .await;
    assert_eq!(count(&r, "established"), 50);
    assert_eq!(count(&r, "failed"), 0);
    assert_eq!(count(&r, "open_at_end"), 50);
    assert!(count(&r, "server_rss_before_bytes") > 0);
    assert!(count(&r, "server_rss_after_bytes") > 0);
    let hs = &r.latencies[0].summary;
    assert_eq!(hs.count, 50);
    assert!(hs.p50_ms > 0.0, "{hs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_are_all_accepted() {
    let server = Server::start();
    let r = bench(
        &server,
        &[
            "triggers",
            "-c",
            "4",
            "--requests",
            "200",
            "--duration",
            "30s",
        ],
    )
    .await;
    assert_eq!(count(&r, "requests"), 200);
    assert_eq!(count(&r, "accepted"), 200);
    assert_eq!(count(&r, "failed"), 0);
    assert!(float(&r, "accepted_per_s") > 0.0);
    assert_eq!(r.latencies[0].summary.count, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_shows_up_as_failures_with_the_servers_reason() {
    let server = Server::start();
    let r = bench(
        &server,
        &[
            "triggers",
            "-c",
            "2",
            "--requests",
            "10",
            "--secret",
            "not-the-secret",
        ],
    )
    .await;
    assert_eq!(count(&r, "accepted"), 0);
    assert_eq!(count(&r, "failed"), 10);
    assert!(
        r.warnings.iter().any(|w| w.contains("http 401")),
        "{:?}",
        r.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_clients_join_and_leave_and_see_each_other() {
    let server = Server::start();
    let r = bench(
        &server,
        &[
            "presence",
            "-n",
            "10",
            "--members-per-channel",
            "5",
            "--duration",
            "1s",
            "--hold",
            "100ms",
            "--pause",
            "20ms",
        ],
    )
    .await;
    assert_eq!(count(&r, "connected"), 10);
    assert_eq!(count(&r, "join_failures"), 0);
    assert!(count(&r, "joins") >= 10, "{:#?}", r.results);
    assert!(count(&r, "leaves") >= 10, "{:#?}", r.results);
    assert!(count(&r, "members_added") > 0);
    assert!(count(&r, "members_removed") > 0);
    let largest = count(&r, "largest_channel");
    assert!((1..=5).contains(&largest), "{largest}");
    assert!(r.latencies[0].summary.p50_ms > 0.0);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_writes_the_json_result() {
    let server = Server::start();
    let path = std::env::temp_dir().join(format!("herald-bench-e2e-{}.json", server.port));
    let p = path.to_str().unwrap();
    herald_bench::run(common::args(
        &server,
        &["triggers", "-c", "1", "--requests", "5", "--json", p],
    ))
    .await
    .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(v["scenario"], "triggers");
    assert_eq!(v["results"]["accepted"], 5);
    assert!(v["load_generator"]["cpu_percent_of_one_core"].is_number());
    assert_eq!(v["latency_ms"]["request"]["count"], 5);
}
