//! The Gantry server: `gantry serve`'s web UI and JSON API over the state in `gantry-store`.
//!
//! This first slice shows what the store holds — repositories, runs, jobs and their logs — to
//! logged-in users, by role. It does not execute anything (the server never will: runs are fed
//! into the store by another piece).
//!
//! - [`app`] builds the whole [`Router`] from an [`AppState`], so tests drive it in-process with
//!   `tower::ServiceExt::oneshot`; [`serve`] opens the store, creates the first admin on first
//!   start, binds the listener and serves until a shutdown future resolves.
//! - Routes: `/login`, `/logout`, `/account` (password change), `/` (dashboard), `/{owner}/{repo}` (runs),
//!   `/{owner}/{repo}/runs/{number}` (jobs and logs), `/api/v1/…` (JSON, see [`api`]),
//!   `/api/openapi.json` (the API's document, [`openapi`]), `/healthz`, `/static/style.css`,
//!   `/static/run.js`; a repository's secrets and members ([`settings`]), the organisation's
//!   secrets and the users (`/admin/…`, [`settings`], [`people`]); status badges
//!   (`/badge/{owner}/{repo}/{workflow}.svg`) and `/metrics` ([`observe`]).
//! - Secret values are sealed with the server's key before they reach the store ([`crypto`]).
//! - Authentication and access rules live in [`auth`]; every repository endpoint goes through its
//!   [`auth::RepoAccess`] extractor.
//! - Every response carries the security headers (CSP `default-src 'self'`, no framing, no
//!   sniffing, same-origin referrers). Requests are logged with `tracing`.

pub mod api;
pub mod artifacts;
pub mod auth;
pub mod badge;
pub mod commit_status;
pub mod control;
pub mod crypto;
pub mod dag;
pub mod dispatch;
pub mod error;
pub mod git;
pub mod live;
pub mod logview;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod pages;
pub mod people;
pub mod poll;
pub mod report;
pub mod retention;
pub mod schedule;
pub mod settings;
pub mod stream;
pub mod throttle;
pub mod trigger;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use gantry_store::{NewUser, Store};
use tokio_util::sync::CancellationToken;

use crate::dispatch::{Dispatch, DispatchConfig};
use crate::live::Live;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

use crate::throttle::LoginThrottle;

/// The largest request body accepted (forms and JSON are small).
const MAX_BODY_BYTES: usize = 1 << 20;
/// The name of the user created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub throttle: Arc<LoginThrottle>,
    /// The run queue (and, through it, the live fan-out).
    pub dispatch: Arc<Dispatch>,
    /// The `gantry` program the push hooks of local repositories run.
    pub hook_program: Option<PathBuf>,
    /// Cancelled when the server stops: live streams end.
    pub shutdown: CancellationToken,
    /// Seals and opens secret values (see [`crypto`]).
    pub secret_key: Arc<crypto::SecretKey>,
    /// Posts commit statuses to forges.
    pub reporter: Arc<report::Reporter>,
    /// What `/metrics` reports (the run queue and every response feed it).
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// State over a store, with a run queue whose leases go out on `leases` (nothing hands them
    /// out until [`Dispatch::run`] is started, as [`serve`] does).
    pub fn new(
        store: Store,
        secret_key: crypto::SecretKey,
        data_dir: PathBuf,
        leases: gantry_api::LeaseSender,
    ) -> Self {
        let secret_key = Arc::new(secret_key);
        let reporter = Arc::new(report::Reporter::new(store.clone(), secret_key.clone()));
        let metrics = Arc::new(metrics::Metrics::new());
        let dispatch = Dispatch::new(DispatchConfig {
            reporter: reporter.clone(),
            store: store.clone(),
            leases,
            live: Arc::new(Live::default()),
            max_runs: default_max_runs(),
            data_dir,
            secrets: Arc::new(SealedSecrets {
                store: store.clone(),
                key: secret_key.clone(),
            }),
            metrics: metrics.clone(),
        });
        AppState {
            store,
            throttle: Arc::new(LoginThrottle::default()),
            dispatch,
            hook_program: None,
            shutdown: CancellationToken::new(),
            secret_key,
            reporter,
            metrics,
        }
    }
}

/// Runs at once by default: one per CPU.
pub fn default_max_runs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// A repository's secrets (and the organisation's it does not override) for a run, opened with
/// the server's key.
struct SealedSecrets {
    store: Store,
    key: Arc<crypto::SecretKey>,
}

impl dispatch::SecretSource for SealedSecrets {
    fn secrets(
        &self,
        repository_id: i64,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<(String, String)>, String>> + Send + '_>>
    {
        Box::pin(async move {
            crypto::open_run_secrets(&self.store, &self.key, repository_id)
                .await
                .map_err(|e| format!("cannot read the repository's secrets: {}", e.message()))
        })
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let api = Router::new()
        .route(
            "/api/v1/repositories",
            get(api::repositories).post(control::register),
        )
        .route("/api/v1/repositories/{owner}/{repo}/runs", get(api::runs))
        .route(
            "/api/v1/repositories/{owner}/{repo}/runs/{number}",
            get(api::run),
        )
        .route("/api/v1/tokens", post(api::create_token))
        .route(
            "/api/v1/repositories/{owner}/{repo}/runs/{number}/jobs/{job}/log",
            get(api::job_log),
        )
        .route("/api/v1/hooks/git", post(control::git_hook))
        .route(
            "/api/v1/repositories/{owner}/{repo}/runs/{number}/artifacts",
            get(artifacts::list_api),
        )
        .route(
            "/hooks/{forge}/{owner}/{repo}",
            post(control::forge_webhook),
        )
        .route(
            "/api/v1/repositories/{owner}/{repo}/dispatches",
            post(control::dispatch_api),
        )
        .route(
            "/api/v1/repositories/{owner}/{repo}/runs/{number}/{action}",
            post(control::run_action_api),
        )
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/{*rest}", any(api::not_found));
    let pages = Router::new()
        .route("/", get(pages::dashboard))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/account", get(pages::account))
        .route("/account/password", post(pages::change_password))
        .route("/{owner}/{repo}", get(pages::repository))
        .route("/{owner}/{repo}/runs/{number}", get(pages::run))
        .route(
            "/{owner}/{repo}/runs/{number}/{action}",
            post(control::run_action_form),
        )
        .route("/{owner}/{repo}/dispatch", post(control::dispatch_form))
        .route(
            "/{owner}/{repo}/runs/{number}/artifacts/{name}",
            get(artifacts::download),
        )
        .route(
            "/{owner}/{repo}/runs/{number}/events",
            get(stream::run_events),
        )
        .route(
            "/{owner}/{repo}/runs/{number}/jobs/{job}/live",
            get(stream::job_log),
        )
        .route("/healthz", get(healthz))
        .route("/static/style.css", get(style))
        .route("/static/run.js", get(run_script))
        .route("/badge/{owner}/{repo}/{file}", get(observe::badge))
        .route("/metrics", get(observe::metrics))
        .merge(settings::routes())
        .merge(people::routes());
    pages
        .merge(api)
        .fallback(pages::not_found)
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            observe::count_response,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        // `style-src-attr 'unsafe-inline'`: the log view colours 256-colour and true-colour
        // output with `style="color:#…"` attributes it computes itself; scripts stay 'self' only.
        .layer(security_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src-attr 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
        ))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// 200 `ok` when the database answers.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.user_count().await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::error!(%err, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        concat!(
            include_str!("../templates/style.css"),
            include_str!("../templates/render.css")
        ),
    )
}

async fn run_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/run.js"),
    )
}

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the SQLite database lives (unless `database` is set).
    pub data_dir: PathBuf,
    /// `host:port`; port 0 picks a free one.
    pub listen: String,
    /// A `postgres://…` URL; none for SQLite in `data_dir`.
    pub database: Option<String>,
    /// Where runs go: the in-process agent's link.
    pub leases: gantry_api::LeaseSender,
    /// Runs executing at once.
    pub max_runs: usize,
    /// The `gantry` program local repositories' push hooks run.
    pub hook_program: Option<PathBuf>,
    /// How long running steps may take to finish when the server stops; what is still running
    /// then is killed and queued again at the next start.
    pub shutdown_grace: std::time::Duration,
    /// Retention settings to store at start (`None`: leave the stored setting as it is).
    pub keep_days: Option<u32>,
    pub keep_runs: Option<u32>,
}

/// What [`serve`] reports once it listens.
#[derive(Clone, Debug)]
pub struct Started {
    /// The address actually bound (the real port when 0 was asked).
    pub address: SocketAddr,
    /// `http://address`.
    pub url: String,
    /// On first start only: the generated password of the `admin` user.
    pub first_admin_password: Option<String>,
}

/// What to do when the listening address cannot be bound.
fn bind_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another program uses it; stop it or pass another --listen"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges; pass --listen with a higher port"
        }
        _ => "pass --listen HOST:PORT with an address of this machine (e.g. 127.0.0.1:8080)",
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database: {0}")]
    Store(#[from] gantry_store::Error),
    #[error("cannot listen on {address}: {source}: {}", bind_hint(source))]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot load the key for secrets: {0}")]
    SecretKey(#[from] crypto::CryptoError),
    #[error("creating the first admin: {0}")]
    FirstAdmin(String),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Opens the store, creates the first admin on first start, binds `config.listen`, calls
/// `started`, and serves until `shutdown` resolves; then lets open requests finish.
pub async fn serve(
    config: Config,
    started: impl FnOnce(&Started),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = match &config.database {
        Some(url) => Store::open(url).await?,
        None => Store::open_sqlite(&config.data_dir).await?,
    };
    let secret_key = crypto::load_or_create(&config.data_dir)?;
    if let Some(days) = config.keep_days {
        store
            .set_setting(retention::DAYS_SETTING, &days.to_string())
            .await?;
    }
    if let Some(runs) = config.keep_runs {
        store
            .set_setting(retention::RUNS_SETTING, &runs.to_string())
            .await?;
    }
    let first_admin_password = create_first_admin(&store).await?;
    let expired = store.delete_expired_sessions().await?;
    tracing::debug!(expired, "expired sessions removed");
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: config.listen.clone(),
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Serve)?;
    tracing::info!(%address, backend = store.backend_name(), "listening");
    let started_url = format!("http://{address}");
    started(&Started {
        address,
        url: started_url.clone(),
        first_admin_password,
    });
    std::fs::create_dir_all(&config.data_dir)
        .and_then(|()| std::fs::write(config.data_dir.join("server.url"), &started_url))
        .map_err(ServeError::Serve)?;
    let mut state = AppState::new(
        store.clone(),
        secret_key,
        config.data_dir.clone(),
        config.leases.clone(),
    );
    state.hook_program = config.hook_program.clone();
    state.reporter.set_public_url(&started_url);
    let recovered = state.dispatch.recover().await?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "runs interrupted by the last stop were recovered"
        );
    }
    let stopping = state.shutdown.clone();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.cancel();
        }
    });
    let queue = tokio::spawn(
        state
            .dispatch
            .clone()
            .run(stopping.clone(), config.shutdown_grace),
    );
    tokio::spawn(schedule::Schedules::default().run(state.clone(), stopping.clone()));
    tokio::spawn(poll::run(state.clone(), poll::POLL_EVERY, stopping.clone()));
    tokio::spawn(retention::run(store.clone(), stopping.clone()));
    let router = app(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stopping.cancelled().await })
    .await
    .map_err(ServeError::Serve)?;
    let _ = queue.await;
    tracing::info!("stopped");
    store.close().await;
    Ok(())
}

/// With no users at all, creates `admin` (a site admin) with a random password, returned to be
/// shown once.
pub async fn create_first_admin(store: &Store) -> Result<Option<String>, ServeError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let password = auth::random_token();
    let hash = auth::hash_password_blocking(password.clone())
        .await
        .map_err(|err| ServeError::FirstAdmin(err.message()))?;
    match store
        .create_user(&NewUser {
            name: FIRST_ADMIN,
            password_hash: &hash,
            is_admin: true,
        })
        .await
    {
        Ok(_) => Ok(Some(password)),
        // Another server process on the same database won the race.
        Err(gantry_store::Error::AlreadyExists) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Structured logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
