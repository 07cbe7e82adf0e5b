//! Lowering: the spanned YAML tree to the typed AST, by hand, collecting
//! every diagnostic on the way.
//!
//! Each submodule lowers one part of the file: [`workflow`] the top level
//! and jobs, [`on`] the triggers, [`step`] steps (shared by workflows and
//! composite actions), [`action`] action files. This module holds the
//! shared [`Ctx`]: the diagnostics sink and small typed readers ("a string
//! or a number", "a boolean or an expression", an `env` map, …) that all
//! word their errors the same way: "`needs` must be a job id or a list of
//! job ids, found a mapping", pointing at the value.

mod action;
mod on;
mod step;
pub mod suggest;
mod workflow;

use std::collections::HashSet;

use serde_json::Value;

use crate::ast::{SMap, SValue};
use crate::diagnostic::Diagnostic;
use crate::span::{Span, Spanned};
use crate::yaml::{Node, Yaml};

pub use action::parse_action;
pub use workflow::parse_workflow;

/// The lowering context: the file name and every diagnostic so far.
pub(crate) struct Ctx<'f> {
    file: &'f str,
    diags: Vec<Diagnostic>,
    /// Problems already reported with a context ("in job `a`"), by span
    /// and context-free message: text merged or aliased into several
    /// places is one problem, reported once.
    reported: HashSet<(Span, String)>,
}

impl<'f> Ctx<'f> {
    fn new(file: &'f str, diags: Vec<Diagnostic>) -> Self {
        Ctx {
            file,
            diags,
            reported: HashSet::new(),
        }
    }

    /// All diagnostics, in source order, without exact repeats (a value
    /// reached through several aliases is reported once).
    fn finish(self) -> Vec<Diagnostic> {
        let mut diags = self.diags;
        diags.sort_by_key(|d| (d.span.start.line, d.span.start.col));
        let mut seen = HashSet::new();
        diags.retain(|d| seen.insert((d.span, d.message.clone(), d.severity)));
        diags
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, span, message.into()));
    }

    fn error_hint(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, span, message.into()).with_hint(hint));
    }

    /// Push `diagnostic` unless a problem with the same span and the same
    /// `core` (its message without context) was reported already.
    fn report_once(&mut self, diagnostic: Diagnostic, core: String) {
        if self.reported.insert((diagnostic.span, core)) {
            self.diags.push(diagnostic);
        }
    }

    /// An error about a step, once per span: `core ({context})`.
    fn step_error(&mut self, span: Span, core: String, context: &str, hint: Option<&str>) {
        let mut d = Diagnostic::error(self.file, span, format!("{core} ({context})"));
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        self.report_once(d, core);
    }

    fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, span, message.into()));
    }

    /// "`{what}` must be {expected}, found {kind}".
    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            node.span,
            format!("{what} must be {expected}, found {}", node.kind()),
        );
    }

    /// An unknown key, with a "did you mean" hint when one is close.
    fn unknown_key(&mut self, key: &Node, name: &str, known: &[&str], context: &str) {
        self.unknown_key_suggesting(key, name, known, context);
    }

    /// [`Ctx::unknown_key`], returning the suggestion, if any.
    fn unknown_key_suggesting(
        &mut self,
        key: &Node,
        name: &str,
        known: &[&str],
        context: &str,
    ) -> Option<String> {
        let core = format!("unknown key `{name}`");
        let best = suggest::closest(name, known.iter().copied());
        let hint = match best {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("expected one of {}", suggest::list(known)),
        };
        let d = Diagnostic::error(self.file, key.span, format!("{core} {context}")).with_hint(hint);
        self.report_once(d, core);
        best.map(str::to_string)
    }

    /// "on line 12", or "earlier on the same line", for hints about a
    /// first occurrence.
    fn first_seen(first: Span, here: Span) -> String {
        if first.start.line == here.start.line {
            "earlier on the same line".to_string()
        } else {
            format!("on line {}", first.start.line)
        }
    }

    /// A key GitHub knows but Gantry does not implement: a warning, so the
    /// file still validates.
    fn unsupported_key(&mut self, key: &Node, name: &str, context: &str) {
        let d = Diagnostic::warning(
            self.file,
            key.span,
            format!("`{name}` {context} is not supported by Gantry and is ignored"),
        );
        self.report_once(d, format!("unsupported `{name}`"));
    }

    /// The entries of a mapping, or an error.
    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Yaml::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(node, what, "a mapping");
                None
            }
        }
    }

    /// Like [`Ctx::map`], for places where GitHub also accepts one
    /// expression for the whole mapping (`env: ${{ matrix.env }}`), which
    /// the AST cannot hold.
    fn map_not_expr<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Yaml::Map(entries) => Some(entries),
            Yaml::String(s) if is_expression(s) => {
                self.error_hint(
                    node.span,
                    format!("an expression as the whole of {what} is not supported by Gantry"),
                    "write the mapping out, with an expression in each value",
                );
                None
            }
            _ => {
                self.wrong_type(node, what, "a mapping");
                None
            }
        }
    }

    /// The text of a mapping key. Scalars are accepted as written (`1:`
    /// is the key "1"); null, list and mapping keys are errors.
    fn key(&mut self, key: &Node) -> Option<String> {
        match &key.value {
            Yaml::String(s) => Some(s.clone()),
            Yaml::Bool(_) | Yaml::Int(_) | Yaml::Float(_) => key.scalar_text(),
            _ => {
                self.error(
                    key.span,
                    format!("a key must be a string, found {}", key.kind()),
                );
                None
            }
        }
    }

    /// A string. Numbers and booleans are read as their text, like GitHub
    /// does (`3.10` is `3.1`).
    fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match node.scalar_text() {
            Some(text) => Some(Spanned::new(text, node.span)),
            None => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// A string that must not be empty.
    fn non_empty_string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        let s = self.string(node, what)?;
        if s.value.trim().is_empty() {
            self.error(node.span, format!("{what} must not be empty"));
            return None;
        }
        Some(s)
    }

    /// A string-typed value that may hold `${{ }}` templates, as JSON.
    fn string_value(&mut self, node: &Node, what: &str) -> Option<SValue> {
        self.string(node, what)
            .map(|s| Spanned::new(Value::String(s.value), s.span))
    }

    /// A boolean, or a string holding an expression.
    fn bool_or_expr(&mut self, node: &Node, what: &str) -> Option<SValue> {
        match &node.value {
            Yaml::Bool(_) => Some(svalue(node)),
            Yaml::String(s) if is_expression(s) => Some(svalue(node)),
            _ => {
                self.wrong_type(node, what, "`true`, `false` or an expression");
                None
            }
        }
    }

    /// A number, or a string holding an expression.
    fn number_or_expr(&mut self, node: &Node, what: &str) -> Option<SValue> {
        match &node.value {
            Yaml::Int(_) | Yaml::Float(_) => Some(svalue(node)),
            Yaml::String(s) if is_expression(s) => Some(svalue(node)),
            _ => {
                self.wrong_type(node, what, "a number or an expression");
                None
            }
        }
    }

    /// An `if:` condition: a boolean, a number or an expression string
    /// (empty means `success()`, as on GitHub).
    fn condition(&mut self, node: &Node, what: &str) -> Option<SValue> {
        match &node.value {
            Yaml::Bool(_) | Yaml::Int(_) | Yaml::Float(_) | Yaml::String(_) => Some(svalue(node)),
            _ => {
                self.wrong_type(node, what, "a boolean or an expression");
                None
            }
        }
    }

    /// One string or a list of strings.
    fn string_list(
        &mut self,
        node: &Node,
        what: &str,
        expected: &str,
    ) -> Option<Vec<Spanned<String>>> {
        match &node.value {
            Yaml::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item.scalar_text() {
                        Some(text) => out.push(Spanned::new(text, item.span)),
                        None => self.error(
                            item.span,
                            format!(
                                "each entry of {what} must be a string, found {}",
                                item.kind()
                            ),
                        ),
                    }
                }
                Some(out)
            }
            _ => match node.scalar_text() {
                Some(text) => Some(vec![Spanned::new(text, node.span)]),
                None => {
                    self.wrong_type(node, what, expected);
                    None
                }
            },
        }
    }

    /// A list of scalars, as JSON values.
    fn scalar_list(&mut self, node: &Node, what: &str) -> Vec<SValue> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(node, what, "a list");
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.scalar_text().is_some() {
                out.push(svalue(item));
            } else {
                self.error(
                    item.span,
                    format!(
                        "each entry of {what} must be a string, found {}",
                        item.kind()
                    ),
                );
            }
        }
        out
    }

    /// A map of names to scalar values (`env:`, `outputs:`, …). Values
    /// keep their JSON type; null is an error, as on GitHub. `entry` names
    /// one entry in messages ("environment variable").
    fn scalar_map(&mut self, node: &Node, what: &str, entry: &str) -> SMap<SValue> {
        self.scalar_map_with(node, what, entry, NullValue::Error)
    }

    /// The inputs passed with `with:`: like [`Ctx::scalar_map`], but an
    /// input without a value, which is common and harmless, is passed as an
    /// empty string, with a warning.
    fn input_map(&mut self, node: &Node) -> SMap<SValue> {
        self.scalar_map_with(node, "`with`", "input", NullValue::EmptyString)
    }

    fn scalar_map_with(
        &mut self,
        node: &Node,
        what: &str,
        entry: &str,
        null: NullValue,
    ) -> SMap<SValue> {
        let mut out = SMap::new();
        let Some(entries) = self.map_not_expr(node, what) else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if name.is_empty() {
                self.error(key.span, format!("{entry} name must not be empty"));
                continue;
            }
            match &value.value {
                Yaml::String(_) | Yaml::Bool(_) | Yaml::Int(_) | Yaml::Float(_) => {
                    out.insert(name, (key.span, svalue(value)));
                }
                Yaml::Null if null == NullValue::EmptyString => {
                    self.warning(
                        key.span,
                        format!("{entry} `{name}` has no value and is passed as an empty string"),
                    );
                    let empty = Spanned::new(Value::String(String::new()), value.span);
                    out.insert(name, (key.span, empty));
                }
                Yaml::Null => self.error_hint(
                    key.span,
                    format!("{entry} `{name}` has no value"),
                    format!("write `{name}: ''` for an empty string"),
                ),
                Yaml::Seq(_) | Yaml::Map(_) => self.error(
                    value.span,
                    format!(
                        "{entry} `{name}` must be a string, a number or a boolean, found {}",
                        value.kind()
                    ),
                ),
            }
        }
        out
    }
}

/// What a null value in a [`Ctx::scalar_map_with`] means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NullValue {
    Error,
    EmptyString,
}

/// A node as a spanned JSON value.
fn svalue(node: &Node) -> SValue {
    Spanned::new(node.to_json(), node.span)
}

/// Whether a string holds a `${{ }}` template.
fn is_expression(s: &str) -> bool {
    s.contains("${{")
}

/// GitHub's rule for job, step and input ids: a letter or `_`, then
/// letters, digits, `-` or `_`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

const IDENTIFIER_HINT: &str =
    "an id must start with a letter or `_` and contain only letters, digits, `-` or `_`";
