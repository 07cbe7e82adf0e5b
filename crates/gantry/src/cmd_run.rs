//! `gantry run`: plan the event, run it with the host executor, show it,
//! store its logs.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_engine::{GitInfo, Outcome, RunConfig, RunEvent};
use gantry_executor::{HostExecutor, Watchdog};
use gantry_plan::{EventKind, Plan, PlanRequest};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::render::Renderer;
use crate::{EventArgs, RunArgs, UserError, key_value, store};
use gantry_engine::workflows::{FileResolver, LoadedWorkflow};

/// What `run` and `plan` share: the repository, its checked workflows, the
/// event and the plan.
pub struct Prepared {
    pub root: std::path::PathBuf,
    pub workflows: Vec<LoadedWorkflow>,
    pub repo_event: crate::git::RepoEvent,
    pub plan: Plan,
    pub vars: Map<String, Value>,
}

pub fn prepare(
    dir: &Path,
    args: &EventArgs,
    actions_dirs: &[std::path::PathBuf],
) -> Result<Prepared, UserError> {
    let kind = EventKind::parse(&args.event).ok_or_else(|| {
        let known = [
            "push",
            "pull_request",
            "pull_request_target",
            "tag",
            "schedule",
            "workflow_dispatch",
        ];
        let hint = gantry_plan::suggest::did_you_mean(&args.event, known)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        UserError(format!(
            "unknown event `{}`{hint}: use push, pull_request, tag, schedule or workflow_dispatch",
            args.event
        ))
    })?;
    let mut inputs = IndexMap::new();
    for raw in &args.inputs {
        let (k, v) = key_value(raw, "--input")?;
        inputs.insert(k, v);
    }
    if !inputs.is_empty() && kind != EventKind::WorkflowDispatch {
        return Err(UserError(
            "--input is for workflow_dispatch: add `--event workflow_dispatch`".into(),
        ));
    }
    let mut vars = Map::new();
    for raw in &args.vars {
        let (k, v) = key_value(raw, "--var")?;
        vars.insert(k, Value::String(v));
    }
    // The git facts are gathered while the workflows are read.
    let pending = crate::git::start(
        dir,
        &crate::git::EventRequest {
            kind,
            tag: args.event == "tag",
            git_ref: args.git_ref.as_deref(),
            base: args.base.as_deref(),
            inputs: &inputs,
            schedule: args.schedule.as_deref(),
        },
    )?;
    let root = pending.root.clone();
    let files = gantry_engine::workflows::discover(&root);
    if files.is_empty() {
        return Err(UserError(format!(
            "no workflows in `{}`: add one under .github/workflows/ or .gantry/workflows/",
            root.display()
        )));
    }
    let mut all = Vec::new();
    for file in &files {
        all.push(gantry_engine::workflows::load(&root, file)?);
    }
    let selected_files: Vec<String> =
        gantry_engine::workflows::select(&all, &args.workflows, &root)?
            .iter()
            .map(|w| w.file.clone())
            .collect();
    let workflows: Vec<LoadedWorkflow> = all
        .into_iter()
        .filter(|w| selected_files.contains(&w.file))
        .collect();
    // Refuse to run invalid workflows, showing every problem.
    let invalid: Vec<&LoadedWorkflow> = workflows.iter().filter(|w| w.has_errors()).collect();
    if !invalid.is_empty() {
        let mut err = anstream::stderr();
        for w in &invalid {
            for d in w.diagnostics.iter().filter(|d| d.is_error()) {
                let _ = std::io::Write::write_all(
                    &mut err,
                    crate::cmd_validate::colour(&gantry_syntax::render(d, &w.source)).as_bytes(),
                );
            }
        }
        let names: Vec<&str> = invalid.iter().map(|w| w.file.as_str()).collect();
        return Err(UserError(format!(
            "invalid workflow {}: fix the errors above (`gantry validate` lists them all)",
            names.join(", ")
        )));
    }

    let repo_event = pending.finish(workflows.iter().any(|w| uses_paths(&w.workflow)))?;
    let asts: Vec<_> = workflows.iter().map(|w| w.workflow.clone()).collect();
    let resolver = FileResolver {
        root: root.clone(),
        actions_dirs: actions_dirs.to_vec(),
    };
    let plan = gantry_plan::plan(&PlanRequest {
        event: &repo_event.event,
        workflows: &asts,
        job: args.job.as_deref(),
        vars: &vars,
        resolver: &resolver,
    })
    .map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                if e.file.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.file, e.message)
                }
            })
            .collect();
        UserError(lines.join("\nerror: "))
    })?;
    Ok(Prepared {
        root,
        workflows,
        repo_event,
        plan,
        vars,
    })
}

/// `runs-on` labels → runners: `.gantry/runners.yml` (`LABEL: host` or
/// `LABEL: IMAGE` lines), then `--runner LABEL=…` flags.
pub(crate) fn runner_map(
    root: &Path,
    flags: &[String],
) -> Result<IndexMap<String, gantry_engine::Runner>, UserError> {
    let mut map = gantry_engine::run::runners_file(root).map_err(UserError)?;
    for raw in flags {
        let (label, value) = key_value(raw, "--runner")?;
        map.insert(label, gantry_engine::Runner::parse(&value));
    }
    Ok(map)
}

/// Whether a workflow filters its triggers on changed paths.
fn uses_paths(workflow: &gantry_syntax::ast::Workflow) -> bool {
    let on = &workflow.on;
    [&on.push, &on.pull_request, &on.pull_request_target]
        .into_iter()
        .flatten()
        .any(|f| f.paths.is_some() || f.paths_ignore.is_some())
}

/// `watchdog` was forked by `main` before any thread started (see
/// [`Watchdog`]): it kills the steps' process trees if gantry dies without
/// cleaning up, even on SIGKILL.
pub fn run(
    dir: &Path,
    args: RunArgs,
    watchdog: std::io::Result<Watchdog>,
) -> Result<ExitCode, UserError> {
    let started = Instant::now();
    let prepared = prepare(dir, &args.event, &args.actions_dirs)?;
    let mut dirty = crate::git::DirtyCheck::start(&prepared.root);
    let secrets = crate::secrets::gather(&args.secrets, &args.secret_files)?;
    let Prepared {
        root,
        workflows,
        repo_event,
        plan,
        vars,
    } = prepared;

    // Triggered workflows that cannot be planned fail the run; the others still run.
    let failed_plans: Vec<String> = plan
        .failed
        .iter()
        .map(|f| format!("{}: cannot run: {}", f.file, f.message))
        .collect();
    if plan.workflows.is_empty() && !failed_plans.is_empty() {
        return Err(UserError(failed_plans.join("\nerror: ")));
    }
    if plan.workflows.is_empty() {
        let mut err = anstream::stderr();
        let _ = std::io::Write::write_fmt(
            &mut err,
            format_args!(
                "nothing to run for a {} of `{}`:\n",
                repo_event.event.kind.name(),
                repo_event.event.git_ref
            ),
        );
        for s in &plan.skipped {
            let _ = std::io::Write::write_fmt(
                &mut err,
                format_args!("  ⊘ {} ({}): {}\n", s.name, s.file, s.reason),
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    let gate = crate::environments::gate(
        &root,
        &args.approve,
        &repo_event.event.git_ref,
        &repo_event.actor,
        args.event.json,
    )?;
    let (number, writer) = store::RunWriter::create().map_err(|e| {
        UserError(format!(
            "cannot create the run directory under `{}`: {e}",
            store::home().display()
        ))
    })?;
    let mut renderer = Renderer::new(args.event.json, Some(writer)).fold_groups(args.fold_groups);
    for message in &failed_plans {
        renderer.event(RunEvent::Warning {
            message: message.clone(),
        });
    }
    let short_sha = short(&repo_event.sha).to_string();
    dirty_warning(&mut renderer, dirty.poll(), &short_sha);
    let running: Vec<&str> = plan.workflows.iter().map(|w| w.file.as_str()).collect();
    for w in workflows
        .iter()
        .filter(|w| running.contains(&w.file.as_str()))
    {
        for message in crate::secrets::missing(&w.workflow, &w.source, &secrets) {
            renderer.event(RunEvent::Warning { message });
        }
        for d in w.diagnostics.iter().filter(|d| !d.is_error()) {
            renderer.event(RunEvent::Warning {
                message: format!(
                    "{}:{}:{}: {}",
                    d.file, d.span.start.line, d.span.start.col, d.message
                ),
            });
        }
    }

    let home = store::home();
    let run_id = format!("{}{}", std::process::id(), number);
    // `--keep-workspace` keeps every job's directory under the run's number;
    // otherwise the run borrows a work slot whose job directories outlive it.
    let work_slot = if args.keep_workspace {
        None
    } else {
        WorkSlot::lock(&home.join("work")).ok()
    };
    let run_dir = match &work_slot {
        Some(slot) => slot.dir.clone(),
        None => home.join("work").join(number.to_string()),
    };
    let cache_dir = home.join("cache").join(repo_key(&root));
    let scratch_dir = scratch_dir(&run_dir, number);
    let meta_base = json!({
        "run": number,
        "repository": root.to_string_lossy(),
        "event": repo_event.event.kind.name(),
        "ref": repo_event.event.git_ref,
        "sha": repo_event.sha,
        "workflows": running,
        "started_at": jiff::Timestamp::now().to_string(),
    });
    if let Some(store) = renderer.store_mut() {
        let mut meta = meta_base.clone();
        meta["status"] = json!("running");
        let _ = store.save_meta(&meta);
    }
    let mut executor = HostExecutor::new();
    let watchdog = match watchdog {
        Ok(watchdog) => Some(Arc::new(watchdog)),
        Err(e) => {
            renderer.event(RunEvent::Warning {
                message: format!(
                    "cannot start the process watchdog ({e}); if gantry is killed with SIGKILL, step processes may outlive it"
                ),
            });
            None
        }
    };
    if let Some(watchdog) = &watchdog {
        executor = executor.with_watchdog(watchdog.clone());
    }
    let runners = runner_map(&root, &args.runners)?;
    let config = Arc::new(RunConfig {
        executor: Arc::new(gantry_docker::DockerExecutor::new(
            executor,
            watchdog.clone(),
        )),
        runners,
        repo_dir: root.clone(),
        run_dir: run_dir.clone(),
        cache_dir,
        actions_dirs: args.actions_dirs.clone(),
        max_parallel: args.parallel.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }),
        secrets,
        vars,
        git: GitInfo {
            sha: repo_event.sha.clone(),
            repository: repo_event.repository.clone(),
            actor: repo_event.actor.clone(),
            payload: repo_event.payload.clone(),
        },
        event: repo_event.event.clone(),
        host_env: std::env::vars()
            .filter(|(k, _)| !k.starts_with("GANTRY_SECRET_"))
            .collect(),
        run_id,
        run_number: number,
        fresh_job_dirs: args.keep_workspace,
        scratch_dir: scratch_dir.clone(),
        carried: Default::default(),
        gate,
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    let sha_for_task = short_sha.clone();
    // One thread runs the engine and the renderer (a current-thread
    // runtime): with a worker per CPU, every event and every job start woke
    // another worker, and for short jobs those wake-ups cost more than the
    // work (measured with scripts/bench). Steps run on the other CPUs; the
    // stored log is written by a thread of its own once a run logs a lot.
    let task = async move {
        let short_sha = sha_for_task;
        // At most 16 MiB of step output waits for the renderer.
        let (tx, mut rx) = gantry_engine::channel(16 << 20);
        let cancel = CancellationToken::new();
        let hard = CancellationToken::new();
        // Listen before the engine starts a step, so that no Ctrl-C is lost.
        let listeners = listen_signals();
        let engine = {
            let cancel = cancel.clone();
            let hard = hard.clone();
            let config = config.clone();
            let plan = plan.clone();
            tokio::spawn(async move { gantry_engine::run(&plan, config, tx, cancel, hard).await })
        };
        let signals = tokio::spawn(watch_signals(listeners, cancel.clone(), hard.clone()));
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => renderer.event(event),
                    None => break,
                },
                _ = ticker.tick() => {
                    dirty_warning(&mut renderer, dirty.poll(), &short_sha);
                    renderer.tick();
                }
            }
        }
        signals.abort();
        let result = match engine.await {
            Ok(result) => result,
            Err(e) => {
                renderer.event(RunEvent::Warning {
                    message: format!("internal error: the engine stopped: {e}"),
                });
                gantry_engine::RunResult {
                    result: Outcome::Failure,
                    jobs: Vec::new(),
                }
            }
        };
        (result, renderer, dirty)
    };
    let (result, mut renderer, mut dirty) = runtime
        .block_on(async move { tokio::spawn(task).await })
        .map_err(|e| UserError(format!("internal error: the run stopped: {e}")))?;
    dirty_warning(&mut renderer, dirty.wait(), &short_sha);
    // Every job removed its containers: no clean-up is owed any more.
    if let Some(watchdog) = &watchdog {
        watchdog.disarm_cleanup();
    }
    renderer.finish(&result, number, started.elapsed());
    if let Some(store) = renderer.store_mut() {
        let jobs: Vec<Value> = result
            .jobs
            .iter()
            .map(|j| json!({"job": j.key, "name": j.name, "workflow": j.workflow, "result": j.result.as_str(), "duration_ms": j.duration.as_millis() as u64}))
            .collect();
        let mut meta = meta_base;
        meta["status"] = json!("completed");
        meta["result"] = json!(result.result.as_str());
        meta["duration_ms"] = json!(started.elapsed().as_millis() as u64);
        meta["jobs"] = Value::Array(jobs);
        let _ = store.save_meta(&meta);
    }
    match &work_slot {
        Some(slot) => slot.clear(),
        None if !args.keep_workspace => {
            let _ = std::fs::remove_dir_all(&run_dir);
        }
        None => {}
    }
    let _ = std::fs::remove_dir_all(&scratch_dir);
    renderer.flush();
    Ok(
        if result.result == Outcome::Success && failed_plans.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

type Listeners = (
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
);

/// Installs the handlers of SIGINT, SIGTERM and SIGHUP (within the runtime).
fn listen_signals() -> Option<Listeners> {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(int), Ok(term), Ok(hup)) => Some((int, term, hup)),
        _ => None,
    }
}

/// A run's working directory that is kept from run to run: `work/slot-N`,
/// held with a lock on `work/slot-N.lock` for the whole run (released by the
/// kernel even if gantry is killed), so that runs at the same time never
/// share one. Its job directories (`jobs/K/work/REPO`, `jobs/K/tmp`) stay
/// and only their content goes: on this kind of disk, making and removing
/// directories is most of a small run's file-system cost.
struct WorkSlot {
    dir: std::path::PathBuf,
    _lock: std::fs::File,
}

impl WorkSlot {
    /// The first free slot (its content from a run that was killed is
    /// cleared first).
    fn lock(work: &Path) -> std::io::Result<WorkSlot> {
        std::fs::create_dir_all(work)?;
        for n in 0..1024 {
            let lock = std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(work.join(format!("slot-{n}.lock")))?;
            match lock.try_lock() {
                Ok(()) => {
                    let slot = WorkSlot {
                        dir: work.join(format!("slot-{n}")),
                        _lock: lock,
                    };
                    slot.clear();
                    return Ok(slot);
                }
                Err(std::fs::TryLockError::WouldBlock) => continue,
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        Err(std::io::Error::other("every work slot is in use"))
    }

    /// Removes everything in the slot but the job directories' skeleton:
    /// artifacts, workspaces' and temp directories' content.
    fn clear(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == "jobs" {
                for job in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    clear_job_dir(&job.path());
                }
            } else {
                remove_entry(&path);
            }
        }
    }
}

/// `jobs/K`: keeps `work/REPO/` and `tmp/` (emptied), removes the rest.
fn clear_job_dir(job: &Path) {
    for entry in std::fs::read_dir(job).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.file_name().to_str() {
            Some("work") => {
                for repo in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    empty(&repo.path());
                }
            }
            Some("tmp") => empty(&path),
            _ => remove_entry(&path),
        }
    }
}

fn empty(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        remove_entry(&entry.path());
    }
}

fn remove_entry(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

fn dirty_warning(renderer: &mut Renderer, dirty: Option<bool>, sha: &str) {
    if dirty == Some(true) {
        renderer.event(RunEvent::Warning {
            message: format!(
                "the work tree has uncommitted changes; jobs check out commit {sha} without them (commit to include them)"
            ),
        });
    }
}

/// Where the engine keeps runner files and scripts: a tmpfs when there is
/// one (rewriting small files on a disk file system costs more than running
/// a short step), else inside the run directory.
fn scratch_dir(run_dir: &Path, number: u64) -> std::path::PathBuf {
    let shm = Path::new("/dev/shm");
    let writable = std::fs::metadata(shm).is_ok_and(|m| m.is_dir() && !m.permissions().readonly());
    if writable {
        let dir = shm.join(format!("gantry-{}-{number}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            return dir;
        }
    }
    run_dir.join("scratch")
}

/// First Ctrl-C (or SIGTERM/SIGHUP): cancel; the second: stop now.
async fn watch_signals(
    listeners: Option<Listeners>,
    cancel: CancellationToken,
    hard: CancellationToken,
) {
    let Some((mut int, mut term, mut hup)) = listeners else {
        return;
    };
    loop {
        let terminate = tokio::select! {
            _ = int.recv() => false,
            _ = term.recv() => true,
            _ = hup.recv() => true,
        };
        if terminate || cancel.is_cancelled() {
            cancel.cancel();
            hard.cancel();
            if !terminate {
                eprintln!("\nstopping now");
            }
            return;
        }
        cancel.cancel();
        eprintln!(
            "\ncancelling the run: running steps are stopped, `if: always()` steps still run (Ctrl-C again to stop now)"
        );
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A stable directory name for a repository's cache.
fn repo_key(root: &Path) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in root.to_string_lossy().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{}-{hash:016x}", store::log_name(&name))
}
