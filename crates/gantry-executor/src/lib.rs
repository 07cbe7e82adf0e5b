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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobSpec {
    /// The job's display name, for messages.
    pub job_name: String,
    /// The run's id, for naming and labelling what the job creates.
    pub run_id: String,
    /// The job's workspace directory on the host (`github.workspace`).
    pub workspace: PathBuf,
    /// The container every step runs in (`container:`, or an image chosen
    /// for the job's `runs-on` label); `None` runs steps on the host.
    pub container: Option<ContainerSpec>,
    /// Service containers (`services:`), by id, in order.
    pub services: Vec<(String, ContainerSpec)>,
    /// Host directories the job's processes use (workspace, runner files,
    /// temp, actions): a container executor mounts each at the same path,
    /// so that every path the engine hands out means the same inside.
    pub mounts: Vec<PathBuf>,
}

/// A container of a job: its `container:` or one entry of `services:`, with
/// every expression already evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    pub image: String,
    pub env: Vec<(String, String)>,
    /// `ports:` entries as written (`5432`, `8080:80`, `127.0.0.1:8080:80/tcp`).
    pub ports: Vec<String>,
    /// `volumes:` entries as written (`name:/path`, `/host:/path:ro`).
    pub volumes: Vec<String>,
    /// `options:`: `docker create` flags.
    pub options: String,
    pub credentials: Option<Credentials>,
}

/// Registry credentials.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password, not even in a debug dump.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// The containers a started job has, for the `job` context
/// (`job.container.id`, `job.services.<id>.ports['5432']`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobContainers {
    /// The job container's id and network.
    pub container: Option<(String, String)>,
    pub services: Vec<ServiceInfo>,
}

/// One running service container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    /// The service's id in the workflow (also its host name on the network).
    pub name: String,
    pub id: String,
    pub network: String,
    /// Container port (`5432`, or `53/udp` for UDP) → host port.
    pub ports: Vec<(String, String)>,
}

/// A one-off container for a step: `uses: docker://IMAGE` or a Docker
/// container action. It shares the job's network and mounts, and its
/// working directory is the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepContainer {
    pub image: ImageSource,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<String>,
    /// The command (arguments to the entrypoint).
    pub args: Vec<String>,
    /// The complete environment the step sets (the image's own is kept).
    pub env: Vec<(String, String)>,
    pub workdir: PathBuf,
}

/// Where a step container's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An image name or id.
    Image(String),
    /// Build this Dockerfile with this context first.
    Dockerfile {
        context: PathBuf,
        dockerfile: PathBuf,
    },
}

/// An image build (`docker/build-push-action`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildRequest {
    pub context: PathBuf,
    /// The Dockerfile, relative to the context or absolute.
    pub dockerfile: PathBuf,
    pub tags: Vec<String>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub target: Option<String>,
    /// Images whose layers may be reused (`cache-from`).
    pub cache_from: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildResult {
    /// The image id (`sha256:…`).
    pub image_id: String,
    /// How many build steps reused a cached layer, and how many ran.
    pub cached_steps: usize,
    pub total_steps: usize,
}

/// The registry part of an image reference (`""` for Docker Hub).
pub fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "",
    }
}

/// Splits `name[:tag][@digest]` into the repository and the tag (default `latest`).
pub fn split_reference(reference: &str) -> (&str, &str) {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    // A ':' after the last '/' starts the tag (one before it is a port).
    let slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[slash..].rfind(':') {
        Some(i) => (
            &without_digest[..slash + i],
            &without_digest[slash + i + 1..],
        ),
        None => (without_digest, "latest"),
    }
}

/// Builds and pushes images; provided by executors that have an engine.
pub trait ImageService: Send + Sync {
    fn build<'a>(
        &'a self,
        request: &'a BuildRequest,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<BuildResult, ExecError>>;

    /// Pushes `reference` (`registry/name:tag`); returns the pushed
    /// manifest's digest (`sha256:…`).
    fn push<'a>(
        &'a self,
        reference: &'a str,
        credentials: Option<&'a Credentials>,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<String, ExecError>>;

    /// Checks credentials against a registry (`docker/login-action`).
    fn login<'a>(
        &'a self,
        registry: &'a str,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, Result<(), ExecError>>;
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
    #[error("{what} needs Docker, which the {executor} executor does not have: {hint}")]
    ContainerUnsupported {
        what: String,
        executor: String,
        hint: String,
    },
    /// A container engine call failed.
    #[error("{context}: {message}")]
    Container { context: String, message: String },
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

    /// Builds and pushes images, when this executor can.
    fn images(&self) -> Option<&dyn ImageService> {
        None
    }

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

    /// Whether processes run inside a container (and so must not inherit
    /// the host's environment).
    fn in_container(&self) -> bool {
        false
    }

    /// Whether `program` can be started by [`JobRuntime::exec`] with this
    /// environment (to choose a default shell).
    fn has_program<'a>(
        &'a self,
        program: &'a str,
        env: &'a [(String, String)],
    ) -> BoxFuture<'a, bool> {
        let path = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let found = path
            .split(':')
            .filter(|d| !d.is_empty())
            .any(|d| std::path::Path::new(d).join(program).is_file());
        Box::pin(std::future::ready(found))
    }

    /// The job's containers, for the `job` context.
    fn containers(&self) -> JobContainers {
        JobContainers::default()
    }

    /// Runs a step in a one-off container.
    fn run_container<'a>(
        &'a self,
        spec: StepContainer,
        sink: &'a mut dyn OutputSink,
        limits: ExecLimits,
    ) -> BoxFuture<'a, Result<Exit, ExecError>> {
        let _ = (sink, limits);
        let what = match &spec.image {
            ImageSource::Image(image) => format!("the step container `{image}`"),
            ImageSource::Dockerfile { dockerfile, .. } => {
                format!("the Docker action `{}`", dockerfile.display())
            }
        };
        Box::pin(std::future::ready(Err(ExecError::ContainerUnsupported {
            what,
            executor: "host".into(),
            hint: "run gantry where a Docker engine is reachable".into(),
        })))
    }

    /// The last lines of each service's log (name, text): shown when a job fails.
    fn service_logs(&self) -> BoxFuture<'_, Vec<(String, String)>> {
        Box::pin(std::future::ready(Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let cases = [
            ("busybox", ("busybox", "latest"), ""),
            ("busybox:1", ("busybox", "1"), ""),
            (
                "127.0.0.1:5000/app:sha-1",
                ("127.0.0.1:5000/app", "sha-1"),
                "127.0.0.1:5000",
            ),
            (
                "127.0.0.1:5000/app",
                ("127.0.0.1:5000/app", "latest"),
                "127.0.0.1:5000",
            ),
            ("ghcr.io/o/r:v1@sha256:ab", ("ghcr.io/o/r", "v1"), "ghcr.io"),
            ("localhost/x:y", ("localhost/x", "y"), "localhost"),
            ("library/node:20", ("library/node", "20"), ""),
        ];
        for (reference, split, registry) in cases {
            assert_eq!(split_reference(reference), split, "{reference}");
            assert_eq!(registry_of(reference), registry, "{reference}");
        }
    }
}
