//! The Executor trait and the host-process executor.
//!
//! The engine never knows where a step runs. It asks an [`Executor`] to start
//! a job ([`Executor::start_job`]), runs every process of that job through the
//! returned [`JobRuntime`] ([`JobRuntime::exec`]) and ends the job with
//! [`JobRuntime::finish`], which kills whatever the job's steps left running.
//!
//! [`HostExecutor`] runs processes directly on this machine. With the `fake`
//! feature, [`FakeExecutor`] plays scripted processes for engine tests without
//! spawning anything.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

#[cfg(any(test, feature = "fake"))]
mod fake;
mod host;
mod watchdog;

#[cfg(any(test, feature = "fake"))]
pub use fake::{FakeExecutor, FakeLog};
pub use host::HostExecutor;
pub use watchdog::Watchdog;

/// A boxed future, so the traits below stay object-safe (`Arc<dyn Executor>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an executor needs to know to set up a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The job's display name, for messages.
    pub job_name: String,
    /// The job's workspace directory on the host (`github.workspace`).
    pub workspace: PathBuf,
    /// The container image the job runs in; `None` runs on the host.
    pub image: Option<String>,
    /// Job-level environment, for executors that create a container up front.
    /// [`ProcessSpec::env`] is always the complete environment of a process.
    pub env: Vec<(String, String)>,
}

/// One process to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program: a path, or a name looked up in the `PATH` of [`ProcessSpec::env`].
    pub program: String,
    /// Arguments, without the program itself.
    pub args: Vec<String>,
    /// The complete environment: nothing is inherited from the gantry process.
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub cwd: PathBuf,
}

/// Which output stream a chunk of output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives a process's output as it arrives.
///
/// Chunks are raw bytes, in arrival order across both streams. They are not
/// split at line boundaries and may split a UTF-8 character.
pub trait OutputSink: Send {
    fn output(&mut self, stream: Stream, bytes: &[u8]);
}

/// A sink that collects everything, in order; handy in tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CollectSink {
    /// Every chunk with its stream, in arrival order.
    pub chunks: Vec<(Stream, Vec<u8>)>,
}

impl CollectSink {
    /// All bytes of one stream, concatenated.
    pub fn bytes(&self, stream: Stream) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|(s, _)| *s == stream)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// All bytes of one stream as text (lossy).
    pub fn text(&self, stream: Stream) -> String {
        String::from_utf8_lossy(&self.bytes(stream)).into_owned()
    }
}

impl OutputSink for CollectSink {
    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        // Merge consecutive chunks of one stream: chunk boundaries carry no meaning.
        match self.chunks.last_mut() {
            Some((last, buf)) if *last == stream => buf.extend_from_slice(bytes),
            _ => self.chunks.push((stream, bytes.to_vec())),
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it (not one gantry sent for a timeout or cancellation).
    Signal(i32),
    /// It ran past [`ExecLimits::timeout`] and was killed with its process tree.
    TimedOut,
    /// [`ExecLimits::cancel`] fired and it was killed with its process tree.
    Cancelled,
}

impl Exit {
    /// True for `Code(0)` only.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// Limits on one [`JobRuntime::exec`].
#[derive(Debug, Clone, Default)]
pub struct ExecLimits {
    /// Kill the process tree after this long (`timeout-minutes`).
    pub timeout: Option<Duration>,
    /// Kill the process tree when this is cancelled.
    pub cancel: CancellationToken,
}

/// Why an executor could not run something. Exits with a non-zero code,
/// timeouts and cancellations are not errors: they are an [`Exit`].
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program does not exist (`ENOENT` with an existing working directory).
    #[error("`{program}` not found: install it or choose another `shell:`")]
    NotFound { program: String },
    /// The program exists but may not be executed.
    #[error(
        "`{program}` cannot be executed (permission denied): make it executable or choose another `shell:`"
    )]
    PermissionDenied { program: String },
    /// The working directory does not exist.
    #[error("working directory `{}` does not exist: create it in an earlier step or fix `working-directory:`", cwd.display())]
    NoWorkingDirectory { cwd: PathBuf },
    /// Any other failure to start the program.
    #[error("cannot start `{program}`: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    /// The job needs a feature this executor does not have.
    #[error(
        "job `{job}` runs in container `{image}`, but the {executor} executor runs steps on the host: remove `container:` or use an executor with container support"
    )]
    ContainerUnsupported {
        job: String,
        image: String,
        executor: String,
    },
    /// An I/O error while running or cleaning up.
    #[error("{context}: {error}")]
    Io {
        context: String,
        error: std::io::Error,
    },
}

/// Runs jobs. Implementations must be cheap to share: `Arc<dyn Executor>`.
pub trait Executor: Send + Sync {
    /// A short name for messages (`host`, `docker`, `fake`).
    fn name(&self) -> &str;

    /// Prepare a job (create its workspace, start its container, …).
    fn start_job<'a>(
        &'a self,
        job: &'a JobSpec,
    ) -> BoxFuture<'a, Result<Box<dyn JobRuntime>, ExecError>>;
}

/// One started job: runs its processes, then cleans up.
pub trait JobRuntime: Send + Sync {
    /// Run one process to completion, streaming its output into `sink` as it
    /// arrives (stdout and stderr interleaved in arrival order).
    ///
    /// Background processes it starts keep running until [`JobRuntime::finish`].
    fn exec<'a>(
        &'a self,
        spec: ProcessSpec,
        sink: &'a mut dyn OutputSink,
        limits: ExecLimits,
    ) -> BoxFuture<'a, Result<Exit, ExecError>>;

    /// End the job: kill every process any exec of this job left behind
    /// (background processes), release resources.
    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), ExecError>>;
}
