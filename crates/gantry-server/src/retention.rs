//! Retention: completed runs older than `retention_days`, or beyond the `retention_runs` most
//! recent of their repository, are deleted with their jobs, steps and logs. Both are server
//! settings (`gantry serve --keep-days/--keep-runs` sets them); unset means keep everything.
//! Pruning runs at start and then hourly.

use std::time::Duration;

use gantry_store::Store;
use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

pub const DAYS_SETTING: &str = "retention_days";
pub const RUNS_SETTING: &str = "retention_runs";

/// Prunes once by the current settings; returns the runs deleted.
pub async fn prune(store: &Store, now: Timestamp) -> Result<u64, gantry_store::Error> {
    let mut deleted = 0;
    if let Some(days) = store
        .setting(DAYS_SETTING)
        .await?
        .and_then(|d| d.trim().parse::<i64>().ok())
        .filter(|d| *d > 0)
    {
        let cutoff = now - SignedDuration::from_hours(24 * days);
        deleted += store.delete_runs_before(cutoff).await?;
    }
    if let Some(keep) = store
        .setting(RUNS_SETTING)
        .await?
        .and_then(|d| d.trim().parse::<u32>().ok())
        .filter(|k| *k > 0)
    {
        deleted += store.keep_latest_runs(keep).await?;
    }
    Ok(deleted)
}

/// Prunes now and every hour until `shutdown`.
pub async fn run(store: Store, shutdown: CancellationToken) {
    loop {
        match prune(&store, Timestamp::now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "retention: old runs deleted"),
            Err(err) => tracing::error!(%err, "retention: cannot prune"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
