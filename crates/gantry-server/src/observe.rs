//! What the outside watches: status badges (`GET /badge/{owner}/{repo}/{workflow}.svg`) for
//! READMEs, and the Prometheus endpoint (`GET /metrics`, site admins only), with the middleware
//! that counts every response by status class.
//!
//! A badge follows the repository's access rules: a caller who cannot see the repository gets
//! 404, as for every repository page.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gantry_store::{Conclusion, Run, RunFilter, Status};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, CurrentUser, RepoAccess};
use crate::badge::{BadgeStatus, badge as badge_svg};
use crate::error::{ApiError, AppError};
use crate::metrics::{self, Metrics};

/// Where workflow files live, in the order a badge looks for one.
const WORKFLOW_DIRS: [&str; 2] = [".github/workflows", ".gantry/workflows"];
/// How many recent runs of a workflow a badge looks through for one that started.
const BADGE_LOOKBACK: u32 = 20;

#[derive(Deserialize)]
pub struct BadgeQuery {
    /// The branch whose runs count; the repository's default branch when absent.
    branch: Option<String>,
}

/// `GET /badge/{owner}/{repo}/{workflow}.svg?branch=B`: the state of the latest run of the
/// workflow (a file name like `ci.yml`, or its stem `ci`) on the branch that is running or
/// completed.
pub async fn badge(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, file)): Path<(String, String, String)>,
    Query(query): Query<BadgeQuery>,
) -> Result<Response, ApiError> {
    let workflow = file.strip_suffix(".svg").ok_or(AppError::NotFound)?;
    if workflow.is_empty() || workflow.contains('/') {
        return Err(AppError::NotFound.into());
    }
    let branch = query
        .branch
        .filter(|branch| !branch.is_empty())
        .unwrap_or_else(|| access.repository.default_branch.clone());
    let names: Vec<String> = if workflow.ends_with(".yml") || workflow.ends_with(".yaml") {
        vec![workflow.to_string()]
    } else {
        vec![format!("{workflow}.yml"), format!("{workflow}.yaml")]
    };
    let mut latest: Option<Run> = None;
    for dir in WORKFLOW_DIRS {
        for name in &names {
            let path = format!("{dir}/{name}");
            let runs = state
                .store
                .list_runs(&RunFilter {
                    repository_id: Some(access.repository.id),
                    branch: Some(&branch),
                    workflow_file: Some(&path),
                    limit: BADGE_LOOKBACK,
                    ..RunFilter::default()
                })
                .await?;
            let started = runs
                .into_iter()
                .find(|run| matches!(run.status, Status::Running | Status::Completed));
            if let Some(run) = started
                && latest.as_ref().is_none_or(|known| run.id > known.id)
            {
                latest = Some(run);
            }
        }
    }
    let label = latest
        .as_ref()
        .map(|run| run.workflow_name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| workflow.to_string());
    let status = latest.as_ref().map_or(BadgeStatus::None, badge_status);
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        badge_svg(&label, status),
    )
        .into_response())
}

fn badge_status(run: &Run) -> BadgeStatus {
    match (run.status, run.conclusion) {
        (Status::Completed, Some(Conclusion::Success | Conclusion::Skipped)) => {
            BadgeStatus::Success
        }
        (Status::Completed, Some(Conclusion::Cancelled)) => BadgeStatus::Cancelled,
        (Status::Completed, _) => BadgeStatus::Failure,
        (Status::Running, _) => BadgeStatus::Running,
        (Status::Queued | Status::Waiting, _) => BadgeStatus::Queued,
    }
}

/// `GET /metrics`: the server's metrics in the OpenMetrics text format, for site admins (by
/// session, or by API token as Prometheus sends it: `Authorization: Bearer …`).
pub async fn metrics(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
) -> Result<Response, ApiError> {
    if !principal.user.is_admin {
        return Err(AppError::Forbidden(
            "only site admins may read the metrics: scrape with an admin's API token".to_string(),
        )
        .into());
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, metrics::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.encode(),
    )
        .into_response())
}

/// Middleware: counts every response by its status class.
pub async fn count_response(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    metrics.http_response(response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: Status, conclusion: Option<Conclusion>) -> Run {
        Run {
            id: 1,
            repository_id: 1,
            number: 1,
            workflow_file: ".github/workflows/ci.yml".into(),
            workflow_name: "CI".into(),
            event: "push".into(),
            git_ref: "refs/heads/main".into(),
            branch: Some("main".into()),
            sha: "0".repeat(40),
            actor: "ada".into(),
            title: "t".into(),
            status,
            conclusion,
            status_reason: None,
            concurrency_group: None,
            attempt: 1,
            rerun_of: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn badges_say_how_the_run_ended() {
        let cases = [
            (Status::Completed, Some(Conclusion::Success), "passing"),
            (Status::Completed, Some(Conclusion::Failure), "failing"),
            (Status::Completed, Some(Conclusion::Cancelled), "cancelled"),
            (Status::Running, None, "running"),
            (Status::Queued, None, "queued"),
        ];
        for (status, conclusion, text) in cases {
            assert_eq!(
                badge_status(&run(status, conclusion)).look().0,
                text,
                "{status} {conclusion:?}"
            );
        }
    }
}
