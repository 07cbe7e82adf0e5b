//! What users and repositories do to runs: register a repository (installing the push hook of
//! a local one), report pushes (the hook), dispatch a workflow, cancel, re-run (all jobs or the
//! failed ones), approve a fork's pull request. Each action has a JSON endpoint under `/api/v1`
//! and, where the UI offers it, a form endpoint that redirects back.
//!
//! Who may do what: developers and above act on runs; maintainers approve forks' pull requests;
//! site admins register repositories. The push hook authenticates with the repository's own
//! hook token (stored hashed), not with a user's.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gantry_store::{
    Conclusion, Forge, NewJob, NewRepository, Repository, RepositoryKind, Role, Run, Status,
};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::RunDto;
use crate::auth::{self, CurrentUser, Html, RepoAccess};
use crate::error::{ApiError, AppError, PageError};
use crate::trigger::{Incoming, Triggered};

/// The first line of every hook Gantry installs: it replaces only its own hooks.
pub const HOOK_MARKER: &str = "# Installed by Gantry";

/// Refuses a caller whose role is below `needed` (who can see the repository, but not act).
pub fn require(role: Role, needed: Role) -> Result<(), AppError> {
    if role >= needed {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "this needs the {needed} role in the repository (you are {role}): ask one of its maintainers"
        )))
    }
}

/// A JSON body through [`crate::api::json_body`]; an empty body reads as `{}` (a bare POST of
/// an action with no options).
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes, example: &str) -> Result<T, AppError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    crate::api::json_body(body, example)
}

// ---------------------------------------------------------------------------------------------
// Repository registration

#[derive(Deserialize)]
pub struct NewRepositoryDto {
    /// `owner/name`.
    name: String,
    /// A local git repository on the server's machine (a push hook is installed).
    path: Option<String>,
    /// A remote repository to mirror (polled; webhooks make it immediate).
    url: Option<String>,
    /// `github`, `gitea` or `gitlab`: the forge sending webhooks for a remote repository.
    forge: Option<String>,
    /// Where commit statuses are posted (`https://api.github.com`…), with `status_token`.
    status_api_url: Option<String>,
    status_token: Option<String>,
    default_branch: Option<String>,
}

#[derive(Serialize)]
pub struct RegisteredDto {
    name: String,
    kind: &'static str,
    default_branch: String,
    /// Where the forge must send webhooks (remote repositories).
    webhook_url: Option<String>,
    /// Shown once: the secret to configure on the forge's webhook.
    webhook_secret: Option<String>,
    /// Local repositories: the hook installed.
    hook: Option<String>,
}

/// `POST /api/v1/repositories` (site admins).
pub async fn register(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    crate::api::check_csrf_header(&principal, &headers)?;
    if !principal.user.is_admin {
        return Err(AppError::Forbidden(
            "registering a repository needs a site admin: ask one".into(),
        )
        .into());
    }
    let dto: NewRepositoryDto =
        json_body(&body, r#"{"name": "acme/web", "path": "/srv/git/web.git"}"#)?;
    let registered = register_repository(&state, &dto).await?;
    Ok((StatusCode::CREATED, Json(registered)).into_response())
}

fn valid_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.len() <= 100
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

async fn register_repository(
    state: &AppState,
    dto: &NewRepositoryDto,
) -> Result<RegisteredDto, AppError> {
    let name = dto.name.trim();
    if !valid_name(name) {
        return Err(AppError::BadRequest(format!(
            "`{name}` is not a repository name: use `owner/name` with letters, digits, `-`, `_` and `.`"
        )));
    }
    if state.store.repository_by_name(name).await?.is_some() {
        return Err(AppError::BadRequest(format!(
            "`{name}` is registered already: pick another name, or remove it first"
        )));
    }
    let dispatch = &state.dispatch;
    match (&dto.path, &dto.url) {
        (Some(path), None) => {
            let path = std::fs::canonicalize(path).map_err(|e| {
                AppError::BadRequest(format!(
                    "`{path}` cannot be opened ({e}): give the absolute path of a git repository on the server"
                ))
            })?;
            let git_dir = crate::git::git_dir_of(&path)
                .await
                .map_err(AppError::BadRequest)?;
            let default_branch = match &dto.default_branch {
                Some(b) => b.clone(),
                None => crate::git::head_branch(&git_dir)
                    .await
                    .unwrap_or_else(|| "main".into()),
            };
            let hook_path = git_dir.join("hooks").join("post-receive");
            check_hook_free(&hook_path)?;
            let location = path.to_string_lossy().into_owned();
            let repository = state
                .store
                .create_repository(&NewRepository {
                    name,
                    kind: RepositoryKind::Local,
                    location: &location,
                    default_branch: &default_branch,
                    forge: Forge::None,
                    webhook_secret: None,
                })
                .await?;
            let token = auth::random_token();
            state
                .store
                .set_setting(
                    &hook_setting(repository.id),
                    &hex(&auth::token_hash(&token)),
                )
                .await?;
            install_hook(state, &hook_path, name, &token).map_err(|e| {
                AppError::BadRequest(format!(
                    "cannot install the push hook at {}: {e}: make the repository writable by the server's user",
                    hook_path.display()
                ))
            })?;
            Ok(RegisteredDto {
                name: repository.name,
                kind: "local",
                default_branch,
                webhook_url: None,
                webhook_secret: None,
                hook: Some(hook_path.to_string_lossy().into_owned()),
            })
        }
        (None, Some(url)) => {
            let forge = match dto.forge.as_deref() {
                None | Some("none") => Forge::None,
                Some(other) => other.parse::<Forge>().map_err(|_| {
                    AppError::BadRequest(format!(
                        "unknown forge `{other}`: use github, gitea or gitlab"
                    ))
                })?,
            };
            let secret = (forge != Forge::None).then(auth::random_token);
            let sealed_secret = secret
                .as_ref()
                .map(|s| state.secret_key.seal(s.as_bytes(), &webhook_aad(name)));
            let repository = state
                .store
                .create_repository(&NewRepository {
                    name,
                    kind: if forge == Forge::None {
                        RepositoryKind::Remote
                    } else {
                        RepositoryKind::Webhook
                    },
                    location: url,
                    default_branch: dto.default_branch.as_deref().unwrap_or("main"),
                    forge,
                    webhook_secret: sealed_secret.as_deref(),
                })
                .await?;
            // The first fetch makes the mirror; its refs are not events.
            if let Err(e) = crate::git::fetch(&dispatch.mirror_dir(repository.id), url, &[]).await {
                let _ = state.store.delete_repository(repository.id).await;
                return Err(AppError::BadRequest(e));
            }
            match (&dto.status_api_url, &dto.status_token) {
                (Some(api_url), Some(token)) if forge != Forge::None => {
                    state
                        .reporter
                        .configure(&repository, api_url, token)
                        .await?;
                }
                (None, None) => {}
                _ => {
                    let _ = state.store.delete_repository(repository.id).await;
                    return Err(AppError::BadRequest(
                        "commit statuses need `forge`, `status_api_url` and `status_token` together".into(),
                    ));
                }
            }
            Ok(RegisteredDto {
                webhook_url: (forge != Forge::None)
                    .then(|| format!("/hooks/{}/{}", forge.as_str(), repository.name)),
                name: repository.name,
                kind: if forge == Forge::None {
                    "remote"
                } else {
                    "webhook"
                },
                default_branch: repository.default_branch,
                webhook_secret: secret,
                hook: None,
            })
        }
        _ => Err(AppError::BadRequest(
            "give exactly one of `path` (a git repository on the server) or `url` (a remote one)"
                .into(),
        )),
    }
}

/// What a repository's sealed webhook secret is bound to.
fn webhook_aad(name: &str) -> Vec<u8> {
    format!("webhook:{name}").into_bytes()
}

pub fn hook_setting(repository_id: i64) -> String {
    format!("hook_token:{repository_id}")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_hook_free(hook_path: &Path) -> Result<(), AppError> {
    match std::fs::read_to_string(hook_path) {
        Ok(text) if !text.contains(HOOK_MARKER) => Err(AppError::BadRequest(format!(
            "{} exists and is not Gantry's: move it away (or call it from another hook), then register again",
            hook_path.display()
        ))),
        _ => Ok(()),
    }
}

/// Single-quotes a string for `sh`.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn install_hook(
    state: &AppState,
    hook_path: &Path,
    name: &str,
    token: &str,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let program = state
        .hook_program
        .clone()
        .unwrap_or_else(|| PathBuf::from("gantry"));
    let url_file = state.dispatch.data_dir().join("server.url");
    let script = format!(
        "#!/bin/sh\n{HOOK_MARKER} for {name}: reports pushes to the Gantry server. Remove this file to stop.\nexec {} hook --url-file {} --repository {} --token {}\n",
        sh_quote(&program.to_string_lossy()),
        sh_quote(&url_file.to_string_lossy()),
        sh_quote(name),
        sh_quote(token),
    );
    if let Some(dir) = hook_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = hook_path.with_extension("gantry-new");
    std::fs::write(&temp, script)?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o700))?;
    std::fs::rename(&temp, hook_path)
}

// ---------------------------------------------------------------------------------------------
// Pushes reported by the hook

#[derive(Deserialize)]
pub struct HookPush {
    repository: String,
    #[serde(default)]
    pusher: String,
    updates: Vec<RefUpdate>,
}

#[derive(Deserialize)]
pub struct RefUpdate {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
}

#[derive(Serialize)]
pub struct QueuedDto {
    runs: Vec<QueuedRunDto>,
    /// Workflows the push did not run, with why.
    skipped: Vec<SkippedDto>,
}

#[derive(Serialize)]
pub struct QueuedRunDto {
    number: i64,
    workflow: String,
    status: &'static str,
    /// The run's page, relative to the server.
    path: String,
}

#[derive(Serialize)]
pub struct SkippedDto {
    workflow: String,
    reason: String,
}

/// `POST /api/v1/hooks/git`: a push to a local repository, from its hook.
pub async fn git_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let push: HookPush = json_body(&body, r#"{"repository": "acme/web", "updates": [...]}"#)?;
    let repository = state
        .store
        .repository_by_name(&push.repository)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthenticated)?;
    let expected = state
        .store
        .setting(&hook_setting(repository.id))
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !auth::same_secret(&hex(&auth::token_hash(presented)), &expected) {
        tracing::warn!(repository = %repository.name, "a push hook came with a wrong token");
        return Err(AppError::Unauthenticated.into());
    }
    let git_dir = state
        .dispatch
        .git_dir(&repository)
        .await
        .map_err(AppError::BadRequest)?;
    let mut all = Triggered::default();
    for update in push.updates {
        let incoming = Incoming::Push {
            git_ref: update.git_ref,
            before: update.before,
            after: update.after,
            actor: push.pusher.clone(),
            changed_files: None,
            payload: None,
        };
        merge(
            &mut all,
            trigger(&state, &repository, &git_dir, incoming).await?,
        );
    }
    Ok(Json(queued_dto(&repository, all)).into_response())
}

fn merge(all: &mut Triggered, more: Triggered) {
    all.runs.extend(more.runs);
    all.skipped.extend(more.skipped);
    all.cancel_running.extend(more.cancel_running);
}

/// Queues what an event fires, stops the runs it replaces, and wakes the queue.
pub async fn trigger(
    state: &AppState,
    repository: &Repository,
    git_dir: &Path,
    incoming: Incoming,
) -> Result<Triggered, AppError> {
    let triggered = crate::trigger::trigger(&state.store, repository, git_dir, incoming)
        .await
        .map_err(AppError::BadRequest)?;
    for run in &triggered.runs {
        state.reporter.post(
            repository.id,
            &run.sha,
            &run.workflow_name,
            crate::commit_status::StatusState::Pending,
            format!("run #{} is {}", run.number, run.status),
            Some(run.number),
        );
    }
    if let Some(sha) = triggered
        .runs
        .first()
        .map(|r| r.sha.clone())
        .or(triggered.sha.clone())
    {
        for (_, name, reason) in &triggered.skipped {
            state.reporter.post(
                repository.id,
                &sha,
                name,
                crate::commit_status::StatusState::Skipped,
                reason.clone(),
                None,
            );
        }
    }
    for (run_id, reason) in &triggered.cancel_running {
        if let Some(run) = state.store.run(*run_id).await? {
            state.dispatch.cancel(&run, reason).await?;
        }
    }
    state.dispatch.wake();
    Ok(triggered)
}

fn queued_dto(repository: &Repository, triggered: Triggered) -> QueuedDto {
    QueuedDto {
        runs: triggered
            .runs
            .iter()
            .map(|r| QueuedRunDto {
                number: r.number,
                workflow: r.workflow_file.clone(),
                status: r.status.as_str(),
                path: format!("/{}/runs/{}", repository.name, r.number),
            })
            .collect(),
        skipped: triggered
            .skipped
            .into_iter()
            .map(|(file, _, reason)| SkippedDto {
                workflow: file,
                reason,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks from forges

/// `POST /hooks/{forge}/{owner}/{repo}`: a push, tag or pull request from GitHub, Gitea/Forgejo
/// or GitLab. The signature (or GitLab's token) is checked first; a bad one is refused, logged,
/// and nothing runs. Then the mirror fetches the commits and the event is triggered.
pub async fn forge_webhook(
    State(state): State<AppState>,
    UrlPath((forge, owner, repo)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = format!("{owner}/{repo}");
    let refused = |why: &str| {
        tracing::warn!(repository = %name, forge = %forge, why, "webhook refused");
        AppError::Unauthenticated
    };
    let repository = state
        .store
        .repository_by_name(&name)
        .await?
        .ok_or_else(|| refused("no such repository"))?;
    let forge_kind: Forge = forge.parse().map_err(|_| refused("unknown forge"))?;
    if repository.forge != forge_kind {
        return Err(refused("the repository is registered for another forge").into());
    }
    let sealed = repository
        .webhook_secret
        .as_deref()
        .ok_or_else(|| refused("the repository has no webhook secret"))?;
    let secret = state
        .secret_key
        .open(sealed, &webhook_aad(&repository.name))
        .map_err(|_| refused("the stored webhook secret cannot be opened"))?;
    if let Err(err) = crate::webhook::verify(forge_kind, &secret, &headers, &body) {
        tracing::warn!(repository = %name, %err, "webhook refused: bad signature");
        return Err(AppError::Forbidden(err.to_string()).into());
    }
    let Some(event) = crate::webhook::parse(forge_kind, &headers, &body)
        .map_err(|e| AppError::BadRequest(e.to_string()))?
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mirror = state.dispatch.mirror_dir(repository.id);
    let incoming = match event.kind {
        crate::webhook::ForgeEventKind::Push {
            git_ref,
            before,
            after,
            changed_files,
            ..
        } => {
            crate::git::fetch(&mirror, &repository.location, &[])
                .await
                .map_err(AppError::BadRequest)?;
            Incoming::Push {
                git_ref,
                before,
                after,
                actor: event.sender.clone(),
                changed_files,
                payload: Some(event.payload.clone()),
            }
        }
        crate::webhook::ForgeEventKind::PullRequest {
            action,
            number,
            title,
            base_ref,
            base_sha,
            head_ref,
            head_sha,
            head_clone_url,
            fork,
        } => {
            let source = if head_clone_url.is_empty() {
                repository.location.clone()
            } else {
                head_clone_url
            };
            crate::git::fetch(&mirror, &repository.location, &[])
                .await
                .map_err(AppError::BadRequest)?;
            crate::git::fetch(
                &mirror,
                &source,
                &[format!("+{head_ref}:refs/pull/{number}/head")],
            )
            .await
            .map_err(AppError::BadRequest)?;
            let base_sha = if base_sha.is_empty() {
                crate::git::resolve(&mirror, &base_ref)
                    .await
                    .map_err(AppError::BadRequest)?
            } else {
                base_sha
            };
            if !matches!(
                action,
                crate::webhook::PullRequestAction::Opened
                    | crate::webhook::PullRequestAction::Synchronize
                    | crate::webhook::PullRequestAction::Reopened
            ) {
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            Incoming::PullRequest {
                action: action.as_github().to_string(),
                number,
                title,
                base_ref,
                base_sha,
                head_ref,
                head_sha,
                fork,
                actor: event.sender.clone(),
                payload: Some(event.payload.clone()),
            }
        }
    };
    let triggered = trigger(&state, &repository, &mirror, incoming).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(queued_dto(&repository, triggered)),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Dispatch, cancel, re-run, approve

#[derive(Deserialize)]
pub struct DispatchDto {
    /// The workflow's path (`.github/workflows/deploy.yml`) or file name (`deploy.yml`).
    workflow: String,
    /// A branch or tag; the default branch when absent.
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    #[serde(default)]
    inputs: IndexMap<String, serde_json::Value>,
}

async fn dispatch_workflow(
    state: &AppState,
    access_repository: &Repository,
    actor: &str,
    dto: DispatchDto,
) -> Result<Triggered, AppError> {
    let workflow_file = if dto.workflow.contains('/') {
        dto.workflow.clone()
    } else {
        format!(".github/workflows/{}", dto.workflow)
    };
    let git_ref = dto
        .git_ref
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| access_repository.default_branch.clone());
    let inputs = dto
        .inputs
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    let git_dir = state
        .dispatch
        .git_dir(access_repository)
        .await
        .map_err(AppError::BadRequest)?;
    let triggered = trigger(
        state,
        access_repository,
        &git_dir,
        Incoming::Dispatch {
            workflow_file,
            git_ref,
            inputs,
            actor: actor.to_string(),
        },
    )
    .await?;
    Ok(triggered)
}

/// `POST /api/v1/repositories/{owner}/{repo}/dispatches`.
pub async fn dispatch_api(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    crate::api::check_csrf_header(&access.principal, &headers)?;
    require(access.role, Role::Developer)?;
    let dto: DispatchDto = json_body(
        &body,
        r#"{"workflow": "deploy.yml", "ref": "main", "inputs": {"env": "staging"}}"#,
    )?;
    let triggered =
        dispatch_workflow(&state, &access.repository, &access.principal.user.name, dto).await?;
    Ok((
        StatusCode::CREATED,
        Json(queued_dto(&access.repository, triggered)),
    )
        .into_response())
}

async fn run_of(state: &AppState, repository: &Repository, number: i64) -> Result<Run, AppError> {
    state
        .store
        .run_by_number(repository.id, number)
        .await?
        .ok_or(AppError::NotFound)
}

async fn cancel_run(
    state: &AppState,
    access_role: Role,
    repository: &Repository,
    number: i64,
    actor: &str,
) -> Result<Run, AppError> {
    require(access_role, Role::Developer)?;
    let run = run_of(state, repository, number).await?;
    if run.status == Status::Completed {
        return Err(AppError::BadRequest(format!(
            "run #{number} has ended already: nothing to cancel"
        )));
    }
    state
        .dispatch
        .cancel(&run, &format!("cancelled by {actor}"))
        .await?;
    run_of(state, repository, number).await
}

/// Re-runs a run: every job, or (`failed_only`) its failed and cancelled jobs and the jobs that
/// need them, keeping the others' results.
async fn rerun(
    state: &AppState,
    access_role: Role,
    repository: &Repository,
    number: i64,
    actor: &str,
    failed_only: bool,
) -> Result<Run, AppError> {
    require(access_role, Role::Developer)?;
    let old = run_of(state, repository, number).await?;
    if old.status != Status::Completed {
        return Err(AppError::BadRequest(format!(
            "run #{number} is still {}: wait for it to end, or cancel it",
            old.status
        )));
    }
    if failed_only && old.conclusion == Some(Conclusion::Success) {
        return Err(AppError::BadRequest(format!(
            "run #{number} has no failed jobs: re-run all jobs instead"
        )));
    }
    let run = state.store.create_rerun(old.id, actor).await?;
    if failed_only {
        let jobs = state.store.jobs(old.id).await?;
        let again = jobs_to_run_again(&jobs);
        for job in jobs.iter().filter(|j| j.key != crate::dispatch::SETUP_JOB) {
            if again.contains(crate::dispatch::job_id_of(&job.key)) {
                continue;
            }
            state
                .store
                .create_finished_job(
                    run.id,
                    &NewJob {
                        key: &job.key,
                        name: &job.name,
                        labels: &job.labels,
                        needs: &job.needs,
                    },
                    job.conclusion.unwrap_or(Conclusion::Skipped),
                    &job.outputs,
                    &format!("result kept from run #{number}"),
                )
                .await?;
        }
    }
    state.dispatch.wake();
    Ok(run)
}

/// The job ids a failed-jobs re-run runs: those that failed or were cancelled, and every job
/// that needs one of them (directly or not).
pub fn jobs_to_run_again(jobs: &[gantry_store::Job]) -> std::collections::HashSet<String> {
    use crate::dispatch::job_id_of;
    let mut again: std::collections::HashSet<String> = jobs
        .iter()
        .filter(|j| {
            matches!(
                j.conclusion,
                Some(Conclusion::Failure | Conclusion::Cancelled) | None
            )
        })
        .map(|j| job_id_of(&j.key).to_string())
        .collect();
    loop {
        let before = again.len();
        for job in jobs {
            let needs: Vec<String> = serde_json::from_str(&job.needs).unwrap_or_default();
            if needs.iter().any(|n| again.contains(n)) {
                again.insert(job_id_of(&job.key).to_string());
            }
        }
        if again.len() == before {
            return again;
        }
    }
}

async fn approve(
    state: &AppState,
    access_role: Role,
    repository: &Repository,
    number: i64,
) -> Result<Run, AppError> {
    require(access_role, Role::Maintainer)?;
    let run = run_of(state, repository, number).await?;
    if !state.store.release_run(run.id).await? {
        return Err(AppError::BadRequest(format!(
            "run #{number} is not waiting for approval"
        )));
    }
    state.dispatch.wake();
    run_of(state, repository, number).await
}

#[derive(Deserialize, Default)]
pub struct RerunDto {
    #[serde(default)]
    failed_only: bool,
}

/// `POST /api/v1/repositories/{owner}/{repo}/runs/{number}/{action}`: `cancel`, `rerun`
/// (`{"failed_only": true}` for the failed jobs), `approve`.
pub async fn run_action_api(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    UrlPath((_, _, number, action)): UrlPath<(String, String, i64, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    crate::api::check_csrf_header(&access.principal, &headers)?;
    let actor = access.principal.user.name.clone();
    let repository = &access.repository;
    let (status, run) = match action.as_str() {
        "cancel" => (
            StatusCode::OK,
            cancel_run(&state, access.role, repository, number, &actor).await?,
        ),
        "rerun" => {
            let dto: RerunDto = json_body(&body, r#"{"failed_only": true}"#)?;
            (
                StatusCode::CREATED,
                rerun(
                    &state,
                    access.role,
                    repository,
                    number,
                    &actor,
                    dto.failed_only,
                )
                .await?,
            )
        }
        "approve" => (
            StatusCode::OK,
            approve(&state, access.role, repository, number).await?,
        ),
        _ => return Err(AppError::NotFound.into()),
    };
    Ok((status, Json(RunDto::from(&run))).into_response())
}

#[derive(Deserialize)]
pub struct RunActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    failed_only: Option<String>,
}

/// The run page's buttons: `POST /{owner}/{repo}/runs/{number}/{action}`.
pub async fn run_action_form(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    UrlPath((_, _, number, action)): UrlPath<(String, String, i64, String)>,
    axum::Form(form): axum::Form<RunActionForm>,
) -> Result<Response, PageError> {
    access.principal.check_csrf(Some(&form.csrf))?;
    let actor = access.principal.user.name.clone();
    let repository = &access.repository;
    let run = match action.as_str() {
        "cancel" => cancel_run(&state, access.role, repository, number, &actor).await?,
        "rerun" => {
            rerun(
                &state,
                access.role,
                repository,
                number,
                &actor,
                form.failed_only.is_some(),
            )
            .await?
        }
        "approve" => approve(&state, access.role, repository, number).await?,
        _ => return Err(AppError::NotFound.into()),
    };
    Ok(Redirect::to(&format!("/{}/runs/{}", repository.name, run.number)).into_response())
}

/// The dispatch form's submission: `POST /{owner}/{repo}/dispatch`.
pub async fn dispatch_form(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    access.principal.check_csrf(field("csrf").as_deref())?;
    require(access.role, Role::Developer)?;
    let workflow =
        field("workflow").ok_or_else(|| AppError::BadRequest("choose a workflow".into()))?;
    let mut inputs = IndexMap::new();
    for (k, v) in &form {
        if let Some(name) = k.strip_prefix("input.") {
            inputs.insert(name.to_string(), serde_json::Value::String(v.clone()));
        }
    }
    // An unchecked checkbox sends nothing: a boolean input absent from the form is false.
    if let Some(list) = field("booleans") {
        for name in list.split(',').filter(|n| !n.is_empty()) {
            inputs
                .entry(name.to_string())
                .or_insert(serde_json::Value::String("false".into()));
        }
    }
    let triggered = dispatch_workflow(
        &state,
        &access.repository,
        &access.principal.user.name,
        DispatchDto {
            workflow,
            git_ref: field("ref"),
            inputs,
        },
    )
    .await?;
    let target = match triggered.runs.first() {
        Some(run) => format!("/{}/runs/{}", access.repository.name, run.number),
        None => format!("/{}", access.repository.name),
    };
    Ok(Redirect::to(&target).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(key: &str, needs: &str, conclusion: Conclusion) -> gantry_store::Job {
        gantry_store::Job {
            id: 0,
            run_id: 0,
            key: key.into(),
            name: key.into(),
            status: Status::Completed,
            conclusion: Some(conclusion),
            status_reason: None,
            labels: "[]".into(),
            runner: None,
            needs: needs.into(),
            outputs: "{}".into(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_failed_jobs_rerun_takes_the_failed_and_what_needs_them() {
        let jobs = [
            job("lint", "[]", Conclusion::Success),
            job("build (a)", "[]", Conclusion::Success),
            job("build (b)", "[]", Conclusion::Failure),
            job("test", r#"["build"]"#, Conclusion::Skipped),
            job("deploy", r#"["test","lint"]"#, Conclusion::Skipped),
            job("docs", r#"["lint"]"#, Conclusion::Success),
        ];
        let mut again: Vec<String> = jobs_to_run_again(&jobs).into_iter().collect();
        again.sort();
        assert_eq!(again, ["build", "deploy", "test"]);
    }

    #[test]
    fn repository_names() {
        assert!(valid_name("acme/web"));
        assert!(valid_name("a.b/c-d_e"));
        assert!(!valid_name("acme"));
        assert!(!valid_name("acme/web/x"));
        assert!(!valid_name("../x"));
        assert!(!valid_name("acme/.git"));
        assert!(!valid_name("acme/we b"));
    }

    #[test]
    fn hooks_quote_their_arguments() {
        assert_eq!(sh_quote("a'b c"), r#"'a'\''b c'"#);
    }
}
