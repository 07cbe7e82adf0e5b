//! What evaluation needs from the outside: the [`Context`] trait, job
//! [`Status`], and [`MapContext`], a simple map-backed implementation.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// Job or step status, as seen by `success()`, `failure()` and `cancelled()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Status {
    /// Everything so far succeeded.
    #[default]
    Success,
    /// An earlier step (or a needed job) failed.
    Failure,
    /// The run was cancelled.
    Cancelled,
}

impl Status {
    /// `"success"`, `"failure"` or `"cancelled"`, as in `job.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the evaluator needs from the outside world.
pub trait Context {
    /// A named context root (`github`, `env`, `vars`, `secrets`, `inputs`,
    /// `matrix`, `strategy`, `needs`, `steps`, `job`, `jobs`, `runner`), or
    /// `None` if it is not available here. Contexts that exist but are empty
    /// should be given as `{}`: `None` makes evaluation fail with
    /// "Unrecognized named-value". Names are asked for as written, then in
    /// lower case.
    fn context(&self, name: &str) -> Option<&Value>;

    /// `hashFiles(patterns…)`; the engine implements it (the I/O lives
    /// there). An `Err` becomes an evaluation error.
    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        let _ = patterns;
        Err("hashFiles is not available here".into())
    }

    /// Job/step status for `success()`, `failure()` and `cancelled()`
    /// (`always()` is always true).
    fn status(&self) -> Status {
        Status::Success
    }
}

type HashFilesFn = dyn Fn(&[String]) -> Result<String, String> + Send + Sync;

/// A [`Context`] backed by a map, for tests and for places (plan time) where
/// only some contexts exist.
///
/// ```
/// use gantry_expr::{MapContext, Status, parse_condition};
/// use serde_json::json;
///
/// let ctx = MapContext::new().with("github", json!({"ref": "refs/heads/main"})).with_status(Status::Failure);
/// let cond = parse_condition("github.ref == 'refs/heads/main'")?;
/// assert_eq!(cond.evaluate(&ctx), Ok(false)); // implicit success() is false
/// # Ok::<(), gantry_expr::ParseError>(())
/// ```
#[derive(Clone, Default)]
pub struct MapContext {
    contexts: BTreeMap<String, Value>,
    status: Status,
    hash_files: Option<Arc<HashFilesFn>>,
}

impl MapContext {
    /// An empty context (status: success; `hashFiles` unavailable).
    pub fn new() -> Self {
        MapContext::default()
    }

    /// Adds (or replaces) a named context.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: Value) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a named context, returning the previous value.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) -> Option<Value> {
        self.contexts.insert(name.into(), value)
    }

    /// Removes a named context.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.contexts.remove(name)
    }

    /// A named context, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.contexts.get(name)
    }

    /// A named context for in-place changes, if present.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.contexts.get_mut(name)
    }

    /// Sets the status seen by the status functions.
    #[must_use]
    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// Sets the status seen by the status functions.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Makes `hashFiles()` available, computed by `f`.
    #[must_use]
    pub fn with_hash_files(
        mut self,
        f: impl Fn(&[String]) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.hash_files = Some(Arc::new(f));
        self
    }
}

impl fmt::Debug for MapContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapContext")
            .field("contexts", &self.contexts.keys().collect::<Vec<_>>())
            .field("status", &self.status)
            .field("hash_files", &self.hash_files.is_some())
            .finish()
    }
}

impl Context for MapContext {
    fn context(&self, name: &str) -> Option<&Value> {
        self.contexts.get(name)
    }

    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        match &self.hash_files {
            Some(f) => f(patterns),
            None => Err("hashFiles is not available here".into()),
        }
    }

    fn status(&self) -> Status {
        self.status
    }
}

impl<C: Context + ?Sized> Context for &C {
    fn context(&self, name: &str) -> Option<&Value> {
        (**self).context(name)
    }

    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        (**self).hash_files(patterns)
    }

    fn status(&self) -> Status {
        (**self).status()
    }
}
