//! The `process` target's supervisor: N instances of an application on this host, each on its
//! own loopback port, each in its own process group, with its recent output kept, restarted with
//! exponential backoff when it crashes, and every change announced as an [`Event`] so a rollout
//! driver notices a crash the moment it happens.
//!
//! # Lifecycle of an instance
//!
//! [`Supervisor::start`] runs the command line with `sh -c` in the spec's directory, in a new
//! process group, with a clean environment: `PATH`, `HOME`, `USER`, `LANG`, `LC_ALL`, `TZ` and
//! `TMPDIR` from Gantry's own (nothing else of it — no server secrets leak into applications), then
//! the spec's variables, then `PORT`, `GANTRY_VERSION` and `GANTRY_INSTANCE`. The instance is
//! [`State::Starting`] until its port accepts a TCP connection, then [`State::Running`]. When it
//! exits on its own it is [`State::Crashed`]: the rest of its process group is killed, and it is
//! started again after 1 s, 2 s, 4 s … capped at 30 s ([`Backoff`]); the delay starts over once
//! an instance stayed up for 60 s. After [`SupervisorConfig::max_restarts`] crashes in a row the
//! supervisor gives up ([`State::Failed`], [`Event::GaveUp`]). [`Supervisor::stop`] is not a
//! crash: SIGTERM to the whole group, up to `grace` for the process to exit, then SIGKILL to the
//! group; it is never restarted.
//!
//! # When Gantry itself ends
//!
//! Instances live and die with Gantry; there is no detached mode. [`Supervisor::shutdown`] stops
//! every instance gracefully; dropping the supervisor SIGKILLs every instance's group at once. If
//! Gantry is killed without running either (`kill -9`, a crash), the instances' process groups
//! are not signalled by the kernel: they are killed only when the binary hands the supervisor a
//! [`GroupWatch`] — the executor's watchdog process, which SIGKILLs every registered group when
//! Gantry dies. Without one they are left running as orphans. Either way a restarted server
//! re-adopts nothing: it starts the instances again from the deployment record.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::logs::{LineSplitter, LogRing, Stream};

/// The variables of Gantry's own environment an instance inherits; everything else it gets
/// from its spec.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// How long the output of an ended process is still read before its exit is announced.
const DRAIN: Duration = Duration::from_secs(1);

/// How often a starting instance's port is tried.
const PROBE_EVERY: Duration = Duration::from_millis(50);

/// Something that kills registered process groups should Gantry die without stopping them
/// (the executor's watchdog, wired by the binary).
pub trait GroupWatch: Send + Sync {
    /// From now on, kill this process group if Gantry dies.
    fn watch(&self, pgid: i32);
    /// The group is gone or was killed: forget it.
    fn release(&self, pgid: i32);
}

/// The supervisor's name for one instance (stable across its restarts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u64);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What to run for one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSpec {
    /// The version label (`GANTRY_VERSION`), e.g. a digest or tag.
    pub version: String,
    /// The command line, run with `sh -c`. Write `exec ./app …` to make the application itself
    /// the process the supervisor waits for, so its own exit status is recorded: `sh` (dash)
    /// otherwise stays in between and, on a stop, dies of the SIGTERM at once (the stop still
    /// waits for the whole group, so the application drains all the same).
    pub command: String,
    /// The working directory.
    pub dir: PathBuf,
    /// Variables added to the instance's environment.
    pub env: Vec<(String, String)>,
    /// The port (`PORT`) on 127.0.0.1; a free one is chosen when `None`.
    pub port: Option<u16>,
}

impl InstanceSpec {
    pub fn new(
        version: impl Into<String>,
        command: impl Into<String>,
        dir: impl Into<PathBuf>,
    ) -> InstanceSpec {
        InstanceSpec {
            version: version.into(),
            command: command.into(),
            dir: dir.into(),
            env: Vec::new(),
            port: None,
        }
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> InstanceSpec {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn port(mut self, port: u16) -> InstanceSpec {
        self.port = Some(port);
        self
    }
}

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Its process runs but its port does not accept connections yet.
    Starting,
    /// Its process runs and its port accepts connections.
    Running,
    /// It exited on its own and will be restarted after a backoff.
    Crashed,
    /// It crashed too often in a row; the supervisor gave up.
    Failed,
    /// A stop was asked and the process has not exited yet.
    Stopping,
    /// It was stopped and will not be restarted.
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Crashed => "crashed",
            State::Failed => "failed",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }

    /// Whether the supervisor is done with the instance (nothing of it runs any more).
    pub fn is_final(self) -> bool {
        matches!(self, State::Failed | State::Stopped)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an instance's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// The process could not be started again (after a crash).
    NotStarted(String),
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with code {code}"),
            Exit::Signal(signal) => match Signal::try_from(*signal) {
                Ok(s) => write!(f, "was killed by {}", s.as_str()),
                Err(_) => write!(f, "was killed by signal {signal}"),
            },
            Exit::NotStarted(why) => write!(f, "could not be started: {why}"),
        }
    }
}

/// What happened to an instance, in order, on [`Supervisor::subscribe`]'s channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first process of the instance runs.
    Started {
        instance: InstanceId,
        pid: u32,
        port: u16,
    },
    /// The process exited without being asked to (a crash); a restart or [`Event::GaveUp`]
    /// follows.
    Exited {
        instance: InstanceId,
        exit: Exit,
        uptime: Duration,
    },
    /// A new process replaced a crashed one; `restarts` counts them since the start.
    Restarted {
        instance: InstanceId,
        pid: u32,
        restarts: u32,
    },
    /// The instance crashed too often in a row and stays down.
    GaveUp { instance: InstanceId, restarts: u32 },
    /// The instance was stopped; `exit` is `None` when it was between restarts.
    Stopped {
        instance: InstanceId,
        exit: Option<Exit>,
    },
}

impl Event {
    pub fn instance(&self) -> InstanceId {
        match self {
            Event::Started { instance, .. }
            | Event::Exited { instance, .. }
            | Event::Restarted { instance, .. }
            | Event::GaveUp { instance, .. }
            | Event::Stopped { instance, .. } => *instance,
        }
    }
}

/// The delays between restarts of a crashing instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first restart.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// An instance that stayed up this long starts over at `initial`.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before the restart that follows `crashes_in_a_row` earlier ones (0 for the
    /// first crash).
    pub fn delay(&self, crashes_in_a_row: u32) -> Duration {
        let factor = 2u32.saturating_pow(crashes_in_a_row.min(31));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// How the supervisor treats every instance.
#[derive(Clone)]
pub struct SupervisorConfig {
    /// How many lines of output are kept per instance.
    pub log_lines: usize,
    /// How many bytes of output are kept per instance.
    pub log_bytes: usize,
    pub backoff: Backoff,
    /// Crashes in a row (without staying up for `backoff.reset_after`) after which the
    /// supervisor gives up on an instance.
    pub max_restarts: u32,
    /// Kills the instances' groups if Gantry dies; see the module documentation.
    pub group_watch: Option<Arc<dyn GroupWatch>>,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            log_lines: 500,
            log_bytes: 256 * 1024,
            backoff: Backoff::default(),
            max_restarts: 10,
            group_watch: None,
        }
    }
}

impl fmt::Debug for SupervisorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorConfig")
            .field("log_lines", &self.log_lines)
            .field("log_bytes", &self.log_bytes)
            .field("backoff", &self.backoff)
            .field("max_restarts", &self.max_restarts)
            .field("group_watch", &self.group_watch.is_some())
            .finish()
    }
}

/// A snapshot of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub version: String,
    pub port: u16,
    pub state: State,
    /// The process id (also its process group id) while a process runs.
    pub pid: Option<u32>,
    /// How many times the instance was started again after a crash.
    pub restarts: u32,
    /// How its last process ended.
    pub last_exit: Option<Exit>,
}

impl Instance {
    /// Where the instance serves.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }
}

/// What the supervisor could not do.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("instance {0} is not known to this supervisor (it was never started or was forgotten)")]
    Unknown(InstanceId),
    #[error(
        "cannot start version {version}: the working directory {dir} is not a directory; deploy the files first or fix the target's `dir`"
    )]
    NoDirectory { version: String, dir: PathBuf },
    #[error("cannot start version {version} with `sh -c {command:?}` in {dir}: {source}")]
    Spawn {
        version: String,
        command: String,
        dir: PathBuf,
        source: io::Error,
    },
    #[error(
        "port {0} is already given to another instance of this supervisor; leave the port out to get a free one"
    )]
    PortTaken(u16),
    #[error("no free port on 127.0.0.1: {0}")]
    NoFreePort(io::Error),
    #[error("instance {0} still runs; stop it before forgetting it")]
    StillRunning(InstanceId),
}

/// Supervises instances; see the module documentation. Must be used inside a tokio runtime.
/// Dropping it SIGKILLs every instance; [`Supervisor::shutdown`] stops them gracefully.
pub struct Supervisor {
    shared: Arc<Shared>,
}

struct Shared {
    config: SupervisorConfig,
    events: broadcast::Sender<Event>,
    slots: Mutex<BTreeMap<InstanceId, Slot>>,
    next_id: AtomicU64,
}

struct Slot {
    info: Instance,
    logs: Arc<Mutex<LogRing>>,
    /// The stop request: `Some(grace)` once asked.
    stop: watch::Sender<Option<Duration>>,
    /// Turns true when the supervising task is done with the instance.
    done: watch::Receiver<bool>,
}

impl Shared {
    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<InstanceId, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, id: InstanceId, change: impl FnOnce(&mut Instance)) {
        if let Some(slot) = self.slots().get_mut(&id) {
            change(&mut slot.info);
        }
    }

    fn emit(&self, event: Event) {
        // No subscriber is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    fn watch_group(&self, pgid: i32) {
        if let Some(w) = self.config.group_watch.as_ref().filter(|_| pgid > 0) {
            w.watch(pgid);
        }
    }

    fn release_group(&self, pgid: i32) {
        if let Some(w) = self.config.group_watch.as_ref().filter(|_| pgid > 0) {
            w.release(pgid);
        }
    }
}

impl Supervisor {
    pub fn new(config: SupervisorConfig) -> Supervisor {
        Supervisor {
            shared: Arc::new(Shared {
                config,
                events: broadcast::channel(1024).0,
                slots: Mutex::new(BTreeMap::new()),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// Every event from now on. A receiver that falls more than 1024 events behind gets
    /// `Lagged` and should look at [`Supervisor::list`].
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Starts an instance and supervises it until it is stopped. Errors when the process cannot
    /// be started at all; a command that starts and fails is a crash, restarted with backoff.
    pub fn start(&self, spec: InstanceSpec) -> Result<Instance, SupervisorError> {
        if !spec.dir.is_dir() {
            return Err(SupervisorError::NoDirectory {
                version: spec.version,
                dir: spec.dir,
            });
        }
        let id = InstanceId(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        let port = self.pick_port(spec.port)?;
        let logs = Arc::new(Mutex::new(LogRing::new(
            self.shared.config.log_lines,
            self.shared.config.log_bytes,
        )));
        let child = spawn(&spec, id, port).map_err(|source| SupervisorError::Spawn {
            version: spec.version.clone(),
            command: spec.command.clone(),
            dir: spec.dir.clone(),
            source,
        })?;
        let pid = child.id().unwrap_or(0);
        self.shared.watch_group(pid as i32);
        let info = Instance {
            id,
            version: spec.version.clone(),
            port,
            state: State::Starting,
            pid: Some(pid),
            restarts: 0,
            last_exit: None,
        };
        let (stop_tx, stop_rx) = watch::channel(None);
        let (done_tx, done_rx) = watch::channel(false);
        self.shared.slots().insert(
            id,
            Slot {
                info: info.clone(),
                logs: logs.clone(),
                stop: stop_tx,
                done: done_rx,
            },
        );
        self.shared.emit(Event::Started {
            instance: id,
            pid,
            port,
        });
        let task = Task {
            shared: self.shared.clone(),
            id,
            spec,
            port,
            logs,
            stop: stop_rx,
        };
        tokio::spawn(async move {
            task.supervise(child).await;
            let _ = done_tx.send(true);
        });
        Ok(info)
    }

    fn pick_port(&self, wanted: Option<u16>) -> Result<u16, SupervisorError> {
        let taken = |port: u16| {
            self.shared
                .slots()
                .values()
                .any(|s| s.info.port == port && !s.info.state.is_final())
        };
        if let Some(port) = wanted {
            return if taken(port) {
                Err(SupervisorError::PortTaken(port))
            } else {
                Ok(port)
            };
        }
        // The kernel hands out ephemeral ports in turn, so a port we still hold for an instance
        // that has not bound it yet is skipped on the next try.
        for _ in 0..64 {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(SupervisorError::NoFreePort)?;
            let port = listener
                .local_addr()
                .map_err(SupervisorError::NoFreePort)?
                .port();
            if !taken(port) {
                return Ok(port);
            }
        }
        Err(SupervisorError::NoFreePort(io::Error::other(
            "every port offered was already given to an instance",
        )))
    }

    /// Stops an instance: SIGTERM to its group, up to `grace` to exit, then SIGKILL. Returns its
    /// final snapshot. Stopping a stopped or failed instance does nothing.
    pub async fn stop(&self, id: InstanceId, grace: Duration) -> Result<Instance, SupervisorError> {
        let mut done = {
            let slots = self.shared.slots();
            let slot = slots.get(&id).ok_or(SupervisorError::Unknown(id))?;
            ask_stop(slot, grace);
            slot.done.clone()
        };
        // An error means the task ended (it always sends `true` first unless it panicked).
        let _ = done.wait_for(|done| *done).await;
        self.get(id).ok_or(SupervisorError::Unknown(id))
    }

    /// Stops every instance at once, each with `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        let dones: Vec<_> = self
            .shared
            .slots()
            .values()
            .map(|slot| {
                ask_stop(slot, grace);
                slot.done.clone()
            })
            .collect();
        for mut done in dones {
            let _ = done.wait_for(|done| *done).await;
        }
    }

    /// A snapshot of one instance.
    pub fn get(&self, id: InstanceId) -> Option<Instance> {
        self.shared.slots().get(&id).map(|s| s.info.clone())
    }

    /// Every instance, stopped ones included, in start order.
    pub fn list(&self) -> Vec<Instance> {
        self.shared
            .slots()
            .values()
            .map(|s| s.info.clone())
            .collect()
    }

    /// The instance's last lines of output (with time and stream), oldest first; empty for an
    /// unknown instance.
    pub fn logs(&self, id: InstanceId) -> Vec<String> {
        self.tail(id, usize::MAX)
    }

    /// The instance's last `n` lines of output.
    pub fn tail(&self, id: InstanceId, n: usize) -> Vec<String> {
        let Some(logs) = self.shared.slots().get(&id).map(|s| s.logs.clone()) else {
            return Vec::new();
        };
        let ring = logs.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = ring.len().saturating_sub(n);
        ring.lines().skip(skip).map(|l| l.to_string()).collect()
    }

    /// Forgets a stopped or failed instance (its snapshot and logs).
    pub fn forget(&self, id: InstanceId) -> Result<(), SupervisorError> {
        let mut slots = self.shared.slots();
        let slot = slots.get(&id).ok_or(SupervisorError::Unknown(id))?;
        if !*slot.done.borrow() {
            return Err(SupervisorError::StillRunning(id));
        }
        slots.remove(&id);
        Ok(())
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for slot in self.shared.slots().values() {
            if *slot.done.borrow() {
                continue;
            }
            if let Some(pid) = slot.info.pid {
                let _ = signal_group(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            slot.stop.send_replace(Some(Duration::ZERO));
        }
    }
}

/// Asks the instance's task to stop it, unless a stop was asked already.
fn ask_stop(slot: &Slot, grace: Duration) {
    slot.stop.send_if_modified(|asked| {
        let first = asked.is_none();
        if first {
            *asked = Some(grace);
        }
        first
    });
}

/// Starts one process of an instance.
fn spawn(spec: &InstanceSpec, id: InstanceId, port: u16) -> io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.dir)
        .env_clear()
        .envs(
            INHERITED_ENV
                .iter()
                .filter_map(|name| std::env::var_os(name).map(|value| (name.to_string(), value))),
        )
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("PORT", port.to_string())
        .env("GANTRY_VERSION", &spec.version)
        .env("GANTRY_INSTANCE", id.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Should the supervising task be dropped with the runtime, the process goes with it.
        .kill_on_drop(true);
    cmd.spawn()
}

/// Copies the child's stdout and stderr into the instance's log ring, line by line, until both
/// pipes close.
fn capture(child: &mut Child, logs: &Arc<Mutex<LogRing>>) -> Vec<JoinHandle<()>> {
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(copy_lines(out, Stream::Stdout, logs.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(copy_lines(err, Stream::Stderr, logs.clone())));
    }
    readers
}

async fn copy_lines(mut pipe: impl AsyncRead + Unpin, stream: Stream, logs: Arc<Mutex<LogRing>>) {
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut ring = logs.lock().unwrap_or_else(PoisonError::into_inner);
                splitter.feed(&buf[..n], |line| ring.push(stream, line));
            }
        }
    }
    if let Some(last) = splitter.finish() {
        logs.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(stream, last);
    }
}

/// How one process of an instance ended.
enum Ended {
    /// On its own.
    Exited(Exit),
    /// Stopped on request.
    Stopped(Exit),
}

/// The task that owns one instance's processes.
struct Task {
    shared: Arc<Shared>,
    id: InstanceId,
    spec: InstanceSpec,
    port: u16,
    logs: Arc<Mutex<LogRing>>,
    stop: watch::Receiver<Option<Duration>>,
}

impl Task {
    fn note(&self, text: String) {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Stream::Gantry, text);
    }

    async fn supervise(mut self, first: Child) {
        let backoff = self.shared.config.backoff.clone();
        let mut next = Some(first);
        let mut restarts = 0u32;
        let mut in_a_row = 0u32;
        loop {
            let started = Instant::now();
            let child = match next.take() {
                Some(child) => Ok(child),
                None => spawn(&self.spec, self.id, self.port).inspect(|child| {
                    let pid = child.id().unwrap_or(0);
                    self.shared.update(self.id, |i| {
                        i.state = State::Starting;
                        i.pid = Some(pid);
                        i.restarts = restarts;
                    });
                    self.shared.watch_group(pid as i32);
                    self.shared.emit(Event::Restarted {
                        instance: self.id,
                        pid,
                        restarts,
                    });
                }),
            };
            let exit = match child {
                Err(e) => Exit::NotStarted(e.to_string()),
                Ok(child) => match self.run(child).await {
                    Ended::Exited(exit) => exit,
                    Ended::Stopped(exit) => {
                        self.note(format!("stopped: the process {exit}"));
                        self.finish(State::Stopped, Some(exit));
                        return;
                    }
                },
            };
            let uptime = started.elapsed();
            if uptime >= backoff.reset_after {
                in_a_row = 0;
            }
            self.note(format!("the process {exit} after {uptime:.1?}"));
            self.shared.update(self.id, |i| {
                i.state = State::Crashed;
                i.pid = None;
                i.last_exit = Some(exit.clone());
            });
            self.shared.emit(Event::Exited {
                instance: self.id,
                exit,
                uptime,
            });
            if in_a_row >= self.shared.config.max_restarts {
                self.note(format!(
                    "gave up after {in_a_row} crashes in a row ({restarts} restarts in all)"
                ));
                self.shared.update(self.id, |i| i.state = State::Failed);
                self.shared.emit(Event::GaveUp {
                    instance: self.id,
                    restarts,
                });
                return;
            }
            let delay = backoff.delay(in_a_row);
            in_a_row += 1;
            restarts += 1;
            self.shared.update(self.id, |i| i.restarts = restarts);
            self.note(format!("restarting in {delay:?} (restart {restarts})"));
            tokio::select! {
                _ = stop_requested(&mut self.stop) => {
                    self.note("stopped while waiting to restart".into());
                    self.finish(State::Stopped, None);
                    return;
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Waits for the process to exit or for a stop request, marking the instance running once
    /// its port accepts connections.
    async fn run(&mut self, mut child: Child) -> Ended {
        let readers = capture(&mut child, &self.logs);
        let pgid = Pid::from_raw(child.id().unwrap_or(0) as i32);
        let mut ready = false;
        let ended = loop {
            tokio::select! {
                grace = stop_requested(&mut self.stop) => {
                    self.shared.update(self.id, |i| i.state = State::Stopping);
                    break Ended::Stopped(terminate(&mut child, pgid, grace).await);
                }
                status = child.wait() => {
                    break Ended::Exited(match status {
                        Ok(status) => Exit::from(status),
                        Err(e) => Exit::NotStarted(format!("waiting for it failed: {e}")),
                    });
                }
                () = accepts(self.port), if !ready => {
                    ready = true;
                    self.shared.update(self.id, |i| {
                        if i.state == State::Starting {
                            i.state = State::Running;
                        }
                    });
                }
            }
        };
        // What the process left behind in its group (background children) goes with it.
        let _ = signal_group(pgid, Signal::SIGKILL);
        self.shared.release_group(pgid.as_raw());
        // Its last words belong in the log before anyone hears of the exit. A process that left
        // the group could hold the pipes open, hence the limit.
        let _ = tokio::time::timeout(DRAIN, async {
            for reader in readers {
                let _ = reader.await;
            }
        })
        .await;
        ended
    }

    fn finish(&self, state: State, exit: Option<Exit>) {
        self.shared.update(self.id, |i| {
            i.state = state;
            i.pid = None;
            if exit.is_some() {
                i.last_exit = exit.clone();
            }
        });
        self.shared.emit(Event::Stopped {
            instance: self.id,
            exit,
        });
    }
}

/// SIGTERM to the group, up to `grace` for the whole group to exit (the leader may be a shell
/// that dies at once while the application drains), then SIGKILL to what is left.
async fn terminate(child: &mut Child, pgid: Pid, grace: Duration) -> Exit {
    let _ = signal_group(pgid, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => {
            // The kernel refuses a signal to a group only once no process is left in it.
            while signal_group(pgid, None).is_ok() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            status
        }
        Err(_) => {
            let _ = signal_group(pgid, Signal::SIGKILL);
            child.wait().await
        }
    };
    let _ = signal_group(pgid, Signal::SIGKILL);
    match status {
        Ok(status) => Exit::from(status),
        Err(e) => Exit::NotStarted(format!("waiting for it failed: {e}")),
    }
}

/// `killpg`, except that it never signals group 0 (which would be Gantry's own group) or a
/// negative one, should a process id ever be missing.
fn signal_group(pgid: Pid, signal: impl Into<Option<Signal>>) -> nix::Result<()> {
    if pgid.as_raw() <= 0 {
        return Err(Errno::ESRCH);
    }
    nix::sys::signal::killpg(pgid, signal)
}

/// Resolves with the grace once a stop is asked; a dropped supervisor asks for none.
async fn stop_requested(stop: &mut watch::Receiver<Option<Duration>>) -> Duration {
    loop {
        if let Some(grace) = *stop.borrow_and_update() {
            return grace;
        }
        if stop.changed().await.is_err() {
            return Duration::ZERO;
        }
    }
}

/// Resolves once the port accepts a TCP connection.
async fn accepts(port: u16) {
    loop {
        if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_one_second_up_to_thirty() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn exits_say_how_the_process_ended() {
        let cases = [
            (Exit::Code(3), "exited with code 3"),
            (Exit::Signal(9), "was killed by SIGKILL"),
            (Exit::Signal(200), "was killed by signal 200"),
            (
                Exit::NotStarted("no such file".into()),
                "could not be started: no such file",
            ),
        ];
        for (exit, text) in cases {
            assert_eq!(exit.to_string(), text);
        }
    }
}
