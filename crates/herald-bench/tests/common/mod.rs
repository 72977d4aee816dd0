//! A real `herald` server process for the end-to-end tests, on a free loopback port, in a
//! scratch directory of its own (its audit store goes there), killed when dropped.
//!
//! The binary belongs to another package of the workspace, so `CARGO_BIN_EXE_herald` is not
//! available here: the tests build it with `cargo build --bin herald` (a no-op when it is up
//! to date) and run it from the workspace's target directory.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Parser;
use herald_bench::BenchArgs;
use herald_bench::report::{Report, Value};

pub struct Server {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Server {
    pub fn start() -> Self {
        let bin = herald_binary();
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("herald-bench-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let child = Command::new(bin)
            .current_dir(&dir)
            .env("HERALD_HOST", "127.0.0.1")
            .env("HERALD_PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning herald");
        let server = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "herald did not listen on {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Builds `herald` once per test binary and returns its path.
fn herald_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--bin", "herald", "-p", "herald"])
            .current_dir(&workspace)
            .status()
            .expect("running cargo build --bin herald");
        assert!(status.success(), "cargo build --bin herald failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        let bin = target.join("debug").join("herald");
        assert!(bin.exists(), "{} missing after the build", bin.display());
        bin
    })
    .clone()
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding port 0");
    l.local_addr().unwrap().port()
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Parses `herald-bench <args> --url <server> --quiet`.
pub fn args(server: &Server, args: &[&str]) -> BenchArgs {
    let url = server.url();
    let mut argv = vec!["herald-bench"];
    argv.extend_from_slice(args);
    argv.extend(["--url", url.as_str(), "--quiet"]);
    Cli::try_parse_from(argv).expect("valid arguments").bench
}

/// Runs `herald-bench <args>` in-process against `server` and returns the report.
pub async fn bench(server: &Server, a: &[&str]) -> Report {
    herald_bench::execute(&args(server, a))
        .await
        .expect("scenario runs")
}

/// A count from the report's results.
pub fn count(report: &Report, key: &str) -> u64 {
    match report.results.get(key) {
        Some(Value::Count(n) | Value::Bytes(n)) => *n,
        other => panic!("result {key} is {other:?} in {:#?}", report.results),
    }
}

/// A rate or duration from the report's results.
pub fn float(report: &Report, key: &str) -> f64 {
    match report.results.get(key) {
        Some(Value::Rate(f) | Value::Secs(f) | Value::Millis(f)) => *f,
        other => panic!("result {key} is {other:?} in {:#?}", report.results),
    }
}
