//! Fresh stores for the tests: an SQLite file in a temporary directory, or a new database in a
//! throwaway PostgreSQL cluster.
//!
//! The cluster is shared by every test process of a test run (nextest runs each test in a process
//! of its own): the first process to need it runs `initdb` and `pg_ctl start` into
//! `/tmp/gantry-store-pg-<key>` (a Unix socket in that directory, no TCP, fsync off), under a
//! lock file. Each test process holds a shared lock on `<dir>.users` for its lifetime; a watchdog
//! started with the cluster stops it and removes the directory once nobody has held that lock for
//! a few seconds. As root, PostgreSQL's programs run as the `postgres` user (`runuser`).
//!
//! When PostgreSQL is not installed the Postgres tests fail, saying to run `scripts/postgres`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use gantry_store::Store;

/// A store and what keeps it alive.
pub struct TestStore {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path().to_str().expect("a UTF-8 path"))
        .await
        .expect("opening SQLite");
    assert_eq!(store.backend_name(), "sqlite");
    TestStore {
        store,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> TestStore {
    let store = Store::open(&postgres_url().await)
        .await
        .expect("opening PostgreSQL");
    assert_eq!(store.backend_name(), "postgres");
    TestStore { store, _dir: None }
}

/// The URL of a new, empty database in the test cluster (started if needed).
pub async fn postgres_url() -> String {
    let socket_dir = tokio::task::spawn_blocking(cluster)
        .await
        .expect("starting the cluster");
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    create_database(&url(&socket_dir, "postgres"), &name).await;
    url(&socket_dir, &name)
}

fn url(socket_dir: &Path, database: &str) -> String {
    format!(
        "postgres:///{database}?host={}&port={PORT}&user=postgres",
        socket_dir.display()
    )
}

/// Creates a database through the cluster's `postgres` database.
async fn create_database(admin_url: &str, name: &str) {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .unwrap_or_else(|err| panic!("connecting to the test cluster at {admin_url}: {err}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap_or_else(|err| panic!("creating database {name}: {err}"));
    pool.close().await;
}

const PORT: u16 = 5432;

/// How long the cluster may go unused before the watchdog stops it.
const IDLE_SECONDS: u32 = 4;

/// The cluster's socket directory, starting the cluster if this test run has none yet.
fn cluster() -> PathBuf {
    static SOCKET_DIR: OnceLock<PathBuf> = OnceLock::new();
    SOCKET_DIR.get_or_init(start_or_join).clone()
}

fn start_or_join() -> PathBuf {
    let bin = postgres_bin().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             run scripts/postgres to install it"
        )
    });
    // One cluster per build directory, so two checkouts never share one.
    let key = fnv(env!("CARGO_TARGET_TMPDIR").as_bytes());
    let base = PathBuf::from(format!("/tmp/gantry-store-pg-{key:016x}"));
    let users_path = base.with_extension("users");
    let lock_path = base.with_extension("lock");

    // Held (shared) until this process exits: the watchdog leaves the cluster alone meanwhile.
    static USERS: OnceLock<File> = OnceLock::new();
    let users = File::create(&users_path).expect("creating the users lock file");
    users.lock_shared().expect("locking the users lock file");
    let _ = USERS.set(users);

    let lock = File::create(&lock_path).expect("creating the cluster lock file");
    lock.lock().expect("locking the cluster lock file");
    let data = base.join("data");
    let running = data.join("postmaster.pid").exists()
        && as_postgres(&bin.join("pg_ctl"))
            .args(["status", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !running {
        start(&bin, &base, &data, &users_path, &lock_path);
    }
    drop(lock);
    base
}

fn start(bin: &Path, base: &Path, data: &Path, users_path: &Path, lock_path: &Path) {
    let _ = std::fs::remove_dir_all(base);
    run(as_postgres(Path::new("mkdir")).arg("-p").arg(base), "mkdir");
    run(
        as_postgres(&bin.join("initdb"))
            .args([
                "--no-sync",
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(data),
        "initdb",
    );
    let options = format!(
        "-k {} -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300",
        base.display()
    );
    let mut pg_ctl = Command::new("setsid");
    pg_ctl.arg("-w");
    push_as_postgres(&mut pg_ctl, &bin.join("pg_ctl"));
    pg_ctl
        .args(["start", "-w", "-D"])
        .arg(data)
        .arg("-l")
        .arg(base.join("log"))
        .arg("-o")
        .arg(options);
    run(&mut pg_ctl, "pg_ctl start");

    // The watchdog: stops the cluster and removes it once no test process has used it for
    // IDLE_SECONDS, or exits if the cluster went away.
    let stop = format!(
        "{} {} stop -m immediate -D {} >/dev/null 2>&1; rm -rf {}",
        if is_root() {
            "runuser -u postgres --"
        } else {
            ""
        },
        bin.join("pg_ctl").display(),
        data.display(),
        base.display()
    );
    let script = format!(
        r#"idle=0
while sleep 1; do
  [ -e {data}/postmaster.pid ] || exit 0
  if flock -n -x {users} true; then idle=$((idle+1)); else idle=0; fi
  if [ "$idle" -ge {IDLE_SECONDS} ]; then
    exec flock -x {lock} sh -c 'flock -n -x {users} sh -c "{stop}"'
  fi
done"#,
        data = data.display(),
        users = users_path.display(),
        lock = lock_path.display(),
    );
    // `setsid --fork`: the watchdog leaves this process's session (and is nobody's child to
    // wait for); its output goes nowhere, so no test's output pipe is held open.
    let forked = Command::new("setsid")
        .args(["--fork", "bash", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("starting the cluster's watchdog");
    assert!(
        forked.success(),
        "starting the cluster's watchdog: {forked}"
    );
}

/// The `bin` directory of the newest PostgreSQL installed.
fn postgres_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

/// A command for `program`, run as the `postgres` user when we are root (PostgreSQL refuses to
/// run as root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn push_as_postgres(cmd: &mut Command, program: &Path) {
    if is_root() {
        cmd.args(["runuser", "-u", "postgres", "--"]);
    }
    cmd.arg(program);
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{what}: {err} (run scripts/postgres to install PostgreSQL)"));
    assert!(
        out.status.success(),
        "{what} failed (run scripts/postgres to install PostgreSQL):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
