//! Continuous deployment's model: what an environment promises and how a version reaches it,
//! decided on data alone.
//!
//! This crate is pure (no I/O, no clock, no tokio): the caller passes the time, the people and
//! the measurements in, and gets decisions out. It owns
//! - the shared vocabulary ([`model`]): strategies, health checks and analysis thresholds with
//!   the defaults teams expect (error rate above 5 %, p95 latency above 2000 ms or availability
//!   below 95 % fails a rollout; a canary starts at 10 % and adds 25 % per step).
//! - the environments file ([`config`]): `.gantry/environments.yml` to typed environments
//!   (target, strategy, health, analysis, smoke tests, migrations, variables, secrets,
//!   protection, pipeline order) with every diagnostic at file:line:col.
//! - protection ([`protection`]): whether a deployment may go ahead, waits (approvals, wait
//!   timer, window) or is refused (ref rules, a rejection, an approval timeout), and who may
//!   review it.
//! - deployment windows ([`window`]): weekdays and hours on a time zone's local clock, open now
//!   or when next.
//! - rollout plans ([`plan`]): the ordered steps each strategy takes from the running version to
//!   a new one, the way back from any point ([`plan::rollback_plan`]) and scaling.
//! - health analysis ([`analysis`]): a window of the proxy's measurements judged against the
//!   thresholds (and a canary against its baseline), one readable verdict per metric.
//! - the deployment journal ([`journal`]): every step written before it is taken, what to do
//!   next (also after a crash: resume or roll back) and the summary pages show.
//! - DORA metrics ([`dora`]): deployment frequency, lead time for changes, change failure rate
//!   and time to restore from an environment's deployment history.
//!
//! The I/O that carries these decisions out (supervising instances, shifting traffic, measuring
//! responses) lives in `gantry-proxy` and `gantry-rollout`.

pub mod analysis;
pub mod config;
pub mod dora;
pub mod journal;
pub mod model;
pub mod plan;
pub mod protection;
pub mod window;
