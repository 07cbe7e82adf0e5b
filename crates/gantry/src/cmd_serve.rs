//! `gantry serve`: the server (`gantry-server`) with an agent in the same process
//! (`gantry-agent`) running what pushes, schedules and users trigger, with the host executor
//! (and Docker for jobs that ask for containers). Prints the URL it listens on (and, on first
//! start, the admin's password, once); stops gracefully on SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gantry_agent::AgentConfig;
use gantry_executor::{HostExecutor, Watchdog};
use gantry_server::{Config, Started};

use crate::{ServeArgs, UserError};

pub fn run(args: ServeArgs, watchdog: std::io::Result<Watchdog>) -> Result<ExitCode, UserError> {
    gantry_server::init_logging();
    let data_dir = args
        .data
        .unwrap_or_else(|| crate::store::home().join("server"));
    let max_runs = args
        .max_runs
        .unwrap_or_else(gantry_server::default_max_runs)
        .max(1);
    let (leases, lease_rx) = gantry_api::channel(max_runs);
    let config = Config {
        data_dir: data_dir.clone(),
        listen: args.listen,
        database: args.database,
        leases,
        max_runs,
        hook_program: std::env::current_exe().ok(),
        shutdown_grace: Duration::from_secs(args.grace),
        keep_days: args.keep_days,
        keep_runs: args.keep_runs,
    };
    let mut executor = HostExecutor::new();
    match watchdog {
        Ok(watchdog) => {
            let watchdog = Arc::new(watchdog);
            executor = executor.with_watchdog(watchdog.clone());
            let executor = Arc::new(gantry_docker::DockerExecutor::new(executor, Some(watchdog)));
            serve(config, agent_config(&data_dir, executor), lease_rx)
        }
        Err(e) => Err(UserError(format!(
            "cannot start the process watchdog: {e}: check the limits on processes"
        ))),
    }
}

fn agent_config(
    data_dir: &std::path::Path,
    executor: Arc<dyn gantry_executor::Executor>,
) -> AgentConfig {
    let scratch = std::path::Path::new("/dev/shm");
    let scratch_dir = if scratch.is_dir() {
        scratch.join(format!("gantry-serve-{}", std::process::id()))
    } else {
        data_dir.join("agent").join("scratch")
    };
    AgentConfig {
        work_dir: data_dir.join("agent").join("work"),
        cache_dir: data_dir.join("agent").join("cache"),
        actions_dirs: Vec::new(),
        max_parallel: gantry_server::default_max_runs(),
        host_env: std::env::vars()
            .filter(|(k, _)| !k.starts_with("GANTRY_SECRET"))
            .collect(),
        executor,
        scratch_dir,
        artifacts_dir: data_dir.join("artifacts"),
    }
}

fn serve(
    config: Config,
    agent: AgentConfig,
    leases: gantry_api::LeaseReceiver,
) -> Result<ExitCode, UserError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    let scratch = agent.scratch_dir.clone();
    // Memory freed after a burst of runs goes back to the system within seconds.
    let _ = std::thread::Builder::new()
        .name("gantry-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(TRIM_INTERVAL);
                crate::memory::trim();
            }
        });
    let result = runtime.block_on(async move {
        let agent = tokio::spawn(gantry_agent::serve(Arc::new(agent), leases));
        let served = gantry_server::serve(config, announce, shutdown_signal()).await;
        // The server dropped its side of the link: the agent ends once its runs have.
        let _ = tokio::time::timeout(Duration::from_secs(10), agent).await;
        served
    });
    let _ = std::fs::remove_dir_all(scratch);
    result.map_err(|e| UserError(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// How often the server gives free memory back to the system.
const TRIM_INTERVAL: Duration = Duration::from_secs(10);

fn announce(started: &Started) {
    if let Some(password) = &started.first_admin_password {
        println!(
            "first start: log in as {} with password {password}; change it",
            gantry_server::FIRST_ADMIN
        );
    }
    println!("listening on {}", started.url);
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers, Ctrl-C still ends the process the default way.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
