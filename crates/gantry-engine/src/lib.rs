//! Runs a Plan: scheduler, step runner, runner files, workflow commands, masking.

pub mod action;
pub mod builtin;
pub mod commands;
pub mod context;
pub mod environment;
pub mod event;
mod job;
pub mod mask;
pub mod output;
pub mod run;
pub mod shell;
pub mod workflows;

pub use event::{
    Annotation, AnnotationLevel, EventReceiver, EventSender, JobKey, Outcome, RunEvent, channel,
};
pub use job::host_label;
pub use run::{GitInfo, JobSummary, RunConfig, RunResult, Runner, other_os_label, run, runner_for};
