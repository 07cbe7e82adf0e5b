//! Labels on everything gantry creates in Docker, and the garbage collector
//! that removes what a crashed run left behind (`gantry gc`).
//!
//! Every container and network carries `org.gantry.run` (the run id) and
//! `org.gantry.owner` (`PID-STARTTIME` of the gantry process: the start time
//! from `/proc/PID/stat` tells a live owner from a recycled pid).

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder,
};

/// The label every gantry object carries; its value is the owner.
pub const OWNER: &str = "org.gantry.owner";
/// The run id.
pub const RUN: &str = "org.gantry.run";
/// The job's name.
pub const JOB: &str = "org.gantry.job";

/// This process as an owner: `PID-STARTTIME`.
pub fn this_owner() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", start_time(pid).unwrap_or_default())
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; it ends at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the owner named by a label value is still running.
pub fn owner_alive(owner: &str) -> bool {
    let Some((pid, started)) = owner.split_once('-') else {
        return false;
    };
    let (Ok(pid), Ok(started)) = (pid.parse::<u32>(), started.parse::<u64>()) else {
        return false;
    };
    start_time(pid) == Some(started)
}

/// The labels of an object made for `run_id` / `job`.
pub(crate) fn labels(run_id: &str, job: &str) -> HashMap<String, String> {
    HashMap::from([
        (OWNER.to_string(), this_owner()),
        (RUN.to_string(), run_id.to_string()),
        (JOB.to_string(), job.to_string()),
    ])
}

/// What [`collect_garbage`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Objects whose owner still runs, left alone.
    pub kept: usize,
}

/// Which objects to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcScope {
    /// Everything whose owner is no longer running.
    Orphans,
    /// Everything of this owner (used when that owner died).
    Owner(String),
    /// Everything labelled by gantry, running owner or not.
    All,
}

/// Removes gantry's containers (with their anonymous volumes), networks and
/// named volumes in `scope`.
pub async fn collect_garbage(docker: &Docker, scope: &GcScope) -> Result<GcReport, String> {
    let filter = match scope {
        GcScope::Owner(owner) => format!("{OWNER}={owner}"),
        GcScope::Orphans | GcScope::All => OWNER.to_string(),
    };
    let filters = HashMap::from([("label".to_string(), vec![filter])]);
    let wanted = |labels: Option<&HashMap<String, String>>| -> bool {
        let owner = labels.and_then(|l| l.get(OWNER)).map(String::as_str);
        match scope {
            GcScope::Orphans => owner.is_some_and(|o| !owner_alive(o)),
            GcScope::Owner(_) | GcScope::All => true,
        }
    };
    let mut report = GcReport::default();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| format!("cannot list containers: {e}"))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        if !wanted(c.labels.as_ref()) {
            report.kept += 1;
            continue;
        }
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .unwrap_or_else(|| id.clone());
        remove_container(docker, &id).await?;
        report
            .containers
            .push(name.trim_start_matches('/').to_string());
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| format!("cannot list networks: {e}"))?;
    for n in networks {
        let Some(id) = n.id else { continue };
        if !wanted(n.labels.as_ref()) {
            report.kept += 1;
            continue;
        }
        match docker.remove_network(&id).await {
            Ok(()) => report.networks.push(n.name.unwrap_or(id)),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(format!("cannot remove network `{id}`: {e}")),
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| format!("cannot list volumes: {e}"))?;
    for v in volumes.volumes.unwrap_or_default() {
        if !wanted(Some(&v.labels)) {
            report.kept += 1;
            continue;
        }
        match docker
            .remove_volume(
                &v.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => report.volumes.push(v.name),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(format!("cannot remove volume `{}`: {e}", v.name)),
        }
    }
    Ok(report)
}

/// Force-removes a container and its anonymous volumes; a container that is
/// already gone is fine.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), String> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) || is_in_removal(&e) => Ok(()),
        Err(e) => Err(format!("cannot remove container `{id}`: {e}")),
    }
}

pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn is_in_removal(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
            if message.contains("already in progress")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_a_live_owner_and_made_up_ones_are_not() {
        assert!(owner_alive(&this_owner()));
        let pid = std::process::id();
        let started = start_time(pid).unwrap();
        assert!(!owner_alive(&format!("{pid}-{}", started + 1)));
        assert!(!owner_alive("4194304999-1"));
        assert!(!owner_alive("nonsense"));
        assert!(!owner_alive(""));
    }

    #[test]
    fn labels_name_the_owner_run_and_job() {
        let l = labels("run7", "build");
        assert_eq!(l[RUN], "run7");
        assert_eq!(l[JOB], "build");
        assert_eq!(l[OWNER], this_owner());
    }
}
