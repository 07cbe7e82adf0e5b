//! Lowering of a workflow file's top level, and of the parts shared by the
//! workflow and its jobs: `defaults`, `permissions`, `concurrency`.

use crate::ast::{Concurrency, Defaults, Workflow};
use crate::diagnostic::Diagnostic;
use crate::span::{Span, Spanned};
use crate::yaml::{self, Node, Yaml};

use super::{Ctx, svalue};

mod job;

const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "run-name",
    "description",
    "on",
    "env",
    "defaults",
    "permissions",
    "concurrency",
    "jobs",
];

/// Parse a workflow file. Never fails: returns the best AST it could build
/// and every diagnostic, errors and warnings, in source order.
pub fn parse_workflow(file: &str, src: &str) -> (Workflow, Vec<Diagnostic>) {
    let (root, diags) = yaml::parse(file, src);
    let mut ctx = Ctx::new(file, diags);
    let mut workflow = Workflow {
        file: file.to_string(),
        ..Workflow::default()
    };
    if let Some(root) = root {
        ctx.workflow(&root, &mut workflow);
    }
    (workflow, ctx.finish())
}

impl Ctx<'_> {
    fn workflow(&mut self, root: &Node, wf: &mut Workflow) {
        wf.span = root.span;
        if root.is_null() {
            self.error_hint(
                first_line(root.span),
                "the workflow file is empty",
                "a workflow needs at least `on:` and `jobs:`",
            );
            return;
        }
        let Some(entries) = root.as_map() else {
            self.error_hint(
                root.span,
                format!("a workflow must be a mapping, found {}", root.kind()),
                "a workflow needs at least `on:` and `jobs:`",
            );
            return;
        };
        let mut has_on = false;
        let mut has_jobs = false;
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name.as_str() {
                "name" => wf.name = self.string(value, "`name`"),
                "run-name" => wf.run_name = self.string(value, "`run-name`"),
                "description" => {
                    self.string(value, "`description`");
                }
                "on" => {
                    has_on = true;
                    wf.on = self.triggers(value);
                }
                "env" => wf.env = self.scalar_map(value, "`env`", "environment variable"),
                "defaults" => wf.defaults = self.defaults(value),
                "permissions" => wf.permissions = self.permissions(value),
                "concurrency" => wf.concurrency = self.concurrency(value),
                "jobs" => {
                    has_jobs = true;
                    self.jobs(value, wf);
                }
                _ => self.unknown_key(
                    key,
                    &name,
                    WORKFLOW_KEYS,
                    "at the top level of the workflow",
                ),
            }
        }
        let start = first_line(root.span);
        if !has_on {
            self.error_hint(
                start,
                "the workflow has no `on` key",
                "add the events that trigger it, e.g. `on: push`",
            );
        }
        if !has_jobs {
            self.error_hint(
                start,
                "the workflow has no `jobs` key",
                "add `jobs:` with at least one job",
            );
        }
    }

    fn jobs(&mut self, node: &Node, wf: &mut Workflow) {
        let Some(entries) = self.map(node, "`jobs`") else {
            return;
        };
        if entries.is_empty() {
            self.error(node.span, "`jobs` must contain at least one job");
            return;
        }
        for (key, value) in entries {
            let Some(id) = self.key(key) else { continue };
            if !super::is_identifier(&id) {
                self.error_hint(
                    key.span,
                    format!("invalid job id `{id}`"),
                    super::IDENTIFIER_HINT,
                );
            }
            let job = self.job(Spanned::new(id.clone(), key.span), value);
            wf.jobs.insert(id, (key.span, job));
        }
        // `needs` must name jobs of this workflow.
        let ids: Vec<&str> = wf.jobs.keys().map(String::as_str).collect();
        let mut problems = Vec::new();
        for (id, (_, job)) in &wf.jobs {
            for need in &job.needs {
                if need.value == *id {
                    problems.push((need.span, format!("job `{id}` needs itself"), None));
                } else if !wf.jobs.contains_key(need.value.as_str()) {
                    let hint = super::suggest::closest(&need.value, ids.iter().copied())
                        .map(|best| format!("did you mean `{best}`?"));
                    problems.push((
                        need.span,
                        format!(
                            "job `{id}` needs `{}`, which is not a job of this workflow",
                            need.value
                        ),
                        hint,
                    ));
                }
            }
        }
        for (span, message, hint) in problems {
            match hint {
                Some(hint) => self.error_hint(span, message, hint),
                None => self.error(span, message),
            }
        }
    }

    /// `defaults: {run: {shell, working-directory}}`.
    pub(super) fn defaults(&mut self, node: &Node) -> Defaults {
        let mut defaults = Defaults::default();
        let Some(entries) = self.map(node, "`defaults`") else {
            return defaults;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if name != "run" {
                self.unknown_key(key, &name, &["run"], "in `defaults`");
                continue;
            }
            let Some(run) = self.map(value, "`defaults.run`") else {
                continue;
            };
            for (key, value) in run {
                let Some(name) = self.key(key) else { continue };
                match name.as_str() {
                    "shell" => defaults.shell = self.non_empty_string(value, "`shell`"),
                    "working-directory" => {
                        defaults.working_directory =
                            self.string_value(value, "`working-directory`");
                    }
                    _ => self.unknown_key(
                        key,
                        &name,
                        &["shell", "working-directory"],
                        "in `defaults.run`",
                    ),
                }
            }
        }
        defaults
    }

    /// `permissions: read-all | write-all | {scope: read|write|none}`,
    /// kept as JSON after validation.
    pub(super) fn permissions(&mut self, node: &Node) -> Option<crate::ast::SValue> {
        match &node.value {
            Yaml::String(s) => {
                if s == "read-all" || s == "write-all" {
                    Some(svalue(node))
                } else {
                    let hint = match super::suggest::closest(s, ["read-all", "write-all"]) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => "use `read-all`, `write-all` or a mapping of scopes".to_string(),
                    };
                    self.error_hint(node.span, format!("unknown permissions `{s}`"), hint);
                    None
                }
            }
            Yaml::Map(entries) => {
                let mut ok = true;
                for (key, value) in entries {
                    let Some(scope) = self.key(key) else {
                        ok = false;
                        continue;
                    };
                    let Some((_, levels)) = PERMISSION_SCOPES.iter().find(|(s, _)| *s == scope)
                    else {
                        let names: Vec<&str> = PERMISSION_SCOPES.iter().map(|(s, _)| *s).collect();
                        self.unknown_key(key, &scope, &names, "in `permissions`");
                        ok = false;
                        continue;
                    };
                    let level = value.as_str().unwrap_or_default();
                    if !levels.contains(&level) {
                        let found = match value.as_str() {
                            Some(s) => format!("`{s}`"),
                            None => value.kind().to_string(),
                        };
                        self.error_hint(
                            value.span,
                            format!("invalid permission level {found} for `{scope}`"),
                            format!("`{scope}` can be {}", super::suggest::list(levels)),
                        );
                        ok = false;
                    }
                }
                ok.then(|| svalue(node))
            }
            _ => {
                self.wrong_type(
                    node,
                    "`permissions`",
                    "`read-all`, `write-all` or a mapping of scopes",
                );
                None
            }
        }
    }

    /// `concurrency: group` or `{group, cancel-in-progress}`.
    pub(super) fn concurrency(&mut self, node: &Node) -> Option<Concurrency> {
        match &node.value {
            Yaml::Map(entries) => {
                let mut group = None;
                let mut cancel_in_progress = None;
                for (key, value) in entries {
                    let Some(name) = self.key(key) else { continue };
                    match name.as_str() {
                        "group" => group = self.string_value(value, "`concurrency.group`"),
                        "cancel-in-progress" => {
                            cancel_in_progress = self.bool_or_expr(value, "`cancel-in-progress`");
                        }
                        "queue" => self.unsupported_key(key, "queue", "in `concurrency`"),
                        _ => self.unknown_key(
                            key,
                            &name,
                            &["group", "cancel-in-progress", "queue"],
                            "in `concurrency`",
                        ),
                    }
                }
                let Some(group) = group else {
                    if node.get("group").is_none() {
                        self.error(node.span, "`concurrency` needs a `group`");
                    }
                    return None;
                };
                Some(Concurrency {
                    group,
                    cancel_in_progress,
                    span: node.span,
                })
            }
            _ => {
                let group = match node.scalar_text() {
                    Some(_) => self.string_value(node, "`concurrency`")?,
                    None => {
                        self.wrong_type(node, "`concurrency`", "a group name or a mapping");
                        return None;
                    }
                };
                Some(Concurrency {
                    group,
                    cancel_in_progress: None,
                    span: node.span,
                })
            }
        }
    }
}

/// The span of the document's first character, for "missing key" errors.
pub(super) fn first_line(span: Span) -> Span {
    let mut start = span.start;
    if start.line == 0 {
        start.line = 1;
        start.col = 1;
    }
    Span { start, end: start }
}

/// `GITHUB_TOKEN` scopes and the levels each accepts.
const PERMISSION_SCOPES: &[(&str, &[&str])] = &[
    ("actions", &["read", "write", "none"]),
    ("artifact-metadata", &["read", "write", "none"]),
    ("attestations", &["read", "write", "none"]),
    ("checks", &["read", "write", "none"]),
    ("contents", &["read", "write", "none"]),
    ("copilot-requests", &["write", "none"]),
    ("deployments", &["read", "write", "none"]),
    ("discussions", &["read", "write", "none"]),
    ("id-token", &["write", "none"]),
    ("issues", &["read", "write", "none"]),
    ("models", &["read", "none"]),
    ("packages", &["read", "write", "none"]),
    ("pages", &["read", "write", "none"]),
    ("pull-requests", &["read", "write", "none"]),
    ("repository-projects", &["read", "write", "none"]),
    ("security-events", &["read", "write", "none"]),
    ("statuses", &["read", "write", "none"]),
    ("vulnerability-alerts", &["read", "none"]),
];
