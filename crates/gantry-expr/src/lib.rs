//! GitHub Actions `${{ }}` expressions: lexer, parser and evaluator.
//!
//! Pure: no I/O. The outside world comes in through [`Context`] (named
//! contexts, `hashFiles`, job status).
//!
//! - [`parse`] one expression, [`parse_template`] a string with `${{ }}`
//!   parts, [`parse_condition`] an `if:` condition.
//! - [`Expr::evaluate`], [`Template::evaluate`], [`Condition::evaluate`].
//! - [`to_string`], [`truthy`], [`to_number`]: GitHub's coercions.
//!
//! Semantics follow GitHub's documentation: case-insensitive string
//! comparison and property lookup, loose `==` with number coercion, `&&`/`||`
//! returning an operand, object filters (`a.*.b`), and the built-in
//! functions (`contains`, `startsWith`, `endsWith`, `format`, `join`,
//! `toJSON`, `fromJSON`, `hashFiles`, `case`, and the status functions).

mod ast;
mod coerce;
mod context;
mod error;
mod eval;
mod functions;
mod lexer;
mod parser;
mod template;
mod val;

pub use ast::{CmpOp, Expr, ExprKind, Span};
pub use coerce::{to_number, to_string, truthy};
pub use context::{Context, MapContext, Status};
pub use error::{EvalError, ParseError};
pub use eval::MAX_STRING_BYTES;
pub use functions::Function;
pub use parser::{MAX_DEPTH, MAX_LENGTH, parse};
pub use serde_json::Value;
pub use template::{Condition, Template, TemplatePart, parse_condition, parse_template};
