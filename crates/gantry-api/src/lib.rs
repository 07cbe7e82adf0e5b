//! Gantry's wire types: what the server and its agents say to each other.
//!
//! The server decides *what* runs (which workflows an event fires, in which order, with which
//! secrets) and records what happened; an agent runs it with the engine and the executors and
//! reports back. The server never executes anything itself (it may not depend on the engine), so
//! every run crosses this boundary, even when the agent runs in the server's own process
//! (`gantry serve` wires one in over [`channel`]).
//!
//! The types are plain data with `serde` derives: a remote agent speaks the same protocol as
//! JSON, versioned by [`PROTOCOL_VERSION`]. They are converted to and from the engine's and the
//! store's own types explicitly, at the edges.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bumped whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 1;

/// One workflow run for an agent to execute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The server's id of the run; every event the agent sends is about it.
    pub run_id: i64,
    /// Per repository: 1, 2, 3… (`github.run_number`).
    pub run_number: i64,
    /// 1 for a first run, then 2, 3… for re-runs (`github.run_attempt`).
    pub attempt: i64,
    /// `owner/name` (`github.repository`).
    pub repository: String,
    /// A git repository (bare or not) on the agent's machine that holds [`RunRequest::sha`].
    pub git_dir: PathBuf,
    pub sha: String,
    /// The full ref: `refs/heads/main`, `refs/tags/v1`, `refs/pull/7/merge`.
    pub git_ref: String,
    /// `push`, `pull_request`, `schedule`, `workflow_dispatch`.
    pub event_name: String,
    /// Pull requests: the activity (`opened`, `synchronize`, `reopened`).
    pub action: Option<String>,
    /// Pull requests: the full base and head refs.
    pub base_ref: Option<String>,
    pub head_ref: Option<String>,
    /// `schedule`: the cron line that fired.
    pub schedule: Option<String>,
    /// Files the push or pull request changed, when known.
    pub changed_files: Option<Vec<String>>,
    /// `workflow_dispatch` inputs as given.
    pub inputs: IndexMap<String, String>,
    /// `github.event`.
    pub payload: serde_json::Value,
    /// `github.actor`.
    pub actor: String,
    /// The workflow to run: its path in the repository (`.github/workflows/ci.yml`).
    pub workflow_file: String,
    /// Decrypted secrets (none for a pull request from a fork). Never logged.
    pub secrets: Vec<(String, String)>,
    /// The `vars` context.
    pub vars: IndexMap<String, String>,
    /// Re-run only these jobs (by job id) and the jobs that need them; the others keep the
    /// results given in [`RunRequest::carried`]. Empty: run everything.
    pub only_jobs: Vec<String>,
    /// Results carried over from the attempt being re-run, for the jobs not run again.
    pub carried: Vec<CarriedJob>,
}

/// A job finished in an earlier attempt whose result a re-run keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarriedJob {
    /// The job instance key (`build (linux)`).
    pub key: String,
    pub name: String,
    pub conclusion: Conclusion,
    pub outputs: IndexMap<String, String>,
}

/// How a job, step or run ended (GitHub's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }
}

/// A job the agent plans to run, known before it starts (the run page draws the graph from these).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedJob {
    /// The job's id in the workflow; a matrix job's instances are keyed `id (values…)` when they start.
    pub key: String,
    pub name: String,
    /// The ids of the jobs it needs.
    pub needs: Vec<String>,
    /// `runs-on` labels.
    pub labels: Vec<String>,
}

/// An annotation from `::error`/`::warning`/`::notice`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// `error`, `warning` or `notice`.
    pub level: String,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
}

/// What an agent reports about a run, in order per job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The workflow was planned: the jobs it will run.
    Planned {
        jobs: Vec<PlannedJob>,
    },
    JobStarted {
        key: String,
        name: String,
    },
    /// The job did not run (its `if` was false, a need failed, cancelled before it started).
    JobSkipped {
        key: String,
        name: String,
        reason: String,
    },
    StepStarted {
        key: String,
        index: u32,
        name: String,
    },
    /// Masked log text of a job: whole lines, with Gantry's markers (`##[group]`, `##[endgroup]`,
    /// `##[step]`, `##[error]`…) on lines of their own.
    Log {
        key: String,
        data: Vec<u8>,
    },
    Annotation {
        key: String,
        annotation: Annotation,
    },
    StepFinished {
        key: String,
        index: u32,
        conclusion: Conclusion,
    },
    JobFinished {
        key: String,
        conclusion: Conclusion,
        outputs: IndexMap<String, String>,
    },
    /// A message about the run as a whole (a missing secret, a workflow that cannot be planned).
    RunLog {
        message: String,
    },
    /// The last event of a run.
    RunFinished {
        conclusion: Conclusion,
    },
}

/// A run handed to an agent: the request, where to report, and how the server cancels it.
#[derive(Debug)]
pub struct Lease {
    pub request: RunRequest,
    pub events: mpsc::Sender<AgentEvent>,
    /// Cancelled when a user cancels the run (or a newer run in its concurrency group does).
    pub cancel: CancellationToken,
    /// Cancelled when the server shuts down and will not wait any longer.
    pub abort: CancellationToken,
}

/// The server's side of an in-process agent link: leases go out on it.
pub type LeaseSender = mpsc::Sender<Lease>;
/// The agent's side: leases come in on it.
pub type LeaseReceiver = mpsc::Receiver<Lease>;

/// An in-process link between the server and an agent. `capacity` leases may wait unclaimed.
pub fn channel(capacity: usize) -> (LeaseSender, LeaseReceiver) {
    mpsc::channel(capacity.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_a_stable_json_shape() {
        let event = AgentEvent::StepFinished {
            key: "build (linux)".into(),
            index: 2,
            conclusion: Conclusion::Failure,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"type":"step_finished","key":"build (linux)","index":2,"conclusion":"failure"}"#
        );
        let back: AgentEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn conclusions_use_github_names() {
        for c in [
            Conclusion::Success,
            Conclusion::Failure,
            Conclusion::Cancelled,
            Conclusion::Skipped,
        ] {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
