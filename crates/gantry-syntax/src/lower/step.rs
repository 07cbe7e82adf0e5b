//! Lowering of steps, shared by workflow jobs and composite actions, and of
//! Gantry's `retry:` extension.

use crate::ast::{Retry, Step};
use crate::span::{Span, Spanned};
use crate::yaml::{Node, Yaml};

use super::{Ctx, IDENTIFIER_HINT, is_expression, is_identifier};

const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "if",
    "run",
    "uses",
    "with",
    "env",
    "shell",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
    "retry",
    "background",
    "wait",
    "wait-all",
    "cancel",
];

/// Keys GitHub knows that Gantry does not implement.
const UNSUPPORTED_STEP_KEYS: &[&str] = &["background", "wait", "wait-all", "cancel"];

impl Ctx<'_> {
    /// The `steps:` list of a job (`owner` is "job `build`") or of a
    /// composite action, where `run` steps need a `shell`.
    pub(super) fn steps(&mut self, node: &Node, job_id: &str, composite: bool) -> Vec<Step> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(node, "`steps`", "a list of steps");
            return Vec::new();
        };
        let owner = if composite {
            "the action".to_string()
        } else {
            format!("job `{job_id}`")
        };
        let mut steps: Vec<Step> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let context = format!("in step {} of {owner}", index + 1);
            let Some(step) = self.step(item, &context, composite) else {
                continue;
            };
            if let Some(id) = &step.id {
                let first = steps
                    .iter()
                    .filter_map(|s| s.id.as_ref())
                    .find(|other| other.value == id.value);
                if let Some(first) = first {
                    self.error_hint(
                        id.span,
                        format!("duplicate step id `{}` in {owner}", id.value),
                        format!(
                            "the first step with id `{}` is {}",
                            id.value,
                            Self::first_seen(first.span, id.span)
                        ),
                    );
                }
            }
            steps.push(step);
        }
        steps
    }

    fn step(&mut self, node: &Node, context: &str, composite: bool) -> Option<Step> {
        let Some(entries) = node.as_map() else {
            self.step_error(
                node.span,
                format!("a step must be a mapping, found {}", node.kind()),
                context,
                None,
            );
            return None;
        };
        let mut step = Step {
            span: node.span,
            ..Step::default()
        };
        let mut run_key: Option<Span> = None;
        let mut uses_key: Option<Span> = None;
        let mut with_key: Option<Span> = None;
        let mut shell_key: Option<Span> = None;
        let mut workdir_key: Option<Span> = None;
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name.as_str() {
                "id" => {
                    if let Some(id) = self.non_empty_string(value, "`id`") {
                        if !is_identifier(&id.value) && !is_expression(&id.value) {
                            self.error_hint(
                                id.span,
                                format!("invalid step id `{}`", id.value),
                                IDENTIFIER_HINT,
                            );
                        }
                        step.id = Some(id);
                    }
                }
                "name" => step.name = self.string_value(value, "`name`"),
                "if" => step.if_ = self.condition(value, "`if`"),
                "run" => {
                    run_key = Some(key.span);
                    step.run = self.string(value, "`run`");
                }
                "uses" => {
                    uses_key = Some(key.span);
                    step.uses = self.step_uses(value);
                }
                "with" => {
                    with_key = Some(key.span);
                    step.with = self.input_map(value);
                }
                "env" => step.env = self.scalar_map(value, "`env`", "environment variable"),
                "shell" => {
                    shell_key = Some(key.span);
                    step.shell = self.non_empty_string(value, "`shell`");
                }
                "working-directory" => {
                    workdir_key = Some(key.span);
                    step.working_directory = self.string_value(value, "`working-directory`");
                }
                "continue-on-error" => {
                    step.continue_on_error = self.bool_or_expr(value, "`continue-on-error`");
                }
                "timeout-minutes" => {
                    step.timeout_minutes = self.number_or_expr(value, "`timeout-minutes`");
                }
                "retry" => step.retry = self.retry(value),
                other if UNSUPPORTED_STEP_KEYS.contains(&other) => {
                    self.unsupported_key(key, other, context);
                }
                _ => self.unknown_key(key, &name, STEP_KEYS, context),
            }
        }
        match (run_key, uses_key) {
            (Some(run), Some(uses)) => {
                let second = if run.start > uses.start { run } else { uses };
                self.step_error(
                    second,
                    "a step cannot have both `run` and `uses`".to_string(),
                    context,
                    Some("split it into two steps"),
                );
            }
            (None, None) => {
                let unsupported = entries.iter().any(|(k, _)| {
                    k.as_str()
                        .is_some_and(|name| UNSUPPORTED_STEP_KEYS.contains(&name))
                });
                if !unsupported {
                    self.step_error(
                        node.span,
                        "a step needs `run` or `uses`".to_string(),
                        context,
                        Some("add `run:` with a command, or `uses:` with an action"),
                    );
                }
            }
            (Some(_), None) => {
                if let Some(with) = with_key {
                    self.step_error(
                        with,
                        "`with` is only allowed on a step with `uses`".to_string(),
                        context,
                        Some("pass values to a `run` step with `env:`"),
                    );
                }
                if composite
                    && shell_key.is_none()
                    && let Some(run) = run_key
                {
                    self.step_error(
                        run,
                        "a `run` step in a composite action needs `shell`".to_string(),
                        context,
                        Some("add `shell: bash` (or another shell)"),
                    );
                }
            }
            (None, Some(_)) => {
                if let Some(shell) = shell_key {
                    self.step_error(
                        shell,
                        "`shell` is only allowed on a step with `run`".to_string(),
                        context,
                        None,
                    );
                }
                if let Some(workdir) = workdir_key {
                    self.step_error(
                        workdir,
                        "`working-directory` is only allowed on a step with `run`".to_string(),
                        context,
                        None,
                    );
                }
            }
        }
        Some(step)
    }

    /// `uses:` of a step: `owner/repo[/path]@ref`, `./path` or
    /// `docker://image`.
    fn step_uses(&mut self, node: &Node) -> Option<Spanned<String>> {
        let uses = self.non_empty_string(node, "`uses`")?;
        let text = uses.value.as_str();
        if text.starts_with("docker://") || text.starts_with("./") || is_expression(text) {
            return Some(uses);
        }
        if text.starts_with('.') || text.starts_with('/') {
            self.error_hint(
                node.span,
                format!("invalid action reference `{text}`"),
                "a local action is a path relative to the repository root starting with `./`",
            );
            return Some(uses);
        }
        match text.split_once('@') {
            Some((path, git_ref)) if !git_ref.is_empty() && path.contains('/') => {
                let mut parts = path.split('/');
                let owner = parts.next().unwrap_or_default();
                let repo = parts.next().unwrap_or_default();
                if owner.is_empty() || repo.is_empty() {
                    self.error_hint(
                        node.span,
                        format!("invalid action reference `{text}`"),
                        "use `owner/repo@ref`, `owner/repo/path@ref`, `./path` or `docker://image`",
                    );
                }
            }
            None if text.contains('/') => self.error_hint(
                node.span,
                format!("action `{text}` has no version"),
                format!("pin a ref, e.g. `{text}@v1` or a commit SHA"),
            ),
            _ => self.error_hint(
                node.span,
                format!("invalid action reference `{text}`"),
                "use `owner/repo@ref`, `owner/repo/path@ref`, `./path` or `docker://image`",
            ),
        }
        Some(uses)
    }

    /// Gantry's `retry: N` or `retry: {attempts: N, delay: 10s}`.
    fn retry(&mut self, node: &Node) -> Option<Retry> {
        match &node.value {
            Yaml::Map(entries) => {
                let mut attempts = None;
                let mut delay = None;
                for (key, value) in entries {
                    let Some(name) = self.key(key) else { continue };
                    match name.as_str() {
                        "attempts" => attempts = self.attempts(value),
                        "delay" => delay = self.delay(value),
                        _ => self.unknown_key(key, &name, &["attempts", "delay"], "in `retry`"),
                    }
                }
                let Some(attempts) = attempts else {
                    if node.get("attempts").is_none() {
                        self.error_hint(
                            node.span,
                            "`retry` needs `attempts`",
                            "write `retry: {attempts: 3, delay: 10s}`",
                        );
                    }
                    return None;
                };
                Some(Retry {
                    attempts,
                    delay_seconds: delay.unwrap_or(Spanned::new(0.0, node.span)),
                    span: node.span,
                })
            }
            Yaml::Int(_) => {
                let attempts = self.attempts(node)?;
                Some(Retry {
                    attempts,
                    delay_seconds: Spanned::new(0.0, node.span),
                    span: node.span,
                })
            }
            _ => {
                self.wrong_type(
                    node,
                    "`retry`",
                    "a number of attempts or a mapping with `attempts` and `delay`",
                );
                None
            }
        }
    }

    fn attempts(&mut self, node: &Node) -> Option<Spanned<u32>> {
        match node.value {
            Yaml::Int(n) if n >= 1 => match u32::try_from(n) {
                Ok(n) => Some(Spanned::new(n, node.span)),
                Err(_) => {
                    self.error(node.span, format!("retry attempts `{n}` is too large"));
                    None
                }
            },
            Yaml::Int(n) => {
                self.error_hint(
                    node.span,
                    format!("retry attempts must be at least 1, found {n}"),
                    "attempts count the first run too: `retry: 3` runs a step up to three times",
                );
                None
            }
            Yaml::Float(f) => {
                self.error(
                    node.span,
                    format!("retry `attempts` must be a whole number, found `{f}`"),
                );
                None
            }
            _ => {
                self.wrong_type(node, "retry `attempts`", "a whole number");
                None
            }
        }
    }

    /// A delay: seconds as a number, or a string `10`, `10s`, `2m`.
    fn delay(&mut self, node: &Node) -> Option<Spanned<f64>> {
        let seconds = match &node.value {
            Yaml::Int(n) => Some(*n as f64),
            Yaml::Float(f) => Some(*f),
            Yaml::String(s) => parse_duration(s),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Spanned::new(s, node.span)),
            _ => {
                self.error_hint(
                    node.span,
                    "retry `delay` must be a duration",
                    "write seconds (`10`, `10s`) or minutes (`2m`)",
                );
                None
            }
        }
    }
}

/// `10`, `10s`, `1.5s`, `2m` → seconds.
fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    number.parse::<f64>().ok().map(|n| n * factor)
}
