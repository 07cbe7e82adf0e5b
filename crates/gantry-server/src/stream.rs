//! Server-sent events: a running job's log as it is written, and a run's job states as they
//! change. The streams end when the job or run ends, or when the server stops.
//!
//! A log stream starts with everything written so far, then sends each new piece once, in
//! order (see [`crate::live`]): `event: log` carries HTML for whole lines, `event: done` ends it,
//! `event: reload` asks a viewer that fell too far behind to load the page again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use gantry_store::Status;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use crate::AppState;
use crate::auth::{Html, RepoAccess};
use crate::error::{AppError, PageError};
use crate::live::LiveLog;
use crate::logview::LineRenderer;
use crate::pages::state_name;

type EventStream = Response;

fn sse(rx: mpsc::Receiver<Event>) -> EventStream {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// `GET /{owner}/{repo}/runs/{number}/jobs/{job}/live`.
pub async fn job_log(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Path((_, _, number, job_id)): Path<(String, String, i64, i64)>,
) -> Result<EventStream, PageError> {
    crate::api::job_in_run(&state, &access.repository, number, job_id).await?;
    let live = state.dispatch.live().clone();
    let subscription = live.subscribe(job_id).ok_or(AppError::NotFound)?;
    // Read after subscribing: nothing written in between is lost.
    let job = state.store.job(job_id).await?.ok_or(AppError::NotFound)?;
    let mut start = state.store.log(job_id).await?;
    let ended = job.status == Status::Completed;
    if !ended {
        start.truncate(usize::try_from(subscription.stored).unwrap_or(usize::MAX));
        start.extend_from_slice(&subscription.pending);
    }
    let (tx, rx) = mpsc::channel(64);
    let shutdown = state.shutdown.clone();
    let mut events = subscription.rx;
    tokio::spawn(async move {
        let mut renderer = LineRenderer::new();
        let first = renderer.push(&start);
        if !first.is_empty()
            && tx
                .send(Event::default().event("log").data(first))
                .await
                .is_err()
        {
            return;
        }
        if ended {
            let rest = renderer.finish();
            if !rest.is_empty() {
                let _ = tx.send(Event::default().event("log").data(rest)).await;
            }
            let _ = tx.send(Event::default().event("done").data("1")).await;
            return;
        }
        loop {
            let message = tokio::select! {
                m = events.recv() => m,
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
            };
            let event = match message {
                Ok(LiveLog::Data(data)) => {
                    let html = renderer.push(&data);
                    if html.is_empty() {
                        continue;
                    }
                    Event::default().event("log").data(html)
                }
                Ok(LiveLog::Done) | Err(broadcast::error::RecvError::Closed) => {
                    let rest = renderer.finish();
                    if !rest.is_empty() {
                        let _ = tx.send(Event::default().event("log").data(rest)).await;
                    }
                    let _ = tx.send(Event::default().event("done").data("1")).await;
                    return;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = tx.send(Event::default().event("reload").data("1")).await;
                    return;
                }
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    Ok(sse(rx))
}

/// `GET /{owner}/{repo}/runs/{number}/events`: `event: jobs` with the run's state and its jobs'
/// (JSON) whenever they change, `event: end` once the run is completed.
pub async fn run_events(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Path((_, _, number)): Path<(String, String, i64)>,
) -> Result<EventStream, PageError> {
    let run = state
        .store
        .run_by_number(access.repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut changes = state
        .dispatch
        .live()
        .watch_run(run.id)
        .ok_or(AppError::NotFound)?;
    let (tx, rx) = mpsc::channel(16);
    let shutdown = state.shutdown.clone();
    let store = state.store.clone();
    tokio::spawn(async move {
        loop {
            let Ok(Some(run)) = store.run(run.id).await else {
                return;
            };
            let Ok(jobs) = store.jobs(run.id).await else {
                return;
            };
            let body = json!({
                "state": state_name(run.status, run.conclusion),
                "jobs": jobs.iter().map(|j| json!({
                    "id": j.id,
                    "key": j.key,
                    "name": j.name,
                    "state": state_name(j.status, j.conclusion),
                })).collect::<Vec<_>>(),
            });
            if tx
                .send(Event::default().event("jobs").data(body.to_string()))
                .await
                .is_err()
            {
                return;
            }
            if run.status == Status::Completed {
                let _ = tx.send(Event::default().event("end").data("1")).await;
                return;
            }
            tokio::select! {
                changed = changes.recv() => {
                    if matches!(changed, Err(broadcast::error::RecvError::Closed)) {
                        // The run ended: one more look shows its final state.
                        changes = broadcast::channel(1).1;
                    }
                }
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
            }
            // Several changes in a burst make one update.
            tokio::time::sleep(Duration::from_millis(100)).await;
            while changes.try_recv().is_ok() {}
        }
    });
    Ok(sse(rx))
}
