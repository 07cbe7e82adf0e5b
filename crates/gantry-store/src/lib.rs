//! The server's persistent state: users, repositories, secrets, runs, jobs, steps, logs, schedules and
//! settings, behind methods named for what they do (`create_run`, `finish_job`, `append_log`…).
//!
//! Two backends, chosen at run time by [`Store::open`]:
//!
//! - **SQLite**, the embedded default: one file (`gantry.db`) in a data directory, in WAL mode, with
//!   foreign keys on and a busy timeout, so concurrent writers wait for each other instead of failing.
//! - **PostgreSQL**, given a `postgres://…` URL.
//!
//! Each backend has its own migrations directory (`migrations/sqlite`, `migrations/postgres`: the same
//! tables, columns and indexes, only the types differ); both are embedded in the binary and run on
//! open. Every query is written once, with `$1`-style parameters that both backends accept, and is
//! checked by the same tests on both. SQL lives only in this crate.
//!
//! Conventions of the schema:
//!
//! - Ids are 64-bit integers; timestamps are UTC milliseconds since the Unix epoch in an integer
//!   column, and [`jiff::Timestamp`] in the row types. The store stamps times itself (`created_at`,
//!   `started_at`…) from the system clock.
//! - Enumerations ([`Status`], [`Conclusion`], [`Role`]…) are stored as their lower-case names.
//! - JSON (event payloads, `needs`, job outputs) is stored as text the store never looks into.
//! - Secrets and webhook secrets are opaque bytes: encrypting them is the caller's job.
//! - Deleting a repository deletes its runs, jobs, steps, logs, secrets, members and schedule slots;
//!   deleting a run deletes its jobs, steps and logs.
//!
//! Row types do not derive `Serialize`: the wire types of the API are built from them explicitly.

mod decode;
mod logs;
mod repositories;
mod runs;
mod schedules;
mod status;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use logs::{LogChunk, LogMatch, LogSize};
pub use repositories::{Member, NewRepository, Repository, Secret, SecretName, SecretScope};
pub use runs::{Job, NewJob, NewRun, Run, RunFilter, Step};
pub use status::{Conclusion, Forge, RepositoryKind, Role, Status};
pub use users::{ApiToken, NewSession, NewUser, Session, User};

/// The name of the SQLite database file inside the data directory.
pub const SQLITE_FILE: &str = "gantry.db";

/// How long an SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an unused SQLite connection stays open.
const SQLITE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The SQLite pool's size: two connections per core, between 4 and 8.
fn sqlite_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 8) as u32
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A row with the same unique key (a user or repository name, a token…) already exists.
    #[error("already exists")]
    AlreadyExists,
    /// A row the operation needs (a user, a repository, a run…) does not exist.
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::AlreadyExists,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound,
            sqlx::Error::RowNotFound => Error::NotFound,
            _ => Error::Database(err),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The server's state. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code on whichever pool the store has: `$body` is compiled once per backend, with
/// `$pool` bound to `&SqlitePool` or `&PgPool`.
macro_rules! on_backend {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Starting a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`, which takes the write
/// lock at once (waiting through the busy timeout): a deferred transaction that reads first and
/// writes later can fail with `SQLITE_BUSY` when another writer got in between.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.begin().await
    }
}

impl Store {
    /// Opens the store at `location` and brings its schema up to date: a `postgres://` (or
    /// `postgresql://`) URL, or else the path of a data directory for SQLite.
    pub async fn open(location: &str) -> Result<Store> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            Store::open_postgres(location).await
        } else {
            Store::open_sqlite(Path::new(location)).await
        }
    }

    /// Opens (creating it if needed) the SQLite database `gantry.db` in `data_dir`, which is created
    /// too, and runs the migrations.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            what: format!("creating the data directory {}", data_dir.display()),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(SQLITE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses nothing when the process dies (even `kill -9`); only a power
            // cut can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            // Each connection keeps its own page cache (2 MiB by default): 1 MiB each keeps an
            // idle server small, and the pages that matter stay in the OS's file cache anyway.
            .pragma("cache_size", "-1024");
        // SQLite writes one at a time: a few connections serve the pages and the recorder; idle
        // ones (each has a thread and a cache) are closed after a minute.
        let pool = SqlitePoolOptions::new()
            .max_connections(sqlite_connections())
            .idle_timeout(Some(SQLITE_IDLE_TIMEOUT))
            .connect_with(options)
            .await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(Store {
            backend: Backend::Sqlite(pool),
        })
    }

    /// Connects to PostgreSQL at `url` and runs the migrations.
    pub async fn open_postgres(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Store {
            backend: Backend::Postgres(pool),
        })
    }

    /// Which backend this is: `"sqlite"` or `"postgres"` (for logs and `/metrics`).
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection; waits for the ones in use to be returned.
    pub async fn close(&self) {
        on_backend!(self, |pool| pool.close().await)
    }
}

/// The current time, as stored.
pub(crate) fn now() -> i64 {
    Timestamp::now().as_millisecond()
}

/// A timestamp, as stored.
pub(crate) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}
