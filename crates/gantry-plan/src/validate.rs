//! Semantic checks beyond the syntax: the `needs` graph, expressions and the
//! contexts they may read, cron lines, filter patterns, `uses:` references
//! and static matrices. Every problem becomes a [`Diagnostic`] with a span.

use std::collections::{HashMap, HashSet};

use gantry_syntax::ast::{Job, RefFilter, SValue, Step, Workflow};
use gantry_syntax::{Diagnostic, Pos, Span};
use serde_json::Value;

use crate::suggest::did_you_mean;

/// Where an expression appears; decides which contexts it may read
/// (GitHub's "context availability" table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    RunName,
    WorkflowConcurrency,
    WorkflowEnv,
    CallInputDefault,
    CallOutputValue,
    JobIf,
    JobName,
    JobRunsOn,
    JobEnv,
    JobEnvironment,
    /// `environment.url` is evaluated when the job ends, so steps are known.
    JobEnvironmentUrl,
    JobConcurrency,
    JobContainer,
    JobContainerCredentials,
    /// `container.env` and `services.<id>.env`.
    JobContainerEnv,
    JobServices,
    JobStrategy,
    JobTimeout,
    JobContinueOnError,
    JobDefaults,
    JobOutputs,
    JobWith,
    JobSecrets,
    StepIf,
    StepEnv,
    Step,
}

impl Place {
    /// The key path GitHub's documentation uses, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Place::RunName => "run-name",
            Place::WorkflowConcurrency => "concurrency",
            Place::WorkflowEnv => "env",
            Place::CallInputDefault => "on.workflow_call.inputs.<id>.default",
            Place::CallOutputValue => "on.workflow_call.outputs.<id>.value",
            Place::JobIf => "jobs.<id>.if",
            Place::JobName => "jobs.<id>.name",
            Place::JobRunsOn => "jobs.<id>.runs-on",
            Place::JobEnv => "jobs.<id>.env",
            Place::JobEnvironment => "jobs.<id>.environment",
            Place::JobEnvironmentUrl => "jobs.<id>.environment.url",
            Place::JobConcurrency => "jobs.<id>.concurrency",
            Place::JobContainer => "jobs.<id>.container",
            Place::JobContainerCredentials => "jobs.<id>.container.credentials",
            Place::JobContainerEnv => "jobs.<id>.container.env",
            Place::JobServices => "jobs.<id>.services",
            Place::JobStrategy => "jobs.<id>.strategy",
            Place::JobTimeout => "jobs.<id>.timeout-minutes",
            Place::JobContinueOnError => "jobs.<id>.continue-on-error",
            Place::JobDefaults => "jobs.<id>.defaults.run",
            Place::JobOutputs => "jobs.<id>.outputs",
            Place::JobWith => "jobs.<id>.with",
            Place::JobSecrets => "jobs.<id>.secrets",
            Place::StepIf => "jobs.<id>.steps.if",
            Place::StepEnv => "jobs.<id>.steps.env",
            Place::Step => "jobs.<id>.steps.*",
        }
    }

    /// The contexts an expression here may read.
    pub fn contexts(self) -> &'static [&'static str] {
        const MATRIX_JOB: &[&str] = &["github", "needs", "strategy", "matrix", "vars", "inputs"];
        const STEP_FULL: &[&str] = &[
            "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets",
            "steps", "inputs",
        ];
        match self {
            Place::RunName | Place::WorkflowConcurrency | Place::CallInputDefault => {
                &["github", "inputs", "vars"]
            }
            Place::WorkflowEnv => &["github", "secrets", "inputs", "vars"],
            Place::CallOutputValue => &["github", "jobs", "vars", "inputs"],
            Place::JobIf | Place::JobStrategy => &["github", "needs", "vars", "inputs"],
            Place::JobName
            | Place::JobRunsOn
            | Place::JobEnvironment
            | Place::JobConcurrency
            | Place::JobContainer
            | Place::JobServices
            | Place::JobTimeout
            | Place::JobContinueOnError
            | Place::JobWith => MATRIX_JOB,
            Place::JobContainerCredentials => &[
                "github", "needs", "strategy", "matrix", "env", "vars", "secrets", "inputs",
            ],
            Place::JobContainerEnv => &[
                "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets",
                "inputs",
            ],
            Place::JobEnv | Place::JobSecrets => &[
                "github", "needs", "strategy", "matrix", "vars", "secrets", "inputs",
            ],
            Place::JobDefaults => &[
                "github", "needs", "strategy", "matrix", "env", "vars", "inputs",
            ],
            Place::JobOutputs | Place::StepEnv | Place::Step | Place::JobEnvironmentUrl => {
                STEP_FULL
            }
            Place::StepIf => &[
                "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps",
                "inputs",
            ],
        }
    }

    fn is_condition(self) -> bool {
        matches!(self, Place::JobIf | Place::StepIf)
    }

    fn allows_hash_files(self) -> bool {
        matches!(self, Place::StepIf | Place::StepEnv | Place::Step)
    }
}

const STATUS_FUNCTIONS: [&str; 4] = ["success", "failure", "always", "cancelled"];

/// Checks a parsed workflow. `source` is the file's text (for precise
/// expression positions).
pub fn validate(workflow: &Workflow, source: &str) -> Vec<Diagnostic> {
    let mut v = Validator {
        file: &workflow.file,
        source,
        lines: line_starts(source),
        out: Vec::new(),
    };
    v.workflow(workflow);
    v.out
}

struct Validator<'a> {
    file: &'a str,
    source: &'a str,
    lines: Vec<usize>,
    out: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn workflow(&mut self, wf: &Workflow) {
        if let Some(name) = &wf.run_name {
            self.template_str(&name.value, name.span, Place::RunName);
        }
        if let Some(c) = &wf.concurrency {
            self.value(&c.group, Place::WorkflowConcurrency);
            if let Some(cancel) = &c.cancel_in_progress {
                self.value(cancel, Place::WorkflowConcurrency);
            }
        }
        for (_, value) in wf.env.values() {
            self.value(value, Place::WorkflowEnv);
        }
        for filter in [&wf.on.push, &wf.on.pull_request, &wf.on.pull_request_target]
            .into_iter()
            .flatten()
        {
            self.filters(filter);
        }
        for cron in &wf.on.schedule {
            if let Err(message) = check_cron(&cron.value) {
                self.error(cron.span, message, Some("GitHub cron lines have five fields: minute hour day-of-month month day-of-week, in UTC"));
            }
        }
        if let Some(call) = &wf.on.workflow_call {
            for (_, input) in call.inputs.values() {
                if let Some(default) = &input.default {
                    self.value(default, Place::CallInputDefault);
                }
            }
            for (_, output) in call.outputs.values() {
                self.value(&output.value, Place::CallOutputValue);
            }
        }
        self.needs_graph(wf);
        for (_, job) in wf.jobs.values() {
            self.job(job);
        }
    }

    fn filters(&mut self, filter: &RefFilter) {
        for list in [
            &filter.branches,
            &filter.branches_ignore,
            &filter.tags,
            &filter.tags_ignore,
            &filter.paths,
            &filter.paths_ignore,
        ]
        .into_iter()
        .flatten()
        {
            for pattern in list {
                if let Err(e) = crate::filter::Pattern::new(&pattern.value) {
                    self.error(
                        pattern.span,
                        format!("bad filter pattern `{}`: {e}", pattern.value),
                        None,
                    );
                }
            }
        }
    }

    fn needs_graph(&mut self, wf: &Workflow) {
        // Unknown, self and duplicate needs are reported by gantry-syntax.
        let ids: Vec<&str> = wf.jobs.keys().map(String::as_str).collect();
        // Cycles: depth-first search over known needs, reporting each cycle once.
        let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = on stack, 2 = done
        let mut reported: HashSet<Vec<String>> = HashSet::new();
        for id in &ids {
            let mut stack: Vec<&str> = Vec::new();
            self.visit(wf, id, &mut state, &mut stack, &mut reported);
        }
    }

    fn visit<'w>(
        &mut self,
        wf: &'w Workflow,
        id: &'w str,
        state: &mut HashMap<&'w str, u8>,
        stack: &mut Vec<&'w str>,
        reported: &mut HashSet<Vec<String>>,
    ) {
        match state.get(id) {
            Some(2) => return,
            Some(1) => {
                let start = stack.iter().position(|s| *s == id).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                let mut key = cycle.clone();
                key.sort();
                if reported.insert(key) {
                    cycle.push(id.to_string());
                    let span = wf
                        .jobs
                        .get(id)
                        .map(|(_, j)| j.needs.first().map(|n| n.span).unwrap_or(j.id.span))
                        .unwrap_or_default();
                    self.error(
                        span,
                        format!("`needs` form a cycle: {}", cycle.join(" → ")),
                        Some("remove one of these `needs` so the jobs can be ordered"),
                    );
                }
                return;
            }
            _ => {}
        }
        let Some((_, job)) = wf.jobs.get(id) else {
            return;
        };
        state.insert(id, 1);
        stack.push(id);
        for need in &job.needs {
            if let Some((key, _)) = wf.jobs.get_key_value(&need.value)
                && key != id
            {
                self.visit(wf, key, state, stack, reported);
            }
        }
        stack.pop();
        state.insert(id, 2);
    }

    fn job(&mut self, job: &Job) {
        let id = job.id.value.as_str();
        if let Some(cond) = &job.if_ {
            self.condition(cond, Place::JobIf);
        }
        let simple: [(&Option<SValue>, Place); 4] = [
            (&job.name, Place::JobName),
            (&job.runs_on, Place::JobRunsOn),
            (&job.timeout_minutes, Place::JobTimeout),
            (&job.continue_on_error, Place::JobContinueOnError),
        ];
        for (value, place) in simple {
            if let Some(value) = value {
                self.value(value, place);
            }
        }
        if let Some(env) = &job.environment {
            self.value(&env.name, Place::JobEnvironment);
            if let Some(url) = &env.url {
                self.value(url, Place::JobEnvironmentUrl);
            }
        }
        if let Some(c) = &job.concurrency {
            self.value(&c.group, Place::JobConcurrency);
            if let Some(cancel) = &c.cancel_in_progress {
                self.value(cancel, Place::JobConcurrency);
            }
        }
        if let Some(strategy) = &job.strategy {
            for value in [
                &strategy.matrix,
                &strategy.fail_fast,
                &strategy.max_parallel,
            ]
            .into_iter()
            .flatten()
            {
                self.value(value, Place::JobStrategy);
            }
            if let Some(matrix) = &strategy.matrix
                && !contains_template(&matrix.value)
                && let Err(e) = crate::matrix::expand(&matrix.value)
            {
                self.error(matrix.span, format!("job `{id}`: {e}"), None);
            }
        }
        for (_, value) in job.env.values() {
            self.value(value, Place::JobEnv);
        }
        for (_, value) in job.outputs.values() {
            self.value(value, Place::JobOutputs);
        }
        for (_, value) in job.with.values() {
            self.value(value, Place::JobWith);
        }
        if let Some(gantry_syntax::ast::CallSecrets::Map(secrets)) = &job.secrets {
            for (_, value) in secrets.values() {
                self.value(value, Place::JobSecrets);
            }
        }
        if let Some(dir) = &job.defaults.working_directory {
            self.value(dir, Place::JobDefaults);
        }
        if let Some(container) = &job.container {
            self.container(container, Place::JobContainer);
        }
        for (_, service) in job.services.values() {
            self.container(service, Place::JobServices);
        }
        let step_ids: Vec<&str> = job
            .steps
            .iter()
            .filter_map(|s| s.id.as_ref().map(|i| i.value.as_str()))
            .collect();
        for step in &job.steps {
            self.step(step);
        }
        self.references(job, &step_ids);
    }

    fn container(&mut self, container: &gantry_syntax::ast::Container, place: Place) {
        self.value(&container.image, place);
        for (_, value) in container.env.values() {
            self.value(value, Place::JobContainerEnv);
        }
        for value in container
            .ports
            .iter()
            .chain(&container.volumes)
            .chain(&container.options)
        {
            self.value(value, place);
        }
        if let Some(credentials) = &container.credentials {
            self.value(credentials, Place::JobContainerCredentials);
        }
    }

    fn step(&mut self, step: &Step) {
        if let Some(cond) = &step.if_ {
            self.condition(cond, Place::StepIf);
        }
        for value in [
            &step.name,
            &step.working_directory,
            &step.continue_on_error,
            &step.timeout_minutes,
        ]
        .into_iter()
        .flatten()
        {
            self.value(value, Place::Step);
        }
        if let Some(run) = &step.run {
            self.template_str(&run.value, run.span, Place::Step);
        }
        for (_, value) in step.with.values() {
            self.value(value, Place::Step);
        }
        for (_, value) in step.env.values() {
            self.value(value, Place::StepEnv);
        }
    }

    /// `needs.X` must name a job in `needs`; `steps.X` a step with that id.
    fn references(&mut self, job: &Job, step_ids: &[&str]) {
        let needs: Vec<&str> = job.needs.iter().map(|n| n.value.as_str()).collect();
        // (value, is a bare condition)
        let mut values: Vec<(&SValue, bool)> = Vec::new();
        values.extend(job.if_.iter().map(|v| (v, true)));
        values.extend(job.outputs.values().map(|(_, v)| (v, false)));
        values.extend(job.env.values().map(|(_, v)| (v, false)));
        values.extend(job.with.values().map(|(_, v)| (v, false)));
        for step in &job.steps {
            values.extend(step.if_.iter().map(|v| (v, true)));
            values.extend(step.with.values().map(|(_, v)| (v, false)));
            values.extend(step.env.values().map(|(_, v)| (v, false)));
        }
        let runs: Vec<SValue> = job
            .steps
            .iter()
            .filter_map(|s| {
                s.run.as_ref().map(|r| SValue {
                    value: Value::String(r.value.clone()),
                    span: r.span,
                })
            })
            .collect();
        values.extend(runs.iter().map(|v| (v, false)));
        for (value, bare) in values {
            let mut texts = Vec::new();
            collect_strings(&value.value, &mut texts);
            for text in texts {
                for (ctx, name) in property_refs(text, bare) {
                    if ctx == "needs" && !needs.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                        let hint = if needs.is_empty() {
                            format!("add `needs: {name}` to job `{}`", job.id.value)
                        } else {
                            format!(
                                "add `{name}` to the `needs` of job `{}` (now: {})",
                                job.id.value,
                                needs.join(", ")
                            )
                        };
                        self.warning(
                            value.span,
                            format!(
                                "`needs.{name}` refers to a job that job `{}` does not need",
                                job.id.value
                            ),
                            &hint,
                        );
                    }
                    if ctx == "steps" && !step_ids.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
                        self.warning(
                            value.span,
                            format!("`steps.{name}` refers to no step of job `{}`", job.id.value),
                            &format!("give the step `id: {name}`, or fix the name"),
                        );
                    }
                }
            }
        }
    }

    fn condition(&mut self, cond: &SValue, place: Place) {
        match &cond.value {
            Value::String(text) => {
                let trimmed = text.trim();
                let whole = trimmed.starts_with("${{")
                    && trimmed.ends_with("}}")
                    && trimmed.matches("${{").count() == 1;
                if !whole && text.contains("${{") {
                    self.warning(
                        cond.span,
                        "this `if:` mixes `${{ }}` with other text, so it is a non-empty string and always true".to_string(),
                        "write the whole condition inside one `${{ }}`, or leave `${{ }}` out",
                    );
                    self.template_str(text, cond.span, place);
                    return;
                }
                match gantry_expr::parse_condition(text) {
                    Ok(_) => {
                        let inner_offset = if whole {
                            text.find("${{").map(|i| i + 3).unwrap_or(0)
                        } else {
                            0
                        };
                        let inner = if whole {
                            &text[inner_offset..text.rfind("}}").unwrap_or(text.len())]
                        } else {
                            text.as_str()
                        };
                        if let Ok(expr) = gantry_expr::parse(inner) {
                            self.expr_checks(&expr, text, inner_offset, cond.span, place);
                        }
                    }
                    Err(e) => {
                        let span = self.span_in(cond.span, text, e.offset);
                        self.error(span, format!("bad expression in `if`: {}", e.message), None);
                    }
                }
            }
            Value::Bool(_) | Value::Number(_) | Value::Null => {}
            _ => self.error(
                cond.span,
                "`if` must be a string or a boolean".to_string(),
                None,
            ),
        }
    }

    fn value(&mut self, value: &SValue, place: Place) {
        let mut texts = Vec::new();
        collect_strings(&value.value, &mut texts);
        for text in texts {
            self.template_str(text, value.span, place);
        }
    }

    fn template_str(&mut self, text: &str, span: Span, place: Place) {
        if !text.contains("${{") {
            return;
        }
        match gantry_expr::parse_template(text) {
            Ok(template) => {
                // Offsets of each `${{` in the text, in order, match the template's expressions.
                let starts: Vec<usize> = text.match_indices("${{").map(|(i, _)| i + 3).collect();
                for (n, expr) in template.exprs().enumerate() {
                    let offset = starts.get(n).copied().unwrap_or(0);
                    self.expr_checks(expr, text, offset, span, place);
                }
            }
            Err(e) => {
                let span = self.span_in(span, text, e.offset);
                self.error(span, format!("bad expression: {}", e.message), None);
            }
        }
    }

    fn expr_checks(
        &mut self,
        expr: &gantry_expr::Expr,
        text: &str,
        base: usize,
        span: Span,
        place: Place,
    ) {
        let allowed = place.contexts();
        for (name, offset) in expr.contexts() {
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&name)) {
                let at = self.span_in(span, text, base + offset);
                let known = [
                    "github", "env", "vars", "secrets", "inputs", "matrix", "strategy", "needs",
                    "steps", "job", "jobs", "runner",
                ];
                if known.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
                    self.error(
                        at,
                        format!(
                            "context `{name}` is not available in `{}`",
                            place.describe()
                        ),
                        Some(&format!("available here: {}", allowed.join(", "))),
                    );
                } else {
                    let hint = match did_you_mean(&name, known) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("contexts: {}", allowed.join(", ")),
                    };
                    self.error(at, format!("unknown context `{name}`"), Some(&hint));
                }
            }
        }
        for (name, offset, _) in expr.functions() {
            let lower = name.to_ascii_lowercase();
            let at = self.span_in(span, text, base + offset);
            if STATUS_FUNCTIONS.contains(&lower.as_str()) && !place.is_condition() {
                self.error(at, format!("`{name}()` can only be used in `if:`"), None);
            }
            if lower == "hashfiles" && !place.allows_hash_files() {
                self.error(
                    at,
                    format!("`hashFiles()` is not available in `{}`", place.describe()),
                    Some("hashFiles works in steps only"),
                );
            }
        }
    }

    /// The span of byte `offset` inside a scalar whose node starts at `span`.
    fn span_in(&self, span: Span, text: &str, offset: usize) -> Span {
        let start = span.start.offset;
        let offset = offset.min(text.len());
        let Some(raw) = self.source.get(start..) else {
            return span;
        };
        let pos = if raw.starts_with(text) {
            Some(start + offset)
        } else if (raw.starts_with('\'') || raw.starts_with('"'))
            && raw[1..].starts_with(&text[..offset.min(text.len())])
        {
            Some(start + 1 + offset)
        } else {
            // Block scalars and escapes: find the expression's line in the source.
            let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let line_end = text[offset..]
                .find('\n')
                .map(|i| offset + i)
                .unwrap_or(text.len());
            let line = &text[line_start..line_end];
            if line.trim().is_empty() {
                None
            } else {
                raw.find(line)
                    .map(|found| start + found + (offset - line_start))
            }
        };
        match pos {
            Some(p) if p < self.source.len() => {
                let pos = self.pos_at(p);
                Span {
                    start: pos,
                    end: pos,
                }
            }
            _ => span,
        }
    }

    fn pos_at(&self, offset: usize) -> Pos {
        let line_idx = match self.lines.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = self.lines[line_idx];
        let col = self.source[line_start..offset].chars().count() + 1;
        Pos {
            line: line_idx as u32 + 1,
            col: col as u32,
            offset,
        }
    }

    fn error(&mut self, span: Span, message: String, hint: Option<&str>) {
        let mut d = Diagnostic::error(self.file, span, message);
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        self.out.push(d);
    }

    fn warning(&mut self, span: Span, message: String, hint: &str) {
        self.out
            .push(Diagnostic::warning(self.file, span, message).with_hint(hint));
    }
}

fn line_starts(source: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(source.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn collect_strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

fn contains_template(value: &Value) -> bool {
    let mut texts = Vec::new();
    collect_strings(value, &mut texts);
    texts.iter().any(|t| t.contains("${{"))
}

/// `needs.build.outputs.x` → ("needs", "build"); `steps.a.outputs` → ("steps", "a").
/// A cheap textual scan of the expression parts of `text` (all of it when
/// `bare`, as in an `if:`): only plain dotted references are checked.
fn property_refs(text: &str, bare: bool) -> Vec<(&'static str, String)> {
    let mut regions: Vec<&str> = Vec::new();
    if bare && !text.contains("${{") {
        regions.push(text);
    } else {
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let after = &rest[start + 3..];
            let end = after.find("}}").unwrap_or(after.len());
            regions.push(&after[..end]);
            rest = &after[end..];
        }
    }
    let mut out = Vec::new();
    for region in regions {
        for ctx in ["needs", "steps"] {
            let pattern = format!("{ctx}.");
            let mut search = 0;
            while let Some(found) = region[search..].find(&pattern) {
                let at = search + found;
                search = at + pattern.len();
                let before = region[..at].chars().next_back();
                if before.is_some_and(|c| {
                    c.is_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '\''
                }) {
                    continue;
                }
                let name: String = region[search..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                if !name.is_empty() {
                    out.push((ctx, name));
                }
            }
        }
    }
    out
}

/// Checks a cron line as GitHub reads it: five fields, UTC. The error names
/// the field that is wrong.
pub fn check_cron(line: &str) -> Result<(), String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "cron `{line}` has {} fields; GitHub's cron has 5 (minute hour day month weekday)",
            fields.len()
        ));
    }
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    if parser.parse(line).is_ok() {
        return Ok(());
    }
    const NAMES: [(&str, &str); 5] = [
        ("minute", "0-59"),
        ("hour", "0-23"),
        ("day-of-month", "1-31"),
        ("month", "1-12 or JAN-DEC"),
        ("day-of-week", "0-6 or SUN-SAT"),
    ];
    // Find the culprit: the first field that fails with the others as `*`.
    for (idx, (name, range)) in NAMES.iter().enumerate() {
        let probe: Vec<&str> = (0..5)
            .map(|i| if i == idx { fields[i] } else { "*" })
            .collect();
        if parser.parse(&probe.join(" ")).is_err() {
            return Err(format!(
                "bad cron `{line}`: the {name} field `{}` is not valid (allowed: {range}, `*`, lists, ranges, `/` steps)",
                fields[idx]
            ));
        }
    }
    Err(format!(
        "bad cron `{line}`: the fields do not combine into a valid schedule"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_lines() {
        assert!(check_cron("30 5 * * 1-5").is_ok());
        assert!(check_cron("*/15 * * * *").is_ok());
        assert!(check_cron("0 0 * * MON").is_ok());
        assert!(
            check_cron("61 * * * *")
                .unwrap_err()
                .starts_with("bad cron")
        );
        assert!(check_cron("* * * *").unwrap_err().contains("4 fields"));
        assert!(check_cron("0 0 0 * * *").unwrap_err().contains("6 fields"));
    }

    #[test]
    fn property_refs_are_found() {
        assert_eq!(
            property_refs("${{ needs.build.outputs.x }}", false),
            [("needs", "build".to_string())]
        );
        assert_eq!(
            property_refs("needs.a.result == 'success' && steps.b.outcome", true),
            [("needs", "a".to_string()), ("steps", "b".to_string())]
        );
        assert!(property_refs("echo needs.a", false).is_empty());
        assert!(property_refs("${{ 'needs.a' }}", false).is_empty());
    }
}
