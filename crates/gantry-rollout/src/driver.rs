//! The `process` target's rollout driver: it carries out, on this host, the plan `gantry-deploy`
//! made, one journal step at a time.
//!
//! A [`Runtime`] is one environment as it runs here: its [`Proxy`] (listening on the target's
//! `listen` address) in front of the instances its [`Supervisor`] runs. [`Runtime::deploy`] loops
//! on [`journal::next`]: it writes each step's intent to a [`JournalSink`] **before** taking the
//! step, takes it, and writes what came of it:
//!
//! - `Start`: starts instances of the version until `total` run. The command (and the working
//!   directory) may name the version as `{version}`; the instance gets it as `GANTRY_VERSION`.
//! - `WaitHealthy`: [`wait_healthy`] on each instance; a failure (with the instance's last log
//!   lines) fails the step, which rolls back before any traffic reaches the version.
//! - `Route`: the proxy's routes become every live instance of the weighted versions.
//! - `Analyze`: every `thresholds.interval` the proxy's window of the new version is judged
//!   ([`analyze`], or [`analyze_canary`] against the old version while a canary shares the
//!   traffic) and recorded; the first failing window ends the step, so the rollback starts within
//!   one interval. A crash of an instance of the new version meanwhile fails the step at once,
//!   with the instance's logs.
//! - `Smoke`: each smoke command runs with `sh -c`, `URL` set to the proxy's address.
//! - `Promote` is recorded; `KeepWarm` waits (promoting by hand ends the wait early).
//! - `Stop`: the instances leave the routes, the proxy drains them, then they are stopped.
//!
//! A rollback follows the steps the journal itself decided ([`Next::RollBack`]). Pausing,
//! resuming, promoting and aborting by hand go through a [`Controller`]: each becomes a journal
//! event, which [`journal::next`] then obeys. A pause holds the rollout before its next step; an
//! abort or a promotion also cuts the analysis under way short, and a promotion ends a
//! keep-warm wait. [`Runtime::resume`] carries on after Gantry restarted.
//!
//! Deliberately absent: re-adopting instances after Gantry restarts (the supervisor's
//! instances die with it; a restarted server starts again from the record), and Prometheus
//! queries (only the proxy's own measurements are judged).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use gantry_deploy::analysis::{self, BaselineLimits, LatencyHistogram, analyze, analyze_canary};
use gantry_deploy::config::{Environment, ProcessTarget, Target};
use gantry_deploy::journal::{
    self, DeployResult, Event as Record, Journal, Next, Policy, StepOutcome,
};
use gantry_deploy::model::{HealthCheck, Strategy, Thresholds};
use gantry_deploy::plan::{self, Step, Weight};
use gantry_proxy::{Latencies, Maintenance, Proxy, Routes};
use jiff::Timestamp;
use tokio::io::AsyncReadExt;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::health::{LOG_TAIL, wait_healthy};
use crate::supervisor::{
    Event, Instance, InstanceId, InstanceSpec, State, Supervisor, SupervisorConfig,
};

/// How many lines of a failed smoke command's output its failure shows.
const SMOKE_TAIL: usize = 40;

/// Where the driver persists the journal: every write holds the whole journal as it is now, and
/// a step is taken only once the write that announces it succeeded.
pub trait JournalSink: Send {
    fn write(&mut self, journal: &Journal) -> Result<(), String>;
}

/// A sink that keeps every write in memory (for tests and dry runs).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// The journal as each write saw it, oldest first.
    pub writes: Vec<Journal>,
}

impl JournalSink for MemorySink {
    fn write(&mut self, journal: &Journal) -> Result<(), String> {
        self.writes.push(journal.clone());
        Ok(())
    }
}

/// How one environment with a `process` target deploys.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The environment's name, for messages.
    pub environment: String,
    pub target: ProcessTarget,
    pub health: HealthCheck,
    pub thresholds: Thresholds,
    /// How much worse than the old version a canary may be.
    pub baseline: BaselineLimits,
    /// Commands run once the new version takes all traffic.
    pub smoke: Vec<String>,
    /// How long one smoke command may run.
    pub smoke_timeout: Duration,
    /// How long a stopped instance has to finish its requests after SIGTERM.
    pub stop_grace: Duration,
    /// How long the proxy may take to finish the requests in flight to an instance leaving it.
    pub drain_timeout: Duration,
    pub policy: Policy,
    pub supervisor: SupervisorConfig,
}

impl Settings {
    /// The settings of a configured environment, with the driver's own defaults.
    pub fn from_environment(environment: &Environment) -> Result<Settings, DriverError> {
        let name = environment.name.value.clone();
        let target = match &environment.target {
            Some(Target::Process(target)) => target.clone(),
            Some(other) => {
                return Err(DriverError::NotProcess {
                    environment: name,
                    kind: other.kind(),
                });
            }
            None => return Err(DriverError::NoTarget(name)),
        };
        Ok(Settings::new(name, target)
            .with_health(environment.health.clone())
            .with_thresholds(environment.analysis.thresholds.clone())
            .with_smoke(environment.smoke.clone()))
    }

    /// Defaults for everything but the name and the target.
    pub fn new(environment: impl Into<String>, target: ProcessTarget) -> Settings {
        Settings {
            environment: environment.into(),
            target,
            health: HealthCheck::default(),
            thresholds: Thresholds::default(),
            baseline: BaselineLimits::default(),
            smoke: Vec::new(),
            smoke_timeout: Duration::from_secs(300),
            stop_grace: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            policy: Policy::default(),
            supervisor: SupervisorConfig::default(),
        }
    }

    pub fn with_health(mut self, health: HealthCheck) -> Settings {
        self.health = health;
        self
    }

    pub fn with_thresholds(mut self, thresholds: Thresholds) -> Settings {
        self.thresholds = thresholds;
        self
    }

    pub fn with_smoke(mut self, smoke: Vec<String>) -> Settings {
        self.smoke = smoke;
        self
    }

    /// The instance spec of `version`: `{version}` in the command and the working directory
    /// becomes the version.
    pub fn spec(&self, version: &str) -> InstanceSpec {
        let dir = match &self.target.workdir {
            Some(dir) => PathBuf::from(dir.replace("{version}", version)),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let mut spec = InstanceSpec::new(
            version,
            self.target.command.replace("{version}", version),
            dir,
        );
        spec.env = self.target.env.clone();
        spec
    }
}

/// What the driver could not do at all (a step that fails is recorded, not returned).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(
        "environment {0} has no `target`, so there is nothing to deploy to; add `target: {{ process: {{ command: ... }} }}` to it"
    )]
    NoTarget(String),
    #[error(
        "environment {environment} deploys to a `{kind}` target, which the process driver cannot run; use the `{kind}` driver"
    )]
    NotProcess {
        environment: String,
        kind: &'static str,
    },
    #[error(
        "environment {environment}: cannot listen on {listen}: {source}; choose another `listen` port or stop what uses it"
    )]
    Listen {
        environment: String,
        listen: String,
        source: std::io::Error,
    },
    #[error(
        "the deployment record could not be written before {what}, so nothing more was done: {reason}; the deployment resumes from the record once it can be written"
    )]
    Journal { what: String, reason: String },
}

/// A decision taken by hand about the rollout under way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Pause {
        actor: String,
    },
    Resume {
        actor: String,
    },
    /// Skip the remaining analyses (and end a keep-warm wait).
    Promote {
        actor: String,
    },
    /// Roll back.
    Abort {
        actor: String,
        reason: String,
    },
}

/// Sends [`Control`]s to a [`Runtime`]'s deployment from anywhere (an API handler, a test).
#[derive(Clone, Debug)]
pub struct Controller {
    sender: mpsc::UnboundedSender<Control>,
}

impl Controller {
    pub fn pause(&self, actor: &str) {
        self.send(Control::Pause {
            actor: actor.into(),
        });
    }

    pub fn resume(&self, actor: &str) {
        self.send(Control::Resume {
            actor: actor.into(),
        });
    }

    pub fn promote(&self, actor: &str) {
        self.send(Control::Promote {
            actor: actor.into(),
        });
    }

    pub fn abort(&self, actor: &str, reason: &str) {
        self.send(Control::Abort {
            actor: actor.into(),
            reason: reason.into(),
        });
    }

    fn send(&self, control: Control) {
        // The runtime is gone: there is no rollout left to steer.
        let _ = self.sender.send(control);
    }
}

/// One environment running on this host: its proxy and its instances.
pub struct Runtime {
    settings: Settings,
    proxy: Proxy,
    supervisor: Supervisor,
    controls: mpsc::UnboundedReceiver<Control>,
    controller: Controller,
}

/// Why a wait ended early.
enum Wake {
    Elapsed,
    /// An instance of the new version crashed: the reason, with its logs.
    Crashed(String),
    /// An abort or a promotion by hand ends the step.
    Interrupted,
}

impl Runtime {
    /// Starts the environment's proxy on the target's `listen` address; no instance runs yet.
    pub async fn start(settings: Settings) -> Result<Runtime, DriverError> {
        let listen = &settings.target.listen;
        let host = listen.host.clone().unwrap_or_else(|| "0.0.0.0".into());
        let shown = format!("{host}:{}", listen.port);
        let listen_error = |source| DriverError::Listen {
            environment: settings.environment.clone(),
            listen: shown.clone(),
            source,
        };
        let addr = match host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, listen.port),
            Err(_) => tokio::net::lookup_host((host.as_str(), listen.port))
                .await
                .map_err(listen_error)?
                .next()
                .ok_or_else(|| listen_error(std::io::Error::other("the host has no address")))?,
        };
        let proxy = Proxy::bind(addr).await.map_err(listen_error)?;
        let supervisor = Supervisor::new(settings.supervisor.clone());
        let (sender, controls) = mpsc::unbounded_channel();
        Ok(Runtime {
            settings,
            proxy,
            supervisor,
            controls,
            controller: Controller { sender },
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings the next steps use.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// A handle to pause, resume, promote or abort the deployment under way.
    pub fn controller(&self) -> Controller {
        self.controller.clone()
    }

    /// The address the environment answers on, as clients and smoke tests reach it.
    pub fn url(&self) -> String {
        let mut addr = self.proxy.local_addr();
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        format!("http://{addr}")
    }

    /// The live instances of `version` (not stopped, stopping or given up on), in start order.
    pub fn instances(&self, version: &str) -> Vec<Instance> {
        self.supervisor
            .list()
            .into_iter()
            .filter(|i| i.version == version && live(i.state))
            .collect()
    }

    /// Takes the journal's steps until the deployment is finished, and says how it ended.
    /// Returns an error only when the journal cannot be written: then no further step is taken.
    /// Controls sent before it returns and not yet applied are dropped, so they never reach the
    /// next deployment.
    pub async fn deploy(
        &mut self,
        journal: &mut Journal,
        sink: &mut dyn JournalSink,
    ) -> Result<DeployResult, DriverError> {
        let result = self.drive(journal, sink).await;
        while self.controls.try_recv().is_ok() {}
        result
    }

    async fn drive(
        &mut self,
        journal: &mut Journal,
        sink: &mut dyn JournalSink,
    ) -> Result<DeployResult, DriverError> {
        loop {
            while let Ok(control) = self.controls.try_recv() {
                apply_control(journal, sink, control)?;
            }
            match journal::next(journal, &self.settings.policy) {
                Next::Finished(result) => return Ok(result),
                Next::Finish(result) => {
                    journal.record(
                        Timestamp::now(),
                        Record::Finished {
                            result: result.clone(),
                        },
                    );
                    write(sink, journal, "finishing")?;
                    return Ok(result);
                }
                Next::RollBack { reason, steps } => {
                    journal.record(Timestamp::now(), Record::RollbackStarted { reason, steps });
                    write(sink, journal, "rolling back")?;
                }
                Next::Wait => {
                    if let Some(control) = self.controls.recv().await {
                        apply_control(journal, sink, control)?;
                    }
                }
                Next::Take { index, step, .. } => {
                    journal.record(
                        Timestamp::now(),
                        Record::Intent {
                            step: index,
                            action: step.clone(),
                        },
                    );
                    write(sink, journal, &format!("\"{step}\""))?;
                    self.take(journal, sink, index, &step, Duration::ZERO)
                        .await?;
                }
                Next::Redo {
                    index, step, since, ..
                } => {
                    let elapsed = Timestamp::now().duration_since(since);
                    let elapsed = Duration::try_from(elapsed).unwrap_or_default();
                    self.take(journal, sink, index, &step, elapsed).await?;
                }
            }
        }
    }

    /// Carries on with a deployment Gantry was running when it stopped. Instances die with
    /// Gantry, so what the journal says runs (every step with an intent counts as taken) is
    /// started again and routed as it was first; then [`journal::on_restart`] decides, with the
    /// settings' policy, whether the rollout resumes or rolls back, and the deployment goes on
    /// as [`Runtime::deploy`] does.
    pub async fn resume(
        &mut self,
        journal: &mut Journal,
        sink: &mut dyn JournalSink,
    ) -> Result<DeployResult, DriverError> {
        if let Next::Finished(result) = journal::next(journal, &self.settings.policy) {
            return Ok(result);
        }
        let mut fleet = plan::Fleet::new(journal.deployment.previous.as_ref());
        for entry in &journal.entries {
            if let Record::Intent { action, .. } = &entry.event {
                fleet.apply(action);
            }
        }
        for (version, count) in &fleet.running {
            // A failure shows in the steps that follow (a health check, an analysis).
            if self.start_to(version, *count).is_ok() {
                let _ = self.wait_healthy(version).await;
            }
        }
        self.route(&fleet.weights);
        journal.record(Timestamp::now(), Record::Restarted);
        write(sink, journal, "resuming")?;
        if let Next::RollBack { reason, steps } =
            journal::on_restart(journal, &self.settings.policy)
        {
            journal.record(Timestamp::now(), Record::RollbackStarted { reason, steps });
            write(sink, journal, "rolling back")?;
        }
        self.deploy(journal, sink).await
    }

    /// Takes one step whose intent is written; `elapsed` is the time since the intent.
    async fn take(
        &mut self,
        journal: &mut Journal,
        sink: &mut dyn JournalSink,
        index: usize,
        step: &Step,
        elapsed: Duration,
    ) -> Result<(), DriverError> {
        let outcome = match step {
            Step::Start { version, total, .. } => self.start_to(version, *total).map(drop),
            Step::WaitHealthy { version } => self.wait_healthy(version).await,
            Step::Route { weights } => {
                self.route(weights);
                Ok(())
            }
            Step::Analyze { duration } => {
                return self.analyze(journal, sink, index, *duration).await;
            }
            Step::Smoke => self.smoke().await,
            Step::Promote { .. } => Ok(()),
            Step::KeepWarm { duration, .. } => {
                let until = Instant::now() + duration.saturating_sub(elapsed);
                self.wait(journal, sink, until, ends_keep_warm, None)
                    .await?;
                Ok(())
            }
            Step::Stop {
                version, remaining, ..
            } => self.stop_to(version, *remaining).await,
        };
        let outcome = match outcome {
            Ok(()) => StepOutcome::Ok,
            Err(reason) => StepOutcome::Failed { reason },
        };
        journal.record(
            Timestamp::now(),
            Record::Done {
                step: index,
                outcome,
            },
        );
        write(sink, journal, &format!("confirming \"{step}\""))
    }

    /// Starts instances of `version` until `total` run; returns those it started.
    fn start_to(&self, version: &str, total: u32) -> Result<Vec<InstanceId>, String> {
        let running = self.instances(version).len();
        let mut started = Vec::new();
        for _ in running..total as usize {
            let instance = self
                .supervisor
                .start(self.settings.spec(version))
                .map_err(|e| e.to_string())?;
            started.push(instance.id);
        }
        Ok(started)
    }

    async fn wait_healthy(&self, version: &str) -> Result<(), String> {
        for instance in self.instances(version) {
            wait_healthy(&self.supervisor, instance.id, &self.settings.health)
                .await
                .map_err(|failure| failure.to_string())?;
        }
        Ok(())
    }

    /// Every live instance of the weighted versions, with the weights.
    fn route(&self, weights: &[Weight]) {
        let mut routes = Routes::new();
        for weight in weights.iter().filter(|w| w.percent > 0) {
            for instance in self.instances(&weight.version) {
                routes = routes.backend(backend_id(&instance), &instance.version, instance.addr());
            }
            routes = routes.weight(&weight.version, u32::from(weight.percent));
        }
        self.proxy.set_routes(routes);
    }

    /// The weights in force, as the journal writes them.
    fn weights(&self) -> Vec<Weight> {
        self.proxy
            .routes()
            .weights
            .into_iter()
            .map(|(version, weight)| Weight {
                version,
                percent: u8::try_from(weight).unwrap_or(100),
            })
            .collect()
    }

    /// Stops the oldest instances of `version` until `remaining` run: out of the routes first,
    /// drained, then stopped.
    async fn stop_to(&self, version: &str, remaining: u32) -> Result<(), String> {
        let instances = self.instances(version);
        let extra = instances.len().saturating_sub(remaining as usize);
        self.stop_instances(&instances[..extra]).await
    }

    async fn stop_instances(&self, instances: &[Instance]) -> Result<(), String> {
        let leaving: Vec<String> = instances.iter().map(backend_id).collect();
        let mut routes = self.proxy.routes();
        routes.backends.retain(|b| !leaving.contains(&b.id));
        self.proxy.set_routes(routes);
        for (instance, id) in instances.iter().zip(&leaving) {
            // Past the timeout the requests still in flight are cut off by the stop.
            let _ = tokio::time::timeout(self.settings.drain_timeout, self.proxy.drain(id)).await;
            self.supervisor
                .stop(instance.id, self.settings.stop_grace)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Judges the new version every interval for `duration`, recording each window; ends at the
    /// first failing window, a crash of the new version, an abort or a promotion by hand.
    async fn analyze(
        &mut self,
        journal: &mut Journal,
        sink: &mut dyn JournalSink,
        index: usize,
        duration: Duration,
    ) -> Result<(), DriverError> {
        let version = journal.deployment.version.clone();
        let canary = matches!(journal.deployment.strategy, Strategy::Canary { .. });
        let baseline = self
            .weights()
            .into_iter()
            .find(|w| w.version != version && w.percent > 0)
            .map(|w| w.version)
            .filter(|_| canary);
        let mut events = self.supervisor.subscribe();
        // A crash between the start and now (a restarted instance looks healthy again).
        if let Some(reason) = self.crashed(&version) {
            journal.record(
                Timestamp::now(),
                Record::Done {
                    step: index,
                    outcome: StepOutcome::Failed { reason },
                },
            );
            return write(sink, journal, "rolling back after a crash");
        }
        // Only what this step routed is judged.
        self.proxy.take_window(&version);
        if let Some(old) = &baseline {
            self.proxy.take_window(old);
        }
        let interval = self
            .settings
            .thresholds
            .interval
            .max(Duration::from_millis(10));
        let end = Instant::now() + duration;
        loop {
            let until = (Instant::now() + interval).min(end);
            match self
                .wait(
                    journal,
                    sink,
                    until,
                    ends_analysis,
                    Some((&mut events, &version)),
                )
                .await?
            {
                Wake::Elapsed => {}
                Wake::Interrupted => return Ok(()),
                Wake::Crashed(reason) => {
                    journal.record(
                        Timestamp::now(),
                        Record::Done {
                            step: index,
                            outcome: StepOutcome::Failed { reason },
                        },
                    );
                    return write(sink, journal, "rolling back after a crash");
                }
            }
            let measured = window(&self.proxy.take_window(&version));
            let thresholds = &self.settings.thresholds;
            let analysis = match &baseline {
                Some(old) => {
                    let old = window(&self.proxy.take_window(old));
                    analyze_canary(&measured, &old, thresholds, &[], &self.settings.baseline)
                }
                None => analyze(&measured, thresholds, &[]),
            };
            let failed = analysis.outcome == analysis::Outcome::Fail;
            if failed {
                // A crash spoils the window with failed requests, and the window may end before
                // the supervisor has reaped the process: the crash, with the instance's logs, is
                // the reason to give, and the spoiled window goes with it.
                // Only requests that found no answer point at a dead instance.
                let settle = Duration::from_millis(250);
                let crash = match self.crashed(&version) {
                    Some(reason) => Some(reason),
                    None if measured.failed == 0 => None,
                    None => tokio::time::timeout(
                        settle,
                        next_crash(&mut events, &self.supervisor, &version),
                    )
                    .await
                    .ok(),
                };
                if let Some(crash) = crash {
                    let reason = format!(
                        "{crash}\nthe analysis of that window failed too: {}",
                        analysis.reason()
                    );
                    journal.record(
                        Timestamp::now(),
                        Record::Done {
                            step: index,
                            outcome: StepOutcome::Failed { reason },
                        },
                    );
                    return write(sink, journal, "rolling back after a crash");
                }
            }
            journal.record(
                Timestamp::now(),
                Record::Analysis {
                    step: index,
                    analysis,
                },
            );
            write(sink, journal, "recording an analysis")?;
            if failed || Instant::now() >= end {
                return Ok(());
            }
        }
    }

    /// Why an instance of `version` counts as crashed since it started (it exited, or was
    /// restarted), with its logs; `None` while every instance has run without a break.
    fn crashed(&self, version: &str) -> Option<String> {
        let crashed = self
            .supervisor
            .list()
            .into_iter()
            .find(|i| i.version == version && (i.restarts > 0 || i.last_exit.is_some()))?;
        let what = match &crashed.last_exit {
            Some(exit) => format!("the process {exit}"),
            None => format!("it is {}", crashed.state),
        };
        Some(crash_reason(&self.supervisor, crashed.id, version, &what))
    }

    /// Waits until `until`, recording the controls that arrive meanwhile (those `ends` accepts
    /// end the wait); with `crashes`, also watches for a crash of that version's instances.
    async fn wait(
        &mut self,
        journal: &mut Journal,
        sink: &mut dyn JournalSink,
        until: Instant,
        ends: fn(&Control) -> bool,
        mut crashes: Option<(&mut broadcast::Receiver<Event>, &str)>,
    ) -> Result<Wake, DriverError> {
        let supervisor = &self.supervisor;
        let controls = &mut self.controls;
        loop {
            let crash = async {
                match crashes.as_mut() {
                    Some((events, version)) => next_crash(events, supervisor, version).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(until) => return Ok(Wake::Elapsed),
                reason = crash => return Ok(Wake::Crashed(reason)),
                Some(control) = controls.recv() => {
                    let ended = ends(&control);
                    apply_control(journal, sink, control)?;
                    if ended {
                        return Ok(Wake::Interrupted);
                    }
                }
            }
        }
    }

    async fn smoke(&self) -> Result<(), String> {
        let url = self.url();
        for command in &self.settings.smoke {
            smoke(command, &url, self.settings.smoke_timeout).await?;
        }
        Ok(())
    }

    /// Brings `version` to `replicas` instances (new ones are checked, then join the routes when
    /// the version takes traffic); returns the steps taken. New instances that fail their health
    /// check are stopped again.
    pub async fn scale(&self, version: &str, replicas: u32) -> Result<Vec<Step>, String> {
        let from = u32::try_from(self.instances(version).len()).unwrap_or(u32::MAX);
        let steps = plan::scale(version, from, replicas).map_err(|e| e.to_string())?;
        for step in &steps {
            match step {
                Step::Start { total, .. } => {
                    let started = self.start_to(version, *total)?;
                    for id in &started {
                        if let Err(failure) =
                            wait_healthy(&self.supervisor, *id, &self.settings.health).await
                        {
                            let fresh: Vec<Instance> = started
                                .iter()
                                .filter_map(|id| self.supervisor.get(*id))
                                .collect();
                            self.stop_instances(&fresh).await?;
                            return Err(format!(
                                "scaling {version} to {replicas} failed, the new instances were stopped: {failure}"
                            ));
                        }
                    }
                }
                Step::Stop { remaining, .. } => self.stop_to(version, *remaining).await?,
                _ => {}
            }
        }
        self.route(&self.weights());
        Ok(steps)
    }

    /// The proxy answers every request 503 with `message` until `duration` has passed (or until
    /// [`Runtime::end_maintenance`] without one).
    pub fn start_maintenance(&self, message: &str, duration: Option<Duration>) {
        self.proxy.set_maintenance(Some(Maintenance {
            message: message.into(),
            until: duration.map(|d| std::time::Instant::now() + d),
        }));
    }

    pub fn end_maintenance(&self) {
        self.proxy.set_maintenance(None);
    }

    /// Stops every instance gracefully, then the proxy.
    pub async fn shutdown(self) {
        self.supervisor.shutdown(self.settings.stop_grace).await;
        self.proxy.shutdown().await;
    }
}

fn live(state: State) -> bool {
    matches!(state, State::Starting | State::Running | State::Crashed)
}

/// The proxy's name for an instance.
fn backend_id(instance: &Instance) -> String {
    format!("{}#{}", instance.version, instance.id)
}

fn write(sink: &mut dyn JournalSink, journal: &Journal, what: &str) -> Result<(), DriverError> {
    sink.write(journal).map_err(|reason| DriverError::Journal {
        what: what.into(),
        reason,
    })
}

/// Records a control in the journal, which [`journal::next`] then obeys.
fn apply_control(
    journal: &mut Journal,
    sink: &mut dyn JournalSink,
    control: Control,
) -> Result<(), DriverError> {
    let event = match control {
        Control::Pause { actor } => Record::Paused { actor },
        Control::Resume { actor } => Record::Resumed { actor },
        Control::Promote { actor } => Record::PromotedByHand { actor },
        Control::Abort { actor, reason } => Record::Aborted { actor, reason },
    };
    journal.record(Timestamp::now(), event);
    write(sink, journal, "recording a decision taken by hand")
}

/// An analysis ends when someone promotes or aborts the rollout.
fn ends_analysis(control: &Control) -> bool {
    matches!(control, Control::Promote { .. } | Control::Abort { .. })
}

/// Keeping the old version warm ends when someone promotes by hand (an abort after the
/// promotion changes nothing: the old version stays warm for its time).
fn ends_keep_warm(control: &Control) -> bool {
    matches!(control, Control::Promote { .. })
}

/// Resolves with the reason once an instance of `version` crashes.
async fn next_crash(
    events: &mut broadcast::Receiver<Event>,
    supervisor: &Supervisor,
    version: &str,
) -> String {
    loop {
        let (instance, what) = match events.recv().await {
            Ok(Event::Exited {
                instance,
                exit,
                uptime,
            }) => (instance, format!("the process {exit} after {uptime:.1?}")),
            Ok(Event::GaveUp { instance, restarts }) => (
                instance,
                format!("it was given up on after {restarts} restarts"),
            ),
            Ok(_) => continue,
            // Missed events: look at the instances themselves.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                match supervisor.list().into_iter().find(|i| {
                    i.version == version && matches!(i.state, State::Crashed | State::Failed)
                }) {
                    Some(i) => (i.id, format!("it is {}", i.state)),
                    None => continue,
                }
            }
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        };
        if supervisor
            .get(instance)
            .is_none_or(|i| i.version != version)
        {
            continue;
        }
        return crash_reason(supervisor, instance, version, &what);
    }
}

/// "instance 7 of v2 crashed: the process exited with code 3 after 1.2s", and its logs.
fn crash_reason(
    supervisor: &Supervisor,
    instance: InstanceId,
    version: &str,
    what: &str,
) -> String {
    let mut reason = format!("instance {instance} of {version} crashed: {what}");
    let logs = supervisor.tail(instance, LOG_TAIL);
    let _ = write!(reason, "\n  its last {} log lines:", logs.len());
    for line in logs {
        let _ = write!(reason, "\n  | {line}");
    }
    reason
}

/// Runs one smoke command with `URL` set; its failure says how it ended and shows its output.
async fn smoke(command: &str, url: &str, timeout: Duration) -> Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("the smoke test `{command}` could not be started: {e}"))?;
    let mut output = Vec::new();
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let run = async {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        if let (Some(out), Some(err)) = (out.as_mut(), err.as_mut()) {
            let _ = tokio::join!(out.read_to_end(&mut a), err.read_to_end(&mut b));
        }
        output.extend(a);
        output.extend(b);
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            return Err(format!(
                "the smoke test `{command}` could not be waited for: {e}"
            ));
        }
        Err(_) => {
            return Err(format!(
                "the smoke test `{command}` did not finish within {timeout:?}; make it faster or raise the timeout"
            ));
        }
    };
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output);
    let lines: Vec<&str> = text.lines().collect();
    let mut reason = format!("the smoke test `{command}` against {url} failed ({status})");
    for line in &lines[lines.len().saturating_sub(SMOKE_TAIL)..] {
        let _ = write!(reason, "\n  | {line}");
    }
    Err(reason)
}

/// The proxy's measurements as the analysis reads them. A response cut off mid-body counts as
/// a server error. The proxy keeps latency percentiles, not every latency, so the histogram is
/// rebuilt from them: half of the answers at p50, up to 95 % at p95, up to 99 % at p99, the rest
/// at the maximum, which keeps each of these percentiles where the proxy measured it.
pub fn window(measured: &gantry_proxy::Window) -> analysis::Window {
    analysis::Window {
        requests: measured.requests,
        server_errors: measured.status_5xx + measured.interrupted,
        failed: measured.failed,
        latency: histogram(&measured.latency),
    }
}

fn histogram(latencies: &Latencies) -> LatencyHistogram {
    let mut histogram = LatencyHistogram::default();
    let count = latencies.count;
    let upto = |q: f64| ((q * count as f64).ceil() as u64).min(count);
    let marks = [
        (upto(0.5), latencies.p50),
        (upto(0.95), latencies.p95),
        (upto(0.99), latencies.p99),
        (count, latencies.max),
    ];
    let mut recorded = 0;
    for (upto, latency) in marks {
        while recorded < upto {
            histogram.record(latency);
            recorded += 1;
        }
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_deploy::config::Listen;

    fn target(command: &str, workdir: Option<&str>) -> ProcessTarget {
        ProcessTarget {
            command: command.into(),
            instances: 2,
            listen: Listen {
                host: Some("127.0.0.1".into()),
                port: 0,
            },
            env: vec![("MODE".into(), "fast".into())],
            workdir: workdir.map(str::to_owned),
        }
    }

    #[test]
    fn the_version_fills_in_the_command_and_the_working_directory() {
        let settings = Settings::new(
            "staging",
            target(
                "exec ./app-{version} --tag {version}",
                Some("/srv/{version}"),
            ),
        );
        let spec = settings.spec("v2");
        assert_eq!(spec.command, "exec ./app-v2 --tag v2");
        assert_eq!(spec.dir, PathBuf::from("/srv/v2"));
        assert_eq!(spec.version, "v2");
        assert_eq!(spec.env, vec![("MODE".to_owned(), "fast".to_owned())]);
    }

    #[test]
    fn a_window_keeps_the_proxys_counts_and_percentiles() {
        let ms = Duration::from_millis;
        for (count, p50, p95, p99, max) in [
            (1000, 3, 40, 90, 300),
            (7, 1, 4, 4, 4),
            (1, 5, 5, 5, 5),
            (0, 0, 0, 0, 0),
        ] {
            let measured = gantry_proxy::Window {
                requests: count + 3,
                status_2xx: count.saturating_sub(2),
                status_5xx: 2.min(count),
                failed: 3,
                interrupted: 1,
                latency: Latencies {
                    count,
                    mean: ms(p50),
                    max: ms(max),
                    p50: ms(p50),
                    p95: ms(p95),
                    p99: ms(p99),
                },
                ..gantry_proxy::Window::default()
            };
            let converted = window(&measured);
            assert_eq!(converted.requests, count + 3);
            assert_eq!(converted.server_errors, 2.min(count) + 1);
            assert_eq!(converted.failed, 3);
            assert_eq!(converted.latency.count(), count, "{count} answers");
            if count == 0 {
                assert_eq!(converted.p95_ms(), None);
                continue;
            }
            // The analysis histogram is precise to 0.4 %.
            for (q, expected) in [(0.5, p50), (0.95, p95), (0.99, p99), (1.0, max)] {
                let got = converted
                    .latency
                    .quantile(q)
                    .expect("answers")
                    .as_secs_f64()
                    * 1000.0;
                let expected = expected as f64;
                assert!(
                    (got - expected).abs() <= expected * 0.004,
                    "quantile {q} of {count}: {got} ms, not {expected} ms"
                );
            }
        }
    }

    #[test]
    fn only_process_targets_are_driven_here() {
        let file = ".gantry/environments.yml";
        let src = "environments:\n  docs:\n    url: https://docs.example.com\n  staging:\n    target:\n      kind: process\n      command: exec ./app\n      listen: 8080\n    smoke: [\"curl -f $URL/\"]\n";
        let (environments, diagnostics) = gantry_deploy::config::parse(file, src);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let docs = environments.get("docs").expect("docs is declared");
        let error = Settings::from_environment(docs).expect_err("docs has no target");
        assert!(error.to_string().contains("has no `target`"), "{error}");
        let staging = environments.get("staging").expect("staging is declared");
        let settings = Settings::from_environment(staging).expect("a process target");
        assert_eq!(settings.target.command, "exec ./app");
        assert_eq!(settings.target.listen.port, 8080);
        assert_eq!(settings.smoke, vec!["curl -f $URL/".to_owned()]);
    }
}
