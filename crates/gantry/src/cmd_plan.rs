//! `gantry plan`: which workflows and jobs an event runs, as a tree, and why
//! the others are skipped.

use std::path::Path;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use gantry_engine::Runner;
use gantry_expr::MapContext;
use gantry_plan::{JobPlan, MatrixPlan, WorkflowPlan};
use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::cmd_run::{Prepared, prepare};
use crate::{EventArgs, UserError};

pub fn run(dir: &Path, args: EventArgs) -> Result<ExitCode, UserError> {
    let prepared = prepare(dir, &args, &[])?;
    let ctx = static_context(&prepared);
    let runners = crate::cmd_run::runner_map(&prepared.root, &[])?;
    if args.json {
        let workflows: Vec<Value> = prepared
            .plan
            .workflows
            .iter()
            .map(|w| workflow_json(w, &ctx))
            .collect();
        let skipped: Vec<Value> = prepared
            .plan
            .skipped
            .iter()
            .map(|s| json!({"file": s.file, "name": s.name, "reason": s.reason}))
            .collect();
        let failed: Vec<Value> = prepared
            .plan
            .failed
            .iter()
            .map(|f| json!({"file": f.file, "error": f.message}))
            .collect();
        let out = json!({
            "event": prepared.repo_event.event.kind.name(),
            "ref": prepared.repo_event.event.git_ref,
            "sha": prepared.repo_event.sha,
            "workflows": workflows,
            "skipped": skipped,
            "failed": failed,
        });
        println!("{out}");
        return Ok(exit_code(&prepared));
    }
    let mut out = String::new();
    let bold = Style::new().bold();
    let green = Style::new().fg_color(Some(AnsiColor::Green.into())).bold();
    let dim = Style::new().dimmed();
    let e = &prepared.repo_event;
    out.push_str(&format!(
        "{bold}{} of {}{bold:#} at {}\n",
        e.event.kind.name(),
        e.event.git_ref,
        &e.sha[..e.sha.len().min(12)]
    ));
    for w in &prepared.plan.workflows {
        out.push_str(&format!(
            "{green}▶{green:#} {bold}{}{bold:#}{dim}{}{dim:#}\n",
            w.name,
            file_suffix(&w.name, &w.file)
        ));
        tree(&mut out, w, &ctx, &runners, "  ");
    }
    for s in &prepared.plan.skipped {
        out.push_str(&format!(
            "{dim}⊘ {}{}: {}{dim:#}\n",
            s.name,
            file_suffix(&s.name, &s.file),
            s.reason
        ));
    }
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    for f in &prepared.plan.failed {
        out.push_str(&format!("{red}✗ {}{red:#}: {}\n", f.file, f.message));
    }
    let mut stdout = anstream::stdout();
    let _ = std::io::Write::write_all(&mut stdout, out.as_bytes());
    Ok(exit_code(&prepared))
}

/// 1 when a triggered workflow cannot be planned (it would fail to run).
fn exit_code(prepared: &Prepared) -> ExitCode {
    if prepared.plan.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// ` (FILE)` after a workflow's name, unless the name is the file (no `name:`).
fn file_suffix(name: &str, file: &str) -> String {
    if name == file {
        String::new()
    } else {
        format!(" ({file})")
    }
}

/// Contexts known before anything runs, for showing static `if`s.
fn static_context(p: &Prepared) -> MapContext {
    let e = &p.repo_event;
    let github = json!({
        "event_name": e.event.kind.name(),
        "event": e.payload,
        "ref": e.event.git_ref,
        "ref_name": e.event.ref_name(),
        "ref_type": if e.event.tag().is_some() { "tag" } else { "branch" },
        "sha": e.sha,
        "repository": e.repository,
        "repository_owner": e.repository.split('/').next().unwrap_or_default(),
        "actor": e.actor,
        "head_ref": e.event.head_ref.as_deref().map(gantry_plan::event::short_ref).unwrap_or(""),
        "base_ref": e.event.base_ref.as_deref().map(gantry_plan::event::short_ref).unwrap_or(""),
    });
    MapContext::new()
        .with("github", github)
        .with("vars", Value::Object(p.vars.clone()))
}

/// What `plan` can say about a job's `if` before the run.
enum Condition {
    Always,
    False,
    Runtime(String),
}

fn condition(job: &JobPlan, w: &WorkflowPlan, ctx: &MapContext) -> Condition {
    let Some(cond) = &job.job.if_ else {
        return Condition::Always;
    };
    let text = match &cond.value {
        Value::Bool(true) => return Condition::Always,
        Value::Bool(false) => return Condition::False,
        Value::String(s) => s.clone(),
        other => gantry_expr::to_string(other),
    };
    let ctx = ctx_with_inputs(ctx, w);
    match gantry_expr::parse_condition(&text) {
        Ok(c) if !text.contains("needs") && !c.has_status_function() => match c.evaluate(&ctx) {
            Ok(true) => Condition::Always,
            Ok(false) => Condition::False,
            Err(_) => Condition::Runtime(text),
        },
        _ => Condition::Runtime(text),
    }
}

fn ctx_with_inputs(ctx: &MapContext, w: &WorkflowPlan) -> MapContext {
    ctx.clone().with("inputs", Value::Object(w.inputs.clone()))
}

fn tree(
    out: &mut String,
    w: &WorkflowPlan,
    ctx: &MapContext,
    runners: &IndexMap<String, Runner>,
    indent: &str,
) {
    let dim = Style::new().dimmed();
    let bold = Style::new().bold();
    let n = w.jobs.len();
    for (i, job) in w.jobs.iter().enumerate() {
        let last = i + 1 == n;
        let branch = if last { "└─" } else { "├─" };
        let mut line = format!("{indent}{branch} {bold}{}{bold:#}", job.id);
        match &job.matrix {
            MatrixPlan::Static(combos) if !combos.is_empty() => {
                line.push_str(&format!(" ×{}", combos.len()));
            }
            MatrixPlan::Static(_) => line.push_str(" ×0 (empty matrix)"),
            MatrixPlan::Dynamic => line.push_str(" ×? (matrix known at run time)"),
            MatrixPlan::None => {}
        }
        if !job.needs.is_empty() {
            line.push_str(&format!(" {dim}needs: {}{dim:#}", job.needs.join(", ")));
        }
        match condition(job, w, ctx) {
            Condition::Always => {}
            Condition::False => {
                line.push_str(&format!(" {dim}— skipped: its `if` is false{dim:#}"))
            }
            Condition::Runtime(text) => line.push_str(&format!(" {dim}if: {}{dim:#}", text.trim())),
        }
        if let Some(runs_on) = &job.job.runs_on
            && let Value::String(label) = &runs_on.value
            && !label.contains("${{")
        {
            match gantry_engine::runner_for(label, runners) {
                Some(Runner::Host) => {}
                Some(Runner::Image(image)) => {
                    line.push_str(&format!(" {dim}(runs in `{image}`){dim:#}"));
                }
                None if gantry_engine::other_os_label(label) => line.push_str(&format!(
                    " {dim}— skipped: no runner for `{label}` here{dim:#}"
                )),
                None => line.push_str(&format!(
                    " — error: no runner for `{label}` (map it in .gantry/runners.yml)"
                )),
            }
        }
        if job.job.container.is_some() || !job.job.services.is_empty() {
            line.push_str(&format!(" {dim}(needs Docker){dim:#}"));
        }
        out.push_str(&line);
        out.push('\n');
        let child_indent = format!("{indent}{}", if last { "   " } else { "│  " });
        if let MatrixPlan::Static(combos) = &job.matrix
            && combos.len() > 1
        {
            for (ci, combo) in combos.iter().enumerate() {
                let mark = if ci + 1 == combos.len() && job.call.is_none() {
                    "└─"
                } else {
                    "├─"
                };
                out.push_str(&format!(
                    "{child_indent}{mark} {dim}{}{dim:#}\n",
                    gantry_plan::matrix::display_name(&job.id, combo)
                ));
            }
        }
        if let Some(called) = &job.call {
            out.push_str(&format!(
                "{child_indent}{dim}calls {}{}{dim:#}\n",
                called.name,
                file_suffix(&called.name, &called.file)
            ));
            tree(out, called, ctx, runners, &child_indent);
        }
    }
}

fn workflow_json(w: &WorkflowPlan, ctx: &MapContext) -> Value {
    let jobs: Vec<Value> = w
        .jobs
        .iter()
        .map(|j| {
            let matrix = match &j.matrix {
                MatrixPlan::None => Value::Null,
                MatrixPlan::Static(c) => json!(
                    c.iter()
                        .map(gantry_plan::matrix::to_context)
                        .collect::<Vec<_>>()
                ),
                MatrixPlan::Dynamic => json!("dynamic"),
            };
            let cond = match condition(j, w, ctx) {
                Condition::Always => Value::Null,
                Condition::False => json!(false),
                Condition::Runtime(t) => json!(t),
            };
            json!({
                "id": j.id,
                "needs": j.needs,
                "matrix": matrix,
                "if": cond,
                "calls": j.call.as_ref().map(|c| workflow_json(c, ctx)),
            })
        })
        .collect();
    json!({"file": w.file, "name": w.name, "jobs": jobs})
}
