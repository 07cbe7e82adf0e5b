//! Strings with `${{ expr }}` parts ([`Template`]) and `if:` conditions
//! ([`Condition`]) with GitHub's implicit `success() &&`.

use std::fmt;
use std::ops::Range;

use serde_json::Value;

use crate::ast::Expr;
use crate::context::{Context, Status};
use crate::error::{EvalError, ParseError};
use crate::eval::{check_size, eval};
use crate::parser::parse;

/// One part of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Text outside `${{ }}`, kept as is.
    Literal(String),
    /// One `${{ expr }}`.
    Expr {
        /// The expression. Its spans are relative to the text between `${{`
        /// and `}}`, which starts at `range.start + 3` in the template.
        expr: Expr,
        /// Byte range of the whole `${{ … }}` in the template source.
        range: Range<usize>,
    },
}

/// A string with zero or more `${{ expr }}` parts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    parts: Vec<TemplatePart>,
}

/// Where the `}}` closing an expression that starts at `from` is, skipping
/// `}}` inside single-quoted strings (so `${{ format('{{0}}', 1) }}` works).
fn find_close(b: &[u8], from: usize, respect_strings: bool) -> Option<usize> {
    let mut in_string = false;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\'' if respect_strings => in_string = !in_string,
            b'}' if !in_string && b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses a string with zero or more `${{ expr }}` parts. Error offsets are
/// relative to the whole template string.
pub fn parse_template(src: &str) -> Result<Template, ParseError> {
    let b = src.as_bytes();
    let mut parts = Vec::new();
    let mut pos = 0;
    while let Some(found) = src.get(pos..).and_then(|rest| rest.find("${{")) {
        let start = pos + found;
        if start > pos {
            parts.push(TemplatePart::Literal(src[pos..start].to_string()));
        }
        let inner_start = start + 3;
        let Some(close) = find_close(b, inner_start, true) else {
            // Most often an unterminated string swallowed the `}}`: report that.
            if let Some(close) = find_close(b, inner_start, false)
                && let Err(e) = parse(&src[inner_start..close])
            {
                return Err(e.shifted(inner_start));
            }
            return Err(ParseError::new(
                start,
                "The expression is not closed: an unescaped '${{' was found without a closing '}}'",
            ));
        };
        let expr = parse(&src[inner_start..close]).map_err(|e| e.shifted(inner_start))?;
        parts.push(TemplatePart::Expr {
            expr,
            range: start..close + 2,
        });
        pos = close + 2;
    }
    if pos < src.len() {
        parts.push(TemplatePart::Literal(src[pos..].to_string()));
    }
    Ok(Template { parts })
}

impl Template {
    /// True when there is no `${{ }}` at all.
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, TemplatePart::Literal(_)))
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// The expressions, in order.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Expr { expr, .. } => Some(expr),
            TemplatePart::Literal(_) => None,
        })
    }

    /// The expressions with the byte offset where each one's source starts
    /// in the template (just after its `${{`).
    pub fn exprs_with_offsets(&self) -> impl Iterator<Item = (&Expr, usize)> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Expr { expr, range } => Some((expr, range.start + 3)),
            TemplatePart::Literal(_) => None,
        })
    }

    /// The expression when the template is exactly one `${{ expr }}`,
    /// surrounding whitespace allowed.
    pub fn single_expr(&self) -> Option<&Expr> {
        let mut found = None;
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) if text.trim().is_empty() => {}
                TemplatePart::Expr { expr, .. } if found.is_none() => found = Some(expr),
                _ => return None,
            }
        }
        found
    }

    /// True when some expression calls a status function.
    pub fn has_status_function(&self) -> bool {
        self.exprs().any(Expr::has_status_function)
    }

    /// Evaluates. A template that is exactly one `${{ expr }}` (surrounding
    /// whitespace allowed) gives the expression's value with its type;
    /// otherwise the parts' string forms are joined into a string.
    pub fn evaluate(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        match self.single_expr() {
            Some(expr) => expr.evaluate(ctx),
            None => self.evaluate_to_string(ctx).map(Value::String),
        }
    }

    /// Evaluates to a string: literal text plus each expression's string form.
    pub fn evaluate_to_string(&self, ctx: &dyn Context) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Expr { expr, .. } => out.push_str(&eval(expr, ctx)?.to_str()),
            }
            check_size(out.len())?;
        }
        Ok(out)
    }
}

/// The template with each expression in its normalised form.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => f.write_str(text)?,
                TemplatePart::Expr { expr, .. } => write!(f, "${{{{ {expr} }}}}")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ConditionKind {
    /// An empty condition: just the implicit `success()`.
    Default,
    /// A bare expression, or one wrapped in a single `${{ }}`.
    Expr { expr: Expr, offset: usize },
    /// Text mixing `${{ }}` with other text: a string, so truthy unless empty.
    Template(Template),
}

/// An `if:` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    kind: ConditionKind,
    status: bool,
}

/// Parses an `if:` condition. GitHub accepts a bare expression
/// (`github.ref == 'refs/heads/main'`) or one wrapped in `${{ }}`. A string
/// that is exactly `${{ expr }}` (whitespace around allowed) is unwrapped; a
/// string with `${{` elsewhere (e.g. `${{ a }} && b`) is a template, which
/// GitHub treats as a non-empty string, so truthy. An empty condition means
/// just `success()`. Error offsets are relative to `src`.
pub fn parse_condition(src: &str) -> Result<Condition, ParseError> {
    let kind = if src.trim().is_empty() {
        ConditionKind::Default
    } else if src.contains("${{") {
        let template = parse_template(src)?;
        if template.single_expr().is_some() {
            let single = template.parts.into_iter().find_map(|p| match p {
                TemplatePart::Expr { expr, range } => Some((expr, range)),
                TemplatePart::Literal(_) => None,
            });
            match single {
                Some((expr, range)) => ConditionKind::Expr {
                    expr,
                    offset: range.start + 3,
                },
                None => ConditionKind::Default,
            }
        } else {
            ConditionKind::Template(template)
        }
    } else {
        ConditionKind::Expr {
            expr: parse(src)?,
            offset: 0,
        }
    };
    let status = match &kind {
        ConditionKind::Default => false,
        ConditionKind::Expr { expr, .. } => expr.has_status_function(),
        ConditionKind::Template(t) => t.has_status_function(),
    };
    Ok(Condition { kind, status })
}

impl Condition {
    /// True when the expression calls `success()`, `failure()`, `always()`
    /// or `cancelled()` anywhere.
    pub fn has_status_function(&self) -> bool {
        self.status
    }

    /// The condition's expression, unless the condition is empty or a template.
    pub fn expr(&self) -> Option<&Expr> {
        match &self.kind {
            ConditionKind::Expr { expr, .. } => Some(expr),
            _ => None,
        }
    }

    /// Where [`Condition::expr`]'s source starts in the condition string
    /// (0 for a bare expression, just after `${{` for a wrapped one).
    pub fn expr_offset(&self) -> Option<usize> {
        match &self.kind {
            ConditionKind::Expr { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// The template, when the condition mixes `${{ }}` with other text.
    pub fn template(&self) -> Option<&Template> {
        match &self.kind {
            ConditionKind::Template(t) => Some(t),
            _ => None,
        }
    }

    /// Evaluates with GitHub's implicit rule: when no status function is
    /// called, the condition is `success() && (expr)` (and `expr` is not
    /// evaluated when the status is not success).
    pub fn evaluate(&self, ctx: &dyn Context) -> Result<bool, EvalError> {
        if !self.status && ctx.status() != Status::Success {
            return Ok(false);
        }
        match &self.kind {
            ConditionKind::Default => Ok(true),
            ConditionKind::Expr { expr, .. } => expr.evaluate_truthy(ctx),
            ConditionKind::Template(t) => Ok(!t.evaluate_to_string(ctx)?.is_empty()),
        }
    }
}

/// The condition as written (normalised), without the implicit `success()`.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ConditionKind::Default => f.write_str("success()"),
            ConditionKind::Expr { expr, .. } => write!(f, "{expr}"),
            ConditionKind::Template(t) => write!(f, "{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parts_and_offsets() {
        let t = parse_template("a ${{ x }} b ${{ '}}' }}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.parts().len(), 4);
        assert_eq!(
            t.exprs_with_offsets().map(|(_, o)| o).collect::<Vec<_>>(),
            vec![5, 16]
        );
        match &t.parts()[1] {
            TemplatePart::Expr { range, expr } => {
                assert_eq!(range, &(2..10));
                assert_eq!(expr.contexts(), vec![("x".to_string(), 1)]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.to_string(), "a ${{ x }} b ${{ '}}' }}");
        assert!(parse_template("plain").is_ok_and(|t| t.is_literal()));
        assert!(parse_template("").is_ok_and(|t| t.is_literal() && t.parts().is_empty()));
    }

    #[test]
    fn template_errors_are_relative_to_the_template() {
        let err = |s: &str| parse_template(s).err().map(|e| (e.offset, e.message));
        assert_eq!(err("abc ${{ a == }}").map(|e| e.0), Some(13));
        assert_eq!(
            err("ab ${{ x"),
            Some((
                3,
                "The expression is not closed: an unescaped '${{' was found without a closing '}}'"
                    .into()
            ))
        );
        assert_eq!(
            err("${{ 'abc }}"),
            Some((4, "Unterminated string literal (missing closing ')".into()))
        );
        assert_eq!(err("x ${{ }}"), Some((6, "Expected an expression".into())));
        assert_eq!(err("${{ \"a\" }}").map(|e| e.0), Some(4));
    }

    #[test]
    fn condition_forms() {
        let c = parse_condition("  ${{ github.ref }}  ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.expr().map(|e| e.to_string()), Some("github.ref".into()));
        assert_eq!(c.expr_offset(), Some(5));
        let c = parse_condition("${{ a }} && b").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.template().is_some());
        let c = parse_condition("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.to_string(), "success()");
        assert_eq!(parse_condition("a == ").err().map(|e| e.offset), Some(5));
        assert_eq!(
            parse_condition("x: ${{ a == }}").err().map(|e| e.offset),
            Some(12)
        );
    }
}
