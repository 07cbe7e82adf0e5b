//! The agent: takes the runs a server leases to it and executes them with the engine and the
//! executors, reporting every job, step and log line back as [`AgentEvent`]s.
//!
//! For each run it makes a snapshot of the commit (a `--shared` clone of the server's repository,
//! checked out at the run's commit: workflow files, local actions and reusable workflows are read
//! as they were in that commit), reads and plans the one workflow it was given, runs it, and
//! removes the run's directories. The engine's events become the job's log text, with Gantry's
//! markers on lines of their own (`##[step]`, `##[group]`, `##[endgroup]`, `##[notice]`,
//! `##[warning]`, `##[error]`, `##[debug]`), which the server's log view renders.
//!
//! `gantry serve` runs one agent in its own process over [`gantry_api::channel`]; the agent never
//! touches the server's database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_api::{AgentEvent, Conclusion, Lease, LeaseReceiver, PlannedJob, RunRequest};
use gantry_engine::{GitInfo, Outcome, RunConfig, RunEvent};
use gantry_executor::Executor;
use gantry_plan::{Event, EventKind, PlanRequest};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How an agent runs what it is given.
pub struct AgentConfig {
    /// Where runs get their directories (`run-ID/`), removed when they end.
    pub work_dir: PathBuf,
    /// The persistent store of `actions/cache`, per repository below it.
    pub cache_dir: PathBuf,
    /// Directories of vendored actions and reusable workflows.
    pub actions_dirs: Vec<PathBuf>,
    /// Jobs of one run running at once.
    pub max_parallel: usize,
    /// The environment every step inherits (PATH, HOME…).
    pub host_env: Vec<(String, String)>,
    pub executor: Arc<dyn Executor>,
    /// Where the engine keeps its small per-step files; a tmpfs is best.
    pub scratch_dir: PathBuf,
    /// Where a run's artifacts are kept once it ends (`RUN_ID/NAME/…`), for the server to offer.
    pub artifacts_dir: PathBuf,
}

/// Takes leases until the link closes, running each in a task of its own. Resolves when every
/// lease has been taken and every run it started has ended.
pub async fn serve(config: Arc<AgentConfig>, mut leases: LeaseReceiver) {
    let mut running = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            lease = leases.recv() => match lease {
                Some(lease) => {
                    let config = config.clone();
                    running.spawn(async move { execute(&config, lease).await });
                }
                None => break,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// Runs one leased run to its end and reports it; the last event sent is
/// [`AgentEvent::RunFinished`].
pub async fn execute(config: &AgentConfig, lease: Lease) {
    let Lease {
        request,
        events,
        cancel,
        abort,
    } = lease;
    let run_dir = config
        .work_dir
        .join(format!("run-{}-{}", request.run_id, request.attempt));
    let scratch = config
        .scratch_dir
        .join(format!("run-{}-{}", request.run_id, request.attempt));
    let conclusion = match run(config, &request, &run_dir, &scratch, &events, cancel, abort).await {
        Ok(conclusion) => conclusion,
        Err(message) => {
            let _ = events.send(AgentEvent::RunLog { message }).await;
            Conclusion::Failure
        }
    };
    keep_artifacts(
        &run_dir.join("artifacts"),
        &config.artifacts_dir.join(request.run_id.to_string()),
    )
    .await;
    for dir in [&run_dir, &scratch] {
        if let Err(err) = tokio::fs::remove_dir_all(dir).await
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), %err, "cannot remove a run's directory");
        }
    }
    let _ = events.send(AgentEvent::RunFinished { conclusion }).await;
}

/// Moves what `actions/upload-artifact` stored (`NAME/` directories) out of the run's directory
/// before it is removed. A re-run's artifacts join the earlier attempt's under its own run id.
async fn keep_artifacts(from: &Path, to: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(from).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = path.file_name() else {
            continue;
        };
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if let Err(err) = tokio::fs::create_dir_all(to).await {
            tracing::warn!(dir = %to.display(), %err, "cannot keep a run's artifacts");
            return;
        }
        if let Err(err) = tokio::fs::rename(&path, to.join(name)).await {
            tracing::warn!(artifact = %path.display(), %err, "cannot keep an artifact");
        }
    }
}

async fn run(
    config: &AgentConfig,
    request: &RunRequest,
    run_dir: &Path,
    scratch: &Path,
    events: &mpsc::Sender<AgentEvent>,
    cancel: CancellationToken,
    abort: CancellationToken,
) -> Result<Conclusion, String> {
    let _ = tokio::fs::remove_dir_all(run_dir).await;
    tokio::fs::create_dir_all(run_dir).await.map_err(|e| {
        format!(
            "cannot create the run's directory {}: {e}",
            run_dir.display()
        )
    })?;
    tokio::fs::create_dir_all(scratch).await.map_err(|e| {
        format!(
            "cannot create the run's scratch directory {}: {e}",
            scratch.display()
        )
    })?;
    let src = run_dir.join("src");
    snapshot(&request.git_dir, &request.sha, &src).await?;

    // The workflow as it is in the commit.
    let path = src.join(&request.workflow_file);
    let loaded = gantry_engine::workflows::load(&src, &path)?;
    if loaded.has_errors() {
        for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
            let message = gantry_syntax::render(d, &loaded.source);
            let _ = events.send(AgentEvent::RunLog { message }).await;
        }
        return Err(format!(
            "invalid workflow file `{}`: fix the errors above (`gantry validate` lists them all)",
            request.workflow_file
        ));
    }
    let event = event_of(request)?;
    let vars: Map<String, Value> = request
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let resolver = gantry_engine::workflows::FileResolver {
        root: src.clone(),
        actions_dirs: config.actions_dirs.clone(),
    };
    let plan = gantry_plan::plan(&PlanRequest {
        event: &event,
        workflows: std::slice::from_ref(&loaded.workflow),
        job: None,
        vars: &vars,
        resolver: &resolver,
    })
    .map_err(|errors| plan_errors(&errors))?;
    if !plan.failed.is_empty() {
        return Err(plan_errors(&plan.failed));
    }
    let Some(workflow) = plan.workflows.first() else {
        let reason = plan
            .skipped
            .first()
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| "the event does not trigger this workflow".into());
        let _ = events
            .send(AgentEvent::RunLog {
                message: format!("workflow skipped: {reason}"),
            })
            .await;
        return Ok(Conclusion::Skipped);
    };
    let jobs = workflow
        .jobs
        .iter()
        .map(|j| PlannedJob {
            key: j.id.clone(),
            name: gantry_engine::run::display_name(&j.job, &j.id),
            needs: j.needs.clone(),
            labels: j
                .job
                .runs_on
                .as_ref()
                .map(|r| labels_of(&r.value))
                .unwrap_or_default(),
        })
        .collect();
    let _ = events.send(AgentEvent::Planned { jobs }).await;

    let runners = gantry_engine::run::runners_file(&src)?;
    let carried = request
        .carried
        .iter()
        .map(|c| (c.key.clone(), (outcome(c.conclusion), c.outputs.clone())))
        .collect();
    let engine_config = Arc::new(RunConfig {
        executor: config.executor.clone(),
        runners,
        repo_dir: src.clone(),
        run_dir: run_dir.to_path_buf(),
        cache_dir: config.cache_dir.join(cache_key(&request.repository)),
        actions_dirs: config.actions_dirs.clone(),
        max_parallel: config.max_parallel.max(1),
        secrets: request.secrets.iter().cloned().collect(),
        vars: vars.clone(),
        git: GitInfo {
            sha: request.sha.clone(),
            repository: request.repository.clone(),
            actor: request.actor.clone(),
            payload: request.payload.clone(),
        },
        event,
        host_env: config.host_env.clone(),
        run_id: request.run_id.to_string(),
        run_number: u64::try_from(request.run_number).unwrap_or(0),
        fresh_job_dirs: false,
        scratch_dir: scratch.to_path_buf(),
        carried,
        // The server decides environments before it hands a run out (issue 5: to come).
        gate: None,
    });
    let (tx, mut rx) = gantry_engine::channel(4 << 20);
    let engine = gantry_engine::run(&plan, engine_config, tx, cancel, abort);
    let forward = async {
        let mut log = LogWriter;
        while let Some(event) = rx.recv().await {
            for out in log.translate(event) {
                if events.send(out).await.is_err() {
                    // The server stopped listening: the run goes on to its end regardless.
                }
            }
        }
    };
    let (result, ()) = tokio::join!(engine, forward);
    Ok(conclusion(result.result))
}

/// Clones the repository into `dest` sharing its objects, and checks out the commit.
async fn snapshot(git_dir: &Path, sha: &str, dest: &Path) -> Result<(), String> {
    git(
        None,
        &[
            "clone".as_ref(),
            "--quiet".as_ref(),
            "--no-checkout".as_ref(),
            "--shared".as_ref(),
            git_dir.as_os_str(),
            dest.as_os_str(),
        ],
    )
    .await?;
    git(
        Some(dest),
        &[
            "-c".as_ref(),
            "advice.detachedHead=false".as_ref(),
            "checkout".as_ref(),
            "--quiet".as_ref(),
            "--detach".as_ref(),
            sha.as_ref(),
        ],
    )
    .await
    .map_err(|e| format!("commit {sha} cannot be checked out: {e}"))
}

async fn git(dir: Option<&Path>, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let mut command = tokio::process::Command::new("git");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = command
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}: install git"))?;
    if out.status.success() {
        Ok(())
    } else {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        Err(format!(
            "`git {}` failed: {}",
            shown.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn event_of(request: &RunRequest) -> Result<Event, String> {
    let kind = EventKind::parse(&request.event_name)
        .ok_or_else(|| format!("unknown event `{}`", request.event_name))?;
    let mut event = Event::new(kind, request.git_ref.clone());
    event.base_ref = request.base_ref.clone();
    event.head_ref = request.head_ref.clone();
    event.action = request.action.clone();
    event.changed_files = request.changed_files.clone();
    event.inputs = request.inputs.clone();
    event.schedule = request.schedule.clone();
    Ok(event)
}

fn plan_errors(errors: &[gantry_plan::PlanError]) -> String {
    errors
        .iter()
        .map(|e| {
            if e.file.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.file, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `runs-on` as a list of labels (a string, a list, or `{group, labels}`).
fn labels_of(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(labels_of).collect(),
        Value::Object(map) => map.get("labels").map(labels_of).unwrap_or_default(),
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

/// A directory name for a repository's cache (`owner/name` → `owner_name`).
fn cache_key(repository: &str) -> String {
    repository
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn conclusion(outcome: Outcome) -> Conclusion {
    match outcome {
        Outcome::Success => Conclusion::Success,
        Outcome::Failure => Conclusion::Failure,
        Outcome::Cancelled => Conclusion::Cancelled,
        Outcome::Skipped => Conclusion::Skipped,
    }
}

fn outcome(conclusion: Conclusion) -> Outcome {
    match conclusion {
        Conclusion::Success => Outcome::Success,
        Conclusion::Failure => Outcome::Failure,
        Conclusion::Cancelled => Outcome::Cancelled,
        Conclusion::Skipped => Outcome::Skipped,
    }
}

/// Turns the engine's events into the agent protocol's, writing Gantry's own messages into the
/// job's log as marker lines.
struct LogWriter;

impl LogWriter {
    fn translate(&mut self, event: RunEvent) -> Vec<AgentEvent> {
        let marker = |key: String, marker: &str, text: &str| {
            let mut data = Vec::with_capacity(marker.len() + text.len() + 4);
            // A message of several lines keeps the marker on each.
            for line in text.lines() {
                data.extend_from_slice(b"##[");
                data.extend_from_slice(marker.as_bytes());
                data.extend_from_slice(b"]");
                data.extend_from_slice(line.as_bytes());
                data.push(b'\n');
            }
            AgentEvent::Log { key, data }
        };
        match event {
            RunEvent::WorkflowStarted { .. } => vec![],
            RunEvent::JobStarted { job, name } => vec![AgentEvent::JobStarted { key: job, name }],
            RunEvent::JobSkipped { job, name, reason } => {
                vec![AgentEvent::JobSkipped {
                    key: job,
                    name,
                    reason,
                }]
            }
            RunEvent::StepStarted { job, step, name } => {
                let index = u32::try_from(step).unwrap_or(u32::MAX);
                vec![
                    AgentEvent::StepStarted {
                        key: job.clone(),
                        index,
                        name: name.clone(),
                    },
                    marker(job, "step", &format!("{index} {name}")),
                ]
            }
            RunEvent::Output { job, text } => vec![AgentEvent::Log {
                key: job,
                data: text,
            }],
            RunEvent::GroupStarted { job, title } => vec![marker(job, "group", &title)],
            RunEvent::GroupEnded { job } => vec![AgentEvent::Log {
                key: job,
                data: b"##[endgroup]\n".to_vec(),
            }],
            RunEvent::Debug { job, message } => vec![marker(job, "debug", &message)],
            RunEvent::Notice { job, message } => vec![marker(job, "notice", &message)],
            RunEvent::Annotation { job, annotation } => {
                let level = annotation.level.as_str().to_string();
                let mut text = String::new();
                if let Some(file) = &annotation.file {
                    text.push_str(file);
                    if let Some(line) = annotation.line {
                        text.push_str(&format!(":{line}"));
                        if let Some(col) = annotation.col {
                            text.push_str(&format!(":{col}"));
                        }
                    }
                    text.push_str(": ");
                }
                if let Some(title) = &annotation.title {
                    text.push_str(title);
                    text.push_str(": ");
                }
                text.push_str(&annotation.message);
                vec![
                    marker(job.clone(), &level, &text),
                    AgentEvent::Annotation {
                        key: job,
                        annotation: gantry_api::Annotation {
                            level,
                            message: annotation.message,
                            title: annotation.title,
                            file: annotation.file,
                            line: annotation.line,
                            col: annotation.col,
                        },
                    },
                ]
            }
            RunEvent::StepFinished {
                job,
                step,
                conclusion: c,
                ..
            } => vec![AgentEvent::StepFinished {
                key: job,
                index: u32::try_from(step).unwrap_or(u32::MAX),
                conclusion: conclusion(c),
            }],
            RunEvent::JobFinished {
                job,
                result,
                outputs,
                ..
            } => vec![AgentEvent::JobFinished {
                key: job,
                conclusion: conclusion(result),
                outputs,
            }],
            RunEvent::Summary { .. } => vec![],
            RunEvent::Warning { message } => vec![AgentEvent::RunLog { message }],
        }
    }
}

#[cfg(test)]
mod tests;
