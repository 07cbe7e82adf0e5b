//! Error types: [`ParseError`] (with a byte offset) and [`EvalError`].

use thiserror::Error;

/// A syntax error, found before anything is evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message} (at offset {offset})")]
pub struct ParseError {
    /// Byte offset in the source given to the parse function.
    pub offset: usize,
    /// What is wrong, without a trailing period.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            message: message.into(),
        }
    }

    /// The same error with its offset moved by `by` bytes, for callers that
    /// parse a slice of a larger text.
    #[must_use]
    pub fn shifted(mut self, by: usize) -> Self {
        self.offset = self.offset.saturating_add(by);
        self
    }
}

/// An error raised while evaluating a parsed expression.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong, without a trailing period.
    pub message: String,
}

impl EvalError {
    /// An evaluation error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}
