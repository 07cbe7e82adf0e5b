//! The server-rendered HTML pages: login, the dashboard, a repository's runs and a run's jobs with
//! their logs. Pages render from the store only, with a fixed number of queries per page (the run
//! page adds one log read per job), so they cost the same with 10 runs or 10,000.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gantry_store::{Conclusion, Job, NewSession, Run, RunFilter, Status};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{
    self, CurrentUser, Html, LOGIN_CSRF_COOKIE, Principal, RepoAccess, SESSION_COOKIE,
};
use crate::error::{AppError, PageError};

/// Runs per page of a repository.
const RUNS_PER_PAGE: u32 = 50;
/// The most of a job's log a run page shows (its end).
const MAX_LOG_BYTES: usize = 1 << 20;

/// The header of every page for a logged-in user.
pub struct Nav {
    pub user_name: String,
    /// Site admins see the links to the users and organisation secrets pages.
    pub is_admin: bool,
    /// The session's CSRF token for the logout form (none for token-authenticated requests).
    pub csrf: Option<String>,
}

impl Nav {
    pub fn of(principal: &Principal) -> Nav {
        Nav {
            user_name: principal.user.name.clone(),
            is_admin: principal.user.is_admin,
            csrf: principal
                .session
                .as_ref()
                .map(|session| session.csrf_token.clone()),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub nav: Option<Nav>,
    pub status: u16,
    pub message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    next: String,
    user_name: String,
    error: Option<String>,
}

/// A run as a row of a table.
struct RunRow {
    number: i64,
    url: String,
    title: String,
    workflow: String,
    branch: String,
    event: String,
    actor: String,
    sha: String,
    state: &'static str,
    created: String,
    duration: String,
}

struct RepositoryRow {
    name: String,
    role: &'static str,
    latest: Vec<RunRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    repositories: Vec<RepositoryRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "repository.html")]
struct RepositoryPage {
    nav: Option<Nav>,
    name: String,
    role: &'static str,
    /// Maintainers and above get a link to the settings.
    settings: bool,
    runs: Vec<RunRow>,
    older: Option<String>,
}

struct JobRow {
    name: String,
    state: &'static str,
    duration: String,
    runner: String,
    log: String,
    log_truncated: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "run.html")]
struct RunPage {
    nav: Option<Nav>,
    repository: String,
    run: RunRow,
    status_reason: Option<String>,
    jobs: Vec<JobRow>,
}

/// What a run or job shows as its state: its conclusion once completed, else its status.
pub fn state_name(status: Status, conclusion: Option<Conclusion>) -> &'static str {
    match (status, conclusion) {
        (Status::Completed, Some(conclusion)) => conclusion.as_str(),
        (status, _) => status.as_str(),
    }
}

/// `1h 2m`, `3m 4s`, `5s`; empty if it never started; counted to now while it runs.
fn duration_text(started: Option<jiff::Timestamp>, finished: Option<jiff::Timestamp>) -> String {
    let Some(started) = started else {
        return String::new();
    };
    let end = finished.unwrap_or_else(jiff::Timestamp::now);
    let seconds = end.duration_since(started).as_secs().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
    }
}

fn time_text(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn run_row(repository: &str, run: &Run) -> RunRow {
    RunRow {
        number: run.number,
        url: format!("/{repository}/runs/{}", run.number),
        title: run.title.clone(),
        workflow: run.workflow_name.clone(),
        branch: run.branch.clone().unwrap_or_else(|| run.git_ref.clone()),
        event: run.event.clone(),
        actor: run.actor.clone(),
        sha: run.sha.chars().take(7).collect(),
        state: state_name(run.status, run.conclusion),
        created: time_text(run.created_at),
        duration: duration_text(run.started_at, run.finished_at),
    }
}

/// The client's address, when the server was started with connection info (tests may add it).
fn client_address(parts_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// A `next` target is followed only when it is a path on this site.
fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local { next } else { "/" }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
    mut parts: Parts,
) -> Result<Response, PageError> {
    if auth::principal(&mut parts, &state).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let next = safe_next(query.next.as_deref().unwrap_or("/")).to_string();
    Ok(login_page(StatusCode::OK, next, String::new(), None))
}

/// The login form with a fresh CSRF token, set in a cookie too (double submit: there is no session
/// to keep it in yet).
fn login_page(
    status: StatusCode,
    next: String,
    user_name: String,
    error: Option<String>,
) -> Response {
    let csrf = auth::random_token();
    let cookie =
        format!("{LOGIN_CSRF_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600");
    let page = LoginPage {
        nav: None,
        csrf,
        next,
        user_name,
        error,
    };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let expected = auth::cookie(&parts, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !auth::same_secret(expected, &form.csrf) {
        return Err(AppError::Forbidden(
            "the login form expired or did not come from this site: reload the page and try again"
                .to_string(),
        )
        .into());
    }
    let address = client_address(&parts.extensions);
    let name = form.username.trim().to_string();
    if let Some(wait) = state.throttle.wait(&name, address) {
        tracing::warn!(user = %name, ?address, "login throttled");
        return Err(AppError::TooManyRequests(wait.as_secs().max(1)).into());
    }
    let user = state.store.user_by_name(&name).await?;
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let valid = auth::verify_password(form.password, stored).await?;
    let next = safe_next(&form.next).to_string();
    let Some(user) = user.filter(|_| valid) else {
        state.throttle.failed(&name, address);
        tracing::info!(user = %name, ?address, "login failed");
        return Ok(login_page(
            StatusCode::UNAUTHORIZED,
            next,
            name,
            Some("wrong user name or password: check both and try again".to_string()),
        ));
    };
    state.throttle.succeeded(&name);
    let token = auth::random_token();
    let csrf = auth::random_token();
    state
        .store
        .create_session(&NewSession {
            id: &auth::token_hash(&token),
            user_id: user.id,
            csrf_token: &csrf,
            expires_at: jiff::Timestamp::now() + auth::SESSION_LIFETIME,
        })
        .await?;
    tracing::info!(user = %name, "logged in");
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        auth::session_cookie(&token)
            .parse()
            .map_err(|_| AppError::Internal("session cookie header".to_string()))?,
    );
    headers.append(
        header::SET_COOKIE,
        auth::expired_cookie(LOGIN_CSRF_COOKIE, "/login")
            .parse()
            .map_err(|_| AppError::Internal("login cookie header".to_string()))?,
    );
    Ok((headers, Redirect::to(&next)).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    principal.check_csrf(Some(&form.csrf))?;
    if let Some(session) = &principal.session {
        state.store.delete_session(&session.id).await?;
    }
    Ok((
        [(
            header::SET_COOKIE,
            auth::expired_cookie(SESSION_COOKIE, "/"),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}

pub async fn dashboard(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
) -> Result<Response, PageError> {
    let visible = auth::visible_repositories(&state, &principal.user).await?;
    let ids: Vec<i64> = visible
        .iter()
        .map(|(repository, _)| repository.id)
        .collect();
    let latest = state.store.latest_runs_per_branch(&ids).await?;
    let repositories = visible
        .iter()
        .map(|(repository, role)| RepositoryRow {
            name: repository.name.clone(),
            role: role.as_str(),
            latest: latest
                .iter()
                .filter(|run| run.repository_id == repository.id)
                .map(|run| run_row(&repository.name, run))
                .collect(),
        })
        .collect();
    Ok(DashboardPage {
        nav: Some(Nav::of(&principal)),
        repositories,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct PageQuery {
    /// Show the runs older than the run with this number.
    before: Option<i64>,
}

pub async fn repository(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let repository = &access.repository;
    let (runs, more) = runs_page(&state, repository.id, query.before, RUNS_PER_PAGE).await?;
    let older = more
        .then(|| runs.last())
        .flatten()
        .map(|run| format!("/{}?before={}", repository.name, run.number));
    Ok(RepositoryPage {
        nav: Some(Nav::of(&access.principal)),
        name: repository.name.clone(),
        role: access.role.as_str(),
        settings: access.role >= gantry_store::Role::Maintainer,
        runs: runs
            .iter()
            .map(|run| run_row(&repository.name, run))
            .collect(),
        older,
    }
    .into_response())
}

/// One page of a repository's runs, newest first, before the run numbered `before`; and whether
/// older runs exist.
pub async fn runs_page(
    state: &AppState,
    repository_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<Run>, bool), AppError> {
    let before_id = match before {
        Some(number) => match state.store.run_by_number(repository_id, number).await? {
            Some(run) => Some(run.id),
            None => {
                return Err(AppError::BadRequest(format!(
                    "there is no run {number} to page before: start from the first page"
                )));
            }
        },
        None => None,
    };
    let mut runs = state
        .store
        .list_runs(&RunFilter {
            repository_id: Some(repository_id),
            before_id,
            limit: limit + 1,
            ..RunFilter::default()
        })
        .await?;
    let more = runs.len() > limit as usize;
    runs.truncate(limit as usize);
    Ok((runs, more))
}

pub async fn run(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Path((_, _, number)): Path<(String, String, i64)>,
) -> Result<Response, PageError> {
    let repository = &access.repository;
    let run = state
        .store
        .run_by_number(repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let jobs = state.store.jobs(run.id).await?;
    let mut rows = Vec::with_capacity(jobs.len());
    for job in &jobs {
        rows.push(job_row(&state, job).await?);
    }
    Ok(RunPage {
        nav: Some(Nav::of(&access.principal)),
        repository: repository.name.clone(),
        status_reason: run.status_reason.clone(),
        run: run_row(&repository.name, &run),
        jobs: rows,
    }
    .into_response())
}

async fn job_row(state: &AppState, job: &Job) -> Result<JobRow, AppError> {
    let log = state.store.log(job.id).await?;
    let log_truncated = log.len() > MAX_LOG_BYTES;
    let shown = &log[log.len().saturating_sub(MAX_LOG_BYTES)..];
    Ok(JobRow {
        name: job.name.clone(),
        state: state_name(job.status, job.conclusion),
        duration: duration_text(job.started_at, job.finished_at),
        runner: job.runner.clone().unwrap_or_default(),
        log: String::from_utf8_lossy(shown).into_owned(),
        log_truncated,
    })
}

/// Anything else: 404 as a page.
pub async fn not_found() -> PageError {
    PageError(AppError::NotFound)
}

/// The shortest new password accepted.
pub const MIN_PASSWORD_LENGTH: usize = 12;

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Option<Nav>,
    min_length: usize,
    error: Option<String>,
}

pub async fn account(CurrentUser(principal, ..): CurrentUser<Html>) -> Response {
    AccountPage {
        nav: Some(Nav::of(&principal)),
        min_length: MIN_PASSWORD_LENGTH,
        error: None,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

/// Changes the logged-in user's password (the current one is checked, and throttled like a
/// login), then ends all their sessions.
pub async fn change_password(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    parts: Parts,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    if principal.session.is_none() {
        return Err(AppError::Forbidden(
            "log in with your password (not an API token) to change it".to_string(),
        )
        .into());
    }
    principal.check_csrf(Some(&form.csrf))?;
    let refuse = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            AccountPage {
                nav: Some(Nav::of(&principal)),
                min_length: MIN_PASSWORD_LENGTH,
                error: Some(message.to_string()),
            },
        )
            .into_response()
    };
    let address = client_address(&parts.extensions);
    let name = &principal.user.name;
    if let Some(wait) = state.throttle.wait(name, address) {
        return Err(AppError::TooManyRequests(wait.as_secs().max(1)).into());
    }
    let stored = Some(principal.user.password_hash.clone());
    if !auth::verify_password(form.current, stored).await? {
        state.throttle.failed(name, address);
        return Ok(refuse(
            "the current password is wrong: type the one you logged in with",
        ));
    }
    if form.new.chars().count() < MIN_PASSWORD_LENGTH {
        return Ok(refuse(&format!(
            "the new password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )));
    }
    if form.new != form.confirm {
        return Ok(refuse(
            "the two new passwords differ: type the same one twice",
        ));
    }
    let hash = auth::hash_password_blocking(form.new).await?;
    state
        .store
        .set_password_hash(principal.user.id, &hash)
        .await?;
    state
        .store
        .delete_sessions_of_user(principal.user.id)
        .await?;
    tracing::info!(user = %name, "password changed");
    Ok((
        [(
            header::SET_COOKIE,
            auth::expired_cookie(SESSION_COOKIE, "/"),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}
