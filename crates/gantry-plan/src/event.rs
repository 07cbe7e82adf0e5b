//! The event a plan is made for: what happened to which ref.

use indexmap::IndexMap;

/// What triggered a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A push of a branch or a tag (`refs/tags/…`).
    Push,
    PullRequest,
    PullRequestTarget,
    Schedule,
    WorkflowDispatch,
}

impl EventKind {
    /// GitHub's event name (`github.event_name`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Push => "push",
            EventKind::PullRequest => "pull_request",
            EventKind::PullRequestTarget => "pull_request_target",
            EventKind::Schedule => "schedule",
            EventKind::WorkflowDispatch => "workflow_dispatch",
        }
    }

    /// Parses a command-line event name; `tag` is a push of a tag.
    pub fn parse(name: &str) -> Option<EventKind> {
        Some(match name {
            "push" | "tag" => EventKind::Push,
            "pull_request" | "pr" => EventKind::PullRequest,
            "pull_request_target" => EventKind::PullRequestTarget,
            "schedule" | "cron" => EventKind::Schedule,
            "workflow_dispatch" | "dispatch" => EventKind::WorkflowDispatch,
            _ => return None,
        })
    }
}

/// An event, as far as planning needs it. The full `github.event` payload is
/// built by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// The full ref: `refs/heads/main`, `refs/tags/v1.2.0`, `refs/pull/7/merge`.
    pub git_ref: String,
    /// Pull requests: the full base ref the PR targets (`refs/heads/main`).
    pub base_ref: Option<String>,
    /// Pull requests: the full head ref.
    pub head_ref: Option<String>,
    /// Pull requests: the activity type (`opened`, `synchronize`, …).
    pub action: Option<String>,
    /// Files changed by the push or pull request; `None` when unknown, in
    /// which case path filters let the workflow run.
    pub changed_files: Option<Vec<String>>,
    /// `workflow_dispatch` inputs as given (strings, typed later).
    pub inputs: IndexMap<String, String>,
    /// The cron line that fired, for `schedule`.
    pub schedule: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind, git_ref: impl Into<String>) -> Event {
        Event {
            kind,
            git_ref: git_ref.into(),
            base_ref: None,
            head_ref: None,
            action: None,
            changed_files: None,
            inputs: IndexMap::new(),
            schedule: None,
        }
    }

    /// The tag name when the ref is a tag.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }

    /// The branch name when the ref is a branch.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    /// `github.ref_name`: the short name of the ref.
    pub fn ref_name(&self) -> &str {
        short_ref(&self.git_ref)
    }
}

/// `refs/heads/x` → `x`, `refs/tags/v1` → `v1`, `refs/pull/1/merge` → `1/merge`.
pub fn short_ref(git_ref: &str) -> &str {
    git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .or_else(|| git_ref.strip_prefix("refs/pull/"))
        .unwrap_or(git_ref)
}
