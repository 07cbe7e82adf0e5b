//! Events → runs: which workflows of the commit an event fires, each queued as a run with the
//! facts the agent needs (the event payload, the changed files, the inputs), its concurrency
//! group evaluated, and older runs of the group cancelled when the workflow says so.
//!
//! The workflows are read from the commit the event is for, never from the default branch.
//! A workflow file with errors still gets a run for a push or a pull request (it fails with
//! every error located, as on GitHub) so that a broken file is never silently ignored.

use std::path::Path;

use gantry_plan::{Event, EventKind};
use gantry_store::{NewRun, Repository, Run};
use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::git;

/// What happened to a repository.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// A branch or tag was pushed (or deleted: `after` is all zeros).
    Push {
        git_ref: String,
        before: String,
        after: String,
        actor: String,
        /// From the forge's payload; computed from git when `None`.
        changed_files: Option<Vec<String>>,
        /// The forge's payload (`github.event`); built from git when `None`.
        payload: Option<Value>,
    },
    PullRequest {
        action: String,
        number: u64,
        title: String,
        base_ref: String,
        base_sha: String,
        head_ref: String,
        head_sha: String,
        /// From another repository: no secrets, and held until a maintainer approves.
        fork: bool,
        actor: String,
        payload: Option<Value>,
    },
    /// A manual run of one workflow, on a branch or tag.
    Dispatch {
        workflow_file: String,
        git_ref: String,
        inputs: IndexMap<String, String>,
        actor: String,
    },
    /// A cron line of one workflow fired (on the default branch).
    Schedule { workflow_file: String, cron: String },
}

/// What an event did.
#[derive(Debug, Default)]
pub struct Triggered {
    pub runs: Vec<Run>,
    /// Workflows that listen to this kind of event but whose filters skipped it:
    /// `(file, name, reason)`. Their commit status is `skipped`.
    pub skipped: Vec<(String, String, String)>,
    /// Running runs a new run of their concurrency group replaces (`cancel-in-progress`):
    /// `(run id, reason)`. Stopping them is the dispatcher's.
    pub cancel_running: Vec<(i64, String)>,
    /// The commit the event is for (skipped workflows' statuses go on it).
    pub sha: Option<String>,
}

/// The facts about an event a run keeps beside `github.event`, for the agent.
pub fn envelope(event: &Event, payload: Value, fork: bool) -> Value {
    json!({
        "event": payload,
        "trigger": {
            "action": event.action,
            "base_ref": event.base_ref,
            "head_ref": event.head_ref,
            "changed_files": event.changed_files,
            "inputs": event.inputs,
            "schedule": event.schedule,
            "fork": fork,
        }
    })
}

/// Queues the runs an event fires. Errors are for the event as a whole (its commit cannot be
/// read); a workflow that cannot be read is reported through its run.
pub async fn trigger(
    store: &gantry_store::Store,
    repository: &Repository,
    git_dir: &Path,
    incoming: Incoming,
) -> Result<Triggered, String> {
    let (event, sha, actor, payload, fork, title, only_file) = match incoming {
        Incoming::Push {
            git_ref,
            before,
            after,
            actor,
            changed_files,
            payload,
        } => {
            if after == git::ZERO_SHA {
                // A deleted branch or tag runs nothing.
                return Ok(Triggered::default());
            }
            let mut event = Event::new(EventKind::Push, git_ref.clone());
            event.changed_files = match changed_files {
                Some(files) => Some(files),
                None => git::changed_files(git_dir, &before, &after).await,
            };
            let (title, author) = git::commit_title(git_dir, &after).await;
            let payload = payload.unwrap_or_else(|| {
                push_payload(
                    repository, &git_ref, &before, &after, &actor, &title, &author,
                )
            });
            (event, after, actor, payload, false, title, None)
        }
        Incoming::PullRequest {
            action,
            number,
            title,
            base_ref,
            base_sha,
            head_ref,
            head_sha,
            fork,
            actor,
            payload,
        } => {
            let mut event = Event::new(EventKind::PullRequest, format!("refs/pull/{number}/merge"));
            event.action = Some(action.clone());
            event.base_ref = Some(base_ref.clone());
            event.head_ref = Some(head_ref.clone());
            event.changed_files = git::changed_files(git_dir, &base_sha, &head_sha).await;
            let sha = git::merge_commit(git_dir, number, &base_sha, &head_sha).await?;
            let payload = payload.unwrap_or_else(|| {
                json!({
                    "action": action,
                    "number": number,
                    "pull_request": {
                        "number": number,
                        "title": title,
                        "head": {"ref": plain(&head_ref), "sha": head_sha},
                        "base": {"ref": plain(&base_ref), "sha": base_sha},
                    },
                    "repository": repository_payload(repository),
                    "sender": {"login": actor},
                })
            });
            (event, sha, actor, payload, fork, title, None)
        }
        Incoming::Dispatch {
            workflow_file,
            git_ref,
            inputs,
            actor,
        } => {
            let full = full_ref(git_dir, &git_ref).await?;
            let sha = git::resolve(git_dir, &full).await?;
            let mut event = Event::new(EventKind::WorkflowDispatch, full.clone());
            event.inputs = inputs.clone();
            let payload = json!({
                "ref": full,
                "inputs": inputs,
                "workflow": workflow_file,
                "repository": repository_payload(repository),
                "sender": {"login": actor},
            });
            let title = format!("Manually run by {actor}");
            (
                event,
                sha,
                actor,
                payload,
                false,
                title,
                Some(workflow_file),
            )
        }
        Incoming::Schedule {
            workflow_file,
            cron,
        } => {
            let git_ref = format!("refs/heads/{}", repository.default_branch);
            let sha = git::resolve(git_dir, &git_ref).await?;
            let mut event = Event::new(EventKind::Schedule, git_ref);
            event.schedule = Some(cron.clone());
            let payload = json!({
                "schedule": cron,
                "repository": repository_payload(repository),
            });
            let title = format!("Scheduled: {cron}");
            (
                event,
                sha,
                "gantry".to_string(),
                payload,
                false,
                title,
                Some(workflow_file),
            )
        }
    };

    let files = git::workflow_files(git_dir, &sha).await?;
    let mut out = Triggered {
        sha: Some(sha.clone()),
        ..Triggered::default()
    };
    let branch = match event.kind {
        EventKind::PullRequest | EventKind::PullRequestTarget => {
            event.head_ref.as_deref().map(plain).map(str::to_string)
        }
        _ => event.branch().map(str::to_string),
    };
    let envelope = envelope(&event, payload.clone(), fork);
    let envelope_text = envelope.to_string();
    for (file, source) in &files {
        if only_file.as_ref().is_some_and(|f| f != file) {
            continue;
        }
        let (workflow, diagnostics) = gantry_syntax::parse_workflow(file, source);
        let name = gantry_plan::plan::workflow_name(&workflow);
        let broken = diagnostics.iter().any(|d| d.is_error());
        let fires = if broken {
            // Run it (to fail with its errors) where the event is one users expect to see.
            if matches!(event.kind, EventKind::Push | EventKind::PullRequest) || only_file.is_some()
            {
                Ok(())
            } else {
                Err("the workflow file is invalid".to_string())
            }
        } else {
            gantry_plan::trigger::fires(&workflow, &event)
        };
        if let Err(reason) = fires {
            if listens(&workflow, event.kind) {
                out.skipped.push((file.clone(), name, reason));
            } else if only_file.is_some() {
                return Err(format!(
                    "workflow `{file}` cannot run for this event: {reason}"
                ));
            }
            continue;
        }
        let (group, cancel_in_progress) =
            concurrency(&workflow, &event, &sha, &repository.name, &name);
        let run = store
            .create_run(&NewRun {
                repository_id: repository.id,
                workflow_file: file,
                workflow_name: &name,
                event: event.kind.name(),
                git_ref: &event.git_ref,
                branch: branch.as_deref(),
                sha: &sha,
                actor: &actor,
                title: &title,
                payload: &envelope_text,
                concurrency_group: group.as_deref(),
            })
            .await
            .map_err(|e| format!("cannot queue a run of {file}: {e}"))?;
        if let Some(group) = &group {
            let running = cancel_older_in_group(store, &run, group, cancel_in_progress).await;
            out.cancel_running.extend(running);
        }
        if fork {
            let _ = store
                .hold_run(
                    run.id,
                    "a pull request from a fork: a maintainer must approve it before it runs",
                )
                .await;
        }
        out.runs
            .push(store.run(run.id).await.ok().flatten().unwrap_or(run));
    }
    if let Some(file) = only_file
        && out.runs.is_empty()
        && !files.iter().any(|(f, _)| *f == file)
    {
        return Err(format!(
            "no workflow `{file}` in commit {}: the path is relative to the repository root, like `.github/workflows/ci.yml`",
            &sha[..sha.len().min(12)]
        ));
    }
    Ok(out)
}

/// Whether the workflow has a trigger for this kind of event at all.
fn listens(workflow: &gantry_syntax::ast::Workflow, kind: EventKind) -> bool {
    let on = &workflow.on;
    match kind {
        EventKind::Push => on.push.is_some(),
        EventKind::PullRequest => on.pull_request.is_some(),
        EventKind::PullRequestTarget => on.pull_request_target.is_some(),
        EventKind::Schedule => !on.schedule.is_empty(),
        EventKind::WorkflowDispatch => on.workflow_dispatch.is_some(),
    }
}

/// The workflow's `concurrency` group, evaluated, and whether it cancels runs in progress.
fn concurrency(
    workflow: &gantry_syntax::ast::Workflow,
    event: &Event,
    sha: &str,
    repository: &str,
    name: &str,
) -> (Option<String>, bool) {
    let Some(concurrency) = &workflow.concurrency else {
        return (None, false);
    };
    let github = json!({
        "workflow": name,
        "ref": event.git_ref,
        "ref_name": event.ref_name(),
        "head_ref": event.head_ref.as_deref().map(plain).unwrap_or(""),
        "base_ref": event.base_ref.as_deref().map(plain).unwrap_or(""),
        "event_name": event.kind.name(),
        "sha": sha,
        "repository": repository,
    });
    let inputs: serde_json::Map<String, Value> = event
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let ctx = gantry_expr::MapContext::new()
        .with("github", github)
        .with("inputs", Value::Object(inputs));
    let eval = |value: &Value| -> Option<Value> {
        match value {
            Value::String(text) => gantry_expr::parse_template(text).ok()?.evaluate(&ctx).ok(),
            other => Some(other.clone()),
        }
    };
    let group = eval(&concurrency.group.value)
        .map(|v| gantry_expr::to_string(&v))
        .filter(|g| !g.is_empty())
        .map(|g| format!("{repository}:{g}"));
    let cancel = concurrency
        .cancel_in_progress
        .as_ref()
        .and_then(|v| eval(&v.value))
        .is_some_and(|v| gantry_expr::truthy(&v));
    (group, cancel)
}

/// GitHub's rule: a group holds at most one running and one pending run. A new run replaces
/// the pending one; with `cancel-in-progress` it also cancels the running one.
/// Cancels the pending runs it replaces; returns the running ones to stop.
async fn cancel_older_in_group(
    store: &gantry_store::Store,
    run: &Run,
    group: &str,
    cancel_in_progress: bool,
) -> Vec<(i64, String)> {
    let mut running_to_stop = Vec::new();
    let Ok(active) = store.active_runs_in_group(group).await else {
        return running_to_stop;
    };
    for older in active.iter().filter(|r| r.id < run.id) {
        let running = older.status == gantry_store::Status::Running;
        if running && !cancel_in_progress {
            continue;
        }
        let reason = format!(
            "cancelled: run #{} of the same concurrency group `{}` replaced it",
            run.number,
            group.split_once(':').map(|(_, g)| g).unwrap_or(group)
        );
        if running {
            running_to_stop.push((older.id, reason));
        } else {
            let _ = store.cancel_run(older.id, &reason).await;
        }
    }
    running_to_stop
}

/// `refs/heads/x` → `x`.
fn plain(git_ref: &str) -> &str {
    gantry_plan::event::short_ref(git_ref)
}

/// A branch or tag name → its full ref, as it exists in the repository.
async fn full_ref(git_dir: &Path, name: &str) -> Result<String, String> {
    if name.starts_with("refs/") {
        return Ok(name.to_string());
    }
    for candidate in [format!("refs/heads/{name}"), format!("refs/tags/{name}")] {
        if git::resolve(git_dir, &candidate).await.is_ok() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "`{name}` is not a branch or tag of this repository"
    ))
}

fn repository_payload(repository: &Repository) -> Value {
    let (owner, name) = repository
        .name
        .split_once('/')
        .unwrap_or(("", repository.name.as_str()));
    json!({
        "full_name": repository.name,
        "name": name,
        "owner": {"login": owner},
        "default_branch": repository.default_branch,
    })
}

fn push_payload(
    repository: &Repository,
    git_ref: &str,
    before: &str,
    after: &str,
    actor: &str,
    title: &str,
    author: &str,
) -> Value {
    json!({
        "ref": git_ref,
        "before": before,
        "after": after,
        "created": before == git::ZERO_SHA,
        "deleted": false,
        "head_commit": {"id": after, "message": title, "author": {"name": author}},
        "pusher": {"name": actor},
        "repository": repository_payload(repository),
        "sender": {"login": actor},
    })
}
