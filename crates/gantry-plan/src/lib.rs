//! Event + workflows to a Plan: trigger filters, matrix, the needs DAG.
//!
//! This crate is pure: no I/O, no tokio. It decides which workflows and jobs
//! an event runs ([`plan()`]), checks everything about a workflow that the
//! syntax alone cannot ([`validate()`]), and provides the pure pieces the
//! engine calls at run time (matrix expansion, typed inputs, templates in
//! JSON trees).

pub mod event;
pub mod filter;
pub mod inputs;
pub mod matrix;
pub mod plan;
pub mod suggest;
pub mod template;
pub mod trigger;
pub mod validate;

pub use event::{Event, EventKind};
pub use plan::{
    JobPlan, MatrixPlan, Plan, PlanError, PlanRequest, Resolver, SkippedWorkflow, WorkflowPlan,
    plan,
};
pub use validate::validate;
