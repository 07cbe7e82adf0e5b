//! The typed workflow and action AST: what a file says, with a span on every
//! value a diagnostic may need to point at.
//!
//! Values where GitHub allows an expression (or where the type varies, like
//! `runs-on`) are kept as [`SValue`]: a JSON value plus its span. Strings in
//! them may contain `${{ }}` templates; evaluation is the engine's business.

use indexmap::IndexMap;
use serde_json::Value;

use crate::span::{Span, Spanned};

/// A JSON value with the span of the YAML node it came from.
pub type SValue = Spanned<Value>;

/// A map keyed by name, keeping each key's span and the file order.
pub type SMap<T> = IndexMap<String, (Span, T)>;

/// A whole workflow file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workflow {
    /// The path the file was read from, as given to the parser.
    pub file: String,
    pub name: Option<Spanned<String>>,
    pub run_name: Option<Spanned<String>>,
    pub on: Triggers,
    pub env: SMap<SValue>,
    pub defaults: Defaults,
    pub permissions: Option<SValue>,
    pub concurrency: Option<Concurrency>,
    pub jobs: SMap<Job>,
    /// Span of the whole document (for diagnostics about missing keys).
    pub span: Span,
}

/// `on:` — every event the workflow listens to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Triggers {
    pub push: Option<RefFilter>,
    pub pull_request: Option<RefFilter>,
    pub pull_request_target: Option<RefFilter>,
    /// `schedule: [{cron: …}]`, one entry per cron line.
    pub schedule: Vec<Spanned<String>>,
    pub workflow_dispatch: Option<Dispatch>,
    pub workflow_call: Option<WorkflowCall>,
    /// Other known GitHub events (`release`, `merge_group`, `issues`, …)
    /// with their raw configuration, kept so `plan` can say why they do not
    /// fire locally.
    pub other: SMap<SValue>,
    pub span: Span,
}

/// Filters of a `push` / `pull_request` / `pull_request_target` trigger.
/// `None` means the key was absent (no filtering on that dimension).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefFilter {
    pub types: Option<Vec<Spanned<String>>>,
    pub branches: Option<Vec<Spanned<String>>>,
    pub branches_ignore: Option<Vec<Spanned<String>>>,
    pub tags: Option<Vec<Spanned<String>>>,
    pub tags_ignore: Option<Vec<Spanned<String>>>,
    pub paths: Option<Vec<Spanned<String>>>,
    pub paths_ignore: Option<Vec<Spanned<String>>>,
    pub span: Span,
}

/// Input types of `workflow_dispatch` / `workflow_call` inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputType {
    #[default]
    String,
    Boolean,
    Number,
    Choice,
    Environment,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputDef {
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<SValue>,
    pub kind: InputType,
    /// `options:` of a `choice` input.
    pub options: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dispatch {
    pub inputs: SMap<InputDef>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallOutput {
    pub description: Option<String>,
    pub value: SValue,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallSecret {
    pub description: Option<String>,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkflowCall {
    pub inputs: SMap<InputDef>,
    pub outputs: SMap<CallOutput>,
    pub secrets: SMap<CallSecret>,
    pub span: Span,
}

/// `defaults:` at workflow or job level.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<SValue>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Concurrency {
    pub group: SValue,
    /// `cancel-in-progress` (bool or expression); absent means false.
    pub cancel_in_progress: Option<SValue>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Environment {
    pub name: SValue,
    pub url: Option<SValue>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Strategy {
    /// The matrix: a mapping (axes, `include`, `exclude`) or an expression
    /// string such as `${{ fromJSON(needs.a.outputs.m) }}`.
    pub matrix: Option<SValue>,
    pub fail_fast: Option<SValue>,
    pub max_parallel: Option<SValue>,
    pub span: Span,
}

/// A job `container:` or one entry of `services:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Container {
    pub image: SValue,
    pub credentials: Option<SValue>,
    pub env: SMap<SValue>,
    pub ports: Vec<SValue>,
    pub volumes: Vec<SValue>,
    pub options: Option<SValue>,
    pub span: Span,
}

/// `secrets:` of a reusable workflow call job.
#[derive(Debug, Clone, PartialEq)]
pub enum CallSecrets {
    Inherit(Span),
    Map(SMap<SValue>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Job {
    pub id: Spanned<String>,
    pub name: Option<SValue>,
    pub needs: Vec<Spanned<String>>,
    pub if_: Option<SValue>,
    pub runs_on: Option<SValue>,
    pub environment: Option<Environment>,
    pub strategy: Option<Strategy>,
    pub timeout_minutes: Option<SValue>,
    pub continue_on_error: Option<SValue>,
    pub outputs: SMap<SValue>,
    pub env: SMap<SValue>,
    pub defaults: Defaults,
    pub permissions: Option<SValue>,
    pub concurrency: Option<Concurrency>,
    pub container: Option<Container>,
    pub services: SMap<Container>,
    pub steps: Vec<Step>,
    /// Reusable workflow call: `uses: ./.github/workflows/x.yml` or
    /// `owner/repo/.github/workflows/x.yml@ref`.
    pub uses: Option<Spanned<String>>,
    pub with: SMap<SValue>,
    pub secrets: Option<CallSecrets>,
    pub span: Span,
}

/// Gantry's extension: retry a failing step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retry {
    /// Total attempts, including the first (>= 1).
    pub attempts: Spanned<u32>,
    /// Seconds to wait between attempts.
    pub delay_seconds: Spanned<f64>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    pub id: Option<Spanned<String>>,
    pub name: Option<SValue>,
    pub if_: Option<SValue>,
    pub run: Option<Spanned<String>>,
    pub uses: Option<Spanned<String>>,
    pub with: SMap<SValue>,
    pub env: SMap<SValue>,
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<SValue>,
    pub continue_on_error: Option<SValue>,
    pub timeout_minutes: Option<SValue>,
    pub retry: Option<Retry>,
    pub span: Span,
}

/// An `action.yml` / `action.yaml` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Action {
    pub file: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub inputs: SMap<ActionInput>,
    pub outputs: SMap<ActionOutput>,
    pub runs: ActionRuns,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionInput {
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<SValue>,
    pub deprecation_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionOutput {
    pub description: Option<String>,
    /// `value:` of a composite action's output (an expression template).
    pub value: Option<SValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionRuns {
    Composite {
        steps: Vec<Step>,
    },
    /// `using: node12|node16|node20|node24`.
    Node {
        using: String,
        main: Spanned<String>,
        pre: Option<Spanned<String>>,
        post: Option<Spanned<String>>,
        pre_if: Option<SValue>,
        post_if: Option<SValue>,
    },
    Docker {
        image: Spanned<String>,
        args: Vec<SValue>,
        entrypoint: Option<Spanned<String>>,
        env: SMap<SValue>,
    },
}

impl Default for ActionRuns {
    fn default() -> Self {
        ActionRuns::Composite { steps: Vec::new() }
    }
}
