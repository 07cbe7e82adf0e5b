//! Workflow and action YAML to a typed AST with spans, plus every diagnostic.
//!
//! Parsing never fails: [`parse_workflow`] returns the best AST it could
//! build together with all the problems it found, each with a file:line:col
//! span and, where it can, a hint ("did you mean `runs-on`?").
//! This crate does no I/O and knows nothing about expressions' meaning,
//! plans or execution.

pub mod ast;
pub mod diagnostic;
mod lower;
mod render;
pub mod span;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use diagnostic::{Diagnostic, Severity};
pub use lower::{parse_action, parse_workflow, suggest};
pub use render::render;
pub use span::{Pos, Span, Spanned};
