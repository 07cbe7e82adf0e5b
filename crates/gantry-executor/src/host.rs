//! The host executor: runs every process directly on this machine, each in a
//! process group of its own, and kills whole process trees on timeout,
//! cancellation and job end.
//!
//! One exec is one task-local state machine polled by the caller: no thread,
//! no polling loop, one timer. Its phases:
//!
//! * running: forward output as it arrives; on exit go to draining, on
//!   timeout or cancellation send SIGTERM to the group and go to terminating;
//! * terminating: keep forwarding output; once the group is empty, or the
//!   grace period is over, SIGKILL the group (what is left of it);
//! * draining: after a normal exit, background processes may still hold the
//!   pipes open; forward what they write until both pipes close or the drain
//!   time (100 ms by default) is over, then return. Their group is recorded
//!   and killed by [`JobRuntime::finish`].

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::Instant;

use crate::watchdog::Watchdog;
use crate::{
    BoxFuture, ExecError, ExecLimits, Executor, Exit, JobRuntime, JobSpec, OutputSink, ProcessSpec,
    Stream,
};

/// How often a terminating exec checks whether its group is gone.
const REGROUP_CHECK: Duration = Duration::from_millis(25);

/// Size of each pipe's read buffer at first, made at the first read: most
/// steps print little or nothing, and a buffer of 64 KiB or more costs a
/// heap consolidation when freed.
const READ_BUFFER: usize = 16 * 1024;

/// What a read buffer grows to when a step writes in bulk (a read filled
/// it): the kernel's default pipe size, so that one read takes all there is.
/// (Growing the pipe itself to 1 MiB was measured: larger reads made larger
/// output buffers, which the allocator maps and unmaps, and it was slower.)
const BULK_READ_BUFFER: usize = 64 * 1024;

/// Runs steps as processes on this machine.
#[derive(Debug, Clone)]
pub struct HostExecutor {
    grace: Duration,
    drain: Duration,
    watchdog: Option<Arc<Watchdog>>,
    programs: Arc<ProgramCache>,
}

/// Where a program name was last found, per `PATH` and working directory:
/// every step of every job runs the same few shells, and a `PATH` search is
/// a failed `stat` per directory before the right one. A remembered path is
/// checked again (one `stat`) before use; a program that stopped being
/// there is searched for afresh. (A copy installed during the run in an
/// earlier directory of the same `PATH` is therefore not preferred; tools
/// added with `$GITHUB_PATH` change `PATH`, and so the key.)
#[derive(Debug, Default)]
struct ProgramCache(Mutex<std::collections::HashMap<ProgramKey, std::path::PathBuf>>);

/// (program, `PATH`, working directory)
type ProgramKey = (String, std::ffi::OsString, std::path::PathBuf);

impl HostExecutor {
    /// How long a process tree gets between SIGTERM and SIGKILL by default.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// How long output is still read after a process exited by default.
    pub const DEFAULT_DRAIN: Duration = Duration::from_millis(100);

    pub fn new() -> Self {
        HostExecutor {
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
            watchdog: None,
            programs: Arc::default(),
        }
    }

    /// Registers every process group with `watchdog`, so that the steps'
    /// process trees die with gantry even when it is SIGKILLed. Without one,
    /// only a gantry that exits normally (or on SIGINT/SIGTERM/SIGHUP, which
    /// the CLI handles) cleans up.
    pub fn with_watchdog(mut self, watchdog: Arc<Watchdog>) -> Self {
        self.watchdog = Some(watchdog);
        self
    }

    /// Time between SIGTERM and SIGKILL on timeout or cancellation.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long to keep reading output that background processes write after
    /// the main process exited.
    pub fn with_drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }
}

impl Default for HostExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor for HostExecutor {
    fn name(&self) -> &str {
        "host"
    }

    fn start_job<'a>(
        &'a self,
        job: &'a JobSpec,
    ) -> BoxFuture<'a, Result<Box<dyn JobRuntime>, ExecError>> {
        Box::pin(async move {
            if let Some(container) = &job.container {
                return Err(ExecError::ContainerUnsupported {
                    what: format!("job `{}` (container `{}`)", job.job_name, container.image),
                    executor: self.name().to_owned(),
                    hint: "run gantry where a Docker engine is reachable, or remove `container:`"
                        .into(),
                });
            }
            if let Some((name, _)) = job.services.first() {
                return Err(ExecError::ContainerUnsupported {
                    what: format!("job `{}` (service `{name}`)", job.job_name),
                    executor: self.name().to_owned(),
                    hint: "run gantry where a Docker engine is reachable, or remove `services:`"
                        .into(),
                });
            }
            if !job.workspace.is_dir() {
                std::fs::create_dir_all(&job.workspace).map_err(|error| ExecError::Io {
                    context: format!("cannot create workspace `{}`", job.workspace.display()),
                    error,
                })?;
            }
            let runtime: Box<dyn JobRuntime> = Box::new(HostJob {
                grace: self.grace,
                drain: self.drain,
                groups: Mutex::new(Vec::new()),
                watchdog: self.watchdog.clone(),
                watched: Mutex::new(Vec::new()),
                programs: self.programs.clone(),
            });
            Ok(runtime)
        })
    }
}

/// One job on the host: remembers the process groups its execs left alive.
struct HostJob {
    grace: Duration,
    drain: Duration,
    groups: Mutex<Vec<Pid>>,
    watchdog: Option<Arc<Watchdog>>,
    /// Every group registered with the watchdog, released at the job's end.
    watched: Mutex<Vec<Pid>>,
    programs: Arc<ProgramCache>,
}

impl JobRuntime for HostJob {
    fn exec<'a>(
        &'a self,
        spec: ProcessSpec,
        sink: &'a mut dyn OutputSink,
        limits: ExecLimits,
    ) -> BoxFuture<'a, Result<Exit, ExecError>> {
        Box::pin(self.run(spec, sink, limits))
    }

    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), ExecError>> {
        self.kill_groups();
        Box::pin(std::future::ready(Ok(())))
    }
}

impl Drop for HostJob {
    fn drop(&mut self) {
        // A job dropped without finish() must not leak its background processes.
        self.kill_groups();
    }
}

/// What the exec is doing; decides what the timer means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The process runs; the timer (if armed) is the timeout.
    Running,
    /// SIGTERM was sent; the timer is the end of the grace period.
    Terminating,
    /// SIGKILL was sent, or the process exited on its own; the timer ends the
    /// wait for the pipes to close.
    Draining,
}

impl HostJob {
    async fn run(
        &self,
        spec: ProcessSpec,
        sink: &mut dyn OutputSink,
        limits: ExecLimits,
    ) -> Result<Exit, ExecError> {
        if limits.cancel.is_cancelled() {
            return Ok(Exit::Cancelled);
        }
        let program = self.programs.resolve(&spec);
        let mut command = Command::new(&*program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn().map_err(|e| spawn_error(&spec, e))?;
        // The child leads its own group, so its pid is the group id.
        let Some(pgid) = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
        else {
            return Err(ExecError::Io {
                context: format!("`{}` started but has no process id", spec.program),
                error: io::Error::other("process already reaped"),
            });
        };
        if let Some(watchdog) = &self.watchdog {
            watchdog.watch(pgid);
            lock(&self.watched).push(pgid);
        }
        // If this future is dropped mid-way, take the whole tree down with it.
        let mut guard = GroupGuard(Some(pgid));

        let mut stdout = Pipe::new(child.stdout.take(), Stream::Stdout);
        let mut stderr = Pipe::new(child.stderr.take(), Stream::Stderr);
        let mut status: Option<ExitStatus> = None;
        let mut ended_by: Option<Exit> = None;
        let mut killed = false;
        let mut phase = Phase::Running;

        let timer = tokio::time::sleep(limits.timeout.unwrap_or(Duration::ZERO));
        tokio::pin!(timer);
        let mut timer_armed = limits.timeout.is_some();
        let cancelled = limits.cancel.cancelled();
        tokio::pin!(cancelled);

        loop {
            if status.is_some() && !stdout.is_open() && !stderr.is_open() {
                // While terminating, other members of the group get the rest
                // of the grace period (the timer) to exit on SIGTERM.
                if phase != Phase::Terminating || !group_has_live_members(pgid) {
                    break;
                }
            }
            tokio::select! {
                waited = child.wait(), if status.is_none() => {
                    let exited = waited.map_err(|error| ExecError::Io {
                        context: format!("cannot wait for `{}`", spec.program),
                        error,
                    })?;
                    status = Some(exited);
                    if phase == Phase::Running {
                        phase = Phase::Draining;
                        timer.as_mut().reset(Instant::now() + self.drain);
                        timer_armed = true;
                    }
                }
                () = &mut cancelled, if phase == Phase::Running => {
                    ended_by = Some(Exit::Cancelled);
                    signal_group(pgid, Signal::SIGTERM);
                    phase = Phase::Terminating;
                    timer.as_mut().reset(Instant::now() + self.grace);
                    timer_armed = true;
                }
                () = &mut timer, if timer_armed => match phase {
                    Phase::Running => {
                        ended_by = Some(Exit::TimedOut);
                        signal_group(pgid, Signal::SIGTERM);
                        phase = Phase::Terminating;
                        timer.as_mut().reset(Instant::now() + self.grace);
                    }
                    Phase::Terminating => {
                        signal_group(pgid, Signal::SIGKILL);
                        killed = true;
                        phase = Phase::Draining;
                        timer.as_mut().reset(Instant::now() + self.drain);
                    }
                    Phase::Draining => break,
                },
                read = stdout.read(), if stdout.is_open() => stdout.forward(read, sink),
                read = stderr.read(), if stderr.is_open() => stderr.forward(read, sink),
                // While terminating with the child reaped and the pipes
                // closed, look again soon: the rest of the group may be
                // gone long before the grace period ends.
                () = tokio::time::sleep(REGROUP_CHECK), if phase == Phase::Terminating
                    && status.is_some() && !stdout.is_open() && !stderr.is_open() => {}
                // Unreachable (the child's exit is always awaited or the
                // timer armed), but never panic.
                else => break,
            }
        }

        if let Some(reason) = ended_by {
            // Sweep the group even when it looked empty: nothing may survive.
            if !killed {
                signal_group(pgid, Signal::SIGKILL);
            }
            guard.0 = None;
            if status.is_none() {
                child.wait().await.map_err(|error| ExecError::Io {
                    context: format!("cannot wait for `{}`", spec.program),
                    error,
                })?;
            }
            return Ok(reason);
        }

        guard.0 = None;
        // Background processes still in the group live until finish().
        if killpg(pgid, None).is_ok() {
            self.groups
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(pgid);
        }
        Ok(status.map_or(Exit::Code(-1), exit_of))
    }

    fn kill_groups(&self) {
        for pgid in std::mem::take(&mut *lock(&self.groups)) {
            signal_group(pgid, Signal::SIGKILL);
        }
        if let Some(watchdog) = &self.watchdog {
            for pgid in std::mem::take(&mut *lock(&self.watched)) {
                watchdog.release(pgid);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SIGKILLs a process group when dropped, unless disarmed (`.0 = None`).
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
}

/// One output pipe of the child and its read buffer.
struct Pipe<R> {
    reader: Option<R>,
    buf: Vec<u8>,
    stream: Stream,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: Option<R>, stream: Stream) -> Self {
        Pipe {
            buf: Vec::new(),
            reader,
            stream,
        }
    }

    fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// Read what is available (cancel safe: nothing is lost if dropped).
    async fn read(&mut self) -> io::Result<usize> {
        match &mut self.reader {
            Some(reader) => {
                if self.buf.capacity() == 0 {
                    self.buf.reserve_exact(READ_BUFFER);
                }
                reader.read_buf(&mut self.buf).await
            }
            None => Ok(0),
        }
    }

    /// Hand a read's bytes to the sink; close the pipe on EOF or error.
    fn forward(&mut self, read: io::Result<usize>, sink: &mut dyn OutputSink) {
        match read {
            Ok(n) if n > 0 => {
                sink.output(self.stream, &self.buf);
                let full = n == self.buf.capacity();
                self.buf.clear();
                // A read that filled the buffer: the step writes in bulk.
                if full && self.buf.capacity() < BULK_READ_BUFFER {
                    self.buf.reserve_exact(BULK_READ_BUFFER);
                }
            }
            _ => {
                self.reader = None;
                self.buf = Vec::new();
            }
        }
    }
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}

/// Send `signal` to a process group; a group that is already gone is fine.
fn signal_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        // EPERM: a member changed credentials (setuid); nothing more we can do.
        Err(_) => {}
    }
}

/// Whether a process of the group still runs. Zombies do not count: they are
/// dead, only not reaped yet by whoever inherited them (a container's PID 1
/// may take its time). Reads /proc, so it is only used on the rare
/// timeout/cancel path.
fn group_has_live_members(pgid: Pid) -> bool {
    if killpg(pgid, None).is_err() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp …"; comm may contain anything.
        let Some((_, after)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        pgrp == Some(pgid.as_raw()) && !matches!(state, Some("Z" | "X"))
    })
}

/// Finds `spec.program` on the `PATH` of the process's own environment, as
/// `execvp` would, so that the spawn needs no search in the child.
///
/// Besides saving the failed `execve`s of a search, a full path is what
/// lets the standard library start the child with `posix_spawn` (a vfork)
/// instead of a `fork` of this whole multi-threaded process: it falls back to
/// `fork` whenever the child's environment sets `PATH` and the program is not
/// a path. A program not found is returned unchanged, for the spawn to report.
fn resolve_program(spec: &ProcessSpec) -> std::borrow::Cow<'_, std::path::Path> {
    let program = std::path::Path::new(&spec.program);
    if spec.program.contains('/') || spec.program.is_empty() {
        return program.into();
    }
    let search = search_path(spec);
    for dir in std::env::split_paths(&search) {
        let dir = if dir.as_os_str().is_empty() {
            spec.cwd.clone()
        } else if dir.is_relative() {
            spec.cwd.join(dir)
        } else {
            dir
        };
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return candidate.into();
        }
    }
    program.into()
}

/// The `PATH` the step's program is searched on: the step's own, else ours.
fn search_path(spec: &ProcessSpec) -> std::ffi::OsString {
    spec.env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| std::ffi::OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default()
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl ProgramCache {
    /// [`resolve_program`], remembering what it found.
    fn resolve<'a>(&self, spec: &'a ProcessSpec) -> std::borrow::Cow<'a, std::path::Path> {
        if spec.program.contains('/') || spec.program.is_empty() {
            return std::path::Path::new(&spec.program).into();
        }
        let key = (spec.program.clone(), search_path(spec), spec.cwd.clone());
        let known = self.0.lock().ok().and_then(|map| map.get(&key).cloned());
        if let Some(path) = known.filter(|p| is_executable(p)) {
            return path.into();
        }
        let found = resolve_program(spec);
        if found.is_absolute()
            && let Ok(mut map) = self.0.lock()
        {
            map.insert(key, found.to_path_buf());
        }
        found
    }
}

fn spawn_error(spec: &ProcessSpec, error: io::Error) -> ExecError {
    let program = spec.program.clone();
    match error.kind() {
        io::ErrorKind::NotFound if !spec.cwd.is_dir() => ExecError::NoWorkingDirectory {
            cwd: spec.cwd.clone(),
        },
        io::ErrorKind::NotFound => ExecError::NotFound { program },
        io::ErrorKind::PermissionDenied => ExecError::PermissionDenied { program },
        _ => ExecError::Spawn { program, error },
    }
}
