//! Lowering of one job: a normal job (`runs-on` + `steps`) or a reusable
//! workflow call (`uses`), with its matrix, containers and services.

use serde_json::Value;

use crate::ast::{CallSecrets, Container, Environment, Job, SMap, SValue, Strategy};
use crate::span::Spanned;
use crate::yaml::{Node, Yaml};

use crate::lower::{Ctx, is_expression, svalue};

/// Every key a job may have.
const JOB_KEYS: &[&str] = &[
    "name",
    "needs",
    "if",
    "runs-on",
    "environment",
    "strategy",
    "timeout-minutes",
    "continue-on-error",
    "outputs",
    "env",
    "defaults",
    "permissions",
    "concurrency",
    "container",
    "services",
    "steps",
    "uses",
    "with",
    "secrets",
    "snapshot",
    "cancel-timeout-minutes",
];

/// The keys a job that calls a reusable workflow may have.
const CALL_JOB_KEYS: &[&str] = &[
    "name",
    "uses",
    "with",
    "secrets",
    "needs",
    "if",
    "permissions",
    "concurrency",
    "strategy",
];

const CONTAINER_KEYS: &[&str] = &["image", "credentials", "env", "ports", "volumes", "options"];
const SERVICE_KEYS: &[&str] = &[
    "image",
    "credentials",
    "env",
    "ports",
    "volumes",
    "options",
    "entrypoint",
    "command",
];

impl Ctx<'_> {
    pub(super) fn job(&mut self, id: Spanned<String>, node: &Node) -> Job {
        let mut job = Job {
            id: id.clone(),
            span: node.span,
            ..Job::default()
        };
        let context = format!("in job `{}`", id.value);
        if node.is_null() {
            self.error_hint(
                id.span,
                format!("job `{}` is empty", id.value),
                "add `runs-on:` and `steps:`, or `uses:` to call a reusable workflow",
            );
            return job;
        }
        let Some(entries) = self.map(node, &format!("job `{}`", id.value)) else {
            return job;
        };
        let is_call = entries.iter().any(|(k, _)| k.as_str() == Some("uses"));
        let mut steps_node = None;
        let mut has_runs_on = false;
        // A misspelt `runs-on` or `steps` is reported once, as a typo.
        let mut misspelt: Vec<String> = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if is_call
                && JOB_KEYS.contains(&name.as_str())
                && !CALL_JOB_KEYS.contains(&name.as_str())
            {
                self.error_hint(
                    key.span,
                    format!(
                        "`{name}` is not allowed in job `{}`, which calls a reusable workflow",
                        id.value
                    ),
                    format!(
                        "a job with `uses` can only have {}",
                        crate::lower::suggest::list(CALL_JOB_KEYS)
                    ),
                );
                continue;
            }
            match name.as_str() {
                "name" => job.name = self.string_value(value, "`name`"),
                "needs" => job.needs = self.needs(value),
                "if" => job.if_ = self.condition(value, "`if`"),
                "runs-on" => {
                    has_runs_on = true;
                    job.runs_on = self.runs_on(value);
                }
                "environment" => job.environment = self.environment(value),
                "strategy" => job.strategy = self.strategy(value),
                "timeout-minutes" => {
                    job.timeout_minutes = self.number_or_expr(value, "`timeout-minutes`");
                }
                "continue-on-error" => {
                    job.continue_on_error = self.bool_or_expr(value, "`continue-on-error`");
                }
                "outputs" => job.outputs = self.scalar_map(value, "`outputs`", "output"),
                "env" => job.env = self.scalar_map(value, "`env`", "environment variable"),
                "defaults" => job.defaults = self.defaults(value),
                "permissions" => job.permissions = self.permissions(value),
                "concurrency" => job.concurrency = self.concurrency(value),
                "container" => job.container = self.container(value, "`container`", CONTAINER_KEYS),
                "services" => job.services = self.services(value),
                "steps" => steps_node = Some(value),
                "uses" => job.uses = self.job_uses(value),
                "with" | "secrets" if !is_call => self.error_hint(
                    key.span,
                    format!("`{name}` is only allowed in a job that calls a reusable workflow"),
                    "add `uses: ./.github/workflows/<file>.yml` or remove this key",
                ),
                "with" => job.with = self.input_map(value),
                "secrets" => job.secrets = self.call_secrets(value),
                "snapshot" | "cancel-timeout-minutes" => {
                    self.unsupported_key(key, &name, &context);
                }
                _ => misspelt.extend(self.unknown_key_suggesting(key, &name, JOB_KEYS, &context)),
            }
        }
        if let Some(steps) = steps_node {
            job.steps = self.steps(steps, &id.value, false);
        }
        if !is_call {
            if !has_runs_on && !misspelt.iter().any(|m| m == "runs-on") {
                self.error_hint(
                    id.span,
                    format!("job `{}` has no `runs-on`", id.value),
                    "add `runs-on: ubuntu-latest`, or `uses:` to call a reusable workflow",
                );
            }
            if steps_node.is_none() && !misspelt.iter().any(|m| m == "steps") {
                self.error_hint(
                    id.span,
                    format!("job `{}` has no `steps`", id.value),
                    "add `steps:`, or `uses:` to call a reusable workflow",
                );
            }
        }
        job
    }

    /// `needs: a` or `needs: [a, b]`.
    fn needs(&mut self, node: &Node) -> Vec<Spanned<String>> {
        let needs = self
            .string_list(node, "`needs`", "a job id or a list of job ids")
            .unwrap_or_default();
        let mut out: Vec<Spanned<String>> = Vec::with_capacity(needs.len());
        for need in needs {
            if let Some(first) = out.iter().find(|n| n.value == need.value) {
                let first = Self::first_seen(first.span, need.span);
                self.error_hint(
                    need.span,
                    format!("job `{}` is listed twice in `needs`", need.value),
                    format!("it is first listed {first}"),
                );
                continue;
            }
            out.push(need);
        }
        out
    }

    /// `runs-on`: a label, a list of labels, or `{group, labels}`.
    fn runs_on(&mut self, node: &Node) -> Option<SValue> {
        match &node.value {
            Yaml::Seq(_) => {
                let labels = self.string_list(node, "`runs-on`", "")?;
                Some(Spanned::new(
                    Value::Array(labels.into_iter().map(|l| Value::String(l.value)).collect()),
                    node.span,
                ))
            }
            Yaml::Map(entries) => {
                let mut ok = true;
                for (key, value) in entries {
                    let Some(name) = self.key(key) else { continue };
                    match name.as_str() {
                        "group" => ok &= self.non_empty_string(value, "`runs-on.group`").is_some(),
                        "labels" => {
                            ok &= self
                                .string_list(
                                    value,
                                    "`runs-on.labels`",
                                    "a label or a list of labels",
                                )
                                .is_some();
                        }
                        _ => {
                            ok = false;
                            self.unknown_key(key, &name, &["group", "labels"], "in `runs-on`");
                        }
                    }
                }
                ok.then(|| svalue(node))
            }
            _ => match node.scalar_text() {
                Some(_) => self
                    .non_empty_string(node, "`runs-on`")
                    .map(|s| Spanned::new(Value::String(s.value), s.span)),
                None => {
                    self.wrong_type(
                        node,
                        "`runs-on`",
                        "a runner label, a list of labels or a mapping with `group` and `labels`",
                    );
                    None
                }
            },
        }
    }

    /// `environment: name` or `{name, url}`.
    fn environment(&mut self, node: &Node) -> Option<Environment> {
        match &node.value {
            Yaml::Map(entries) => {
                let mut name = None;
                let mut url = None;
                for (key, value) in entries {
                    let Some(key_name) = self.key(key) else {
                        continue;
                    };
                    match key_name.as_str() {
                        "name" => name = self.string_value(value, "`environment.name`"),
                        "url" => url = self.string_value(value, "`environment.url`"),
                        "deployment" => {
                            self.unsupported_key(key, "deployment", "in `environment`");
                        }
                        _ => self.unknown_key(
                            key,
                            &key_name,
                            &["name", "url", "deployment"],
                            "in `environment`",
                        ),
                    }
                }
                let Some(name) = name else {
                    if node.get("name").is_none() {
                        self.error(node.span, "`environment` needs a `name`");
                    }
                    return None;
                };
                Some(Environment {
                    name,
                    url,
                    span: node.span,
                })
            }
            _ => {
                if node.scalar_text().is_none() {
                    self.wrong_type(node, "`environment`", "an environment name or a mapping");
                    return None;
                }
                let name = self.string_value(node, "`environment`")?;
                Some(Environment {
                    name,
                    url: None,
                    span: node.span,
                })
            }
        }
    }

    /// `strategy: {matrix, fail-fast, max-parallel}`.
    fn strategy(&mut self, node: &Node) -> Option<Strategy> {
        let entries = self.map_not_expr(node, "`strategy`")?;
        let mut strategy = Strategy {
            span: node.span,
            ..Strategy::default()
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name.as_str() {
                "matrix" => strategy.matrix = self.matrix(value),
                "fail-fast" => strategy.fail_fast = self.bool_or_expr(value, "`fail-fast`"),
                "max-parallel" => {
                    strategy.max_parallel = self.number_or_expr(value, "`max-parallel`");
                }
                _ => self.unknown_key(
                    key,
                    &name,
                    &["matrix", "fail-fast", "max-parallel"],
                    "in `strategy`",
                ),
            }
        }
        Some(strategy)
    }

    /// A matrix: a mapping of axes (lists) plus `include`/`exclude` (lists
    /// of mappings), or an expression string.
    fn matrix(&mut self, node: &Node) -> Option<SValue> {
        match &node.value {
            Yaml::String(s) if is_expression(s) => Some(svalue(node)),
            Yaml::Map(entries) => {
                let mut ok = true;
                for (key, value) in entries {
                    let Some(name) = self.key(key) else {
                        ok = false;
                        continue;
                    };
                    if name.is_empty() {
                        self.error(key.span, "a matrix axis name must not be empty");
                        ok = false;
                        continue;
                    }
                    match (name.as_str(), &value.value) {
                        (_, Yaml::String(s)) if is_expression(s) => {}
                        ("include" | "exclude", Yaml::Seq(items)) => {
                            for item in items {
                                let is_expr = item.as_str().is_some_and(is_expression);
                                if item.as_map().is_none() && !is_expr {
                                    self.error(
                                        item.span,
                                        format!(
                                            "each entry of `matrix.{name}` must be a mapping, found {}",
                                            item.kind()
                                        ),
                                    );
                                    ok = false;
                                }
                            }
                        }
                        ("include" | "exclude", _) => {
                            self.wrong_type(
                                value,
                                &format!("`matrix.{name}`"),
                                "a list of mappings",
                            );
                            ok = false;
                        }
                        (_, Yaml::Seq(items)) => {
                            if items.is_empty() {
                                self.error(
                                    value.span,
                                    format!("matrix axis `{name}` has no values"),
                                );
                                ok = false;
                            }
                        }
                        (_, _) => {
                            self.error_hint(
                                value.span,
                                format!(
                                    "matrix axis `{name}` must be a list of values, found {}",
                                    value.kind()
                                ),
                                format!("write `{name}: [...]`, even for a single value"),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then(|| svalue(node))
            }
            _ => {
                self.wrong_type(node, "`matrix`", "a mapping or an expression");
                None
            }
        }
    }

    /// A job `container:` or a service: an image name or a mapping.
    fn container(&mut self, node: &Node, what: &str, keys: &[&str]) -> Option<Container> {
        match &node.value {
            Yaml::Map(entries) => {
                let mut container = Container {
                    span: node.span,
                    ..Container::default()
                };
                let mut image = None;
                for (key, value) in entries {
                    let Some(name) = self.key(key) else { continue };
                    let context = format!("in {what}");
                    if !keys.contains(&name.as_str()) {
                        self.unknown_key(key, &name, keys, &context);
                        continue;
                    }
                    match name.as_str() {
                        "image" => image = self.string_value(value, "`image`"),
                        "credentials" => container.credentials = self.credentials(value),
                        "env" => {
                            container.env = self.scalar_map(value, "`env`", "environment variable");
                        }
                        "ports" => container.ports = self.scalar_list(value, "`ports`"),
                        "volumes" => container.volumes = self.scalar_list(value, "`volumes`"),
                        "options" => container.options = self.string_value(value, "`options`"),
                        _ => self.unsupported_key(key, &name, &context),
                    }
                }
                match image {
                    Some(image) => container.image = image,
                    None => {
                        if node.get("image").is_none() {
                            self.error(node.span, format!("{what} has no `image`"));
                        }
                        return None;
                    }
                }
                Some(container)
            }
            _ => {
                if node.scalar_text().is_none() {
                    self.wrong_type(node, what, "an image name or a mapping");
                    return None;
                }
                let image = self.string_value(node, what)?;
                Some(Container {
                    image,
                    span: node.span,
                    ..Container::default()
                })
            }
        }
    }

    fn credentials(&mut self, node: &Node) -> Option<SValue> {
        let entries = self.map_not_expr(node, "`credentials`")?;
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name.as_str() {
                "username" | "password" => {
                    ok &= self
                        .string(value, &format!("`credentials.{name}`"))
                        .is_some();
                }
                _ => {
                    ok = false;
                    self.unknown_key(key, &name, &["username", "password"], "in `credentials`");
                }
            }
        }
        ok.then(|| svalue(node))
    }

    fn services(&mut self, node: &Node) -> SMap<Container> {
        let mut out = SMap::new();
        let Some(entries) = self.map_not_expr(node, "`services`") else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if name.is_empty() {
                self.error(key.span, "a service name must not be empty");
                continue;
            }
            if let Some(container) =
                self.container(value, &format!("service `{name}`"), SERVICE_KEYS)
            {
                out.insert(name, (key.span, container));
            }
        }
        out
    }

    /// `uses:` of a job: `./.github/workflows/x.yml` or
    /// `owner/repo/.github/workflows/x.yml@ref`.
    fn job_uses(&mut self, node: &Node) -> Option<Spanned<String>> {
        let uses = self.non_empty_string(node, "`uses`")?;
        let text = uses.value.as_str();
        let local = text.starts_with("./");
        let valid = if local {
            true
        } else {
            match text.split_once('@') {
                Some((path, git_ref)) => {
                    !git_ref.is_empty() && path.split('/').filter(|p| !p.is_empty()).count() >= 3
                }
                None => false,
            }
        };
        if !valid && !is_expression(text) {
            let hint = if !local && !text.contains('@') && text.contains('/') {
                format!("add a ref, e.g. `{text}@main`")
            } else {
                "use `./.github/workflows/<file>.yml` or `owner/repo/.github/workflows/<file>.yml@ref`"
                    .to_string()
            };
            self.error_hint(
                node.span,
                format!("invalid reusable workflow reference `{text}`"),
                hint,
            );
        }
        Some(uses)
    }

    /// `secrets: inherit` or a mapping of secrets to pass.
    fn call_secrets(&mut self, node: &Node) -> Option<CallSecrets> {
        match &node.value {
            Yaml::String(s) if s == "inherit" => Some(CallSecrets::Inherit(node.span)),
            Yaml::Map(_) => Some(CallSecrets::Map(self.scalar_map(
                node,
                "`secrets`",
                "secret",
            ))),
            _ => {
                self.wrong_type(node, "`secrets`", "`inherit` or a mapping of secrets");
                None
            }
        }
    }
}
