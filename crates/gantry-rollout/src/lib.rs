//! The I/O side of continuous deployment: carrying out the rollout steps that `gantry-deploy`
//! decides, on a target.
//!
//! So far it holds the `process` target's pieces:
//! - [`supervisor`]: N instances of an application on this host, each on its own port and in its
//!   own process group, restarted with backoff when they crash, their recent output kept, every
//!   change announced as an event;
//! - [`health`]: the HTTP health check an instance must pass before it receives traffic, and the
//!   wait for it that gives up the moment the instance's process exits, showing its logs;
//! - [`driver`]: the rollout driver that takes a deployment journal's steps with both, behind
//!   the environment's own reverse proxy (`gantry-proxy`).
//!
//! The example application the deployment tests deploy is the `gantry-demo-app` binary of this
//! crate (`examples/demo-app/main.rs`).

pub mod driver;
pub mod health;
pub mod logs;
pub mod supervisor;

pub use driver::{Control, Controller, DriverError, JournalSink, MemorySink, Runtime, Settings};
pub use health::{Attempt, HealthFailure, HealthResult, Outcome, Reason, check, wait_healthy};
pub use supervisor::{
    Backoff, Event, Exit, GroupWatch, Instance, InstanceId, InstanceSpec, State, Supervisor,
    SupervisorConfig, SupervisorError,
};
