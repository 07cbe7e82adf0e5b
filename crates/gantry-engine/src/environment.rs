//! Deployment environments: a job with `environment:` enters it through the run's
//! [`EnvironmentGate`] before it takes a parallelism slot.
//!
//! The gate may make the job wait (approvals, a wait timer, a deployment window), refuse it with
//! a reason (the job fails with that reason as its error), or let it in with the environment's
//! variables and secrets, which override the run's for that job only, as on GitHub. What the gate
//! consults (an environments file, a server's approvals, a terminal prompt) is the caller's
//! business: the engine only asks. Without a gate an environment is a name and the job just runs.

use std::future::Future;
use std::pin::Pin;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::event::JobKey;

/// A job asking to enter an environment.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRequest {
    /// The job instance (`deploy`, `deploy (production)`, `call/deploy`).
    pub job: JobKey,
    /// Its display name.
    pub name: String,
    /// The workflow file it belongs to.
    pub workflow: String,
    /// The environment's name, evaluated (`environment: ${{ inputs.target }}`).
    pub environment: String,
}

/// What a job receives in its environment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grant {
    /// Added to the `vars` context, replacing the run's values of the same names.
    pub vars: Map<String, Value>,
    /// Added to the `secrets` context (and masked in the job's output).
    pub secrets: IndexMap<String, String>,
}

/// What the gate answers, when it answers.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<Grant, String>> + Send + 'a>>;

/// Decides whether jobs may enter their environments. Waiting is done inside [`Self::enter`];
/// the engine drops the future when the job is cancelled.
pub trait EnvironmentGate: Send + Sync {
    /// Resolves when `request` may go ahead (with what it gets there) or is refused (the reason,
    /// a sentence for the job's error).
    fn enter<'a>(&'a self, request: &'a GateRequest) -> GateFuture<'a>;
}
