//! `gantry gc`: remove the Docker containers, networks and volumes that runs which
//! died (crash, `kill -9`) left behind. Runs that end normally remove their
//! own.

use std::process::ExitCode;

use gantry_docker::cleanup::{GcScope, collect_garbage};

use crate::{GcArgs, UserError};

pub fn run(args: GcArgs) -> Result<ExitCode, UserError> {
    let scope = match (args.owner, args.all) {
        (Some(owner), _) => GcScope::Owner(owner),
        (None, true) => GcScope::All,
        (None, false) => GcScope::Orphans,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    let report = runtime.block_on(async {
        let docker = gantry_docker::connect().await.map_err(UserError)?;
        collect_garbage(&docker, &scope).await.map_err(UserError)
    })?;
    for c in &report.containers {
        println!("removed container {c}");
    }
    for n in &report.networks {
        println!("removed network {n}");
    }
    for v in &report.volumes {
        println!("removed volume {v}");
    }
    println!(
        "{} container(s), {} network(s) and {} volume(s) removed{}",
        report.containers.len(),
        report.networks.len(),
        report.volumes.len(),
        if report.kept > 0 {
            format!(
                "; {} object(s) of running gantry processes kept (use --all to remove them too)",
                report.kept
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
