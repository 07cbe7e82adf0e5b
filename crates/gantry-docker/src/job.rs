//! One job on Docker: its network, service containers, job container and
//! step containers, the execs that run its steps, and their removal.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthStatusEnum, HostConfig, NetworkCreateRequest,
    NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveVolumeOptions, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use gantry_executor::{
    BoxFuture, CollectSink, ContainerSpec, ExecError, ExecLimits, Exit, ImageSource, JobContainers,
    JobRuntime, JobSpec, OutputSink, ProcessSpec, ServiceInfo, StepContainer, Stream,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::Engine;
use crate::cleanup::{self, remove_container};
use crate::image::ensure_image;
use crate::options::{self, RunOptions};

/// How long a service may take to become healthy.
const HEALTH_LIMIT: Duration = Duration::from_secs(300);
/// How often a running exec is checked for having exited (its output
/// stream stays open while background processes hold it).
const EXEC_POLL: Duration = Duration::from_millis(200);
/// How long output is still read after an exec's process exited.
const DRAIN: Duration = Duration::from_millis(100);
/// Time between SIGTERM and SIGKILL when a step is stopped.
const GRACE: Duration = Duration::from_secs(5);
/// Lines of each service's log shown when a job fails.
const LOG_TAIL: &str = "40";

pub(crate) struct DockerJob {
    engine: Arc<Engine>,
    /// Runs the steps of a job without a job container.
    host: Option<Box<dyn JobRuntime>>,
    job_name: String,
    run_id: String,
    /// `gantry-RUN-SEQ`: the network's name and the containers' prefix.
    base: String,
    mounts: Vec<PathBuf>,
    network: Option<String>,
    container: Option<String>,
    services: Vec<ServiceInfo>,
    /// Every container made for the job, removed at its end.
    created: Mutex<Vec<String>>,
    /// Named volumes the job created, removed after its containers.
    volumes: Mutex<Vec<String>>,
    programs: Mutex<HashMap<String, bool>>,
    finished: AtomicBool,
}

/// What a container runs; `None` keeps the image's.
#[derive(Debug, Clone, Default)]
struct Command {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn api(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> ExecError {
    let context = context.into();
    move |e| ExecError::Container {
        context,
        message: e.to_string(),
    }
}

/// A name Docker accepts: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub(crate) fn docker_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'x');
    }
    name.truncate(100);
    name
}

impl DockerJob {
    pub(crate) async fn start(
        engine: Arc<Engine>,
        spec: &JobSpec,
        host: Option<Box<dyn JobRuntime>>,
    ) -> Result<DockerJob, ExecError> {
        let base = format!("gantry-{}-{}", docker_name(&spec.run_id), engine.next_seq());
        let mut job = DockerJob {
            engine,
            host,
            job_name: spec.job_name.clone(),
            run_id: spec.run_id.clone(),
            base,
            mounts: spec.mounts.clone(),
            network: None,
            container: None,
            services: Vec::new(),
            created: Mutex::new(Vec::new()),
            volumes: Mutex::new(Vec::new()),
            programs: Mutex::new(HashMap::new()),
            finished: AtomicBool::new(false),
        };
        if spec.container.is_none() && spec.services.is_empty() {
            return Ok(job);
        }
        match job.start_containers(spec).await {
            Ok(()) => Ok(job),
            Err(e) => {
                job.remove_all().await;
                job.finished.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    async fn start_containers(&mut self, spec: &JobSpec) -> Result<(), ExecError> {
        let docker = self.engine.docker().await?.clone();
        // A network of its own only when there are services to reach by
        // name: creating and removing one costs more than the container.
        let network = self.base.clone();
        if !spec.services.is_empty() {
            docker
                .create_network(NetworkCreateRequest {
                    name: network.clone(),
                    driver: Some("bridge".into()),
                    labels: Some(cleanup::labels(&self.run_id, &self.job_name)),
                    ..Default::default()
                })
                .await
                .map_err(api(format!("cannot create network `{network}`")))?;
            self.network = Some(network.clone());
        }

        for (name, service) in &spec.services {
            let what = format!("service `{name}`");
            let id = self
                .create(
                    &docker,
                    service,
                    &format!("{}-{}", self.base, docker_name(name)),
                    name,
                    Command::default(),
                    &what,
                )
                .await?;
            docker
                .start_container(&id, None)
                .await
                .map_err(api(format!("cannot start {what}")))?;
            self.services.push(ServiceInfo {
                name: name.clone(),
                id,
                network: network.clone(),
                ports: Vec::new(),
            });
        }
        for i in 0..self.services.len() {
            let service = self.services[i].clone();
            self.wait_healthy(&docker, &service).await?;
            self.services[i].ports = published_ports(&docker, &service.id).await?;
        }
        if let Some(container) = &spec.container {
            let what = format!("the job container `{}`", container.image);
            // Kept alive doing nothing; every step is an exec in it.
            let keep_alive = Command {
                entrypoint: Some(vec!["tail".into()]),
                cmd: Some(vec!["-f".into(), "/dev/null".into()]),
            };
            let id = self
                .create(
                    &docker,
                    container,
                    &format!("{}-job", self.base),
                    "job",
                    keep_alive,
                    &what,
                )
                .await?;
            docker
                .start_container(&id, None)
                .await
                .map_err(api(format!("cannot start {what}")))?;
            self.container = Some(id);
        }
        Ok(())
    }

    async fn create(
        &self,
        docker: &Docker,
        spec: &ContainerSpec,
        name: &str,
        alias: &str,
        command: Command,
        what: &str,
    ) -> Result<String, ExecError> {
        self.create_in(docker, spec, name, alias, command, what, None)
            .await
    }

    /// Creates (not starts) a container of the job on its network, with
    /// the engine's directories mounted; records it for removal.
    #[allow(clippy::too_many_arguments)]
    async fn create_in(
        &self,
        docker: &Docker,
        spec: &ContainerSpec,
        name: &str,
        alias: &str,
        command: Command,
        what: &str,
        workdir: Option<&std::path::Path>,
    ) -> Result<String, ExecError> {
        let bad = |e: options::OptionsError| ExecError::Container {
            context: format!("{what}: bad container settings"),
            message: e.to_string(),
        };
        let run_options = if spec.options.trim().is_empty() {
            RunOptions::default()
        } else {
            options::parse_options(&spec.options).map_err(bad)?
        };
        let ports = spec
            .ports
            .iter()
            .map(|p| options::parse_port(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let volumes = spec
            .volumes
            .iter()
            .map(|v| options::parse_volume(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        ensure_image(docker, &spec.image, spec.credentials.as_ref()).await?;
        for volume in volumes.iter().chain(&run_options.volumes) {
            if let options::VolumeSource::Named(name) = &volume.source {
                self.ensure_volume(docker, name).await?;
            }
        }

        let mut aliases = vec![alias.to_string()];
        aliases.extend(run_options.network_aliases.iter().cloned());
        let mut body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(cleanup::labels(&self.run_id, &self.job_name)),
            host_config: Some(HostConfig {
                network_mode: self.network.clone(),
                binds: Some(self.binds()),
                ..Default::default()
            }),
            ..Default::default()
        };
        // On the job's network (a host job without services has none: its
        // step containers use Docker's default bridge).
        if let Some(network) = &self.network {
            body.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.clone(),
                    EndpointSettings {
                        aliases: Some(aliases),
                        ..Default::default()
                    },
                )])),
            });
        }
        body.entrypoint = command.entrypoint;
        body.cmd = command.cmd;
        body.working_dir = workdir.map(|w| w.to_string_lossy().into_owned());
        options::apply_ports(&ports, &mut body);
        options::apply_volumes(&volumes, &mut body);
        run_options.apply(&mut body);
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(name).build()),
                body,
            )
            .await
            .map_err(api(format!("cannot create {what}")))?;
        lock(&self.created).push(created.id.clone());
        Ok(created.id)
    }

    /// Creates a named volume the job refers to, unless it exists already
    /// (then it is the user's and is left alone); gantry's own are labelled
    /// and removed with the job.
    async fn ensure_volume(&self, docker: &Docker, name: &str) -> Result<(), ExecError> {
        match docker.inspect_volume(name).await {
            Ok(_) => return Ok(()),
            Err(e) if cleanup::is_not_found(&e) => {}
            Err(e) => return Err(api(format!("cannot inspect volume `{name}`"))(e)),
        }
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.to_string()),
                labels: Some(cleanup::labels(&self.run_id, &self.job_name)),
                ..Default::default()
            })
            .await
            .map_err(api(format!("cannot create volume `{name}`")))?;
        lock(&self.volumes).push(name.to_string());
        Ok(())
    }

    /// The engine's directories, mounted at the same paths.
    fn binds(&self) -> Vec<String> {
        self.mounts
            .iter()
            .filter(|p| std::fs::create_dir_all(p).is_ok())
            .map(|p| format!("{0}:{0}", p.display()))
            .collect()
    }

    /// Waits until a service is healthy (or, without a health check, runs).
    async fn wait_healthy(&self, docker: &Docker, service: &ServiceInfo) -> Result<(), ExecError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let state = docker
                .inspect_container(&service.id, None)
                .await
                .map_err(api(format!("cannot inspect service `{}`", service.name)))?
                .state
                .unwrap_or_default();
            let running = state.running.unwrap_or(false);
            let health = state.health.and_then(|h| h.status);
            let problem = match (running, health) {
                (false, _) => Some(format!(
                    "service `{}` exited (code {})",
                    service.name,
                    state.exit_code.unwrap_or(-1)
                )),
                (true, Some(HealthStatusEnum::UNHEALTHY)) => {
                    Some(format!("service `{}` is unhealthy", service.name))
                }
                (true, Some(HealthStatusEnum::HEALTHY | HealthStatusEnum::NONE))
                | (true, None | Some(HealthStatusEnum::EMPTY)) => return Ok(()),
                (true, Some(HealthStatusEnum::STARTING)) => (started.elapsed() > HEALTH_LIMIT)
                    .then(|| {
                        format!(
                            "service `{}` was not healthy after {} s",
                            service.name,
                            HEALTH_LIMIT.as_secs()
                        )
                    }),
            };
            if let Some(problem) = problem {
                let log = service_log(docker, &service.id).await;
                return Err(ExecError::Container {
                    context: problem,
                    message: format!(
                        "check its image, `env:` and `options:` (its health check); its last log lines:\n{}",
                        if log.trim().is_empty() {
                            "(no output)".to_string()
                        } else {
                            log
                        }
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    async fn docker(&self) -> Result<Docker, ExecError> {
        Ok(self.engine.docker().await?.clone())
    }

    /// Runs one process in the job container.
    async fn exec_in(
        &self,
        container: &str,
        spec: ProcessSpec,
        sink: &mut dyn OutputSink,
        limits: ExecLimits,
    ) -> Result<Exit, ExecError> {
        if limits.cancel.is_cancelled() {
            return Ok(Exit::Cancelled);
        }
        let docker = self.docker().await?;
        let mut cmd = vec![spec.program.clone()];
        cmd.extend(spec.args.iter().cloned());
        let created = docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd),
                    env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                    working_dir: Some(spec.cwd.to_string_lossy().into_owned()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(api(format!(
                "cannot run `{}` in the job container",
                spec.program
            )))?;
        let started = docker
            .start_exec(&created.id, None)
            .await
            .map_err(api(format!(
                "cannot run `{}` in the job container",
                spec.program
            )))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Err(ExecError::Container {
                context: format!("cannot run `{}` in the job container", spec.program),
                message: "the engine detached the exec".into(),
            });
        };

        let timer = tokio::time::sleep(limits.timeout.unwrap_or(Duration::ZERO));
        tokio::pin!(timer);
        let timer_armed = limits.timeout.is_some();
        let cancelled = limits.cancel.cancelled();
        tokio::pin!(cancelled);
        let mut poll = tokio::time::interval(EXEC_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ended_by = None;
        let mut drain_until: Option<Instant> = None;
        loop {
            let drain = async {
                match drain_until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                chunk = output.next() => if !forward(chunk, sink) { break },
                () = &mut cancelled, if ended_by.is_none() => {
                    ended_by = Some(Exit::Cancelled);
                    self.stop_exec(&docker, &created.id, container).await;
                    break;
                }
                () = &mut timer, if timer_armed && ended_by.is_none() => {
                    ended_by = Some(Exit::TimedOut);
                    self.stop_exec(&docker, &created.id, container).await;
                    break;
                }
                _ = poll.tick(), if drain_until.is_none() => {
                    // Background processes may hold the output open after
                    // the step's process exited.
                    if let Ok(state) = docker.inspect_exec(&created.id).await
                        && state.running == Some(false)
                    {
                        drain_until = Some(Instant::now() + DRAIN);
                    }
                }
                () = drain => break,
            }
        }
        if let Some(reason) = ended_by {
            return Ok(reason);
        }
        let state = docker
            .inspect_exec(&created.id)
            .await
            .map_err(api(format!("cannot read how `{}` ended", spec.program)))?;
        let code = state.exit_code.unwrap_or(-1);
        Ok(Exit::Code(i32::try_from(code).unwrap_or(-1)))
    }

    /// Stops an exec's process tree: SIGTERM, then SIGKILL after the grace
    /// period. The host sees the processes of a container, so they are
    /// signalled from here; if that is not allowed (another user's
    /// container), the job container is killed instead.
    async fn stop_exec(&self, docker: &Docker, exec: &str, container: &str) {
        let pid = docker
            .inspect_exec(exec)
            .await
            .ok()
            .and_then(|s| s.pid)
            .and_then(|p| i32::try_from(p).ok())
            .filter(|&p| p > 1);
        let Some(pid) = pid else { return };
        if signal_tree(pid, Signal::SIGTERM).is_err() {
            let _ = docker
                .kill_container(
                    container,
                    Some(
                        KillContainerOptionsBuilder::default()
                            .signal("KILL")
                            .build(),
                    ),
                )
                .await;
            return;
        }
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            match docker.inspect_exec(exec).await {
                Ok(state) if state.running == Some(true) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => return,
            }
        }
        let _ = signal_tree(pid, Signal::SIGKILL);
    }

    async fn run_step_container(
        &self,
        step: StepContainer,
        sink: &mut dyn OutputSink,
        limits: ExecLimits,
    ) -> Result<Exit, ExecError> {
        if limits.cancel.is_cancelled() {
            return Ok(Exit::Cancelled);
        }
        let docker = self.docker().await?;
        let image = match &step.image {
            ImageSource::Image(image) => image.clone(),
            ImageSource::Dockerfile {
                context,
                dockerfile,
            } => crate::image::build_action_image(&docker, context, dockerfile, sink).await?,
        };
        let spec = ContainerSpec {
            image: image.clone(),
            env: step.env.clone(),
            ..Default::default()
        };
        let name = format!(
            "{}-step-{}",
            if self.base.is_empty() {
                "gantry"
            } else {
                &self.base
            },
            self.engine.next_seq()
        );
        // `entrypoint` replaces the image's; `args` replace its command.
        let command = Command {
            entrypoint: step.entrypoint.clone().map(|e| vec![e]),
            cmd: (!step.args.is_empty() || step.entrypoint.is_some()).then(|| step.args.clone()),
        };
        let what = format!("the step container `{image}`");
        let id = self
            .create_in(
                &docker,
                &spec,
                &name,
                "step",
                command,
                &what,
                Some(&step.workdir),
            )
            .await?;
        docker
            .start_container(&id, None)
            .await
            .map_err(api(format!("cannot start {what}")))?;
        let mut logs = docker.logs(
            &id,
            Some(
                LogsOptionsBuilder::default()
                    .follow(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let timer = tokio::time::sleep(limits.timeout.unwrap_or(Duration::ZERO));
        tokio::pin!(timer);
        let timer_armed = limits.timeout.is_some();
        let cancelled = limits.cancel.cancelled();
        tokio::pin!(cancelled);
        let mut ended_by = None;
        loop {
            tokio::select! {
                chunk = logs.next() => if !forward(chunk, sink) { break },
                () = &mut cancelled => { ended_by = Some(Exit::Cancelled); break; }
                () = &mut timer, if timer_armed => { ended_by = Some(Exit::TimedOut); break; }
            }
        }
        let exit = if let Some(reason) = ended_by {
            let _ = docker
                .kill_container(
                    &id,
                    Some(
                        KillContainerOptionsBuilder::default()
                            .signal("KILL")
                            .build(),
                    ),
                )
                .await;
            reason
        } else {
            let mut wait =
                docker.wait_container(&id, Some(WaitContainerOptionsBuilder::default().build()));
            let code = match wait.next().await {
                Some(Ok(r)) => r.status_code,
                // A non-zero exit arrives as an "error" carrying the code.
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                Some(Err(e)) => {
                    return Err(ExecError::Container {
                        context: format!("cannot wait for {what}"),
                        message: e.to_string(),
                    });
                }
                None => -1,
            };
            Exit::Code(i32::try_from(code).unwrap_or(-1))
        };
        let _ = remove_container(&docker, &id).await;
        lock(&self.created).retain(|c| c != &id);
        Ok(exit)
    }

    /// Removes every container of the job, then its network and volumes.
    async fn remove_all(&self) {
        let ids = std::mem::take(&mut *lock(&self.created));
        let volumes = std::mem::take(&mut *lock(&self.volumes));
        remove_objects(&self.engine, ids, self.network.clone(), volumes).await;
    }
}

/// Removes containers (with their anonymous volumes), then the network and
/// the named volumes they used.
async fn remove_objects(
    engine: &Engine,
    containers: Vec<String>,
    network: Option<String>,
    volumes: Vec<String>,
) {
    if containers.is_empty() && network.is_none() && volumes.is_empty() {
        return;
    }
    let Ok(docker) = engine.docker().await else {
        return;
    };
    let removals = containers.iter().map(|id| remove_container(docker, id));
    futures_util::future::join_all(removals).await;
    if let Some(network) = &network {
        let _ = docker.remove_network(network).await;
    }
    for volume in &volumes {
        let _ = docker
            .remove_volume(volume, None::<RemoveVolumeOptions>)
            .await;
    }
}

/// Passes one chunk of a container's output on; false at the end.
fn forward(
    chunk: Option<Result<LogOutput, bollard::errors::Error>>,
    sink: &mut dyn OutputSink,
) -> bool {
    match chunk {
        Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
            sink.output(Stream::Stdout, &message);
            true
        }
        Some(Ok(LogOutput::StdErr { message })) => {
            sink.output(Stream::Stderr, &message);
            true
        }
        Some(Ok(LogOutput::StdIn { .. })) => true,
        Some(Err(_)) | None => false,
    }
}

/// Signals a process and all its descendants (found through
/// `/proc/PID/task/*/children`).
fn signal_tree(pid: i32, signal: Signal) -> nix::Result<()> {
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let p = pids[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                let children =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                pids.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
        i += 1;
    }
    kill(Pid::from_raw(pid), signal)?;
    for p in &pids[1..] {
        let _ = kill(Pid::from_raw(*p), signal);
    }
    Ok(())
}

/// Container port → host port of a started container (`5432`, `53/udp`).
async fn published_ports(docker: &Docker, id: &str) -> Result<Vec<(String, String)>, ExecError> {
    let info = docker
        .inspect_container(id, None)
        .await
        .map_err(api("cannot inspect a service container"))?;
    let mut ports: Vec<(String, String)> = info
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, bindings)| {
            let host = bindings?
                .into_iter()
                .filter_map(|b| b.host_port)
                .find(|p| !p.is_empty())?;
            let key = key.strip_suffix("/tcp").map(str::to_string).unwrap_or(key);
            Some((key, host))
        })
        .collect();
    ports.sort();
    Ok(ports)
}

/// The last lines a container wrote.
async fn service_log(docker: &Docker, id: &str) -> String {
    let mut logs = docker.logs(
        id,
        Some(
            LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .tail(LOG_TAIL)
                .build(),
        ),
    );
    let mut text = Vec::new();
    while let Some(Ok(chunk)) = logs.next().await {
        text.extend_from_slice(&chunk.into_bytes());
    }
    String::from_utf8_lossy(&text).into_owned()
}

impl JobRuntime for DockerJob {
    fn exec<'a>(
        &'a self,
        spec: ProcessSpec,
        sink: &'a mut dyn OutputSink,
        limits: ExecLimits,
    ) -> BoxFuture<'a, Result<Exit, ExecError>> {
        match (&self.container, &self.host) {
            (Some(container), _) => Box::pin(self.exec_in(container, spec, sink, limits)),
            (None, Some(host)) => host.exec(spec, sink, limits),
            (None, None) => Box::pin(std::future::ready(Err(ExecError::Container {
                context: format!("job `{}`", self.job_name),
                message: "has neither a container nor the host to run in".into(),
            }))),
        }
    }

    fn finish(mut self: Box<Self>) -> BoxFuture<'static, Result<(), ExecError>> {
        Box::pin(async move {
            self.finished.store(true, Ordering::Relaxed);
            self.remove_all().await;
            match self.host.take() {
                Some(host) => host.finish().await,
                None => Ok(()),
            }
        })
    }

    fn in_container(&self) -> bool {
        self.container.is_some()
    }

    fn has_program<'a>(
        &'a self,
        program: &'a str,
        env: &'a [(String, String)],
    ) -> BoxFuture<'a, bool> {
        let Some(container) = &self.container else {
            return match &self.host {
                Some(host) => host.has_program(program, env),
                None => Box::pin(std::future::ready(false)),
            };
        };
        Box::pin(async move {
            if let Some(&known) = lock(&self.programs).get(program) {
                return known;
            }
            let probe = ProcessSpec {
                program: "sh".into(),
                args: vec![
                    "-c".into(),
                    "command -v \"$1\" >/dev/null 2>&1".into(),
                    "sh".into(),
                    program.into(),
                ],
                env: env.to_vec(),
                cwd: PathBuf::from("/"),
            };
            let mut sink = CollectSink::default();
            let found = matches!(
                self.exec_in(container, probe, &mut sink, ExecLimits::default())
                    .await,
                Ok(Exit::Code(0))
            );
            lock(&self.programs).insert(program.to_string(), found);
            found
        })
    }

    fn containers(&self) -> JobContainers {
        JobContainers {
            container: self
                .container
                .clone()
                .map(|id| (id, self.network.clone().unwrap_or_default())),
            services: self.services.clone(),
        }
    }

    fn run_container<'a>(
        &'a self,
        spec: StepContainer,
        sink: &'a mut dyn OutputSink,
        limits: ExecLimits,
    ) -> BoxFuture<'a, Result<Exit, ExecError>> {
        Box::pin(self.run_step_container(spec, sink, limits))
    }

    fn service_logs(&self) -> BoxFuture<'_, Vec<(String, String)>> {
        Box::pin(async move {
            let Ok(docker) = self.docker().await else {
                return Vec::new();
            };
            let mut logs = Vec::new();
            for service in &self.services {
                logs.push((
                    service.name.clone(),
                    service_log(&docker, &service.id).await,
                ));
            }
            logs
        })
    }
}

impl Drop for DockerJob {
    fn drop(&mut self) {
        // A job dropped without finish() (a panic, a hard stop) still
        // removes what it made, if the runtime is still there.
        if self.finished.load(Ordering::Relaxed) {
            return;
        }
        let ids = std::mem::take(&mut *lock(&self.created));
        let volumes = std::mem::take(&mut *lock(&self.volumes));
        let network = self.network.take();
        if ids.is_empty() && network.is_none() && volumes.is_empty() {
            return;
        }
        let engine = self.engine.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { remove_objects(&engine, ids, network, volumes).await });
        }
    }
}
