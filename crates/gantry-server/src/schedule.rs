//! Cron schedules (`on.schedule`, UTC, GitHub's 5 fields): every minute, each repository's
//! workflows on its default branch are checked, and every cron line that matches the minute
//! fires a `schedule` run of its workflow — once per slot, even with several server processes
//! or across a restart, because firing starts by claiming the slot in the store.
//!
//! The workflow files are read again only when the default branch moves.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::trigger::Incoming;

/// Per repository: the commit last read and its `(workflow file, cron lines)`.
type Known = HashMap<i64, (String, Vec<(String, Vec<String>)>)>;

#[derive(Default)]
pub struct Schedules {
    known: Mutex<Known>,
}

impl Schedules {
    /// Fires every schedule that matches the minute of `now`; returns the runs queued.
    pub async fn tick(&self, state: &AppState, now: Timestamp) -> usize {
        let slot = match now.round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Minute)
                .mode(jiff::RoundMode::Trunc),
        ) {
            Ok(slot) => slot,
            Err(_) => return 0,
        };
        let zoned = slot.to_zoned(jiff::tz::TimeZone::UTC);
        let repositories = match state.store.repositories().await {
            Ok(all) => all,
            Err(err) => {
                tracing::error!(%err, "schedules: cannot list repositories");
                return 0;
            }
        };
        let mut queued = 0;
        for repository in repositories {
            let Ok(git_dir) = state.dispatch.git_dir(&repository).await else {
                continue;
            };
            let branch = format!("refs/heads/{}", repository.default_branch);
            let Ok(sha) = crate::git::resolve(&git_dir, &branch).await else {
                continue;
            };
            let schedules = self.schedules_of(repository.id, &git_dir, &sha).await;
            for (file, crons) in schedules {
                for cron in crons {
                    if !matches(&cron, &zoned) {
                        continue;
                    }
                    match state
                        .store
                        .claim_schedule_slot(repository.id, &file, &cron, slot)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(err) => {
                            tracing::error!(%err, "schedules: cannot claim a slot");
                            continue;
                        }
                    }
                    let incoming = Incoming::Schedule {
                        workflow_file: file.clone(),
                        cron: cron.clone(),
                    };
                    match crate::control::trigger(state, &repository, &git_dir, incoming).await {
                        Ok(triggered) => queued += triggered.runs.len(),
                        Err(err) => tracing::warn!(
                            repository = %repository.name,
                            file = %file,
                            error = %err.message(),
                            "a schedule could not queue its run"
                        ),
                    }
                }
            }
        }
        queued
    }

    async fn schedules_of(
        &self,
        repository_id: i64,
        git_dir: &std::path::Path,
        sha: &str,
    ) -> Vec<(String, Vec<String>)> {
        if let Ok(known) = self.known.lock()
            && let Some((known_sha, schedules)) = known.get(&repository_id)
            && known_sha == sha
        {
            return schedules.clone();
        }
        let files = crate::git::workflow_files(git_dir, sha)
            .await
            .unwrap_or_default();
        let schedules: Vec<(String, Vec<String>)> = files
            .iter()
            .filter_map(|(file, source)| {
                let (workflow, _) = gantry_syntax::parse_workflow(file, source);
                let crons: Vec<String> = workflow
                    .on
                    .schedule
                    .iter()
                    .map(|c| c.value.trim().to_string())
                    .filter(|c| gantry_plan::validate::check_cron(c).is_ok())
                    .collect();
                (!crons.is_empty()).then(|| (file.clone(), crons))
            })
            .collect();
        if let Ok(mut known) = self.known.lock() {
            known.insert(repository_id, (sha.to_string(), schedules.clone()));
        }
        schedules
    }

    /// Ticks at the start of every minute until `shutdown`.
    pub async fn run(self, state: AppState, shutdown: CancellationToken) {
        loop {
            let now = Timestamp::now();
            let into_minute = now.as_millisecond().rem_euclid(60_000) as u64;
            let wait = Duration::from_millis(60_000 - into_minute + 5);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            self.tick(&state, Timestamp::now()).await;
        }
    }
}

/// Whether a 5-field cron line matches a minute (UTC).
pub fn matches(cron: &str, minute: &jiff::Zoned) -> bool {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    parser
        .parse(cron)
        .ok()
        .and_then(|c| c.is_time_matching(minute).ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> jiff::Zoned {
        text.parse::<Timestamp>()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
    }

    #[test]
    fn cron_lines_match_their_minutes_in_utc() {
        assert!(matches("*/15 * * * *", &at("2026-11-22T10:30:00Z")));
        assert!(!matches("*/15 * * * *", &at("2026-11-22T10:31:00Z")));
        assert!(matches("0 3 * * 1-5", &at("2026-11-23T03:00:00Z"))); // a Monday
        assert!(!matches("0 3 * * 1-5", &at("2026-11-22T03:00:00Z"))); // a Sunday
        assert!(!matches("not a cron", &at("2026-11-22T03:00:00Z")));
    }
}
