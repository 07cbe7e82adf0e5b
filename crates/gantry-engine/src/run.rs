//! The scheduler: runs a plan's workflows, and each workflow's jobs in
//! `needs` order, up to a parallelism limit.
//!
//! Each workflow is driven by one loop over one closed event type
//! ([`SchedulerEvent`]): a job instance finished. Jobs become ready when all
//! their needs are done; a ready job's `if` decides whether it runs. Matrix
//! jobs fan out into instances here; `fail-fast` cancels the siblings of a
//! failed instance.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gantry_executor::Executor;
use gantry_expr::Status;
use gantry_plan::matrix::{self, Combination};
use gantry_plan::{Event, EventKind, JobPlan, MatrixPlan, Plan, WorkflowPlan};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::context::{Contexts, Eval};
use crate::event::{JobKey, Outcome, RunEvent};
use crate::job::{self, JobInstance, JobReport};
use crate::mask::{AddOutcome, Masker, MaskerBuilder};

/// Facts about the repository and the event, from the caller's git I/O.
#[derive(Debug, Clone, Default)]
pub struct GitInfo {
    /// The commit the event is for.
    pub sha: String,
    /// `owner/name` (`github.repository`).
    pub repository: String,
    pub actor: String,
    /// `github.event`: the event payload.
    pub payload: Value,
}

/// Where jobs with a `runs-on` label run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// On this machine, as processes.
    Host,
    /// In a container of this image (as if the job had `container:`).
    Image(String),
}

/// Where a job with this `runs-on` label runs: the label's entry in
/// `runners`, else the host for Linux labels (`ubuntu-*`, `linux`,
/// `self-hosted`, …). `None` for a label with no runner here; see
/// [`other_os_label`] for which of those are skipped rather than errors.
pub fn runner_for(label: &str, runners: &IndexMap<String, Runner>) -> Option<Runner> {
    match runners.get(label) {
        Some(runner) => Some(runner.clone()),
        None if crate::job::host_label(label) => Some(Runner::Host),
        None => None,
    }
}

/// The runners a repository declares in `.gantry/runners.yml`: one
/// `LABEL: host` or `LABEL: IMAGE` line per `runs-on` label. No file, no
/// runners.
pub fn runners_file(root: &std::path::Path) -> Result<IndexMap<String, Runner>, String> {
    let file = root.join(".gantry").join("runners.yml");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(IndexMap::new());
    };
    let entries: IndexMap<String, String> = serde_saphyr::from_str(&text).map_err(|e| {
        format!(
            "{}: {e}: write one `LABEL: host` or `LABEL: IMAGE` line per label",
            file.display()
        )
    })?;
    Ok(entries
        .into_iter()
        .map(|(label, value)| (label, Runner::parse(&value)))
        .collect())
}

impl Runner {
    /// `host`, or an image name.
    pub fn parse(value: &str) -> Runner {
        match value.trim() {
            "host" => Runner::Host,
            image => Runner::Image(image.to_string()),
        }
    }
}

/// A label for another operating system (`windows-*`, `macos-*`): a job
/// for it is skipped on this Linux machine, like a job for a runner that is
/// not there; any other label without a runner is an error.
pub fn other_os_label(label: &str) -> bool {
    let l = label.to_ascii_lowercase();
    l.starts_with("windows") || l.starts_with("macos") || l == "macos" || l == "osx"
}

/// Everything a run needs from outside.
pub struct RunConfig {
    pub executor: Arc<dyn Executor>,
    /// `runs-on` labels mapped to runners (from `.gantry/runners.yml`);
    /// Linux labels such as `ubuntu-latest` run on the host when not mapped.
    pub runners: IndexMap<String, Runner>,
    /// The local repository (`actions/checkout` reads it; local actions and
    /// reusable workflows resolve in it).
    pub repo_dir: PathBuf,
    /// This run's own directory: job workspaces, temp files, artifacts.
    pub run_dir: PathBuf,
    /// Persistent store of `actions/cache`.
    pub cache_dir: PathBuf,
    /// Where vendored remote actions live (`OWNER/REPO@REF/`).
    pub actions_dirs: Vec<PathBuf>,
    /// Jobs running at once (default: CPU count).
    pub max_parallel: usize,
    pub secrets: IndexMap<String, String>,
    pub vars: Map<String, Value>,
    pub git: GitInfo,
    pub event: Event,
    /// The environment every step inherits (PATH, HOME, …).
    pub host_env: Vec<(String, String)>,
    pub run_id: String,
    pub run_number: u64,
    /// Give every job a directory of its own that outlives it (for
    /// `--keep-workspace`). Otherwise a finished job's directory is emptied
    /// and handed to the next job: creating and deleting hundreds of
    /// directories costs more than the rest of the engine's work. The pool
    /// (`run_dir/jobs/N`) may also be kept from run to run: what a job finds
    /// there is emptied first.
    pub fresh_job_dirs: bool,
    /// Where the engine keeps its small per-step files (runner files,
    /// scripts). A tmpfs such as /dev/shm makes rewriting them nearly free;
    /// any directory works.
    pub scratch_dir: PathBuf,
    /// Jobs of an earlier attempt whose results a re-run keeps, by job id: they count as done
    /// with this result and these outputs, and are not run again. Empty for a first run.
    pub carried: IndexMap<String, (Outcome, IndexMap<String, String>)>,
    /// What jobs with `environment:` ask before they start; `None`: environments are names only.
    pub gate: Option<Arc<dyn crate::environment::EnvironmentGate>>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub result: Outcome,
    pub jobs: Vec<JobSummary>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    pub key: JobKey,
    pub name: String,
    pub workflow: String,
    pub result: Outcome,
    pub duration: Duration,
}

/// Run-wide state shared by every job.
pub(crate) struct Shared {
    pub config: Arc<RunConfig>,
    pub events: crate::event::EventSender,
    pub slots: Arc<Semaphore>,
    pub github: Value,
    pub runner: Arc<Value>,
    pub vars: Arc<Value>,
    pub masker: Masker,
    /// Cancelled by the first Ctrl-C: running steps stop, `always()` steps still run.
    pub cancel: CancellationToken,
    /// Cancelled by the second Ctrl-C: everything stops now.
    pub hard_cancel: CancellationToken,
    pub job_seq: AtomicUsize,
    /// Job directories free for reuse, and the number made so far.
    pub dir_slots: std::sync::Mutex<(Vec<usize>, usize)>,
    pub summaries: std::sync::Mutex<Vec<JobSummary>>,
    /// (program, PATH) pairs known to resolve, so that choosing a shell
    /// does not search PATH for every step.
    pub found_programs: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// `REPO/.gantry/actions` if it exists (container jobs mount it), looked
    /// at once per run.
    pub repo_actions: Option<std::path::PathBuf>,
}

/// A job directory lent to one job; it goes back to the pool on drop.
pub(crate) struct DirSlot<'a> {
    shared: &'a Shared,
    pub index: usize,
    /// Whether the directory was used by an earlier job (and must be emptied).
    pub reused: bool,
    pub root: PathBuf,
}

impl Drop for DirSlot<'_> {
    fn drop(&mut self) {
        if !self.shared.config.fresh_job_dirs
            && let Ok(mut slots) = self.shared.dir_slots.lock()
        {
            slots.0.push(self.index);
        }
    }
}

impl Shared {
    /// A directory for a job: a fresh one per job with `fresh_job_dirs`,
    /// else one of a small pool (one per job running at once).
    pub(crate) fn job_dir(&self, seq: usize) -> DirSlot<'_> {
        if self.config.fresh_job_dirs {
            let root = self.config.run_dir.join("jobs").join(seq.to_string());
            return DirSlot {
                shared: self,
                index: seq,
                reused: false,
                root,
            };
        }
        let (index, reused) = match self.dir_slots.lock() {
            Ok(mut slots) => match slots.0.pop() {
                Some(index) => (index, true),
                None => {
                    slots.1 += 1;
                    (slots.1 - 1, false)
                }
            },
            Err(_) => (seq + 1_000_000, false),
        };
        let root = self.config.run_dir.join("jobs").join(index.to_string());
        DirSlot {
            shared: self,
            index,
            reused,
            root,
        }
    }

    pub fn emit(&self, event: RunEvent) {
        // A closed receiver means nobody listens any more; the run goes on.
        self.events.send(event);
    }
}

/// Runs every workflow of the plan (in parallel, like GitHub) and reports
/// the overall result. `cancel` is the first Ctrl-C, `hard_cancel` the second.
pub async fn run(
    plan: &Plan,
    config: Arc<RunConfig>,
    events: crate::event::EventSender,
    cancel: CancellationToken,
    hard_cancel: CancellationToken,
) -> RunResult {
    let mut builder = MaskerBuilder::new();
    for (name, value) in &config.secrets {
        if let AddOutcome::TooShort = builder.add(value) {
            events.send(RunEvent::Warning {
                message: format!(
                    "secret `{name}` is shorter than 4 characters, too short to mask safely: it will appear in logs; use a longer value"
                ),
            });
        }
    }
    let runner_temp = config.run_dir.join("tmp");
    let runner = json!({
        "name": "gantry",
        "os": "Linux",
        "arch": runner_arch(),
        "temp": runner_temp.to_string_lossy(),
        "tool_cache": config.run_dir.join("tool-cache").to_string_lossy(),
        "debug": if step_debug(&config) { "1" } else { "" },
        "environment": "self-hosted",
    });
    let shared = Arc::new(Shared {
        github: github_base(&config),
        runner: Arc::new(runner),
        vars: Arc::new(Value::Object(config.vars.clone())),
        masker: builder.build(),
        slots: Arc::new(Semaphore::new(config.max_parallel.max(1))),
        events,
        cancel,
        hard_cancel,
        job_seq: AtomicUsize::new(0),
        dir_slots: std::sync::Mutex::new((Vec::new(), 0)),
        summaries: std::sync::Mutex::new(Vec::new()),
        found_programs: std::sync::Mutex::new(std::collections::HashSet::new()),
        repo_actions: Some(config.repo_dir.join(".gantry").join("actions")).filter(|d| d.is_dir()),
        config,
    });

    let mut set = JoinSet::new();
    let several = plan.workflows.len() > 1;
    for workflow in &plan.workflows {
        let shared = shared.clone();
        let workflow = workflow.clone();
        set.spawn(async move {
            shared.emit(RunEvent::WorkflowStarted {
                file: workflow.file.clone(),
                name: workflow.name.clone(),
            });
            let secrets = secrets_context(&shared.config.secrets);
            let inputs = Value::Object(workflow.inputs.clone());
            // With several workflows in one run, job keys name their workflow.
            let prefix = if several {
                format!("{} / ", workflow.name)
            } else {
                String::new()
            };
            run_workflow(
                shared.clone(),
                Arc::new(workflow),
                Arc::new(inputs),
                Arc::new(secrets),
                prefix,
            )
            .await
        });
    }
    let mut result = Outcome::Success;
    while let Some(done) = set.join_next().await {
        let outcome = match done {
            Ok(w) => w.result,
            Err(_) => Outcome::Failure,
        };
        result = worse(result, outcome);
    }
    if shared.cancel.is_cancelled() && result == Outcome::Success {
        result = Outcome::Cancelled;
    }
    let jobs = shared
        .summaries
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    RunResult { result, jobs }
}

/// Whether step debug logging is on (`ACTIONS_STEP_DEBUG` as a secret or variable).
pub(crate) fn step_debug(config: &RunConfig) -> bool {
    config
        .secrets
        .get("ACTIONS_STEP_DEBUG")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        || config.vars.get("ACTIONS_STEP_DEBUG").is_some_and(|v| {
            gantry_expr::to_string(v)
                .trim()
                .eq_ignore_ascii_case("true")
        })
}

fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "arm" => "ARM",
        "x86" => "X86",
        _ => "X64",
    }
}

fn secrets_context(secrets: &IndexMap<String, String>) -> Value {
    let mut map: Map<String, Value> = secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    map.entry("GITHUB_TOKEN")
        .or_insert_with(|| Value::String(String::new()));
    Value::Object(map)
}

/// The run-wide part of the `github` context.
fn github_base(config: &RunConfig) -> Value {
    let event = &config.event;
    let git_ref = &event.git_ref;
    let ref_type = if git_ref.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    let owner = config.git.repository.split('/').next().unwrap_or_default();
    json!({
        "event_name": event.kind.name(),
        "event": config.git.payload,
        "ref": git_ref,
        "ref_name": event.ref_name(),
        "ref_type": ref_type,
        "ref_protected": false,
        "sha": config.git.sha,
        "repository": config.git.repository,
        "repository_owner": owner,
        "repositoryUrl": format!("file://{}", config.repo_dir.display()),
        "actor": config.git.actor,
        "triggering_actor": config.git.actor,
        "run_id": config.run_id,
        "run_number": config.run_number.to_string(),
        "run_attempt": "1",
        "retention_days": "90",
        "server_url": "https://github.com",
        "api_url": "https://api.github.com",
        "graphql_url": "https://api.github.com/graphql",
        "head_ref": event.head_ref.as_deref().map(gantry_plan::event::short_ref).unwrap_or(""),
        "base_ref": event.base_ref.as_deref().map(gantry_plan::event::short_ref).unwrap_or(""),
        "token": "",
        "secret_source": "None",
        "workspace": "",
        "action": "",
        "job": "",
        "workflow": "",
    })
}

/// The `github` context of a top-level workflow's jobs: the run-wide one with
/// the event payload completed for this workflow, as GitHub sends it — every
/// dispatch input, given or defaulted, as a string; the cron line of a
/// schedule event when the caller did not name one. Called workflows see the
/// run-wide context.
fn workflow_github(shared: &Shared, workflow: &WorkflowPlan, top_level: bool) -> Value {
    let mut github = shared.github.clone();
    if !top_level {
        return github;
    }
    let event = &shared.config.event;
    if let Some(Value::Object(payload)) = github.get_mut("event") {
        match event.kind {
            EventKind::WorkflowDispatch => {
                let inputs: Map<String, Value> = workflow
                    .inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(gantry_expr::to_string(v))))
                    .collect();
                payload.insert("inputs".into(), Value::Object(inputs));
            }
            EventKind::Schedule if event.schedule.is_none() => {
                if let Some(cron) = workflow.workflow.on.schedule.first() {
                    payload.insert("schedule".into(), Value::String(cron.value.clone()));
                }
            }
            _ => {}
        }
    }
    github
}

/// The outcome of a workflow (or of a called workflow).
pub(crate) struct WorkflowOutcome {
    pub result: Outcome,
    /// Per job id: its aggregated result and outputs (the `needs`/`jobs` contexts).
    pub jobs: IndexMap<String, (Outcome, IndexMap<String, String>)>,
}

/// The one event the workflow loop waits for.
enum SchedulerEvent {
    /// All instances of a job are done.
    JobDone {
        id: String,
        result: Outcome,
        outputs: IndexMap<String, String>,
    },
}

#[derive(Clone)]
enum JobState {
    Waiting,
    Running,
    Done(Outcome, IndexMap<String, String>),
}

/// Runs one workflow's jobs. `prefix` names the calling job for called
/// workflows (`call / `), empty at top level.
pub(crate) fn run_workflow(
    shared: Arc<Shared>,
    workflow: Arc<WorkflowPlan>,
    inputs: Arc<Value>,
    secrets: Arc<Value>,
    prefix: String,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = WorkflowOutcome> + Send>> {
    Box::pin(async move {
        let github = Arc::new(workflow_github(&shared, &workflow, prefix.is_empty()));
        let mut states: IndexMap<String, JobState> = workflow
            .jobs
            .iter()
            .map(|j| {
                let carried = prefix
                    .is_empty()
                    .then(|| shared.config.carried.get(&j.id))
                    .flatten();
                let state = match carried {
                    Some((outcome, outputs)) => JobState::Done(*outcome, outputs.clone()),
                    None => JobState::Waiting,
                };
                (j.id.clone(), state)
            })
            .collect();
        let mut set: JoinSet<SchedulerEvent> = JoinSet::new();
        loop {
            // Start (or skip) every job whose needs are all done.
            let mut progressed = true;
            while progressed {
                progressed = false;
                for job in &workflow.jobs {
                    if !matches!(states.get(&job.id), Some(JobState::Waiting)) {
                        continue;
                    }
                    let needs_done = job
                        .needs
                        .iter()
                        .all(|n| matches!(states.get(n), Some(JobState::Done(..)) | None));
                    if !needs_done {
                        continue;
                    }
                    let needs = needs_context(job, &states);
                    let status = job_status(&workflow, job, &states, &shared);
                    let ctx = JobStartContext {
                        shared: shared.clone(),
                        workflow: workflow.clone(),
                        inputs: inputs.clone(),
                        secrets: secrets.clone(),
                        needs: Arc::new(needs),
                        prefix: prefix.clone(),
                        github: github.clone(),
                    };
                    match should_run(&ctx, job, status) {
                        Ok(true) => {
                            states.insert(job.id.clone(), JobState::Running);
                            let job = job.clone();
                            set.spawn(async move { run_job(ctx, job).await });
                        }
                        Ok(false) => {
                            let reason = skip_reason(status, job, &states);
                            let key = format!("{prefix}{}", job.id);
                            let name = display_name(&job.job, &job.id);
                            shared.emit(RunEvent::JobSkipped {
                                job: key.clone(),
                                name: name.clone(),
                                reason,
                            });
                            record(
                                &shared,
                                &workflow,
                                key,
                                name,
                                Outcome::Skipped,
                                Duration::ZERO,
                            );
                            states.insert(
                                job.id.clone(),
                                JobState::Done(Outcome::Skipped, IndexMap::new()),
                            );
                            progressed = true;
                        }
                        Err(message) => {
                            let key = format!("{prefix}{}", job.id);
                            let name = display_name(&job.job, &job.id);
                            fail_unstarted(
                                &shared,
                                &workflow,
                                key,
                                name,
                                format!("job `if`: {message}"),
                            );
                            states.insert(
                                job.id.clone(),
                                JobState::Done(Outcome::Failure, IndexMap::new()),
                            );
                            progressed = true;
                        }
                    }
                }
            }
            match set.join_next().await {
                Some(Ok(SchedulerEvent::JobDone {
                    id,
                    result,
                    outputs,
                })) => {
                    states.insert(id, JobState::Done(result, outputs));
                }
                Some(Err(join_error)) => {
                    // A job task panicked: that is a bug, reported as a failure of the run.
                    shared.emit(RunEvent::Warning {
                        message: format!("internal error in a job task: {join_error}"),
                    });
                    for state in states.values_mut() {
                        if matches!(state, JobState::Running) {
                            *state = JobState::Done(Outcome::Failure, IndexMap::new());
                        }
                    }
                }
                None => break,
            }
        }
        let mut result = Outcome::Success;
        let mut jobs = IndexMap::new();
        for (id, state) in states {
            let (outcome, outputs) = match state {
                JobState::Done(outcome, outputs) => (outcome, outputs),
                _ => (Outcome::Skipped, IndexMap::new()),
            };
            result = worse(result, outcome);
            jobs.insert(id, (outcome, outputs));
        }
        WorkflowOutcome { result, jobs }
    })
}

/// The worse of two results: failure > cancelled > success; skipped counts as success.
pub(crate) fn worse(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Failure => 3,
        Outcome::Cancelled => 2,
        Outcome::Success | Outcome::Skipped => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Reports a job that failed before it could start (a bad `if`, a matrix
/// that cannot be evaluated): started, the error, finished.
fn fail_unstarted(
    shared: &Shared,
    workflow: &WorkflowPlan,
    key: JobKey,
    name: String,
    message: String,
) {
    shared.emit(RunEvent::JobStarted {
        job: key.clone(),
        name: name.clone(),
    });
    shared.emit(RunEvent::Annotation {
        job: key.clone(),
        annotation: crate::job::error_annotation(message),
    });
    shared.emit(RunEvent::JobFinished {
        job: key.clone(),
        name: name.clone(),
        result: Outcome::Failure,
        duration: Duration::ZERO,
        outputs: IndexMap::new(),
    });
    record(
        shared,
        workflow,
        key,
        name,
        Outcome::Failure,
        Duration::ZERO,
    );
}

pub(crate) fn record(
    shared: &Shared,
    workflow: &WorkflowPlan,
    key: JobKey,
    name: String,
    result: Outcome,
    duration: Duration,
) {
    if let Ok(mut summaries) = shared.summaries.lock() {
        summaries.push(JobSummary {
            key,
            name,
            workflow: workflow.name.clone(),
            result,
            duration,
        });
    }
}

fn needs_context(job: &JobPlan, states: &IndexMap<String, JobState>) -> Value {
    let mut map = Map::new();
    for need in &job.needs {
        if let Some(JobState::Done(result, outputs)) = states.get(need) {
            map.insert(
                need.clone(),
                json!({
                    "result": result.as_str(),
                    "outputs": crate::context::object(outputs.iter()),
                }),
            );
        }
    }
    Value::Object(map)
}

/// The status job-level `success()`/`failure()`/`cancelled()` see: success
/// when every need succeeded; failure when any ancestor failed.
fn job_status(
    workflow: &WorkflowPlan,
    job: &JobPlan,
    states: &IndexMap<String, JobState>,
    shared: &Shared,
) -> JobStatus {
    if shared.cancel.is_cancelled() {
        return JobStatus::Cancelled;
    }
    let by_id: HashMap<&str, &JobPlan> = workflow.jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut stack: Vec<&str> = job.needs.iter().map(String::as_str).collect();
    let mut seen = std::collections::HashSet::new();
    let mut any_failed = false;
    let mut any_cancelled = false;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        match states.get(id) {
            Some(JobState::Done(Outcome::Failure, _)) => any_failed = true,
            Some(JobState::Done(Outcome::Cancelled, _)) => any_cancelled = true,
            _ => {}
        }
        if let Some(j) = by_id.get(id) {
            stack.extend(j.needs.iter().map(String::as_str));
        }
    }
    let direct_ok = job
        .needs
        .iter()
        .all(|n| matches!(states.get(n), Some(JobState::Done(Outcome::Success, _))));
    if any_cancelled && !any_failed {
        JobStatus::Cancelled
    } else if any_failed {
        JobStatus::Failure
    } else if direct_ok {
        JobStatus::Success
    } else {
        JobStatus::NeedSkipped
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum JobStatus {
    Success,
    Failure,
    Cancelled,
    /// A need was skipped: `success()` is false but nothing failed.
    NeedSkipped,
}

fn skip_reason(status: JobStatus, job: &JobPlan, states: &IndexMap<String, JobState>) -> String {
    let needs_with = |wanted: Outcome| -> Vec<&str> {
        job.needs
            .iter()
            .filter(
                |n| matches!(states.get(n.as_str()), Some(JobState::Done(o, _)) if *o == wanted),
            )
            .map(String::as_str)
            .collect()
    };
    match status {
        JobStatus::Success => "its `if` condition is false".to_string(),
        JobStatus::Failure => {
            let failed = needs_with(Outcome::Failure);
            if failed.is_empty() {
                format!(
                    "a job before it failed (skipped needs: {})",
                    needs_with(Outcome::Skipped).join(", ")
                )
            } else {
                format!("a job it needs failed: {}", failed.join(", "))
            }
        }
        JobStatus::Cancelled => "the run was cancelled".to_string(),
        JobStatus::NeedSkipped => format!(
            "a job it needs was skipped: {}",
            needs_with(Outcome::Skipped).join(", ")
        ),
    }
}

pub(crate) struct JobStartContext {
    pub shared: Arc<Shared>,
    pub workflow: Arc<WorkflowPlan>,
    pub inputs: Arc<Value>,
    pub secrets: Arc<Value>,
    pub needs: Arc<Value>,
    pub prefix: String,
    /// The workflow's `github` context (see [`workflow_github`]).
    pub github: Arc<Value>,
}

impl JobStartContext {
    fn contexts(&self) -> Contexts {
        Contexts {
            github: self.github.clone(),
            vars: self.shared.vars.clone(),
            secrets: self.secrets.clone(),
            runner: self.shared.runner.clone(),
            inputs: self.inputs.clone(),
            needs: self.needs.clone(),
            ..Contexts::default()
        }
    }
}

fn should_run(ctx: &JobStartContext, job: &JobPlan, status: JobStatus) -> Result<bool, String> {
    let expr_status = match status {
        JobStatus::Success => Status::Success,
        JobStatus::Failure | JobStatus::NeedSkipped => Status::Failure,
        JobStatus::Cancelled => Status::Cancelled,
    };
    let condition = match &job.job.if_ {
        None => None,
        Some(value) => match &value.value {
            Value::Bool(b) => return Ok(*b && status == JobStatus::Success),
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(gantry_expr::to_string(other)),
        },
    };
    let Some(condition) = condition else {
        return Ok(status == JobStatus::Success);
    };
    let parsed = gantry_expr::parse_condition(&condition).map_err(|e| e.message)?;
    if status == JobStatus::NeedSkipped && !parsed.has_status_function() {
        // success() is false because a need was skipped, not failed.
        return Ok(false);
    }
    let contexts = ctx.contexts();
    let eval = Eval {
        contexts: &contexts,
        status: expr_status,
        workspace: None,
    };
    parsed.evaluate(&eval).map_err(|e| e.message)
}

/// A job's name as shown: its `name:` when it has no expression, else its id.
pub fn display_name(job: &gantry_syntax::ast::Job, id: &str) -> String {
    match &job.name {
        Some(name) => match &name.value {
            Value::String(s) if !s.contains("${{") => s.clone(),
            _ => id.to_string(),
        },
        None => id.to_string(),
    }
}

/// Runs every instance of a job and aggregates them.
async fn run_job(ctx: JobStartContext, job: JobPlan) -> SchedulerEvent {
    let shared = ctx.shared.clone();
    let id = job.id.clone();
    let base_name = display_name(&job.job, &job.id);

    // Reusable workflow call (once per matrix combination).
    if let Some(called) = &job.call {
        if matches!(job.matrix, MatrixPlan::None) {
            let (result, outputs) = crate::job::run_call(&ctx, &job, called, None).await;
            return SchedulerEvent::JobDone {
                id,
                result,
                outputs,
            };
        }
        return run_call_matrix(ctx, &job, called).await;
    }

    let combos: Vec<Combination> = match &job.matrix {
        MatrixPlan::None => vec![Combination::new()],
        MatrixPlan::Static(combos) => combos.clone(),
        MatrixPlan::Dynamic => match dynamic_matrix(&ctx, &job) {
            Ok(combos) => combos,
            Err(message) => {
                fail_unstarted(
                    &shared,
                    &ctx.workflow,
                    format!("{}{id}", ctx.prefix),
                    base_name,
                    message,
                );
                return SchedulerEvent::JobDone {
                    id,
                    result: Outcome::Failure,
                    outputs: IndexMap::new(),
                };
            }
        },
    };
    if combos.is_empty() {
        let key = format!("{}{id}", ctx.prefix);
        shared.emit(RunEvent::JobSkipped {
            job: key.clone(),
            name: base_name.clone(),
            reason: "its matrix is empty".into(),
        });
        record(
            &shared,
            &ctx.workflow,
            key,
            base_name,
            Outcome::Skipped,
            Duration::ZERO,
        );
        return SchedulerEvent::JobDone {
            id,
            result: Outcome::Skipped,
            outputs: IndexMap::new(),
        };
    }

    let contexts = ctx.contexts();
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    let strategy = job.job.strategy.as_ref();
    let fail_fast = strategy
        .and_then(|s| s.fail_fast.as_ref())
        .map(|v| crate::job::eval_bool(&v.value, &eval).unwrap_or(true))
        .unwrap_or(true);
    let max_parallel = strategy
        .and_then(|s| s.max_parallel.as_ref())
        .and_then(|v| crate::job::eval_number(&v.value, &eval).ok())
        .map(|n| n.max(1.0) as usize)
        .unwrap_or(combos.len());
    let matrix_limit = Arc::new(Semaphore::new(max_parallel.max(1)));
    let siblings = shared.cancel.child_token();
    let total = combos.len();
    let is_matrix = !matches!(job.matrix, MatrixPlan::None);
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut set = JoinSet::new();
    let ctx = Arc::new(ctx);
    for (index, combo) in combos.into_iter().enumerate() {
        let strategy_ctx = Arc::new(json!({
            "fail-fast": fail_fast,
            "job-index": index,
            "job-total": total,
            "max-parallel": max_parallel,
        }));
        let matrix_ctx = Arc::new(if is_matrix {
            matrix::to_context(&combo)
        } else {
            json!({})
        });
        // A `name:` with expressions is evaluated per instance and shown as
        // is; a plain name gets the matrix values appended, as on GitHub.
        let mut name = match templated_name(&ctx, &job, &matrix_ctx, &strategy_ctx) {
            Some(name) => name,
            None if is_matrix => matrix::display_name(&base_name, &combo),
            None => base_name.clone(),
        };
        let seen = names.entry(name.clone()).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            name = format!("{name} #{seen}");
        }
        let instance = JobInstance {
            key: format!("{}{name}", ctx.prefix),
            name,
            seq: shared.job_seq.fetch_add(1, Ordering::Relaxed),
            matrix: matrix_ctx,
            strategy: strategy_ctx,
            siblings: siblings.clone(),
        };
        let ctx = ctx.clone();
        let job = job.clone();
        let limit = matrix_limit.clone();
        set.spawn(async move {
            let _matrix_slot = limit.acquire_owned().await.ok();
            // Waiting for an environment (approvals, a window) holds no slot.
            let grant = match job::enter_environment(&ctx, &job, &instance).await {
                Ok(grant) => grant,
                Err(report) => return (instance, report, Duration::ZERO),
            };
            let _slot = ctx.shared.slots.clone().acquire_owned().await.ok();
            let started = Instant::now();
            let report: JobReport = job::run_instance(&ctx, &job, &instance, grant).await;
            (instance, report, started.elapsed())
        });
    }
    let mut result = Outcome::Success;
    let mut all_skipped = true;
    let mut outputs = IndexMap::new();
    while let Some(done) = set.join_next().await {
        let Ok((instance, report, duration)) = done else {
            result = Outcome::Failure;
            continue;
        };
        if report.result == Outcome::Failure && fail_fast && !report.continue_on_error {
            instance.siblings.cancel();
        }
        if report.result != Outcome::Skipped {
            all_skipped = false;
        }
        let effective = if report.continue_on_error && report.result == Outcome::Failure {
            Outcome::Success
        } else {
            report.result
        };
        result = worse(result, effective);
        // Outputs of matrix jobs: the last instance to finish wins, as on GitHub.
        for (k, v) in report.outputs {
            if !v.is_empty() || !outputs.contains_key(&k) {
                outputs.insert(k, v);
            }
        }
        record(
            &shared,
            &ctx.workflow,
            instance.key,
            instance.name,
            report.result,
            duration,
        );
    }
    if all_skipped {
        result = Outcome::Skipped;
    }
    SchedulerEvent::JobDone {
        id,
        result,
        outputs,
    }
}

/// A job `name:` with `${{ }}`, evaluated for one instance (None when the
/// name is plain, or does not evaluate to a non-empty text).
fn templated_name(
    ctx: &JobStartContext,
    job: &JobPlan,
    matrix: &Arc<Value>,
    strategy: &Arc<Value>,
) -> Option<String> {
    let template = match &job.job.name.as_ref()?.value {
        Value::String(s) if s.contains("${{") => s.clone(),
        _ => return None,
    };
    let contexts = Contexts {
        matrix: matrix.clone(),
        strategy: strategy.clone(),
        ..ctx.contexts()
    };
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    let name = gantry_expr::parse_template(&template)
        .ok()?
        .evaluate_to_string(&eval)
        .ok()?;
    let name = ctx.shared.masker.mask_str(name.trim());
    (!name.is_empty()).then_some(name)
}

/// A reusable-workflow call job with a matrix: one call per combination,
/// named like matrix jobs (`call (a, 1) / inner`), aggregated like them.
async fn run_call_matrix(
    ctx: JobStartContext,
    job: &JobPlan,
    called: &WorkflowPlan,
) -> SchedulerEvent {
    let shared = ctx.shared.clone();
    let id = job.id.clone();
    let base_name = display_name(&job.job, &job.id);
    let combos = match &job.matrix {
        MatrixPlan::Static(combos) => combos.clone(),
        MatrixPlan::Dynamic => match dynamic_matrix(&ctx, job) {
            Ok(combos) => combos,
            Err(message) => {
                fail_unstarted(
                    &shared,
                    &ctx.workflow,
                    format!("{}{id}", ctx.prefix),
                    base_name,
                    message,
                );
                return SchedulerEvent::JobDone {
                    id,
                    result: Outcome::Failure,
                    outputs: IndexMap::new(),
                };
            }
        },
        MatrixPlan::None => vec![Combination::new()],
    };
    if combos.is_empty() {
        let key = format!("{}{id}", ctx.prefix);
        shared.emit(RunEvent::JobSkipped {
            job: key.clone(),
            name: base_name.clone(),
            reason: "its matrix is empty".into(),
        });
        record(
            &shared,
            &ctx.workflow,
            key,
            base_name,
            Outcome::Skipped,
            Duration::ZERO,
        );
        return SchedulerEvent::JobDone {
            id,
            result: Outcome::Skipped,
            outputs: IndexMap::new(),
        };
    }
    let total = combos.len();
    let ctx = Arc::new(ctx);
    let mut set = JoinSet::new();
    for (index, combo) in combos.into_iter().enumerate() {
        let instance = crate::job::CallInstance {
            name: matrix::display_name(&base_name, &combo),
            matrix: Arc::new(matrix::to_context(&combo)),
            strategy: Arc::new(
                json!({"fail-fast": true, "job-index": index, "job-total": total, "max-parallel": total}),
            ),
        };
        let (ctx, job, called) = (ctx.clone(), job.clone(), called.clone());
        set.spawn(async move { crate::job::run_call(&ctx, &job, &called, Some(&instance)).await });
    }
    let mut result = Outcome::Success;
    let mut all_skipped = true;
    let mut outputs = IndexMap::new();
    while let Some(done) = set.join_next().await {
        let Ok((instance_result, instance_outputs)) = done else {
            result = Outcome::Failure;
            all_skipped = false;
            continue;
        };
        if instance_result != Outcome::Skipped {
            all_skipped = false;
        }
        result = worse(result, instance_result);
        // As for matrix jobs: the last instance to finish wins.
        for (k, v) in instance_outputs {
            if !v.is_empty() || !outputs.contains_key(&k) {
                outputs.insert(k, v);
            }
        }
    }
    if all_skipped {
        result = Outcome::Skipped;
    }
    SchedulerEvent::JobDone {
        id,
        result,
        outputs,
    }
}

fn dynamic_matrix(ctx: &JobStartContext, job: &JobPlan) -> Result<Vec<Combination>, String> {
    let Some(matrix) = job.job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return Ok(vec![Combination::new()]);
    };
    let contexts = ctx.contexts();
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    let value = gantry_plan::template::evaluate_value(&matrix.value, &eval).map_err(|e| {
        format!(
            "job `{}`: cannot evaluate the matrix: {}",
            job.id, e.message
        )
    })?;
    matrix::expand(&value).map_err(|e| format!("job `{}`: {e}", job.id))
}
