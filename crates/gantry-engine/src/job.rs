//! One job instance: its workspace, environment and steps, from set-up to
//! outputs; and reusable-workflow calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_executor::{
    ContainerSpec, Credentials, ExecLimits, Exit, JobContainers, JobRuntime, JobSpec, ProcessSpec,
};
use gantry_expr::Status;
use gantry_plan::{JobPlan, WorkflowPlan};
use gantry_syntax::ast::{SMap, SValue, Step};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::action::{self, ActionKind, ResolvedAction};
use crate::builtin::{self, BuiltinCtx, PostAction};
use crate::context::{Contexts, Eval};
use crate::environment::{GateRequest, Grant};
use crate::event::{Annotation, AnnotationLevel, Outcome, RunEvent};
use crate::mask::Masker;
use crate::output::StepSink;
use crate::run::{JobStartContext, Shared, record, run_workflow, worse};

/// GitHub's default job timeout.
const DEFAULT_JOB_TIMEOUT_MINUTES: f64 = 360.0;
/// How deep composite actions may nest.
const MAX_ACTION_DEPTH: usize = 10;

pub(crate) struct JobInstance {
    pub key: String,
    pub name: String,
    pub seq: usize,
    pub matrix: Arc<Value>,
    pub strategy: Arc<Value>,
    /// Cancelled when a sibling matrix instance fails under `fail-fast`.
    pub siblings: CancellationToken,
}

pub(crate) struct JobReport {
    pub result: Outcome,
    pub outputs: IndexMap<String, String>,
    pub continue_on_error: bool,
}

pub(crate) fn error_annotation(message: String) -> Annotation {
    Annotation {
        level: AnnotationLevel::Error,
        message,
        title: None,
        file: None,
        line: None,
        col: None,
    }
}

/// Evaluates a value that may be a bool or an expression string.
pub(crate) fn eval_bool(value: &Value, eval: &Eval<'_>) -> Result<bool, String> {
    let evaluated = gantry_plan::template::evaluate_value(value, eval).map_err(|e| e.message)?;
    Ok(gantry_expr::truthy(&evaluated))
}

pub(crate) fn eval_number(value: &Value, eval: &Eval<'_>) -> Result<f64, String> {
    let evaluated = gantry_plan::template::evaluate_value(value, eval).map_err(|e| e.message)?;
    let n = gantry_expr::to_number(&evaluated);
    if n.is_nan() {
        Err(format!(
            "`{}` is not a number",
            gantry_expr::to_string(&evaluated)
        ))
    } else {
        Ok(n)
    }
}

fn eval_string(value: &Value, eval: &Eval<'_>) -> Result<String, String> {
    let evaluated = gantry_plan::template::evaluate_value(value, eval).map_err(|e| e.message)?;
    Ok(gantry_expr::to_string(&evaluated))
}

fn eval_map(
    map: &SMap<SValue>,
    eval: &Eval<'_>,
    out: &mut IndexMap<String, String>,
) -> Result<(), String> {
    for (key, (_, value)) in map {
        let text = eval_string(&value.value, eval).map_err(|e| format!("`{key}`: {e}"))?;
        out.insert(key.clone(), text);
    }
    Ok(())
}

/// The `runs-on` labels this machine serves with the host executor.
pub fn host_label(label: &str) -> bool {
    let l = label.to_ascii_lowercase();
    l.starts_with("ubuntu")
        || matches!(
            l.as_str(),
            "linux" | "self-hosted" | "x64" | "arm64" | "gantry" | "local" | "host"
        )
}

/// What a step starts: a process in the job, or a container of its own.
enum Launch {
    Process(ProcessSpec),
    Container(gantry_executor::StepContainer),
}

/// Splits `with: args` into words as GitHub does (spaces, with double or
/// single quotes grouping).
fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                    has = false;
                }
            }
            (None, c) => current.push(c),
        }
    }
    if has || !current.is_empty() {
        args.push(current);
    }
    args
}

/// The `job` context: status, and the job's containers as GitHub shows them.
fn job_context(status: &str, containers: &JobContainers) -> Value {
    let container = match &containers.container {
        Some((id, network)) => json!({"id": id, "network": network}),
        None => json!({}),
    };
    let services: serde_json::Map<String, Value> = containers
        .services
        .iter()
        .map(|s| {
            let ports: serde_json::Map<String, Value> = s
                .ports
                .iter()
                .map(|(c, h)| (c.clone(), Value::String(h.clone())))
                .collect();
            (
                s.name.clone(),
                json!({"id": s.id, "network": s.network, "ports": ports}),
            )
        })
        .collect();
    json!({"status": status, "container": container, "services": services})
}

/// Evaluates a `container:` or a service.
fn container_spec(c: &gantry_syntax::ast::Container, eval: &Eval) -> Result<ContainerSpec, String> {
    let text = |v: &gantry_syntax::ast::SValue, what: &str| {
        gantry_plan::template::evaluate_value(&v.value, eval)
            .map(|value| gantry_expr::to_string(&value))
            .map_err(|e| format!("`{what}`: {}", e.message))
    };
    let image = text(&c.image, "image")?;
    if image.trim().is_empty() {
        return Err("has an empty `image`: name the image to run".into());
    }
    let mut env = Vec::new();
    for (k, (_, v)) in &c.env {
        env.push((k.clone(), text(v, &format!("env.{k}"))?));
    }
    let ports = c
        .ports
        .iter()
        .map(|p| text(p, "ports"))
        .collect::<Result<Vec<_>, _>>()?;
    let volumes = c
        .volumes
        .iter()
        .map(|v| text(v, "volumes"))
        .collect::<Result<Vec<_>, _>>()?;
    let options = match &c.options {
        Some(o) => text(o, "options")?,
        None => String::new(),
    };
    let credentials = match &c.credentials {
        Some(v) => {
            let value = gantry_plan::template::evaluate_value(&v.value, eval)
                .map_err(|e| format!("`credentials`: {}", e.message))?;
            let field = |k: &str| value.get(k).map(gantry_expr::to_string).unwrap_or_default();
            Some(Credentials {
                username: field("username"),
                password: field("password"),
            })
        }
        None => None,
    };
    Ok(ContainerSpec {
        image: image.trim().to_string(),
        env,
        ports,
        volumes,
        options,
        credentials,
    })
}

fn labels(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(gantry_expr::to_string).collect(),
        Value::Object(map) => map.get("labels").map(labels).unwrap_or_default(),
        other => vec![gantry_expr::to_string(other)],
    }
}

/// Runs one instance of a job.
pub(crate) async fn run_instance(
    ctx: &JobStartContext,
    job: &JobPlan,
    inst: &JobInstance,
    grant: Option<Grant>,
) -> JobReport {
    let shared = &ctx.shared;
    let started = Instant::now();
    let mut contexts = ctx_contexts(ctx, job, inst);
    let mut masker = shared.masker.clone();
    if let Some(grant) = grant {
        apply_grant(&mut contexts, &mut masker, grant);
    }
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    let ast = &job.job;

    // Where does it run?
    let mut label_image = None;
    if let Some(runs_on) = &ast.runs_on {
        match gantry_plan::template::evaluate_value(&runs_on.value, &eval) {
            Ok(value) => {
                let labels = labels(&value);
                for label in &labels {
                    match crate::run::runner_for(label, &shared.config.runners) {
                        Some(crate::run::Runner::Image(image)) => label_image = Some(image),
                        Some(crate::run::Runner::Host) => {}
                        None if crate::run::other_os_label(label) => {
                            let reason = format!(
                                "no runner for `runs-on: {label}` on this machine (Gantry runs Linux jobs; map the label in `.gantry/runners.yml` to run it here anyway)"
                            );
                            shared.emit(RunEvent::JobSkipped {
                                job: inst.key.clone(),
                                name: inst.name.clone(),
                                reason,
                            });
                            return JobReport {
                                result: Outcome::Skipped,
                                outputs: IndexMap::new(),
                                continue_on_error: false,
                            };
                        }
                        None => {
                            return fail_early(
                                ctx,
                                inst,
                                format!(
                                    "no runner for `runs-on: {label}`: map it in `.gantry/runners.yml` (`{label}: host` or `{label}: IMAGE`) or pass `--runner {label}=host`; Linux labels (`ubuntu-latest`, `linux`, `self-hosted`) run on the host"
                                ),
                            );
                        }
                    }
                }
            }
            Err(e) => return fail_early(ctx, inst, format!("`runs-on`: {}", e.message)),
        }
    }
    shared.emit(RunEvent::JobStarted {
        job: inst.key.clone(),
        name: inst.name.clone(),
    });
    // `container:` and `services:`, evaluated (secrets may give credentials).
    let container = match &ast.container {
        Some(c) => match container_spec(c, &eval) {
            Ok(spec) => Some(spec),
            Err(e) => return finish_early(ctx, inst, started, format!("`container` {e}")),
        },
        None => label_image.map(|image| ContainerSpec {
            image,
            ..Default::default()
        }),
    };
    let mut services = Vec::new();
    for (name, (_, service)) in &ast.services {
        match container_spec(service, &eval) {
            Ok(spec) => services.push((name.clone(), spec)),
            Err(e) => {
                return finish_early(ctx, inst, started, format!("`services.{name}` {e}"));
            }
        }
    }
    let continue_on_error = match &ast.continue_on_error {
        Some(v) => match eval_bool(&v.value, &eval) {
            Ok(b) => b,
            Err(e) => return finish_early(ctx, inst, started, format!("`continue-on-error`: {e}")),
        },
        None => false,
    };
    let timeout_minutes = match &ast.timeout_minutes {
        Some(v) => match eval_number(&v.value, &eval) {
            Ok(n) => n,
            Err(e) => return finish_early(ctx, inst, started, format!("`timeout-minutes`: {e}")),
        },
        None => DEFAULT_JOB_TIMEOUT_MINUTES,
    };

    // Environment: workflow env, then job env.
    let mut job_env = IndexMap::new();
    if let Err(e) = eval_map(&ctx.workflow.workflow.env, &eval, &mut job_env) {
        return finish_early(ctx, inst, started, format!("workflow `env` {e}"));
    }
    contexts.env = crate::context::object(job_env.iter());
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    if let Err(e) = eval_map(&ast.env, &eval, &mut job_env) {
        return finish_early(ctx, inst, started, format!("job `env` {e}"));
    }
    contexts.env = crate::context::object(job_env.iter());

    // Directories: the job's own, or an emptied one of an earlier job.
    let slot = shared.job_dir(inst.seq);
    let root = slot.root.clone();
    let repo_name = shared
        .config
        .git
        .repository
        .rsplit('/')
        .next()
        .unwrap_or("repo")
        .to_string();
    let dirs = JobDirs {
        temp: root.join("tmp"),
        files: shared.config.scratch_dir.join(slot.index.to_string()),
        workspace: root.join("work").join(&repo_name),
    };

    for dir in [&dirs.workspace, &dirs.temp, &dirs.files] {
        // A pooled directory may be left by an earlier job, or by an earlier
        // run when the caller keeps its pool from run to run: it is emptied
        // (the runner-files directory is not: its files are truncated or
        // overwritten below); a missing one is made.
        let existed = if dir == &dirs.files {
            Ok(slot.reused)
        } else if !shared.config.fresh_job_dirs {
            empty_dir(dir)
        } else {
            Ok(false)
        };
        let made = match existed {
            Ok(true) => Ok(()),
            Ok(false) => std::fs::create_dir_all(dir),
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            return finish_early(
                ctx,
                inst,
                started,
                format!("cannot prepare `{}`: {e}", dir.display()),
            );
        }
    }
    // Empty runner files, made or truncated once per job; each step's are
    // emptied after it (see `apply_files`).
    let files = StepFiles::in_dir(&dirs.files);
    for f in files.all() {
        if let Err(e) = std::fs::File::create(f) {
            return finish_early(
                ctx,
                inst,
                started,
                format!("cannot create the runner file `{}`: {e}", f.display()),
            );
        }
    }
    let event_path = dirs.files.join("event.json");
    let payload = serde_json::to_vec_pretty(&ctx.github["event"]).unwrap_or_default();
    if let Err(e) = std::fs::write(&event_path, payload) {
        return finish_early(
            ctx,
            inst,
            started,
            format!("cannot write `{}`: {e}", event_path.display()),
        );
    }
    // The github context for this job.
    let mut github = (*ctx.github).clone();
    if let Value::Object(map) = &mut github {
        map.insert("job".into(), Value::String(job.id.clone()));
        map.insert(
            "workspace".into(),
            Value::String(dirs.workspace.to_string_lossy().into_owned()),
        );
        map.insert("workflow".into(), Value::String(ctx.workflow.name.clone()));
        map.insert(
            "workflow_ref".into(),
            Value::String(workflow_ref(shared, &ctx.workflow)),
        );
        map.insert(
            "event_path".into(),
            Value::String(event_path.to_string_lossy().into_owned()),
        );
    }
    contexts.github = Arc::new(github);
    // `runner.temp` is this job's own temp directory, as `$RUNNER_TEMP` is.
    let mut runner = (*shared.runner).clone();
    if let Value::Object(map) = &mut runner {
        map.insert(
            "temp".into(),
            Value::String(dirs.temp.to_string_lossy().into_owned()),
        );
    }
    contexts.runner = Arc::new(runner);

    let mut mounts = vec![slot.root.clone(), dirs.files.clone()];
    mounts.extend(shared.config.actions_dirs.iter().cloned());
    mounts.extend(shared.repo_actions.iter().cloned());
    let spec = JobSpec {
        job_name: inst.key.clone(),
        run_id: shared.config.run_id.clone(),
        workspace: dirs.workspace.clone(),
        container,
        services,
        mounts,
    };
    let runtime = match shared.config.executor.start_job(&spec).await {
        Ok(runtime) => runtime,
        Err(e) => return finish_early(ctx, inst, started, format!("cannot start the job: {e}")),
    };

    // Cancellation: the job token is cancelled by Ctrl-C, a failing sibling
    // (fail-fast) or the job's timeout.
    let cancel = inst.siblings.child_token();
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let timer = {
        let cancel = cancel.clone();
        let timed_out = timed_out.clone();
        let limit = Duration::from_secs_f64((timeout_minutes * 60.0).max(0.0));
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.store(true, std::sync::atomic::Ordering::SeqCst);
            cancel.cancel();
        })
    };

    contexts.job = job_context("success", &runtime.containers());
    let mut run = JobRun {
        shared: shared.clone(),
        key: inst.key.clone(),
        job_id: job.id.clone(),
        contexts,
        job_env,
        file_env: IndexMap::new(),
        path_extra: Vec::new(),
        masker,
        cancel: cancel.clone(),
        runtime,
        dirs,
        posts: Vec::new(),
        step_no: 0,
        defaults_shell: ast
            .defaults
            .shell
            .as_ref()
            .or(ctx.workflow.workflow.defaults.shell.as_ref())
            .map(|s| s.value.clone()),
        defaults_dir: ast
            .defaults
            .working_directory
            .as_ref()
            .or(ctx.workflow.workflow.defaults.working_directory.as_ref())
            .map(|v| v.value.clone()),
        summary: String::new(),
        state: IndexMap::new(),
        registry_logins: IndexMap::new(),
        debug: crate::run::step_debug(&shared.config),
    };
    let mut scope = Scope::default();
    let steps: Vec<Step> = ast.steps.clone();
    for step in &steps {
        run.step(&mut scope, step, 0).await;
    }
    run.run_posts(&mut scope).await;
    timer.abort();

    let mut result = if scope.failed {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    if cancel.is_cancelled() {
        if timed_out.load(std::sync::atomic::Ordering::SeqCst) {
            run.annotate(error_annotation(format!(
                "the job ran longer than its timeout of {timeout_minutes} minutes and was cancelled"
            )));
            result = Outcome::Failure;
        } else if result == Outcome::Success {
            result = Outcome::Cancelled;
        }
    }
    run.contexts.job = job_context(result.as_str(), &run.runtime.containers());
    if result == Outcome::Failure {
        // A failed job shows what its services said.
        for (name, log) in run.runtime.service_logs().await {
            let mut lines = vec![format!("--- log of service `{name}` (last lines) ---")];
            lines.extend(log.lines().map(str::to_string));
            run.log_lines(&lines);
        }
    }
    run.contexts.steps = Value::Object(scope.steps.clone());
    run.contexts.env = crate::context::object(run.env_context(&Scope::default()).iter());

    // Outputs.
    let mut outputs = IndexMap::new();
    let eval = Eval {
        contexts: &run.contexts,
        status: Status::Success,
        workspace: Some(&run.dirs.workspace),
    };
    for (name, (_, value)) in &ast.outputs {
        match eval_string(&value.value, &eval) {
            Ok(text) => {
                if run.masker.mask_str(&text) != text {
                    run.notice(format!(
                        "output `{name}` is not passed on because it may contain a secret"
                    ));
                } else {
                    outputs.insert(name.clone(), text);
                }
            }
            Err(e) => run.annotate(error_annotation(format!("job output `{name}`: {e}"))),
        }
    }
    if !run.summary.is_empty() {
        let markdown = run.masker.mask_str(&run.summary);
        shared.emit(RunEvent::Summary {
            job: inst.key.clone(),
            markdown,
        });
    }
    let JobRun { runtime, .. } = run;
    if let Err(e) = runtime.finish().await {
        shared.emit(RunEvent::Warning {
            message: format!("job `{}`: cleaning up: {e}", inst.key),
        });
    }
    shared.emit(RunEvent::JobFinished {
        job: inst.key.clone(),
        name: inst.name.clone(),
        result,
        duration: started.elapsed(),
        outputs: outputs.clone(),
    });
    JobReport {
        result,
        outputs,
        continue_on_error,
    }
}

/// A job with `environment:` asks the run's gate to enter it, before it takes a slot: `Ok(None)`
/// when there is no environment (or no gate), the grant when it may go ahead, and the finished
/// job's report when it was refused (failed with the reason) or cancelled while it waited.
pub(crate) async fn enter_environment(
    ctx: &JobStartContext,
    job: &JobPlan,
    inst: &JobInstance,
) -> Result<Option<Grant>, JobReport> {
    let (Some(environment), Some(gate)) = (&job.job.environment, &ctx.shared.config.gate) else {
        return Ok(None);
    };
    let contexts = ctx_contexts(ctx, job, inst);
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    let name = match gantry_plan::template::evaluate_value(&environment.name.value, &eval) {
        Ok(value) => gantry_expr::to_string(&value).trim().to_string(),
        Err(e) => {
            return Err(fail_early(
                ctx,
                inst,
                format!("`environment`: {}", e.message),
            ));
        }
    };
    // An empty name (`environment: ${{ inputs.env }}` without the input) means none, as on
    // GitHub.
    if name.is_empty() {
        return Ok(None);
    }
    let request = GateRequest {
        job: inst.key.clone(),
        name: inst.name.clone(),
        workflow: ctx.workflow.file.clone(),
        environment: name.clone(),
    };
    tokio::select! {
        answer = gate.enter(&request) => match answer {
            Ok(grant) => Ok(Some(grant)),
            Err(reason) => Err(fail_early(
                ctx,
                inst,
                format!("cannot deploy to environment `{name}`: {reason}"),
            )),
        },
        _ = inst.siblings.cancelled() => {
            ctx.shared.emit(RunEvent::JobSkipped {
                job: inst.key.clone(),
                name: inst.name.clone(),
                reason: format!("cancelled while waiting for environment `{name}`"),
            });
            Err(JobReport {
                result: Outcome::Cancelled,
                outputs: IndexMap::new(),
                continue_on_error: false,
            })
        }
    }
}

/// The environment's variables and secrets, over the run's, for one job.
fn apply_grant(contexts: &mut Contexts, masker: &mut Masker, grant: Grant) {
    if !grant.vars.is_empty() {
        let mut vars = contexts.vars.as_object().cloned().unwrap_or_default();
        vars.extend(grant.vars);
        contexts.vars = Arc::new(Value::Object(vars));
    }
    if !grant.secrets.is_empty() {
        let mut secrets = contexts.secrets.as_object().cloned().unwrap_or_default();
        for (name, value) in grant.secrets {
            *masker = masker.with(&value);
            secrets.insert(name, Value::String(value));
        }
        contexts.secrets = Arc::new(Value::Object(secrets));
    }
}

fn workflow_ref(shared: &Shared, workflow: &WorkflowPlan) -> String {
    format!(
        "{}/{}@{}",
        shared.config.git.repository, workflow.file, shared.config.event.git_ref
    )
}

fn ctx_contexts(ctx: &JobStartContext, _job: &JobPlan, inst: &JobInstance) -> Contexts {
    Contexts {
        github: ctx.github.clone(),
        vars: ctx.shared.vars.clone(),
        secrets: ctx.secrets.clone(),
        runner: ctx.shared.runner.clone(),
        inputs: ctx.inputs.clone(),
        needs: ctx.needs.clone(),
        matrix: inst.matrix.clone(),
        strategy: inst.strategy.clone(),
        job: json!({"status": "success", "container": {}, "services": {}}),
        env: json!({}),
        steps: json!({}),
        jobs: json!({}),
    }
}

/// Fails a job before it started (no JobStarted was sent yet).
fn fail_early(ctx: &JobStartContext, inst: &JobInstance, message: String) -> JobReport {
    ctx.shared.emit(RunEvent::JobStarted {
        job: inst.key.clone(),
        name: inst.name.clone(),
    });
    finish_early(ctx, inst, Instant::now(), message)
}

fn finish_early(
    ctx: &JobStartContext,
    inst: &JobInstance,
    started: Instant,
    message: String,
) -> JobReport {
    let shared = &ctx.shared;
    let message = shared.masker.mask_str(&message);
    shared.emit(RunEvent::Annotation {
        job: inst.key.clone(),
        annotation: error_annotation(message),
    });
    shared.emit(RunEvent::JobFinished {
        job: inst.key.clone(),
        name: inst.name.clone(),
        result: Outcome::Failure,
        duration: started.elapsed(),
        outputs: IndexMap::new(),
    });
    JobReport {
        result: Outcome::Failure,
        outputs: IndexMap::new(),
        continue_on_error: false,
    }
}

struct JobDirs {
    workspace: PathBuf,
    temp: PathBuf,
    files: PathBuf,
}

/// A runner file's content ("" when missing or unreadable). Most are empty:
/// one `read` answers that, without the `stat` that `fs::read` makes first.
fn read_runner_file(path: &Path) -> String {
    use std::io::Read;
    // Most steps write none of their runner files: one `stat` tells.
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return String::new();
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let mut first = [0u8; 512];
    let mut content = match file.read(&mut first) {
        Ok(0) | Err(_) => return String::new(),
        Ok(n) => first[..n].to_vec(),
    };
    let _ = file.read_to_end(&mut content);
    String::from_utf8_lossy(&content).into_owned()
}

/// Removes everything inside `dir`; says whether `dir` exists.
fn empty_dir(dir: &Path) -> std::io::Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(true)
}

/// The steps context and status of one level of steps: the job's own, or a
/// composite action's.
#[derive(Default)]
struct Scope {
    steps: Map<String, Value>,
    failed: bool,
    /// A composite action's `inputs`, replacing the workflow's.
    inputs: Option<Arc<Value>>,
    /// `github.action_path` of a composite action.
    action_path: Option<PathBuf>,
    /// Env given to a composite action by its calling step.
    env: IndexMap<String, String>,
    /// A name prefix for composite steps' display.
    label: String,
}

enum PostStep {
    Builtin {
        name: String,
        action: PostAction,
        inputs: IndexMap<String, String>,
    },
    Node {
        name: String,
        dir: PathBuf,
        script: String,
        env: IndexMap<String, String>,
        condition: Option<String>,
    },
}

struct JobRun {
    shared: Arc<Shared>,
    key: String,
    job_id: String,
    contexts: Contexts,
    job_env: IndexMap<String, String>,
    /// Variables written to `$GITHUB_ENV` by earlier steps.
    file_env: IndexMap<String, String>,
    /// Directories written to `$GITHUB_PATH`, oldest first.
    path_extra: Vec<String>,
    masker: Masker,
    cancel: CancellationToken,
    runtime: Box<dyn JobRuntime>,
    dirs: JobDirs,
    posts: Vec<PostStep>,
    step_no: usize,
    defaults_shell: Option<String>,
    defaults_dir: Option<Value>,
    summary: String,
    debug: bool,
    /// State saved by the last process (`$GITHUB_STATE`, `::save-state`),
    /// for a JavaScript action's later scripts as `STATE_<name>`.
    state: IndexMap<String, String>,
    /// Registry credentials from `docker/login-action`, by registry host.
    registry_logins: IndexMap<String, gantry_executor::Credentials>,
}

/// How a step ended.
struct StepEnd {
    outcome: Outcome,
    outputs: IndexMap<String, String>,
}

impl StepEnd {
    fn failed(message: String, run: &JobRun) -> StepEnd {
        run.annotate(error_annotation(message));
        StepEnd {
            outcome: Outcome::Failure,
            outputs: IndexMap::new(),
        }
    }
}

impl JobRun {
    fn annotate(&self, annotation: Annotation) {
        let annotation = Annotation {
            message: self.masker.mask_str(&annotation.message),
            ..annotation
        };
        self.shared.emit(RunEvent::Annotation {
            job: self.key.clone(),
            annotation,
        });
    }

    fn notice(&self, message: String) {
        self.shared.emit(RunEvent::Notice {
            job: self.key.clone(),
            message: self.masker.mask_str(&message),
        });
    }

    fn status(&self, scope: &Scope) -> Status {
        if self.cancel.is_cancelled() {
            Status::Cancelled
        } else if scope.failed {
            Status::Failure
        } else {
            Status::Success
        }
    }

    /// The env context for a step: job env, then `$GITHUB_ENV`, then the
    /// composite caller's env.
    fn env_context(&self, scope: &Scope) -> IndexMap<String, String> {
        let mut env = self.job_env.clone();
        env.extend(self.file_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(scope.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    fn scoped_contexts(&self, scope: &Scope, env: &IndexMap<String, String>) -> Contexts {
        let mut contexts = self.contexts.clone();
        contexts.env = crate::context::object(env.iter());
        contexts.steps = Value::Object(scope.steps.clone());
        if let Some(inputs) = &scope.inputs {
            contexts.inputs = inputs.clone();
        }
        if let Some(path) = &scope.action_path
            && let Value::Object(map) = Arc::make_mut(&mut contexts.github)
        {
            map.insert(
                "action_path".into(),
                Value::String(path.to_string_lossy().into_owned()),
            );
        }
        contexts
    }

    /// Runs one step (of the job or of a composite action).
    fn step<'a>(
        &'a mut self,
        scope: &'a mut Scope,
        step: &'a Step,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let step_no = self.step_no;
            self.step_no += 1;
            let env = self.env_context(scope);
            let contexts = self.scoped_contexts(scope, &env);
            let status = self.status(scope);
            let eval = Eval {
                contexts: &contexts,
                status,
                workspace: Some(&self.dirs.workspace),
            };
            // A name may be an expression over secrets: it is shown masked.
            let name = self
                .masker
                .mask_str(&format!("{}{}", scope.label, step_name(step, &eval)));
            let id = step
                .id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_else(|| format!("__step{step_no}"));

            // Should it run?
            let run_it = match &step.if_ {
                None => Ok(status == Status::Success),
                Some(cond) => match &cond.value {
                    Value::Bool(b) => Ok(*b && status == Status::Success),
                    Value::String(s) if s.trim().is_empty() => Ok(status == Status::Success),
                    other => {
                        let text = match other {
                            Value::String(s) => s.clone(),
                            v => gantry_expr::to_string(v),
                        };
                        gantry_expr::parse_condition(&text)
                            .map_err(|e| e.message)
                            .and_then(|c| c.evaluate(&eval).map_err(|e| e.message))
                    }
                },
            };
            let started = Instant::now();
            let run_it = match run_it {
                Ok(run_it) => run_it,
                Err(message) => {
                    self.shared.emit(RunEvent::StepStarted {
                        job: self.key.clone(),
                        step: step_no,
                        name: name.clone(),
                    });
                    self.annotate(error_annotation(format!("step `if`: {message}")));
                    self.finish_step(
                        scope,
                        &id,
                        step_no,
                        &name,
                        Outcome::Failure,
                        Outcome::Failure,
                        IndexMap::new(),
                        started,
                    );
                    return;
                }
            };
            if !run_it {
                self.shared.emit(RunEvent::StepFinished {
                    job: self.key.clone(),
                    step: step_no,
                    name,
                    outcome: Outcome::Skipped,
                    conclusion: Outcome::Skipped,
                    duration: Duration::ZERO,
                });
                scope.steps.insert(
                    id,
                    json!({"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}),
                );
                return;
            }
            self.shared.emit(RunEvent::StepStarted {
                job: self.key.clone(),
                step: step_no,
                name: name.clone(),
            });
            // Steps that run because of always()/cancelled() after a
            // cancellation stop only at the second Ctrl-C.
            let cancel = if self.cancel.is_cancelled() {
                self.shared.hard_cancel.clone()
            } else {
                self.cancel.clone()
            };

            let continue_on_error = match &step.continue_on_error {
                Some(v) => match eval_bool(&v.value, &eval) {
                    Ok(b) => b,
                    Err(e) => {
                        self.annotate(error_annotation(format!("`continue-on-error`: {e}")));
                        false
                    }
                },
                None => false,
            };
            let timeout = match &step.timeout_minutes {
                Some(v) => match eval_number(&v.value, &eval) {
                    Ok(n) => Some(Duration::from_secs_f64((n * 60.0).max(0.0))),
                    Err(e) => {
                        self.annotate(error_annotation(format!("`timeout-minutes`: {e}")));
                        None
                    }
                },
                None => None,
            };
            let mut step_env = env.clone();
            let mut env_error = None;
            for (key, (_, value)) in &step.env {
                match eval_string(&value.value, &eval) {
                    Ok(text) => {
                        step_env.insert(key.clone(), text);
                    }
                    Err(e) => env_error = Some(format!("step `env.{key}`: {e}")),
                }
            }
            let attempts = step
                .retry
                .as_ref()
                .map(|r| r.attempts.value.max(1))
                .unwrap_or(1);
            let delay = step
                .retry
                .as_ref()
                .map(|r| r.delay_seconds.value.max(0.0))
                .unwrap_or(0.0);
            // The step's own `env` is part of the `env` context of its `run` and `with`.
            let contexts = Contexts {
                env: crate::context::object(step_env.iter()),
                ..contexts
            };

            let mut end = StepEnd {
                outcome: Outcome::Failure,
                outputs: IndexMap::new(),
            };
            if let Some(message) = env_error {
                end = StepEnd::failed(message, self);
            } else {
                for attempt in 1..=attempts {
                    end = self
                        .execute(
                            scope,
                            step,
                            step_no,
                            &contexts,
                            status,
                            &step_env,
                            timeout,
                            cancel.clone(),
                            depth,
                        )
                        .await;
                    if attempts > 1 && end.outcome == Outcome::Success && attempt > 1 {
                        self.notice(format!(
                            "succeeded on attempt {attempt} of {attempts} (`retry`)"
                        ));
                    }
                    if attempts > 1 && end.outcome == Outcome::Failure && attempt == attempts {
                        self.notice(format!("failed after {attempts} attempts (`retry`)"));
                    }
                    if end.outcome != Outcome::Failure
                        || attempt == attempts
                        || cancel.is_cancelled()
                    {
                        break;
                    }
                    self.notice(format!(
                        "attempt {attempt} of {attempts} failed; retrying in {delay}s (`retry`)"
                    ));
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs_f64(delay)) => {}
                        _ = cancel.cancelled() => break,
                    }
                }
            }
            let outcome = if end.outcome == Outcome::Failure
                && cancel.is_cancelled()
                && !self.shared.hard_cancel.is_cancelled()
                && self.cancel.is_cancelled()
            {
                Outcome::Cancelled
            } else {
                end.outcome
            };
            let conclusion = if outcome == Outcome::Failure && continue_on_error {
                Outcome::Success
            } else {
                outcome
            };
            self.finish_step(
                scope,
                &id,
                step_no,
                &name,
                outcome,
                conclusion,
                end.outputs,
                started,
            );
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_step(
        &mut self,
        scope: &mut Scope,
        id: &str,
        step_no: usize,
        name: &str,
        outcome: Outcome,
        conclusion: Outcome,
        outputs: IndexMap<String, String>,
        started: Instant,
    ) {
        if conclusion == Outcome::Failure {
            scope.failed = true;
        }
        scope.steps.insert(
            id.to_string(),
            json!({
                "outputs": crate::context::object(outputs.iter()),
                "outcome": outcome.as_str(),
                "conclusion": conclusion.as_str(),
            }),
        );
        self.shared.emit(RunEvent::StepFinished {
            job: self.key.clone(),
            step: step_no,
            name: name.to_string(),
            outcome,
            conclusion,
            duration: started.elapsed(),
        });
    }

    /// Runs a step's action or script once.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &mut self,
        scope: &mut Scope,
        step: &Step,
        step_no: usize,
        contexts: &Contexts,
        status: Status,
        step_env: &IndexMap<String, String>,
        timeout: Option<Duration>,
        cancel: CancellationToken,
        depth: usize,
    ) -> StepEnd {
        let eval = Eval {
            contexts,
            status,
            workspace: Some(&self.dirs.workspace),
        };
        if let Some(run) = &step.run {
            let script = match gantry_expr::parse_template(&run.value)
                .map_err(|e| e.message)
                .and_then(|t| t.evaluate_to_string(&eval).map_err(|e| e.message))
            {
                Ok(script) => script,
                Err(e) => return StepEnd::failed(format!("`run`: {e}"), self),
            };
            let shell = step
                .shell
                .as_ref()
                .map(|s| s.value.clone())
                .or_else(|| self.defaults_shell.clone());
            let dir = match step
                .working_directory
                .as_ref()
                .map(|v| &v.value)
                .or(self.defaults_dir.as_ref())
            {
                Some(v) => match eval_string(v, &eval) {
                    Ok(d) => Some(d),
                    Err(e) => return StepEnd::failed(format!("`working-directory`: {e}"), self),
                },
                None => None,
            };
            return self
                .run_script(
                    scope,
                    step_no,
                    &script,
                    shell.as_deref(),
                    dir.as_deref(),
                    step_env,
                    timeout,
                    cancel,
                )
                .await;
        }
        let Some(uses) = &step.uses else {
            return StepEnd::failed("the step has neither `run` nor `uses`".into(), self);
        };
        let uses = uses.value.clone();
        // `with:` inputs.
        let mut with = IndexMap::new();
        if let Err(e) = eval_map(&step.with, &eval, &mut with) {
            return StepEnd::failed(format!("`with` {e}"), self);
        }
        if builtin::is_builtin(&uses) {
            return self.run_builtin(&uses, &with, step_env, cancel).await;
        }
        if let Some(image) = uses.strip_prefix("docker://") {
            // `with: entrypoint` and `with: args` as GitHub reads them.
            let entrypoint = with.get("entrypoint").filter(|e| !e.is_empty()).cloned();
            let args = with.get("args").map(|a| split_args(a)).unwrap_or_default();
            let inputs: Vec<(String, String)> = with
                .iter()
                .filter(|(k, _)| k.as_str() != "entrypoint" && k.as_str() != "args")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            return self
                .run_step_container(
                    gantry_executor::ImageSource::Image(image.to_string()),
                    entrypoint,
                    args,
                    &inputs,
                    step_env,
                    timeout,
                    cancel,
                )
                .await;
        }
        if depth >= MAX_ACTION_DEPTH {
            return StepEnd::failed(
                format!("actions nest deeper than {MAX_ACTION_DEPTH} levels at `{uses}`"),
                self,
            );
        }
        let resolved = match action::resolve(
            &uses,
            &self.shared.config.repo_dir,
            &self.dirs.workspace,
            scope.action_path.as_deref(),
            &self.shared.config.actions_dirs,
        ) {
            Ok(resolved) => resolved,
            Err(e) => return StepEnd::failed(e, self),
        };
        self.run_action(
            scope, &uses, resolved, with, step_env, timeout, cancel, depth,
        )
        .await
    }

    /// The full process environment for a step.
    fn process_env(
        &self,
        step_env: &IndexMap<String, String>,
        files: &StepFiles,
        action_path: Option<&Path>,
    ) -> Vec<(String, String)> {
        let host = !self.runtime.in_container();
        self.process_env_with(step_env, files, action_path, host)
    }

    /// [`Self::process_env`], starting from the host's environment or not.
    fn process_env_with(
        &self,
        step_env: &IndexMap<String, String>,
        files: &StepFiles,
        action_path: Option<&Path>,
        host: bool,
    ) -> Vec<(String, String)> {
        let config = &self.shared.config;
        let github = &self.contexts.github;
        let g = |k: &str| {
            github
                .get(k)
                .map(gantry_expr::to_string)
                .unwrap_or_default()
        };
        // A container has its own environment (PATH, HOME): the host's
        // would only mislead its programs.
        let mut env: IndexMap<String, String> = if host {
            config.host_env.iter().cloned().collect()
        } else {
            IndexMap::new()
        };
        let fixed: [(&str, String); 36] = [
            ("CI", "true".into()),
            ("GITHUB_ACTIONS", "true".into()),
            ("GANTRY", "true".into()),
            (
                "GITHUB_WORKSPACE",
                self.dirs.workspace.to_string_lossy().into_owned(),
            ),
            ("GITHUB_SHA", g("sha")),
            ("GITHUB_REF", g("ref")),
            ("GITHUB_REF_NAME", g("ref_name")),
            ("GITHUB_REF_TYPE", g("ref_type")),
            ("GITHUB_REF_PROTECTED", "false".into()),
            ("GITHUB_REPOSITORY", g("repository")),
            ("GITHUB_REPOSITORY_OWNER", g("repository_owner")),
            ("GITHUB_EVENT_NAME", g("event_name")),
            ("GITHUB_EVENT_PATH", g("event_path")),
            ("GITHUB_RUN_ID", g("run_id")),
            ("GITHUB_RUN_NUMBER", g("run_number")),
            ("GITHUB_RUN_ATTEMPT", "1".into()),
            ("GITHUB_ACTOR", g("actor")),
            ("GITHUB_TRIGGERING_ACTOR", g("actor")),
            ("GITHUB_JOB", self.job_id.clone()),
            ("GITHUB_WORKFLOW", g("workflow")),
            ("GITHUB_WORKFLOW_REF", g("workflow_ref")),
            ("GITHUB_SERVER_URL", g("server_url")),
            ("GITHUB_API_URL", g("api_url")),
            ("GITHUB_GRAPHQL_URL", g("graphql_url")),
            ("GITHUB_HEAD_REF", g("head_ref")),
            ("GITHUB_BASE_REF", g("base_ref")),
            ("GITHUB_RETENTION_DAYS", "90".into()),
            ("GITHUB_OUTPUT", files.output.to_string_lossy().into_owned()),
            ("GITHUB_ENV", files.env.to_string_lossy().into_owned()),
            ("GITHUB_PATH", files.path.to_string_lossy().into_owned()),
            (
                "GITHUB_STEP_SUMMARY",
                files.summary.to_string_lossy().into_owned(),
            ),
            ("GITHUB_STATE", files.state.to_string_lossy().into_owned()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_TEMP", self.dirs.temp.to_string_lossy().into_owned()),
            ("RUNNER_NAME", "gantry".into()),
            ("RUNNER_ENVIRONMENT", "self-hosted".into()),
        ];
        for (k, v) in fixed {
            env.insert(k.to_string(), v);
        }
        let runner = &self.contexts.runner;
        env.insert(
            "RUNNER_ARCH".into(),
            runner
                .get("arch")
                .map(gantry_expr::to_string)
                .unwrap_or_default(),
        );
        env.insert(
            "RUNNER_TOOL_CACHE".into(),
            runner
                .get("tool_cache")
                .map(gantry_expr::to_string)
                .unwrap_or_default(),
        );
        env.insert(
            "RUNNER_WORKSPACE".into(),
            self.dirs
                .workspace
                .parent()
                .unwrap_or(&self.dirs.workspace)
                .to_string_lossy()
                .into_owned(),
        );
        if let Some(path) = action_path {
            env.insert(
                "GITHUB_ACTION_PATH".into(),
                path.to_string_lossy().into_owned(),
            );
        }
        if self.debug {
            env.insert("RUNNER_DEBUG".into(), "1".into());
        }
        for (k, v) in step_env {
            env.insert(k.clone(), v.clone());
        }
        if !self.path_extra.is_empty() {
            let base = env.get("PATH").cloned().unwrap_or_default();
            let mut parts: Vec<&str> = self.path_extra.iter().rev().map(String::as_str).collect();
            if !base.is_empty() {
                parts.push(&base);
            }
            let joined = parts.join(":");
            env.insert("PATH".into(), joined);
        }
        env.into_iter().collect()
    }

    /// The runner files a step writes to. They are made once per job (see
    /// `run_instance`) and emptied after each step that wrote to them:
    /// creating five files per step costs more than the rest of the engine's
    /// work for that step. A step that deletes one does no harm: writing
    /// recreates it, and a missing file reads as empty.
    fn step_files(&self) -> StepFiles {
        StepFiles::in_dir(&self.dirs.files)
    }

    /// Whether the job's runtime can start `program` with this environment
    /// (on the host: on its `PATH`). Programs found on the host are
    /// remembered for the run (keyed by PATH); a missing one is looked for
    /// again each time, as an earlier step may install it. Containers keep
    /// their own answers.
    async fn has_program(&self, program: &str, env: &[(String, String)]) -> bool {
        let remember = !self.runtime.in_container();
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let key = (program.to_owned(), path.to_owned());
        if remember
            && self
                .shared
                .found_programs
                .lock()
                .is_ok_and(|c| c.contains(&key))
        {
            return true;
        }
        let found = self.runtime.has_program(program, env).await;
        if found
            && remember
            && let Ok(mut cache) = self.shared.found_programs.lock()
        {
            cache.insert(key);
        }
        found
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_script(
        &mut self,
        scope: &mut Scope,
        step_no: usize,
        script: &str,
        shell: Option<&str>,
        dir: Option<&str>,
        step_env: &IndexMap<String, String>,
        timeout: Option<Duration>,
        cancel: CancellationToken,
    ) -> StepEnd {
        let files = self.step_files();
        // Scripts live beside the runner files, which outlive a job when its
        // directory is reused: rewriting a file is cheaper than making one.
        let script_path = self
            .dirs
            .files
            .join(format!("step{step_no}{}", crate::shell::extension(shell)));
        if let Err(e) = std::fs::write(&script_path, script) {
            return StepEnd::failed(
                format!("cannot write the script `{}`: {e}", script_path.display()),
                self,
            );
        }
        let env = self.process_env(step_env, &files, scope.action_path.as_deref());
        // Which shell programs there are (bash or sh, python or python3).
        let candidates: &[&str] = match shell.map(str::trim) {
            None | Some("") => &["bash"],
            Some("python") => &["python"],
            Some("pwsh") => &["pwsh"],
            _ => &[],
        };
        let mut found = std::collections::HashSet::new();
        for program in candidates {
            if self.has_program(program, &env).await {
                found.insert(*program);
            }
        }
        let have = |p: &str| found.contains(p);
        let command = match crate::shell::command(shell, &script_path, &have) {
            Ok(c) => c,
            Err(e) => return StepEnd::failed(e, self),
        };
        let cwd = match dir {
            Some(d) if !d.is_empty() => self.dirs.workspace.join(d),
            _ => self.dirs.workspace.clone(),
        };
        // A missing directory is reported by the executor, which knows
        // where the process runs (the host or a container).
        let spec = ProcessSpec {
            program: command.program,
            args: command.args,
            env,
            cwd,
        };
        self.exec(spec, &files, timeout, cancel).await
    }

    /// Runs a process and applies its runner files.
    async fn exec(
        &mut self,
        spec: ProcessSpec,
        files: &StepFiles,
        timeout: Option<Duration>,
        cancel: CancellationToken,
    ) -> StepEnd {
        self.launch(Launch::Process(spec), files, timeout, cancel)
            .await
    }

    /// Runs a process or a step container and applies its runner files.
    async fn launch(
        &mut self,
        launch: Launch,
        files: &StepFiles,
        timeout: Option<Duration>,
        cancel: CancellationToken,
    ) -> StepEnd {
        let spec_env = match &launch {
            Launch::Process(spec) => &spec.env,
            Launch::Container(spec) => &spec.env,
        };
        let env_true = |name: &str| {
            spec_env
                .iter()
                .any(|(k, v)| k == name && v.trim().eq_ignore_ascii_case("true"))
        };
        let mut sink = StepSink::new(
            self.key.clone(),
            self.shared.events.clone(),
            self.masker.clone(),
            self.debug,
        )
        .allow_unsecure_commands(env_true(crate::commands::ALLOW_UNSECURE_COMMANDS))
        .allow_unsecure_stop_commands(env_true(crate::commands::ALLOW_UNSECURE_STOP_COMMANDS));
        let limits = ExecLimits { timeout, cancel };
        let (program, exit) = match launch {
            Launch::Process(spec) => {
                let program = spec.program.clone();
                (program, self.runtime.exec(spec, &mut sink, limits).await)
            }
            Launch::Container(spec) => {
                let program = match &spec.image {
                    gantry_executor::ImageSource::Image(image) => image.clone(),
                    gantry_executor::ImageSource::Dockerfile { dockerfile, .. } => {
                        dockerfile.display().to_string()
                    }
                };
                (
                    program,
                    self.runtime.run_container(spec, &mut sink, limits).await,
                )
            }
        };
        sink.finish();
        self.masker = sink.masker().clone();
        let effects = std::mem::take(&mut sink.effects);
        let mut outcome = match exit {
            Ok(Exit::Code(0)) => Outcome::Success,
            Ok(Exit::Code(code)) => {
                self.annotate(error_annotation(format!(
                    "Process completed with exit code {code}."
                )));
                Outcome::Failure
            }
            Ok(Exit::Signal(signal)) => {
                self.annotate(error_annotation(format!(
                    "`{program}` was killed by signal {signal}"
                )));
                Outcome::Failure
            }
            Ok(Exit::TimedOut) => {
                self.annotate(error_annotation(
                    "the step ran longer than its `timeout-minutes` and was stopped".into(),
                ));
                Outcome::Failure
            }
            Ok(Exit::Cancelled) => Outcome::Cancelled,
            Err(e) => {
                self.annotate(error_annotation(e.to_string()));
                Outcome::Failure
            }
        };
        let mut outputs = effects.outputs;
        self.state = effects.state;
        // `set-env` / `add-path`, allowed by ACTIONS_ALLOW_UNSECURE_COMMANDS.
        self.file_env.extend(effects.env);
        self.path_extra.extend(effects.path);
        match self.apply_files(files) {
            Ok(file_outputs) => outputs.extend(file_outputs),
            Err(e) => {
                self.annotate(error_annotation(e));
                outcome = Outcome::Failure;
            }
        }
        // A refused or invalid workflow command (already reported) fails the step, as on GitHub.
        if effects.failed {
            outcome = Outcome::Failure;
        }
        if outcome == Outcome::Cancelled {
            outcome = Outcome::Failure;
        }
        StepEnd { outcome, outputs }
    }

    /// Reads `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_PATH` and the summary.
    fn apply_files(&mut self, files: &StepFiles) -> Result<IndexMap<String, String>, String> {
        // Read each file and empty it for the next step.
        let read = |p: &Path| {
            let content = read_runner_file(p);
            if !content.is_empty() {
                let _ = std::fs::write(p, b"");
            }
            content
        };
        let mut outputs = IndexMap::new();
        let content = read(&files.output);
        if !content.is_empty() {
            let pairs = crate::commands::parse_env_file(&content)
                .map_err(|e| format!("$GITHUB_OUTPUT: {e}"))?;
            outputs.extend(pairs);
        }
        let content = read(&files.env);
        if !content.is_empty() {
            let pairs = crate::commands::parse_env_file(&content)
                .map_err(|e| format!("$GITHUB_ENV: {e}"))?;
            for (k, v) in pairs {
                if matches!(k.as_str(), "NODE_OPTIONS")
                    || k.starts_with("GITHUB_") && k != "GITHUB_TOKEN"
                {
                    self.notice(format!(
                        "$GITHUB_ENV: `{k}` cannot be overridden and was ignored"
                    ));
                    continue;
                }
                self.file_env.insert(k, v);
            }
        }
        let content = read(&files.state);
        if !content.is_empty() {
            let pairs = crate::commands::parse_env_file(&content)
                .map_err(|e| format!("$GITHUB_STATE: {e}"))?;
            self.state.extend(pairs);
        }
        let content = read(&files.path);
        if !content.is_empty() {
            self.path_extra
                .extend(crate::commands::parse_path_file(&content));
        }
        let content = read(&files.summary);
        if !content.trim().is_empty() {
            self.summary.push_str(&content);
            if !content.ends_with('\n') {
                self.summary.push('\n');
            }
        }
        Ok(outputs)
    }

    /// What a built-in action may use, for this job.
    fn builtin_ctx<'a>(
        &'a mut self,
        inputs: &'a IndexMap<String, String>,
        env: &'a IndexMap<String, String>,
        log: &'a mut (dyn FnMut(String) + Send),
        cancel: CancellationToken,
    ) -> BuiltinCtx<'a> {
        let config = &self.shared.config;
        BuiltinCtx {
            github: &self.contexts.github,
            images: config.executor.images(),
            logins: &mut self.registry_logins,
            inputs,
            workspace: &self.dirs.workspace,
            repo_dir: &config.repo_dir,
            sha: &config.git.sha,
            git_ref: &config.event.git_ref,
            run_dir: &config.run_dir,
            cache_dir: &config.cache_dir,
            env,
            log,
            cancel,
        }
    }

    fn builtin_ctx_env(&self, step_env: &IndexMap<String, String>) -> IndexMap<String, String> {
        let files = StepFiles::none();
        self.process_env(step_env, &files, None)
            .into_iter()
            .collect()
    }

    async fn run_builtin(
        &mut self,
        uses: &str,
        with: &IndexMap<String, String>,
        step_env: &IndexMap<String, String>,
        cancel: CancellationToken,
    ) -> StepEnd {
        let env = self.builtin_ctx_env(step_env);
        let mut lines: Vec<String> = Vec::new();
        let outcome = {
            let mut log = |line: String| lines.push(line);
            let mut ctx = self.builtin_ctx(with, &env, &mut log, cancel);
            builtin::run(uses, &mut ctx).await
        };
        if let Some(Ok(done)) = &outcome {
            for value in &done.masks {
                self.masker = self.masker.with(value);
            }
        }
        self.log_lines(&lines);
        match outcome {
            Some(Ok(done)) => {
                for dir in done.add_path {
                    self.path_extra.push(dir.to_string_lossy().into_owned());
                }
                self.file_env.extend(done.set_env);
                if let Some(post) = done.post {
                    self.posts.push(PostStep::Builtin {
                        name: format!("Post {uses}"),
                        action: post,
                        inputs: with.clone(),
                    });
                }
                StepEnd {
                    outcome: Outcome::Success,
                    outputs: done.outputs,
                }
            }
            Some(Err(message)) => StepEnd::failed(format!("{uses}: {message}"), self),
            None => StepEnd::failed(format!("`{uses}` is not a built-in action"), self),
        }
    }

    /// Runs a step in a one-off container (`docker://`, Docker actions):
    /// inputs as `INPUT_*`, the runner variables, the step's env; never the
    /// host's environment.
    #[allow(clippy::too_many_arguments)]
    async fn run_step_container(
        &mut self,
        image: gantry_executor::ImageSource,
        entrypoint: Option<String>,
        args: Vec<String>,
        inputs: &[(String, String)],
        step_env: &IndexMap<String, String>,
        timeout: Option<Duration>,
        cancel: CancellationToken,
    ) -> StepEnd {
        let files = self.step_files();
        let mut env = self.process_env_with(step_env, &files, None, false);
        for (name, value) in inputs {
            env.push((
                format!("INPUT_{}", name.replace(' ', "_").to_ascii_uppercase()),
                value.clone(),
            ));
        }
        let spec = gantry_executor::StepContainer {
            image,
            entrypoint,
            args,
            env,
            workdir: self.dirs.workspace.clone(),
        };
        self.launch(Launch::Container(spec), &files, timeout, cancel)
            .await
    }

    fn log_lines(&self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        let text = self.masker.mask_str(&text).into_bytes();
        self.shared.emit(RunEvent::Output {
            job: self.key.clone(),
            text,
        });
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_action(
        &mut self,
        scope: &mut Scope,
        uses: &str,
        resolved: ResolvedAction,
        with: IndexMap<String, String>,
        step_env: &IndexMap<String, String>,
        timeout: Option<Duration>,
        cancel: CancellationToken,
        depth: usize,
    ) -> StepEnd {
        let action = &resolved.action;
        // Inputs: given values, then defaults (which may be expressions).
        let mut inputs = Map::new();
        for (name, (_, def)) in &action.inputs {
            let given = with
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone());
            let value = match given {
                Some(v) => v,
                None => match &def.default {
                    Some(default) => {
                        let env = self.env_context(scope);
                        let contexts = self.scoped_contexts(scope, &env);
                        let eval = Eval {
                            contexts: &contexts,
                            status: Status::Success,
                            workspace: Some(&self.dirs.workspace),
                        };
                        match eval_string(&default.value, &eval) {
                            Ok(v) => v,
                            Err(e) => {
                                return StepEnd::failed(
                                    format!("{uses}: input `{name}` default: {e}"),
                                    self,
                                );
                            }
                        }
                    }
                    None if def.required => {
                        return StepEnd::failed(
                            format!("{uses}: input `{name}` is required: add it under `with:`"),
                            self,
                        );
                    }
                    None => String::new(),
                },
            };
            inputs.insert(name.clone(), Value::String(value));
        }
        for (name, value) in &with {
            if !action.inputs.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                let declared = if action.inputs.is_empty() {
                    "the action declares no inputs".to_string()
                } else {
                    format!(
                        "the action declares: {}",
                        action.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                self.notice(format!("{uses}: unexpected input `{name}` ({declared})"));
                inputs.insert(name.clone(), Value::String(value.clone()));
            }
        }
        match &resolved.kind {
            ActionKind::Composite(steps) => {
                let mut inner = Scope {
                    steps: Map::new(),
                    failed: false,
                    inputs: Some(Arc::new(Value::Object(inputs))),
                    action_path: Some(resolved.dir.clone()),
                    env: step_env.clone(),
                    label: format!(
                        "{}{} › ",
                        scope.label,
                        action.name.clone().unwrap_or_else(|| uses.to_string())
                    ),
                };
                let steps = steps.clone();
                for step in &steps {
                    self.step(&mut inner, step, depth + 1).await;
                }
                // Outputs map to the composite's steps.
                let mut outputs = IndexMap::new();
                let env = self.env_context(&inner);
                let contexts = self.scoped_contexts(&inner, &env);
                let eval = Eval {
                    contexts: &contexts,
                    status: Status::Success,
                    workspace: Some(&self.dirs.workspace),
                };
                for (name, (_, output)) in &action.outputs {
                    if let Some(value) = &output.value {
                        match eval_string(&value.value, &eval) {
                            Ok(v) => {
                                outputs.insert(name.clone(), v);
                            }
                            Err(e) => self.annotate(error_annotation(format!(
                                "{uses}: output `{name}`: {e}"
                            ))),
                        }
                    }
                }
                let outcome = if inner.failed {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                StepEnd { outcome, outputs }
            }
            ActionKind::Node {
                main,
                pre,
                pre_if,
                post,
                post_if,
            } => {
                let mut env = step_env.clone();
                for (name, value) in &inputs {
                    env.insert(input_env_name(name), gantry_expr::to_string(value));
                }
                // State saved by `pre` reaches `main`, and both reach `post`.
                let mut state = IndexMap::new();
                let with_state =
                    |env: &IndexMap<String, String>, state: &IndexMap<String, String>| {
                        let mut env = env.clone();
                        env.extend(state.iter().map(|(k, v)| (format!("STATE_{k}"), v.clone())));
                        env
                    };
                // `pre-if` (default `always()`) sees the job's status.
                let run_pre = match pre_if {
                    None => true,
                    Some(condition) => {
                        let envc = self.env_context(scope);
                        let contexts = self.scoped_contexts(scope, &envc);
                        let eval = Eval {
                            contexts: &contexts,
                            status: self.status(scope),
                            workspace: Some(&self.dirs.workspace),
                        };
                        let result = gantry_expr::parse_condition(condition)
                            .map_err(|e| e.message)
                            .and_then(|c| c.evaluate(&eval).map_err(|e| e.message));
                        match result {
                            Ok(b) => b,
                            Err(e) => {
                                return StepEnd::failed(format!("{uses}: `pre-if`: {e}"), self);
                            }
                        }
                    }
                };
                if let Some(pre) = pre.as_ref().filter(|_| run_pre) {
                    let end = self
                        .run_node(&resolved.dir, pre, &env, timeout, cancel.clone())
                        .await;
                    state.extend(std::mem::take(&mut self.state));
                    if end.outcome != Outcome::Success {
                        return end;
                    }
                }
                let end = self
                    .run_node(
                        &resolved.dir,
                        main,
                        &with_state(&env, &state),
                        timeout,
                        cancel,
                    )
                    .await;
                state.extend(std::mem::take(&mut self.state));
                let env = with_state(&env, &state);
                if let Some(post) = post {
                    self.posts.push(PostStep::Node {
                        name: format!("Post {uses}"),
                        dir: resolved.dir.clone(),
                        script: post.clone(),
                        env,
                        condition: post_if.clone(),
                    });
                }
                end
            }
            ActionKind::Docker => {
                let gantry_syntax::ast::ActionRuns::Docker {
                    image,
                    args,
                    entrypoint,
                    env: action_env,
                } = &action.runs
                else {
                    return StepEnd::failed(format!("{uses}: not a Docker action"), self);
                };
                // `args` and `env` may use the `inputs` context.
                let mut contexts = self.scoped_contexts(scope, &self.env_context(scope));
                contexts.inputs = Arc::new(Value::Object(inputs.clone()));
                let eval = Eval {
                    contexts: &contexts,
                    status: Status::Success,
                    workspace: Some(&self.dirs.workspace),
                };
                let mut evaluated_args = Vec::new();
                for arg in args {
                    match eval_string(&arg.value, &eval) {
                        Ok(a) => evaluated_args.push(a),
                        Err(e) => return StepEnd::failed(format!("{uses}: `args`: {e}"), self),
                    }
                }
                let mut env = step_env.clone();
                if let Err(e) = eval_map(action_env, &eval, &mut env) {
                    return StepEnd::failed(format!("{uses}: `env` {e}"), self);
                }
                let source = match image.value.strip_prefix("docker://") {
                    Some(name) => gantry_executor::ImageSource::Image(name.to_string()),
                    None => gantry_executor::ImageSource::Dockerfile {
                        context: resolved.dir.clone(),
                        dockerfile: resolved.dir.join(&image.value),
                    },
                };
                let input_values: Vec<(String, String)> = inputs
                    .iter()
                    .map(|(k, v)| (k.clone(), gantry_expr::to_string(v)))
                    .collect();
                self.run_step_container(
                    source,
                    entrypoint.as_ref().map(|e| e.value.clone()),
                    evaluated_args,
                    &input_values,
                    &env,
                    timeout,
                    cancel,
                )
                .await
            }
        }
    }

    async fn run_node(
        &mut self,
        dir: &Path,
        script: &str,
        step_env: &IndexMap<String, String>,
        timeout: Option<Duration>,
        cancel: CancellationToken,
    ) -> StepEnd {
        let files = self.step_files();
        let env = self.process_env(step_env, &files, Some(dir));
        if !self.has_program("node", &env).await {
            return StepEnd::failed(
                "this is a JavaScript action and `node` is not installed: install Node.js".into(),
                self,
            );
        }
        let spec = ProcessSpec {
            program: "node".into(),
            args: vec![dir.join(script).to_string_lossy().into_owned()],
            env,
            cwd: self.dirs.workspace.clone(),
        };
        self.exec(spec, &files, timeout, cancel).await
    }

    /// Post steps run in reverse order at the end of the job.
    async fn run_posts(&mut self, scope: &mut Scope) {
        let posts = std::mem::take(&mut self.posts);
        for post in posts.into_iter().rev() {
            let step_no = self.step_no;
            self.step_no += 1;
            let started = Instant::now();
            match post {
                PostStep::Builtin {
                    name,
                    action,
                    inputs,
                } => {
                    // Like actions/cache's post: only when the job succeeded.
                    if scope.failed || self.cancel.is_cancelled() {
                        continue;
                    }
                    self.shared.emit(RunEvent::StepStarted {
                        job: self.key.clone(),
                        step: step_no,
                        name: name.clone(),
                    });
                    let env = self.builtin_ctx_env(&IndexMap::new());
                    let mut lines = Vec::new();
                    let result = {
                        let mut log = |line: String| lines.push(line);
                        let mut ctx = self.builtin_ctx(
                            &inputs,
                            &env,
                            &mut log,
                            self.shared.hard_cancel.clone(),
                        );
                        builtin::run_post(&action, &mut ctx).await
                    };
                    self.log_lines(&lines);
                    let outcome = match result {
                        Ok(()) => Outcome::Success,
                        Err(e) => {
                            self.annotate(error_annotation(format!("{name}: {e}")));
                            Outcome::Failure
                        }
                    };
                    // A failed post step warns but does not fail the job (like a cache save).
                    self.shared.emit(RunEvent::StepFinished {
                        job: self.key.clone(),
                        step: step_no,
                        name,
                        outcome,
                        conclusion: Outcome::Success,
                        duration: started.elapsed(),
                    });
                }
                PostStep::Node {
                    name,
                    dir,
                    script,
                    env,
                    condition,
                } => {
                    let status = self.status(scope);
                    let run_it = match condition {
                        None => true,
                        Some(c) => {
                            let envc = self.env_context(scope);
                            let contexts = self.scoped_contexts(scope, &envc);
                            let eval = Eval {
                                contexts: &contexts,
                                status,
                                workspace: Some(&self.dirs.workspace),
                            };
                            gantry_expr::parse_condition(&c)
                                .ok()
                                .and_then(|c| c.evaluate(&eval).ok())
                                .unwrap_or(false)
                        }
                    };
                    if !run_it {
                        continue;
                    }
                    self.shared.emit(RunEvent::StepStarted {
                        job: self.key.clone(),
                        step: step_no,
                        name: name.clone(),
                    });
                    let cancel = self.shared.hard_cancel.clone();
                    let end = self.run_node(&dir, &script, &env, None, cancel).await;
                    if end.outcome == Outcome::Failure {
                        scope.failed = true;
                    }
                    self.shared.emit(RunEvent::StepFinished {
                        job: self.key.clone(),
                        step: step_no,
                        name,
                        outcome: end.outcome,
                        conclusion: end.outcome,
                        duration: started.elapsed(),
                    });
                }
            }
        }
    }
}

/// `INPUT_<NAME>`: upper case, spaces to underscores (GitHub's rule).
fn input_env_name(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

fn step_name(step: &Step, eval: &Eval<'_>) -> String {
    if let Some(name) = &step.name
        && let Ok(text) = eval_string(&name.value, eval)
    {
        return text;
    }
    if let Some(run) = &step.run {
        let first = run
            .value
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return format!("Run {first}");
    }
    match &step.uses {
        Some(uses) => format!("Run {}", uses.value),
        None => "step".to_string(),
    }
}

struct StepFiles {
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
    state: PathBuf,
}

impl StepFiles {
    fn in_dir(dir: &Path) -> StepFiles {
        StepFiles {
            output: dir.join("output"),
            env: dir.join("env"),
            path: dir.join("path"),
            summary: dir.join("summary.md"),
            state: dir.join("state"),
        }
    }

    fn all(&self) -> [&PathBuf; 5] {
        [
            &self.output,
            &self.env,
            &self.path,
            &self.summary,
            &self.state,
        ]
    }

    fn none() -> StepFiles {
        StepFiles {
            output: PathBuf::new(),
            env: PathBuf::new(),
            path: PathBuf::new(),
            summary: PathBuf::new(),
            state: PathBuf::new(),
        }
    }
}

/// One matrix instance of a reusable-workflow call job.
pub(crate) struct CallInstance {
    /// `call (a, 1)`: the job key prefix of the called jobs.
    pub name: String,
    pub matrix: Arc<Value>,
    pub strategy: Arc<Value>,
}

/// Runs a reusable-workflow call job: types its inputs, passes its secrets,
/// runs the called workflow's jobs and maps its outputs.
pub(crate) async fn run_call(
    ctx: &JobStartContext,
    job: &JobPlan,
    called: &WorkflowPlan,
    instance: Option<&CallInstance>,
) -> (Outcome, IndexMap<String, String>) {
    let shared = &ctx.shared;
    let (key, name) = match instance {
        Some(i) => (format!("{}{}", ctx.prefix, i.name), i.name.clone()),
        None => (
            format!("{}{}", ctx.prefix, job.id),
            crate::run::display_name(&job.job, &job.id),
        ),
    };
    let started = Instant::now();
    let contexts = Contexts {
        github: ctx.github.clone(),
        vars: shared.vars.clone(),
        secrets: ctx.secrets.clone(),
        runner: shared.runner.clone(),
        inputs: ctx.inputs.clone(),
        needs: ctx.needs.clone(),
        matrix: instance
            .map(|i| i.matrix.clone())
            .unwrap_or_else(|| Arc::new(json!({}))),
        strategy: instance
            .map(|i| i.strategy.clone())
            .unwrap_or_else(|| Arc::new(json!({}))),
        ..Contexts::default()
    };
    let eval = Eval {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    let fail = |message: String| {
        shared.emit(RunEvent::JobStarted {
            job: key.clone(),
            name: name.clone(),
        });
        shared.emit(RunEvent::Annotation {
            job: key.clone(),
            annotation: error_annotation(shared.masker.mask_str(&message)),
        });
        shared.emit(RunEvent::JobFinished {
            job: key.clone(),
            name: name.clone(),
            result: Outcome::Failure,
            duration: started.elapsed(),
            outputs: IndexMap::new(),
        });
        record(
            shared,
            &ctx.workflow,
            key.clone(),
            name.clone(),
            Outcome::Failure,
            started.elapsed(),
        );
        (Outcome::Failure, IndexMap::new())
    };
    let mut given: IndexMap<String, Value> = IndexMap::new();
    for (k, (_, v)) in &job.job.with {
        match gantry_plan::template::evaluate_value(&v.value, &eval) {
            Ok(value) => {
                given.insert(k.clone(), value);
            }
            Err(e) => return fail(format!("`with.{k}`: {}", e.message)),
        }
    }
    let Some(call) = &called.workflow.on.workflow_call else {
        return fail(format!("`{}` has no `on: workflow_call`", called.file));
    };
    // Defaults may be expressions (over `github`, `vars`): evaluate them here.
    for (input, (_, def)) in &call.inputs {
        if given.contains_key(input) {
            continue;
        }
        if let Some(default) = &def.default
            && matches!(&default.value, Value::String(s) if s.contains("${{"))
        {
            match gantry_plan::template::evaluate_value(&default.value, &eval) {
                Ok(value) => {
                    given.insert(input.clone(), value);
                }
                Err(e) => {
                    return fail(format!(
                        "calling `{}`: input `{input}` default: {}",
                        called.file, e.message
                    ));
                }
            }
        }
    }
    let source = gantry_plan::inputs::InputSource::Call(&job.id);
    let inputs = match gantry_plan::inputs::resolve(&call.inputs, &given, source) {
        Ok(inputs) => inputs,
        Err(errors) => return fail(format!("calling `{}`: {}", called.file, errors.join("; "))),
    };
    let secrets = match &job.job.secrets {
        Some(gantry_syntax::ast::CallSecrets::Inherit(_)) => (*ctx.secrets).clone(),
        Some(gantry_syntax::ast::CallSecrets::Map(map)) => {
            let mut out = Map::new();
            for (k, (_, v)) in map {
                match eval_string(&v.value, &eval) {
                    Ok(s) => {
                        out.insert(k.clone(), Value::String(s));
                    }
                    Err(e) => return fail(format!("`secrets.{k}`: {e}")),
                }
            }
            Value::Object(out)
        }
        None => json!({}),
    };
    for (name, (_, def)) in &call.secrets {
        if def.required
            && secrets
                .get(name)
                .is_none_or(|v| v.as_str().is_some_and(str::is_empty))
        {
            return fail(format!(
                "calling `{}`: secret `{name}` is required: pass it under `secrets:` or use `secrets: inherit`",
                called.file
            ));
        }
    }
    let outcome = run_workflow(
        shared.clone(),
        Arc::new(called.clone()),
        Arc::new(Value::Object(inputs.clone())),
        Arc::new(secrets),
        format!("{key} / "),
    )
    .await;
    // Outputs of the call: `on.workflow_call.outputs.*.value` over the `jobs` context.
    let jobs_ctx: Map<String, Value> = outcome
        .jobs
        .iter()
        .map(|(id, (result, outputs))| {
            (id.clone(), json!({"result": result.as_str(), "outputs": crate::context::object(outputs.iter())}))
        })
        .collect();
    let out_contexts = Contexts {
        github: contexts.github.clone(),
        vars: contexts.vars.clone(),
        inputs: Arc::new(Value::Object(inputs)),
        jobs: Value::Object(jobs_ctx),
        ..Contexts::default()
    };
    let eval = Eval {
        contexts: &out_contexts,
        status: Status::Success,
        workspace: None,
    };
    let mut outputs = IndexMap::new();
    for (name, (_, output)) in &call.outputs {
        if let Ok(text) = eval_string(&output.value.value, &eval) {
            outputs.insert(name.clone(), text);
        }
    }
    let result = outcome
        .jobs
        .values()
        .fold(Outcome::Success, |acc, (r, _)| worse(acc, *r));
    (result, outputs)
}
