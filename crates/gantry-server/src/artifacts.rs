//! A run's artifacts (what its jobs stored with `actions/upload-artifact`, kept by the agent in
//! `DATA/artifacts/RUN_ID/NAME/`): listed in the API and on the run page, downloaded as a tar
//! archive by anyone who can see the run.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;
use crate::auth::{self, RepoAccess};
use crate::error::{ApiError, AppError, PageError};

/// The largest artifact offered for download in one archive.
const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ArtifactDto {
    pub name: String,
    pub size_bytes: u64,
    /// Where to download it (a tar archive).
    pub download: String,
}

/// Where a run's artifacts are kept.
pub fn run_dir(state: &AppState, run_id: i64) -> PathBuf {
    state
        .dispatch
        .data_dir()
        .join("artifacts")
        .join(run_id.to_string())
}

fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The artifacts of a run, by name.
pub fn list(state: &AppState, repository: &str, number: i64, run_id: i64) -> Vec<ArtifactDto> {
    let Ok(entries) = std::fs::read_dir(run_dir(state, run_id)) else {
        return Vec::new();
    };
    let mut all: Vec<ArtifactDto> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            ArtifactDto {
                size_bytes: size_of(&e.path()),
                download: format!(
                    "/{repository}/runs/{number}/artifacts/{}",
                    auth::percent_encode(&name)
                ),
                name,
            }
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// `GET /api/v1/repositories/{owner}/{repo}/runs/{number}/artifacts`.
pub async fn list_api(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    UrlPath((_, _, number)): UrlPath<(String, String, i64)>,
) -> Result<Response, ApiError> {
    let run = state
        .store
        .run_by_number(access.repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(list(&state, &access.repository.name, number, run.id)).into_response())
}

/// `GET /{owner}/{repo}/runs/{number}/artifacts/{name}`: the artifact as `NAME.tar`.
pub async fn download(
    State(state): State<AppState>,
    access: RepoAccess<auth::Html>,
    UrlPath((_, _, number, name)): UrlPath<(String, String, i64, String)>,
) -> Result<Response, PageError> {
    let run = state
        .store
        .run_by_number(access.repository.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return Err(AppError::NotFound.into());
    }
    let dir = run_dir(&state, run.id).join(&name);
    if !dir.is_dir() {
        return Err(AppError::NotFound.into());
    }
    if size_of(&dir) > MAX_DOWNLOAD_BYTES {
        return Err(AppError::BadRequest(format!(
            "artifact `{name}` is larger than 1 GiB: download it from the server's data directory"
        ))
        .into());
    }
    let archive = tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        builder.append_dir_all(".", &dir)?;
        builder.into_inner()
    })
    .await
    .map_err(|e| AppError::Internal(format!("archiving an artifact: {e}")))?
    .map_err(|e| AppError::Internal(format!("archiving an artifact: {e}")))?;
    let file_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}.tar\""),
            ),
        ],
        archive,
    )
        .into_response())
}
