//! What a run reports while it goes: the engine's output events.
//!
//! Every byte of log text in these events has already been masked.

use std::time::Duration;

use indexmap::IndexMap;

/// Identifies one job instance in a run, e.g. `build (ubuntu, 18)` or
/// `call / inner`.
pub type JobKey = String;

/// The result of a job or a step, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationLevel {
    Error,
    Warning,
    Notice,
}

impl AnnotationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Error => "error",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Notice => "notice",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub level: AnnotationLevel,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
}

/// One event of a run, in the order it happened for its job.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// A workflow of the plan starts.
    WorkflowStarted {
        file: String,
        name: String,
    },
    JobStarted {
        job: JobKey,
        name: String,
    },
    /// The job did not run: its `if` was false, a need failed, or the run
    /// was cancelled before it started.
    JobSkipped {
        job: JobKey,
        name: String,
        reason: String,
    },
    StepStarted {
        job: JobKey,
        step: usize,
        name: String,
    },
    /// Masked output of a step: one or more whole lines (a very long line
    /// may arrive in pieces).
    Output {
        job: JobKey,
        text: Vec<u8>,
    },
    GroupStarted {
        job: JobKey,
        title: String,
    },
    GroupEnded {
        job: JobKey,
    },
    Debug {
        job: JobKey,
        message: String,
    },
    Annotation {
        job: JobKey,
        annotation: Annotation,
    },
    /// A message from Gantry itself about a job (retry, skipped step, …).
    Notice {
        job: JobKey,
        message: String,
    },
    StepFinished {
        job: JobKey,
        step: usize,
        name: String,
        outcome: Outcome,
        conclusion: Outcome,
        duration: Duration,
    },
    JobFinished {
        job: JobKey,
        name: String,
        result: Outcome,
        duration: Duration,
        outputs: IndexMap<String, String>,
    },
    /// The step summary written to `$GITHUB_STEP_SUMMARY` (Markdown).
    Summary {
        job: JobKey,
        markdown: String,
    },
    /// A warning about the run as a whole (missing secret, short secret…).
    Warning {
        message: String,
    },
}
