//! The Docker executor: runs jobs in containers through the Docker Engine
//! API (bollard), starts service containers on a per-job network, runs
//! `docker://` steps and Docker container actions, and builds and pushes
//! images.
//!
//! [`DockerExecutor`] wraps a [`HostExecutor`]: a job without `container:`
//! runs its steps on the host exactly as before, and only its services and
//! step containers go to Docker. The engine connection is made lazily, the
//! first time a job needs it, so runs without containers never touch Docker.
//!
//! Everything created carries the labels of [`cleanup`]: the run, and the
//! gantry process that owns it. A job removes its containers and network when
//! it ends (success, failure, timeout, Ctrl-C); [`cleanup::collect_garbage`]
//! removes what a crashed gantry left behind (`gantry gc`).
//!
//! Paths: the engine's directories (workspace, runner files, temp) are
//! bind-mounted at the same path inside containers, so `$GITHUB_OUTPUT` and
//! friends mean the same file on both sides.

pub mod cleanup;
mod image;
mod job;
mod options;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gantry_executor::{
    BoxFuture, ExecError, Executor, HostExecutor, ImageService, JobRuntime, JobSpec, Watchdog,
};
use tokio::sync::OnceCell;

pub use bollard::Docker;
pub use image::DockerImages;

/// Connects to the local Docker engine (honouring `DOCKER_HOST`) and agrees
/// on an API version. The error says what to do.
pub async fn connect() -> Result<Docker, String> {
    const HINT: &str =
        "start the Docker daemon (or set DOCKER_HOST) and check that this user may use it";
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| format!("cannot connect to Docker: {e}: {HINT}"))?;
    // Bollard speaks the newest API; the engine may be older.
    docker
        .negotiate_version()
        .await
        .map_err(|e| format!("cannot reach the Docker engine: {e}: {HINT}"))
}

/// Runs container jobs with Docker and everything else on the host.
pub struct DockerExecutor {
    host: HostExecutor,
    engine: Arc<Engine>,
    images: DockerImages,
}

/// The lazily made connection to the Docker engine, shared by every job.
pub(crate) struct Engine {
    docker: OnceCell<Result<Docker, String>>,
    /// Told to run `gantry gc` for this process if it dies once Docker is used.
    watchdog: Option<Arc<Watchdog>>,
    /// Distinguishes the networks and containers of jobs of one run.
    seq: AtomicUsize,
}

impl Engine {
    /// The connection, made (and the API version negotiated) on first use.
    pub(crate) async fn docker(&self) -> Result<&Docker, ExecError> {
        let connected = self
            .docker
            .get_or_init(|| async {
                let docker = connect().await?;
                if let Some(watchdog) = &self.watchdog {
                    watchdog.arm_cleanup();
                }
                Ok(docker)
            })
            .await;
        connected.as_ref().map_err(|message| ExecError::Container {
            context: "Docker is needed for this job".into(),
            message: message.clone(),
        })
    }

    pub(crate) fn next_seq(&self) -> usize {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

impl DockerExecutor {
    /// `host` runs the steps of jobs without a job container. `watchdog`,
    /// when given, is armed to clean up (its command) once Docker is used.
    pub fn new(host: HostExecutor, watchdog: Option<Arc<Watchdog>>) -> Self {
        let engine = Arc::new(Engine {
            docker: OnceCell::new(),
            watchdog,
            seq: AtomicUsize::new(0),
        });
        DockerExecutor {
            host,
            images: DockerImages::new(engine.clone()),
            engine,
        }
    }
}

impl Executor for DockerExecutor {
    fn name(&self) -> &str {
        "docker"
    }

    fn images(&self) -> Option<&dyn ImageService> {
        Some(&self.images)
    }

    fn start_job<'a>(
        &'a self,
        spec: &'a JobSpec,
    ) -> BoxFuture<'a, Result<Box<dyn JobRuntime>, ExecError>> {
        Box::pin(async move {
            let host = if spec.container.is_none() {
                let host_spec = JobSpec {
                    services: Vec::new(),
                    ..spec.clone()
                };
                Some(self.host.start_job(&host_spec).await?)
            } else {
                std::fs::create_dir_all(&spec.workspace).map_err(|error| ExecError::Io {
                    context: format!("cannot create workspace `{}`", spec.workspace.display()),
                    error,
                })?;
                None
            };
            let job = job::DockerJob::start(self.engine.clone(), spec, host).await?;
            Ok(Box::new(job) as Box<dyn JobRuntime>)
        })
    }
}
