//! The JSON API under `/api/v1`: repositories, their runs (keyset pagination with `?before=`) and
//! a run with its jobs, and API tokens. The wire types are defined here, converted explicitly from
//! the store's rows (they move to `gantry-api` when that crate exists).
//!
//! Authentication: `Authorization: Bearer <token>`, or the session cookie; a cookie-authenticated
//! POST must send the session's CSRF token as `X-CSRF-Token`. The OpenAPI document
//! (`/api/openapi.json`, [`crate::openapi`]) describes every route.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_store::{Job, Repository, Role, Run};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{self, CurrentUser, Principal, RepoAccess};
use crate::error::{ApiError, AppError};
use crate::pages::{runs_page, state_name};

/// The header a cookie-authenticated API POST carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Runs per page unless `?limit=` says otherwise; the most a page may hold.
const DEFAULT_RUNS_PER_PAGE: u32 = 50;
const MAX_RUNS_PER_PAGE: u32 = 200;

#[derive(Serialize)]
pub struct RepositoryDto {
    /// `owner/name`.
    pub name: String,
    /// `local`, `remote` or `webhook`.
    pub kind: &'static str,
    pub default_branch: String,
    /// The caller's role in it.
    pub role: &'static str,
}

impl RepositoryDto {
    fn new(repository: &Repository, role: Role) -> Self {
        RepositoryDto {
            name: repository.name.clone(),
            kind: repository.kind.as_str(),
            default_branch: repository.default_branch.clone(),
            role: role.as_str(),
        }
    }
}

#[derive(Serialize)]
pub struct RunDto {
    pub number: i64,
    pub workflow_file: String,
    pub workflow_name: String,
    pub event: String,
    pub git_ref: String,
    pub branch: Option<String>,
    pub sha: String,
    pub actor: String,
    pub title: String,
    /// `queued`, `waiting`, `running` or `completed`.
    pub status: &'static str,
    /// Once completed: `success`, `failure`, `cancelled` or `skipped`.
    pub conclusion: Option<&'static str>,
    pub status_reason: Option<String>,
    pub attempt: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<&Run> for RunDto {
    fn from(run: &Run) -> Self {
        RunDto {
            number: run.number,
            workflow_file: run.workflow_file.clone(),
            workflow_name: run.workflow_name.clone(),
            event: run.event.clone(),
            git_ref: run.git_ref.clone(),
            branch: run.branch.clone(),
            sha: run.sha.clone(),
            actor: run.actor.clone(),
            title: run.title.clone(),
            status: run.status.as_str(),
            conclusion: run.conclusion.map(|conclusion| conclusion.as_str()),
            status_reason: run.status_reason.clone(),
            attempt: run.attempt,
            created_at: run.created_at.to_string(),
            started_at: run.started_at.map(|time| time.to_string()),
            finished_at: run.finished_at.map(|time| time.to_string()),
        }
    }
}

#[derive(Serialize)]
pub struct JobDto {
    /// The server's id of the job (for its log: `…/jobs/{id}/log`).
    pub id: i64,
    /// The job's id in the workflow, with matrix values for an instance.
    pub key: String,
    pub name: String,
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
    /// Its conclusion once completed, else its status.
    pub state: &'static str,
    pub runner: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Once started: how long it ran (so far).
    pub duration_ms: Option<i64>,
}

impl From<&Job> for JobDto {
    fn from(job: &Job) -> Self {
        let duration_ms = job.started_at.map(|started| {
            let end = job.finished_at.unwrap_or_else(jiff::Timestamp::now);
            end.duration_since(started).as_millis() as i64
        });
        JobDto {
            id: job.id,
            key: job.key.clone(),
            name: job.name.clone(),
            status: job.status.as_str(),
            conclusion: job.conclusion.map(|conclusion| conclusion.as_str()),
            state: state_name(job.status, job.conclusion),
            runner: job.runner.clone(),
            started_at: job.started_at.map(|time| time.to_string()),
            finished_at: job.finished_at.map(|time| time.to_string()),
            duration_ms,
        }
    }
}

#[derive(Serialize)]
pub struct RunDetailDto {
    #[serde(flatten)]
    pub run: RunDto,
    pub jobs: Vec<JobDto>,
}

#[derive(Serialize)]
pub struct RunListDto {
    /// Newest first.
    pub runs: Vec<RunDto>,
    /// Pass as `?before=` for the next (older) page; none on the last page.
    pub next_before: Option<i64>,
}

#[derive(Deserialize)]
pub struct RunListQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

#[derive(Deserialize)]
pub struct NewTokenDto {
    /// Unique among the caller's tokens.
    pub name: String,
}

#[derive(Serialize)]
pub struct CreatedTokenDto {
    pub id: i64,
    pub name: String,
    /// The secret: shown this once, never again.
    pub token: String,
    pub created_at: String,
}

pub async fn repositories(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
) -> Result<Json<Vec<RepositoryDto>>, ApiError> {
    let visible = auth::visible_repositories(&state, &principal.user).await?;
    Ok(Json(
        visible
            .iter()
            .map(|(repository, role)| RepositoryDto::new(repository, *role))
            .collect(),
    ))
}

pub async fn runs(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Query(query): Query<RunListQuery>,
) -> Result<Json<RunListDto>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_RUNS_PER_PAGE);
    if !(1..=MAX_RUNS_PER_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_RUNS_PER_PAGE}"
        ))
        .into());
    }
    let (runs, more) = runs_page(&state, access.repository.id, query.before, limit).await?;
    let next_before = more.then(|| runs.last().map(|run| run.number)).flatten();
    Ok(Json(RunListDto {
        runs: runs.iter().map(RunDto::from).collect(),
        next_before,
    }))
}

pub async fn run(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, number)): Path<(String, String, i64)>,
) -> Result<Json<RunDetailDto>, ApiError> {
    let run = state
        .store
        .run_by_number(access.repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let jobs = state.store.jobs(run.id).await?;
    Ok(Json(RunDetailDto {
        run: RunDto::from(&run),
        jobs: jobs.iter().map(JobDto::from).collect(),
    }))
}

pub async fn create_token(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_csrf_header(&principal, &headers)?;
    let request: NewTokenDto = json_body(&body, r#"{"name": "ci"}"#)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "`name` must be 1 to 100 characters: it tells your tokens apart".to_string(),
        )
        .into());
    }
    let token = auth::new_api_token();
    let created = state
        .store
        .create_api_token(principal.user.id, name, &auth::token_hash(&token))
        .await
        .map_err(|err| match err {
            gantry_store::Error::AlreadyExists => AppError::BadRequest(format!(
                "you already have a token named `{name}`: choose another name"
            )),
            err => err.into(),
        })?;
    tracing::info!(user = %principal.user.name, token = %created.name, "API token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenDto {
            id: created.id,
            name: created.name,
            token,
            created_at: created.created_at.to_string(),
        }),
    )
        .into_response())
}

/// Checks the `X-CSRF-Token` header of a request that changes something, when it came with the
/// session cookie (an API token needs none).
pub fn check_csrf_header(principal: &Principal, headers: &HeaderMap) -> Result<(), AppError> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    principal.check_csrf(presented).map_err(|_| {
        AppError::Forbidden(format!(
            "a request authenticated by the session cookie must send the session's CSRF token \
             in the `{CSRF_HEADER}` header (or use an API token)"
        ))
    })
}

/// A JSON request body; the error shows `example`, the shape expected.
pub fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    example: &str,
) -> Result<T, AppError> {
    serde_json::from_slice(body)
        .map_err(|err| AppError::BadRequest(format!("the body must be JSON like {example}: {err}")))
}

/// Any other path under `/api`: the JSON 404.
pub async fn not_found() -> ApiError {
    ApiError(AppError::NotFound)
}

/// `GET /api/v1/repositories/{owner}/{repo}/runs/{number}/jobs/{job}/log`: the job's log as
/// stored so far (masked text, Gantry's `##[…]` markers included).
pub async fn job_log(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, number, job_id)): Path<(String, String, i64, i64)>,
) -> Result<Response, ApiError> {
    let (_, job) = job_in_run(&state, &access.repository, number, job_id).await?;
    let log = state.store.log(job.id).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        log,
    )
        .into_response())
}

/// A job of a repository's run by number, or 404 (also when the job is another run's).
pub async fn job_in_run(
    state: &AppState,
    repository: &Repository,
    number: i64,
    job_id: i64,
) -> Result<(Run, Job), AppError> {
    let run = state
        .store
        .run_by_number(repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let job = state.store.job(job_id).await?.ok_or(AppError::NotFound)?;
    if job.run_id != run.id {
        return Err(AppError::NotFound);
    }
    Ok((run, job))
}
