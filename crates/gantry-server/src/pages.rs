//! The server-rendered HTML pages: login, the dashboard, a repository's workflows (badges and
//! "Run workflow" forms) and runs, and a run: its buttons, its job graph, its jobs and the log
//! of one of them. Pages render from the store with a fixed number of queries per page (the run
//! page reads one job's log and steps), so they cost the same with 10 runs or 10,000; the
//! repository page also reads the workflow files of the default branch from git.
//!
//! Everything works without JavaScript; `static/run.js` only keeps a run page up to date while
//! the run goes on (job states and the selected job's log, over the SSE endpoints of
//! [`crate::stream`]).

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gantry_store::{Conclusion, Job, NewSession, Role, Run, RunFilter, Status};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{
    self, CurrentUser, Html, LOGIN_CSRF_COOKIE, Principal, RepoAccess, SESSION_COOKIE,
};
use crate::dag::{self, DagJob};
use crate::error::{AppError, PageError};
use crate::logview;

/// Runs per page of a repository.
const RUNS_PER_PAGE: u32 = 50;
/// The most of a job's log a run page shows (its end).
const MAX_LOG_BYTES: usize = 4 << 20;
/// The most annotations listed above a log.
const MAX_ANNOTATIONS: usize = 50;
/// The most lines a log search shows.
const MAX_SEARCH_LINES: usize = 200;

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

/// A workflow of the default branch, on the repository page.
struct WorkflowRow {
    /// The path in the repository (`.github/workflows/ci.yml`).
    path: String,
    name: String,
    /// `/badge/OWNER/REPO/FILE.svg`.
    badge: String,
    /// The repository page with the runs of this workflow.
    runs: String,
    /// Its `workflow_dispatch` inputs, when it has that trigger.
    dispatch: Option<Vec<InputField>>,
}

/// One typed `workflow_dispatch` input, as a form field.
struct InputField {
    name: String,
    /// The field's `name`: `input.NAME`.
    field: String,
    description: String,
    required: bool,
    kind: InputKind,
    /// The default as text (`true`/`false` for booleans).
    default: String,
    /// A `choice` input's options.
    options: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Text,
    Boolean,
    Choice,
    Number,
}

impl InputField {
    fn checked(&self) -> bool {
        self.default == "true"
    }
}

/// The runs list's filters, as the query string carries them.
#[derive(Deserialize, Default)]
pub struct RunsQuery {
    /// Show the runs older than the run with this number.
    before: Option<i64>,
    #[serde(default)]
    branch: String,
    /// A workflow's path.
    #[serde(default)]
    workflow: String,
    /// `queued`, `waiting`, `running` or `completed`.
    #[serde(default)]
    status: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repository.html")]
struct RepositoryPage {
    nav: Option<Nav>,
    name: String,
    role: &'static str,
    /// Maintainers and above get a link to the settings.
    settings: bool,
    /// Developers and above get the "Run workflow" forms.
    can_dispatch: bool,
    csrf: String,
    default_branch: String,
    workflows: Vec<WorkflowRow>,
    /// Why the workflows could not be read.
    workflows_note: Option<String>,
    filter: RunsQuery,
    statuses: &'static [Status],
    runs: Vec<RunRow>,
    older: Option<String>,
}

struct JobRow {
    id: i64,
    name: String,
    state: &'static str,
    duration: String,
    href: String,
    selected: bool,
}

struct StepRow {
    index: i64,
    name: String,
    state: &'static str,
    duration: String,
}

/// A `##[error]` or `##[warning]` line of the shown log.
struct Annotation {
    /// `error` or `warning`.
    kind: &'static str,
    /// The line's number in the shown log (its anchor is `L{line}`).
    line: u64,
    text: String,
}

/// The job a run page shows in full.
struct SelectedJob {
    id: i64,
    name: String,
    state: &'static str,
    duration: String,
    runner: String,
    status_reason: Option<String>,
    steps: Vec<StepRow>,
    annotations: Vec<Annotation>,
    /// The log as HTML (from [`logview::render_log`]).
    log_html: String,
    log_empty: bool,
    log_truncated: bool,
    /// Still running: the page follows its log live.
    running: bool,
    /// The SSE endpoint of its live log.
    live_url: String,
}

/// A line a log search found.
struct SearchHit {
    job: String,
    href: String,
    line: u64,
    text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "run.html")]
struct RunPage {
    nav: Option<Nav>,
    repository: String,
    run: RunRow,
    status_reason: Option<String>,
    attempt: i64,
    /// The run this one re-runs: `(number, url)`.
    rerun_of: Option<(i64, String)>,
    completed: bool,
    /// The run's base URL (`/OWNER/REPO/runs/N`).
    base: String,
    csrf: String,
    can_cancel: bool,
    can_rerun: bool,
    can_rerun_failed: bool,
    can_approve: bool,
    /// The job graph, an `<svg>` (from [`dag::render_svg`]).
    dag_svg: String,
    jobs: Vec<JobRow>,
    selected: Option<SelectedJob>,
    query: String,
    hits: Option<Vec<SearchHit>>,
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

pub async fn repository(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Query(query): Query<RunsQuery>,
) -> Result<Response, PageError> {
    let repository = &access.repository;
    let status = match query.status.as_str() {
        "" => None,
        text => Some(text.parse::<Status>().map_err(|_| {
            AppError::BadRequest(format!(
                "there is no run status `{text}`: use queued, waiting, running or completed"
            ))
        })?),
    };
    let filter = RunFilter {
        repository_id: Some(repository.id),
        branch: Some(query.branch.as_str()).filter(|b| !b.is_empty()),
        workflow_file: Some(query.workflow.as_str()).filter(|w| !w.is_empty()),
        status,
        ..RunFilter::default()
    };
    let (runs, more) = filtered_runs_page(&state, filter, query.before, RUNS_PER_PAGE).await?;
    let older = more.then(|| runs.last()).flatten().map(|run| {
        let mut url = format!("/{}?before={}", repository.name, run.number);
        for (key, value) in [
            ("branch", &query.branch),
            ("workflow", &query.workflow),
            ("status", &query.status),
        ] {
            if !value.is_empty() {
                url.push_str(&format!("&{key}={}", auth::percent_encode(value)));
            }
        }
        url
    });
    let (workflows, workflows_note) = match default_branch_workflows(&state, repository).await {
        Ok(workflows) => (workflows, None),
        Err(note) => (Vec::new(), Some(note)),
    };
    Ok(RepositoryPage {
        nav: Some(Nav::of(&access.principal)),
        name: repository.name.clone(),
        role: access.role.as_str(),
        settings: access.role >= Role::Maintainer,
        can_dispatch: access.role >= Role::Developer,
        csrf: csrf_of(&access.principal),
        default_branch: repository.default_branch.clone(),
        workflows,
        workflows_note,
        filter: query,
        statuses: Status::ALL,
        runs: runs
            .iter()
            .map(|run| run_row(&repository.name, run))
            .collect(),
        older,
    }
    .into_response())
}

/// The session's CSRF token for the page's forms (none needed with an API token).
fn csrf_of(principal: &Principal) -> String {
    principal
        .session
        .as_ref()
        .map(|session| session.csrf_token.clone())
        .unwrap_or_default()
}

/// The workflows of the repository's default branch, or why they cannot be listed.
async fn default_branch_workflows(
    state: &AppState,
    repository: &gantry_store::Repository,
) -> Result<Vec<WorkflowRow>, String> {
    let git_dir = state.dispatch.git_dir(repository).await?;
    let Ok(sha) = crate::git::resolve(&git_dir, &repository.default_branch).await else {
        return Err(format!(
            "The default branch `{}` has no commits yet: push one to see its workflows.",
            repository.default_branch
        ));
    };
    let files = crate::git::workflow_files(&git_dir, &sha).await?;
    Ok(files
        .iter()
        .map(|(path, text)| workflow_row(&repository.name, path, text))
        .collect())
}

fn workflow_row(repository: &str, path: &str, text: &str) -> WorkflowRow {
    let (workflow, _) = gantry_syntax::parse_workflow(path, text);
    let file = path.rsplit('/').next().unwrap_or(path);
    let name = workflow
        .name
        .as_ref()
        .map(|name| name.value.clone())
        .unwrap_or_else(|| path.to_string());
    let dispatch = workflow.on.workflow_dispatch.as_ref().map(|dispatch| {
        dispatch
            .inputs
            .iter()
            .map(|(name, (_, def))| input_field(name, def))
            .collect()
    });
    WorkflowRow {
        path: path.to_string(),
        name,
        badge: format!("/badge/{repository}/{file}.svg"),
        runs: format!("/{repository}?workflow={}", auth::percent_encode(path)),
        dispatch,
    }
}

fn input_field(name: &str, def: &gantry_syntax::ast::InputDef) -> InputField {
    use gantry_syntax::ast::InputType;
    let kind = match def.kind {
        InputType::Boolean => InputKind::Boolean,
        InputType::Choice => InputKind::Choice,
        InputType::Number => InputKind::Number,
        InputType::String | InputType::Environment => InputKind::Text,
    };
    let default = match def.default.as_ref().map(|d| &d.value) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    InputField {
        name: name.to_string(),
        field: format!("input.{name}"),
        description: def.description.clone().unwrap_or_default(),
        required: def.required,
        kind,
        default,
        options: def.options.iter().map(|o| o.value.clone()).collect(),
    }
}

/// One page of a repository's runs, newest first, before the run numbered `before`; and whether
/// older runs exist.
pub async fn runs_page(
    state: &AppState,
    repository_id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<Run>, bool), AppError> {
    let filter = RunFilter {
        repository_id: Some(repository_id),
        ..RunFilter::default()
    };
    filtered_runs_page(state, filter, before, limit).await
}

/// [`runs_page`] with the filters of `filter` (whose `before_id` and `limit` are set here).
async fn filtered_runs_page(
    state: &AppState,
    mut filter: RunFilter<'_>,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<Run>, bool), AppError> {
    if let Some(number) = before {
        let repository_id = filter.repository_id.unwrap_or_default();
        match state.store.run_by_number(repository_id, number).await? {
            Some(run) => filter.before_id = Some(run.id),
            None => {
                return Err(AppError::BadRequest(format!(
                    "there is no run {number} to page before: start from the first page"
                )));
            }
        }
    }
    filter.limit = limit + 1;
    let mut runs = state.store.list_runs(&filter).await?;
    let more = runs.len() > limit as usize;
    runs.truncate(limit as usize);
    Ok((runs, more))
}

#[derive(Deserialize)]
pub struct RunQuery {
    /// The job to show (its id); by default the first running, else the first failed, else
    /// the last job.
    job: Option<i64>,
    /// Search the run's logs for this text.
    #[serde(default)]
    q: String,
}

pub async fn run(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Path((_, _, number)): Path<(String, String, i64)>,
    Query(query): Query<RunQuery>,
) -> Result<Response, PageError> {
    let repository = &access.repository;
    let run = state
        .store
        .run_by_number(repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let jobs = state.store.jobs(run.id).await?;
    let base = format!("/{}/runs/{}", repository.name, run.number);
    let selected_job = match query.job {
        Some(id) => Some(
            jobs.iter()
                .find(|job| job.id == id)
                .ok_or(AppError::NotFound)?,
        ),
        None => default_job(&jobs),
    };
    let selected = match selected_job {
        Some(job) => Some(selected_job_view(&state, &base, job).await?),
        None => None,
    };
    let rerun_of = match run.rerun_of {
        Some(id) => state.store.run(id).await?.map(|old| {
            (
                old.number,
                format!("/{}/runs/{}", repository.name, old.number),
            )
        }),
        None => None,
    };
    let hits = if query.q.trim().is_empty() {
        None
    } else {
        let found = state
            .store
            .search_logs(run.id, query.q.trim(), MAX_SEARCH_LINES)
            .await?;
        Some(
            found
                .into_iter()
                .map(|hit| {
                    let job = jobs.iter().find(|job| job.id == hit.job_id);
                    SearchHit {
                        job: job.map(|job| job.name.clone()).unwrap_or_default(),
                        href: format!("{base}?job={}#L{}", hit.job_id, hit.line_number),
                        line: hit.line_number,
                        text: hit.line,
                    }
                })
                .collect(),
        )
    };
    let dag_jobs: Vec<DagJob> = jobs
        .iter()
        .map(|job| DagJob {
            key: job.key.clone(),
            name: job.name.clone(),
            needs: serde_json::from_str(&job.needs).unwrap_or_default(),
            status: state_name(job.status, job.conclusion),
            duration: job_duration(job),
            href: format!("{base}?job={}#job", job.id),
        })
        .collect();
    let completed = run.status == Status::Completed;
    let developer = access.role >= Role::Developer;
    let selected_id = selected.as_ref().map(|job| job.id);
    Ok(RunPage {
        nav: Some(Nav::of(&access.principal)),
        repository: repository.name.clone(),
        status_reason: run.status_reason.clone(),
        attempt: run.attempt,
        rerun_of,
        completed,
        csrf: csrf_of(&access.principal),
        can_cancel: developer && !completed,
        can_rerun: developer && completed,
        can_rerun_failed: developer && completed && run.conclusion != Some(Conclusion::Success),
        can_approve: access.role >= Role::Maintainer && run.status == Status::Waiting,
        dag_svg: if jobs.is_empty() {
            String::new()
        } else {
            dag::render_svg(&dag_jobs)
        },
        jobs: jobs
            .iter()
            .map(|job| JobRow {
                id: job.id,
                name: job.name.clone(),
                state: state_name(job.status, job.conclusion),
                duration: duration_text(job.started_at, job.finished_at),
                href: format!("{base}?job={}#job", job.id),
                selected: Some(job.id) == selected_id,
            })
            .collect(),
        selected,
        query: query.q,
        hits,
        base,
        run: run_row(&repository.name, &run),
    }
    .into_response())
}

/// The job a run page shows when none is asked for: the first running, else the first failed,
/// else the last.
fn default_job(jobs: &[Job]) -> Option<&Job> {
    jobs.iter()
        .find(|job| job.status == Status::Running)
        .or_else(|| {
            jobs.iter()
                .find(|job| job.conclusion == Some(Conclusion::Failure))
        })
        .or_else(|| jobs.last())
}

fn job_duration(job: &Job) -> Option<std::time::Duration> {
    let started = job.started_at?;
    let end = job.finished_at.unwrap_or_else(jiff::Timestamp::now);
    std::time::Duration::try_from(end.duration_since(started)).ok()
}

async fn selected_job_view(
    state: &AppState,
    base: &str,
    job: &Job,
) -> Result<SelectedJob, AppError> {
    let log = state.store.log(job.id).await?;
    let (shown, log_truncated) = log_tail(&log, MAX_LOG_BYTES);
    let steps = state
        .store
        .steps(job.id)
        .await?
        .into_iter()
        .map(|step| StepRow {
            index: step.index,
            name: step.name,
            state: state_name(step.status, step.conclusion),
            duration: duration_text(step.started_at, step.finished_at),
        })
        .collect();
    Ok(SelectedJob {
        id: job.id,
        name: job.name.clone(),
        state: state_name(job.status, job.conclusion),
        duration: duration_text(job.started_at, job.finished_at),
        runner: job.runner.clone().unwrap_or_default(),
        status_reason: job.status_reason.clone(),
        steps,
        annotations: annotations(shown, MAX_ANNOTATIONS),
        log_html: logview::render_log(shown),
        log_empty: shown.is_empty(),
        log_truncated,
        running: job.status != Status::Completed,
        live_url: format!("{base}/jobs/{}/live", job.id),
    })
}

/// The end of a log, at most `max` bytes, starting at a line; and whether anything was cut.
fn log_tail(log: &[u8], max: usize) -> (&[u8], bool) {
    if log.len() <= max {
        return (log, false);
    }
    let cut = log.len() - max;
    let start = log[cut..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(log.len(), |at| cut + at + 1);
    (&log[start..], true)
}

/// The `##[error]` and `##[warning]` lines of a log (at most `max`), numbered as
/// [`logview::render_log`] numbers them.
fn annotations(log: &[u8], max: usize) -> Vec<Annotation> {
    let mut found = Vec::new();
    for (index, line) in log.split(|&b| b == b'\n').enumerate() {
        let kind = if line.starts_with(b"##[error]") {
            "error"
        } else if line.starts_with(b"##[warning]") {
            "warning"
        } else {
            continue;
        };
        let text = &line[kind.len() + 4..];
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        found.push(Annotation {
            kind,
            line: index as u64 + 1,
            text: String::from_utf8_lossy(text).into_owned(),
        });
        if found.len() == max {
            break;
        }
    }
    found
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
