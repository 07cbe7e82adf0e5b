//! Commit statuses for the runs of repositories that have a forge status token: `pending` when a
//! run is queued, `running` when it starts, its conclusion when it ends, and `skipped` for a
//! workflow whose filters skipped the event (so no check is left pending forever). Posting happens
//! in the background; a failure is logged (without the token) and never affects the run.

use std::sync::{Arc, OnceLock};

use gantry_store::{Conclusion, Repository, Store};

use crate::commit_status::{self, CommitStatus, StatusState, StatusTarget};
use crate::crypto::SecretKey;

/// Settings keys of a repository's status target.
pub fn api_url_setting(repository_id: i64) -> String {
    format!("status_api_url:{repository_id}")
}
pub fn token_setting(repository_id: i64) -> String {
    format!("status_token:{repository_id}")
}
/// What a sealed status token is bound to.
pub fn token_aad(name: &str) -> Vec<u8> {
    format!("status-token:{name}").into_bytes()
}

pub struct Reporter {
    store: Store,
    key: Arc<SecretKey>,
    client: OnceLock<reqwest::Client>,
    /// The server's URL as users reach it (run pages are linked from the statuses).
    public_url: OnceLock<String>,
}

impl Reporter {
    pub fn new(store: Store, key: Arc<SecretKey>) -> Reporter {
        Reporter {
            store,
            key,
            client: OnceLock::new(),
            public_url: OnceLock::new(),
        }
    }

    pub fn set_public_url(&self, url: &str) {
        let _ = self.public_url.set(url.trim_end_matches('/').to_string());
    }

    /// Stores where and how a repository's statuses are posted (the token sealed).
    pub async fn configure(
        &self,
        repository: &Repository,
        api_url: &str,
        token: &str,
    ) -> Result<(), gantry_store::Error> {
        let sealed = self
            .key
            .seal(token.as_bytes(), &token_aad(&repository.name));
        let hex = crate::control::hex(&sealed);
        self.store
            .set_setting(&api_url_setting(repository.id), api_url)
            .await?;
        self.store
            .set_setting(&token_setting(repository.id), &hex)
            .await
    }

    async fn target(&self, repository: &Repository) -> Option<StatusTarget> {
        let api_url = self
            .store
            .setting(&api_url_setting(repository.id))
            .await
            .ok()??;
        let hex = self
            .store
            .setting(&token_setting(repository.id))
            .await
            .ok()??;
        let sealed: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        let token = self.key.open(&sealed, &token_aad(&repository.name)).ok()?;
        Some(StatusTarget {
            forge: repository.forge,
            api_url,
            token: String::from_utf8(token).ok()?,
            repository: repository.name.clone(),
        })
    }

    /// Posts a status in the background, when the repository has a target.
    pub fn post(
        self: &Arc<Self>,
        repository_id: i64,
        sha: &str,
        workflow_name: &str,
        state: StatusState,
        description: String,
        run_number: Option<i64>,
    ) {
        let this = self.clone();
        let sha = sha.to_string();
        let context = format!("gantry/{workflow_name}");
        tokio::spawn(async move {
            let Ok(Some(repository)) = this.store.repository(repository_id).await else {
                return;
            };
            let Some(target) = this.target(&repository).await else {
                return;
            };
            let target_url = match (this.public_url.get(), run_number) {
                (Some(base), Some(n)) => Some(format!("{base}/{}/runs/{n}", repository.name)),
                (Some(base), None) => Some(format!("{base}/{}", repository.name)),
                _ => None,
            };
            let client = this.client.get_or_init(commit_status::http_client);
            let status = CommitStatus {
                sha: &sha,
                state,
                context: &context,
                description: &description,
                target_url: target_url.as_deref(),
            };
            if let Err(err) = commit_status::post(client, &target, &status).await {
                tracing::warn!(repository = %repository.name, %err, "a commit status was not posted");
            }
        });
    }
}

/// The status of a finished run.
pub fn finished(conclusion: Conclusion) -> StatusState {
    match conclusion {
        Conclusion::Success => StatusState::Success,
        Conclusion::Failure => StatusState::Failure,
        Conclusion::Cancelled => StatusState::Cancelled,
        Conclusion::Skipped => StatusState::Skipped,
    }
}
