//! The store a parameterised test runs against. SQLite tests get a private in-memory
//! database (or a file, for tests that reopen the store); PostgreSQL tests get a database
//! of their own, created on the server named by `HERALD_TEST_PG_URL` (scripts/test.sh sets
//! it) and dropped when the test ends.
//!
//! Without `HERALD_TEST_PG_URL` the PostgreSQL variants are skipped with a printed reason,
//! except under `CI`, where they fail: CI must never pass by skipping them.

use std::sync::atomic::{AtomicU32, Ordering};

use herald_audit::{Audit, AuditConfig};
use tokio_util::sync::CancellationToken;

pub struct TestStore {
    kind: Kind,
}

enum Kind {
    Sqlite {
        dir: tempfile::TempDir,
    },
    /// The directory holds the checkpoint signing key (a PostgreSQL store has no
    /// directory of its own; the default would be the working directory's ./data).
    Postgres(TestDb, tempfile::TempDir),
}

impl TestStore {
    pub fn sqlite() -> Self {
        Self {
            kind: Kind::Sqlite {
                dir: tempfile::tempdir().unwrap(),
            },
        }
    }

    /// A fresh PostgreSQL database, or `None` (skip) when none is configured locally.
    pub async fn postgres() -> Option<Self> {
        let Some(admin) = admin_url() else {
            assert!(
                std::env::var("CI").map_or(true, |v| v.is_empty() || v == "false"),
                "HERALD_TEST_PG_URL is not set: the PostgreSQL variants of the audit tests cannot run (scripts/test.sh provides a server)"
            );
            eprintln!(
                "skipped: HERALD_TEST_PG_URL is not set (run scripts/test.sh for a PostgreSQL)"
            );
            return None;
        };
        Some(Self {
            kind: Kind::Postgres(TestDb::create(&admin).await, tempfile::tempdir().unwrap()),
        })
    }

    /// Another, empty store of the same kind.
    pub async fn fresh(&self) -> Self {
        match &self.kind {
            Kind::Sqlite { .. } => Self::sqlite(),
            Kind::Postgres(db, _) => Self {
                kind: Kind::Postgres(
                    TestDb::create(&db.admin).await,
                    tempfile::tempdir().unwrap(),
                ),
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres(..))
    }

    /// A URL for this test's store, the same on every call: a file for SQLite (so that
    /// reopening finds the same data), the test's database for PostgreSQL.
    pub fn url(&self) -> String {
        match &self.kind {
            Kind::Sqlite { dir } => {
                format!("sqlite://{}/nested/dir/audit.db", dir.path().display())
            }
            Kind::Postgres(db, _) => db.url.clone(),
        }
    }

    /// The configuration to open it with; SQLite tests that do not reopen use memory.
    pub fn config(&self) -> AuditConfig {
        let url = match &self.kind {
            Kind::Sqlite { .. } => "sqlite::memory:".to_owned(),
            Kind::Postgres(db, _) => db.url.clone(),
        };
        AuditConfig {
            url,
            signing_key: self.signing_key(),
            ..AuditConfig::default()
        }
    }

    /// Where the checkpoint signing key lives: beside an SQLite file (the default), in the
    /// test's own directory for PostgreSQL.
    pub fn key_path(&self) -> std::path::PathBuf {
        match &self.kind {
            Kind::Sqlite { dir } => dir.path().join("nested/dir/herald-audit-signing.pem"),
            Kind::Postgres(_, dir) => dir.path().join("herald-audit-signing.pem"),
        }
    }

    fn signing_key(&self) -> Option<std::path::PathBuf> {
        self.is_postgres().then(|| self.key_path())
    }

    /// The configuration for the persistent URL ([`Self::url`]).
    pub fn persistent_config(&self) -> AuditConfig {
        AuditConfig {
            url: self.url(),
            signing_key: self.signing_key(),
            ..AuditConfig::default()
        }
    }

    pub async fn open(&self) -> Audit {
        herald_audit::open(self.config(), CancellationToken::new())
            .await
            .expect("open audit store")
    }

    /// The integers of the first row of `sql`, run directly on the persistent store (plain
    /// SQL that both databases understand, on herald's tables).
    pub async fn sql_ints(&self, sql: &str) -> Vec<i64> {
        match &self.kind {
            Kind::Sqlite { dir } => {
                let conn =
                    rusqlite::Connection::open(dir.path().join("nested/dir/audit.db")).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_row([], |r| (0..n).map(|i| r.get::<_, i64>(i)).collect())
                    .unwrap()
            }
            Kind::Postgres(..) => {
                let client = self.pg_client().await;
                let row = client.query_one(sql, &[]).await.unwrap();
                (0..row.len()).map(|i| row.get::<_, i64>(i)).collect()
            }
        }
    }

    /// Runs SQL on the test's PostgreSQL database (a separate connection, as an operator
    /// or a foreign writer would).
    pub async fn pg_client(&self) -> tokio_postgres::Client {
        let Kind::Postgres(db, _) = &self.kind else {
            panic!("not a PostgreSQL store");
        };
        let client = connect(&db.url).await;
        client
            .batch_execute("SET search_path TO herald")
            .await
            .unwrap();
        client
    }
}

fn admin_url() -> Option<String> {
    std::env::var("HERALD_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// `url` naming database `db` instead of its own.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
    tokio::spawn(connection);
    client
}

/// A database created for one test and dropped (forcibly) when it ends.
pub struct TestDb {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDb {
    pub async fn create(admin: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "herald_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let client = connect(admin).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        Self {
            url: with_database(admin, &name),
            admin: admin.to_owned(),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime: use a thread with a runtime of its own.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = connect(&admin).await;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// A PostgreSQL server of the test's own (initdb + pg_ctl on a free port), for tests that
/// stop and restart it. Needs `HERALD_TEST_PG_BINDIR` (scripts/test.sh sets it); `None`
/// (skip, or fail under CI) without it. Runs as the `postgres` user when we are root.
pub struct OwnPostgres {
    bindir: std::path::PathBuf,
    dir: std::path::PathBuf,
    pub port: u16,
}

impl OwnPostgres {
    pub fn start() -> Option<Self> {
        let Some(bindir) = std::env::var_os("HERALD_TEST_PG_BINDIR").filter(|b| !b.is_empty())
        else {
            assert!(
                std::env::var("CI").map_or(true, |v| v.is_empty() || v == "false"),
                "HERALD_TEST_PG_BINDIR is not set: this test needs initdb and pg_ctl"
            );
            eprintln!("skipped: HERALD_TEST_PG_BINDIR is not set (run scripts/test.sh)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("herald-own-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = Self {
            bindir: bindir.into(),
            dir,
            port,
        };
        if is_root() {
            let status = std::process::Command::new("chown")
                .args(["postgres:", pg.dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "chown the scratch directory to postgres");
        }
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        );
        pg.start_server();
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let bin = self.bindir.join(tool);
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            std::process::Command::new(&bin)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn start_server(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server at once (connections are cut, as in a crash or a failover).
    pub fn stop_server(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
    }

    /// The admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let bin = self.bindir.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            std::process::Command::new(&bin)
        };
        let _ = cmd
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
