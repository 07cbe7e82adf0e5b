//! A compact, readable outline of a workflow or action AST for expectation
//! files: one line per thing, each value with the `@line:col` it came from.

use std::fmt::Write;

use crate::ast::{
    Action, ActionRuns, CallSecrets, Concurrency, Container, Defaults, InputDef, Job, RefFilter,
    SMap, SValue, Step, Triggers, Workflow,
};
use crate::span::{Span, Spanned};

struct Out {
    text: String,
    depth: usize,
}

impl Out {
    fn line(&mut self, s: impl AsRef<str>) {
        let _ = writeln!(self.text, "{}{}", "  ".repeat(self.depth), s.as_ref());
    }

    fn nested(&mut self, f: impl FnOnce(&mut Out)) {
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }
}

fn at(span: Span) -> String {
    format!("@{}:{}", span.start.line, span.start.col)
}

fn sv(v: &SValue) -> String {
    let mut text = v.value.to_string();
    if text.chars().count() > 70 {
        text = text.chars().take(67).collect::<String>() + "...";
    }
    format!("{text} {}", at(v.span))
}

fn ss(v: &Spanned<String>) -> String {
    sv(&Spanned::new(
        serde_json::Value::String(v.value.clone()),
        v.span,
    ))
}

fn opt(out: &mut Out, label: &str, v: &Option<SValue>) {
    if let Some(v) = v {
        out.line(format!("{label}: {}", sv(v)));
    }
}

fn opt_s(out: &mut Out, label: &str, v: &Option<Spanned<String>>) {
    if let Some(v) = v {
        out.line(format!("{label}: {}", ss(v)));
    }
}

fn map(out: &mut Out, label: &str, m: &SMap<SValue>) {
    if m.is_empty() {
        return;
    }
    out.line(format!("{label}:"));
    out.nested(|out| {
        for (k, (span, v)) in m {
            out.line(format!("{k} {} = {}", at(*span), sv(v)));
        }
    });
}

fn list(label: &str, items: &[Spanned<String>]) -> String {
    let items: Vec<String> = items.iter().map(ss).collect();
    format!("{label}: [{}]", items.join(", "))
}

pub(super) fn workflow(wf: &Workflow) -> String {
    let mut out = Out {
        text: String::new(),
        depth: 0,
    };
    out.line(format!("workflow {}", wf.file));
    out.nested(|out| {
        opt_s(out, "name", &wf.name);
        opt_s(out, "run-name", &wf.run_name);
        triggers(out, &wf.on);
        map(out, "env", &wf.env);
        defaults(out, &wf.defaults);
        opt(out, "permissions", &wf.permissions);
        concurrency(out, &wf.concurrency);
        for (id, (span, j)) in &wf.jobs {
            out.line(format!("job {id} {}", at(*span)));
            out.nested(|out| job(out, j));
        }
    });
    out.text
}

fn triggers(out: &mut Out, on: &Triggers) {
    out.line(format!("on {}", at(on.span)));
    out.nested(|out| {
        for (name, filter) in [
            ("push", &on.push),
            ("pull_request", &on.pull_request),
            ("pull_request_target", &on.pull_request_target),
        ] {
            if let Some(f) = filter {
                out.line(format!("{name} {}", at(f.span)));
                out.nested(|out| ref_filter(out, f));
            }
        }
        for cron in &on.schedule {
            out.line(format!("schedule {}", ss(cron)));
        }
        if let Some(d) = &on.workflow_dispatch {
            out.line(format!("workflow_dispatch {}", at(d.span)));
            out.nested(|out| inputs(out, &d.inputs));
        }
        if let Some(c) = &on.workflow_call {
            out.line(format!("workflow_call {}", at(c.span)));
            out.nested(|out| {
                inputs(out, &c.inputs);
                for (name, (span, o)) in &c.outputs {
                    out.line(format!(
                        "output {name} {} = {} description={:?}",
                        at(*span),
                        sv(&o.value),
                        o.description
                    ));
                }
                for (name, (span, s)) in &c.secrets {
                    out.line(format!(
                        "secret {name} {} required={} description={:?}",
                        at(*span),
                        s.required,
                        s.description
                    ));
                }
            });
        }
        for (name, (span, config)) in &on.other {
            out.line(format!("{name} {} = {}", at(*span), sv(config)));
        }
    });
}

fn ref_filter(out: &mut Out, f: &RefFilter) {
    for (label, v) in [
        ("types", &f.types),
        ("branches", &f.branches),
        ("branches-ignore", &f.branches_ignore),
        ("tags", &f.tags),
        ("tags-ignore", &f.tags_ignore),
        ("paths", &f.paths),
        ("paths-ignore", &f.paths_ignore),
    ] {
        if let Some(items) = v {
            out.line(list(label, items));
        }
    }
}

fn inputs(out: &mut Out, inputs: &SMap<InputDef>) {
    for (name, (span, def)) in inputs {
        out.line(format!(
            "input {name} {} {:?} required={}",
            at(*span),
            def.kind,
            def.required
        ));
        out.nested(|out| {
            if let Some(d) = &def.description {
                out.line(format!("description: {d:?}"));
            }
            opt(out, "default", &def.default);
            if !def.options.is_empty() {
                out.line(list("options", &def.options));
            }
        });
    }
}

fn defaults(out: &mut Out, d: &Defaults) {
    opt_s(out, "defaults.run.shell", &d.shell);
    opt(out, "defaults.run.working-directory", &d.working_directory);
}

fn concurrency(out: &mut Out, c: &Option<Concurrency>) {
    if let Some(c) = c {
        out.line(format!("concurrency {}", at(c.span)));
        out.nested(|out| {
            out.line(format!("group: {}", sv(&c.group)));
            opt(out, "cancel-in-progress", &c.cancel_in_progress);
        });
    }
}

fn container(out: &mut Out, label: &str, c: &Container) {
    out.line(format!("{label} {}", at(c.span)));
    out.nested(|out| {
        out.line(format!("image: {}", sv(&c.image)));
        opt(out, "credentials", &c.credentials);
        map(out, "env", &c.env);
        if !c.ports.is_empty() {
            let ports: Vec<String> = c.ports.iter().map(sv).collect();
            out.line(format!("ports: [{}]", ports.join(", ")));
        }
        if !c.volumes.is_empty() {
            let volumes: Vec<String> = c.volumes.iter().map(sv).collect();
            out.line(format!("volumes: [{}]", volumes.join(", ")));
        }
        opt(out, "options", &c.options);
    });
}

fn job(out: &mut Out, j: &Job) {
    opt(out, "name", &j.name);
    if !j.needs.is_empty() {
        out.line(list("needs", &j.needs));
    }
    opt(out, "if", &j.if_);
    opt(out, "runs-on", &j.runs_on);
    if let Some(e) = &j.environment {
        out.line(format!("environment {}", at(e.span)));
        out.nested(|out| {
            out.line(format!("name: {}", sv(&e.name)));
            opt(out, "url", &e.url);
        });
    }
    if let Some(s) = &j.strategy {
        out.line(format!("strategy {}", at(s.span)));
        out.nested(|out| {
            opt(out, "matrix", &s.matrix);
            opt(out, "fail-fast", &s.fail_fast);
            opt(out, "max-parallel", &s.max_parallel);
        });
    }
    opt(out, "timeout-minutes", &j.timeout_minutes);
    opt(out, "continue-on-error", &j.continue_on_error);
    map(out, "outputs", &j.outputs);
    map(out, "env", &j.env);
    defaults(out, &j.defaults);
    opt(out, "permissions", &j.permissions);
    concurrency(out, &j.concurrency);
    if let Some(c) = &j.container {
        container(out, "container", c);
    }
    for (name, (_, c)) in &j.services {
        container(out, &format!("service {name}"), c);
    }
    opt_s(out, "uses", &j.uses);
    map(out, "with", &j.with);
    match &j.secrets {
        Some(CallSecrets::Inherit(span)) => out.line(format!("secrets: inherit {}", at(*span))),
        Some(CallSecrets::Map(m)) => map(out, "secrets", m),
        None => {}
    }
    steps(out, &j.steps);
}

fn steps(out: &mut Out, steps: &[Step]) {
    for (i, s) in steps.iter().enumerate() {
        out.line(format!("step {} {}", i + 1, at(s.span)));
        out.nested(|out| step(out, s));
    }
}

fn step(out: &mut Out, s: &Step) {
    opt_s(out, "id", &s.id);
    opt(out, "name", &s.name);
    opt(out, "if", &s.if_);
    opt_s(out, "run", &s.run);
    opt_s(out, "uses", &s.uses);
    map(out, "with", &s.with);
    map(out, "env", &s.env);
    opt_s(out, "shell", &s.shell);
    opt(out, "working-directory", &s.working_directory);
    opt(out, "continue-on-error", &s.continue_on_error);
    opt(out, "timeout-minutes", &s.timeout_minutes);
    if let Some(r) = &s.retry {
        out.line(format!(
            "retry {}: attempts {} {}, delay {}s {}",
            at(r.span),
            r.attempts.value,
            at(r.attempts.span),
            r.delay_seconds.value,
            at(r.delay_seconds.span)
        ));
    }
}

pub(super) fn action(a: &Action) -> String {
    let mut out = Out {
        text: String::new(),
        depth: 0,
    };
    out.line(format!("action {}", a.file));
    out.nested(|out| {
        if let Some(n) = &a.name {
            out.line(format!("name: {n:?}"));
        }
        if let Some(d) = &a.description {
            out.line(format!("description: {d:?}"));
        }
        for (name, (span, input)) in &a.inputs {
            out.line(format!(
                "input {name} {} required={}",
                at(*span),
                input.required
            ));
            out.nested(|out| {
                if let Some(d) = &input.description {
                    out.line(format!("description: {d:?}"));
                }
                opt(out, "default", &input.default);
                if let Some(m) = &input.deprecation_message {
                    out.line(format!("deprecationMessage: {m:?}"));
                }
            });
        }
        for (name, (span, output)) in &a.outputs {
            out.line(format!("output {name} {}", at(*span)));
            out.nested(|out| {
                if let Some(d) = &output.description {
                    out.line(format!("description: {d:?}"));
                }
                opt(out, "value", &output.value);
            });
        }
        match &a.runs {
            ActionRuns::Composite { steps: s } => {
                out.line("runs composite");
                out.nested(|out| steps(out, s));
            }
            ActionRuns::Node {
                using,
                main,
                pre,
                post,
                pre_if,
                post_if,
            } => {
                out.line(format!("runs {using}"));
                out.nested(|out| {
                    out.line(format!("main: {}", ss(main)));
                    opt_s(out, "pre", pre);
                    opt_s(out, "post", post);
                    opt(out, "pre-if", pre_if);
                    opt(out, "post-if", post_if);
                });
            }
            ActionRuns::Docker {
                image,
                args,
                entrypoint,
                env,
            } => {
                out.line("runs docker");
                out.nested(|out| {
                    out.line(format!("image: {}", ss(image)));
                    if !args.is_empty() {
                        let args: Vec<String> = args.iter().map(sv).collect();
                        out.line(format!("args: [{}]", args.join(", ")));
                    }
                    opt_s(out, "entrypoint", entrypoint);
                    map(out, "env", env);
                });
            }
        }
    });
    out.text
}
