//! Remote repositories without webhooks are polled: their mirror fetches every branch and tag,
//! and every ref that moved is a push (a new tag, a new branch head), triggered like any other.

use std::time::Duration;

use gantry_store::RepositoryKind;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::trigger::Incoming;

/// How often remote repositories are fetched.
pub const POLL_EVERY: Duration = Duration::from_secs(60);

/// Fetches every polled repository once; returns the runs queued.
pub async fn poll_once(state: &AppState) -> usize {
    let Ok(repositories) = state.store.repositories().await else {
        return 0;
    };
    let mut queued = 0;
    for repository in repositories
        .into_iter()
        .filter(|r| r.kind == RepositoryKind::Remote)
    {
        let mirror = state.dispatch.mirror_dir(repository.id);
        let updates = match crate::git::fetch(&mirror, &repository.location, &[]).await {
            Ok(updates) => updates,
            Err(err) => {
                tracing::warn!(repository = %repository.name, %err, "polling: cannot fetch");
                continue;
            }
        };
        for (git_ref, before, after) in updates {
            let incoming = Incoming::Push {
                git_ref,
                before,
                after,
                actor: "gantry".into(),
                changed_files: None,
                payload: None,
            };
            match crate::control::trigger(state, &repository, &mirror, incoming).await {
                Ok(triggered) => queued += triggered.runs.len(),
                Err(err) => tracing::warn!(
                    repository = %repository.name,
                    error = %err.message(),
                    "polling: a push could not queue its runs"
                ),
            }
        }
    }
    queued
}

/// Polls until `shutdown`.
pub async fn run(state: AppState, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        poll_once(&state).await;
    }
}
