//! Conformance: every workflow of the real-world corpus in
//! `shared/corpus/gha` parses, validates and plans for a push to its default
//! branch — or fails with a documented `unsupported: …` reason. The outcome
//! per file is kept in `tests/conformance.txt` (refresh with
//! `UPDATE_EXPECT=1`), and the rates are asserted against the targets:
//! 100% parse, at least 95% plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_plan::{Event, EventKind, PlanRequest};
use gantry_syntax::ast::Workflow;

/// The corpus keeps only some referenced files; plans that need a missing
/// one are counted apart (they are not Gantry's failures).
const NOT_IN_CORPUS: &str = "the corpus does not include";

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/gha");
    dir.is_dir().then_some(dir)
}

/// Reusable workflows resolve inside the corpus repository's own folder.
struct RepoResolver(PathBuf);

impl gantry_plan::Resolver for RepoResolver {
    fn workflow(&self, _caller: &str, uses: &str) -> Result<Arc<Workflow>, String> {
        let Some(local) = uses.strip_prefix("./") else {
            return Err(format!(
                "unsupported: remote reusable workflow `{uses}` (Gantry runs offline; vendor it into the repository)"
            ));
        };
        let path = self.0.join(local);
        let src =
            std::fs::read_to_string(&path).map_err(|_| format!("{NOT_IN_CORPUS} `{uses}`"))?;
        let (wf, diags) = gantry_syntax::parse_workflow(local, &src);
        match diags.iter().find(|d| d.is_error()) {
            Some(d) => Err(format!("`{uses}`: {}", d.message)),
            None => Ok(Arc::new(wf)),
        }
    }
}

fn workflows(repo: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in [".github/workflows", ".gantry/workflows"] {
        if let Ok(entries) = std::fs::read_dir(repo.join(sub)) {
            out.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml")),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn corpus_parses_and_plans() {
    let Some(root) = corpus() else {
        println!("note: shared/corpus/gha is absent; conformance not checked");
        return;
    };
    let mut repos: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    repos.sort();
    let mut report = String::new();
    let (mut total, mut parsed, mut planned, mut missing) = (0usize, 0usize, 0usize, 0usize);
    for repo in repos {
        let repo_name = repo.file_name().unwrap().to_string_lossy().into_owned();
        for path in workflows(&repo) {
            total += 1;
            let rel = path
                .strip_prefix(&repo)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let src = std::fs::read_to_string(&path).unwrap();
            let (wf, mut diags) = gantry_syntax::parse_workflow(&rel, &src);
            let parse_errors: Vec<String> = diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.message.clone())
                .collect();
            if !parse_errors.is_empty() {
                report.push_str(&format!(
                    "{repo_name}/{rel}: PARSE ERROR {}\n",
                    parse_errors.join("; ")
                ));
                continue;
            }
            parsed += 1;
            diags.extend(gantry_plan::validate(&wf, &src));
            let errors: Vec<String> = diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| format!("{}:{}: {}", d.span.start.line, d.span.start.col, d.message))
                .collect();
            if !errors.is_empty() {
                report.push_str(&format!(
                    "{repo_name}/{rel}: INVALID {}\n",
                    errors.join("; ")
                ));
                continue;
            }
            let wf = Arc::new(wf);
            let event = Event::new(
                EventKind::Push,
                format!("refs/heads/{}", default_branch(&wf)),
            );
            let vars = serde_json::Map::new();
            let resolver = RepoResolver(repo.clone());
            let result = gantry_plan::plan(&PlanRequest {
                event: &event,
                workflows: std::slice::from_ref(&wf),
                job: None,
                vars: &vars,
                resolver: &resolver,
            });
            let result = result.and_then(|plan| {
                if plan.failed.is_empty() {
                    Ok(plan)
                } else {
                    Err(plan.failed)
                }
            });
            match result {
                Ok(plan) => {
                    planned += 1;
                    let mut summary = match (plan.workflows.first(), plan.skipped.first()) {
                        (Some(w), _) => format!("ok: {} jobs", w.jobs.len()),
                        (None, Some(s)) => format!("ok: push skipped ({})", s.reason),
                        (None, None) => "ok".to_string(),
                    };
                    if plan.workflows.is_empty() {
                        summary.push_str(&format!("; {}", own_trigger(&wf, &resolver)));
                    }
                    report.push_str(&format!("{repo_name}/{rel}: {summary}\n"));
                }
                Err(errors) if errors.iter().any(|e| e.message.contains(NOT_IN_CORPUS)) => {
                    missing += 1;
                    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
                    report.push_str(&format!(
                        "{repo_name}/{rel}: SKIP {}\n",
                        messages.join("; ")
                    ));
                }
                Err(errors) => {
                    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
                    report.push_str(&format!(
                        "{repo_name}/{rel}: PLAN {}\n",
                        messages.join("; ")
                    ));
                }
            }
        }
    }
    let plannable = total - missing;
    report.push_str(&format!(
        "\nparsed {parsed}/{total}, planned {planned}/{plannable} ({missing} need files the corpus lacks)\n"
    ));
    expect_test::expect_file!["conformance.txt"].assert_eq(&report);
    assert_eq!(parsed, total, "every corpus workflow must parse");
    assert!(
        planned * 100 >= plannable * 95,
        "plan rate {planned}/{plannable} is below 95%"
    );
    // Every plan failure must be a documented unsupported feature.
    for line in report
        .lines()
        .filter(|l| l.contains(": PLAN ") || l.contains(": INVALID "))
    {
        assert!(
            line.contains("unsupported: "),
            "undocumented failure: {line}"
        );
    }
}

/// The branch a push "to the default branch" uses: `master` when the push
/// filter names it and not `main`, else `main`.
fn default_branch(wf: &Workflow) -> &'static str {
    let names: Vec<&str> = wf
        .on
        .push
        .as_ref()
        .and_then(|p| p.branches.as_ref())
        .map(|b| b.iter().map(|s| s.value.as_str()).collect())
        .unwrap_or_default();
    if names.contains(&"master") && !names.contains(&"main") {
        "master"
    } else {
        "main"
    }
}

/// Plans a workflow that a push skips under the first trigger it has, so
/// its jobs, matrices and calls are exercised too.
fn own_trigger(wf: &Arc<Workflow>, resolver: &RepoResolver) -> String {
    let vars = serde_json::Map::new();
    let on = &wf.on;
    let mut event = if on.pull_request.is_some() {
        let mut e = Event::new(EventKind::PullRequest, "refs/pull/1/merge");
        e.base_ref = Some(format!(
            "refs/heads/{}",
            first_literal(on.pull_request.as_ref().and_then(|p| p.branches.as_ref()))
                .unwrap_or("main")
        ));
        e
    } else if on.workflow_dispatch.is_some() {
        Event::new(EventKind::WorkflowDispatch, "refs/heads/main")
    } else if !on.schedule.is_empty() {
        Event::new(EventKind::Schedule, "refs/heads/main")
    } else if on.push.is_some() {
        let tags = first_literal(on.push.as_ref().and_then(|p| p.tags.as_ref()));
        match tags {
            Some(t) => Event::new(
                EventKind::Push,
                format!("refs/tags/{}", t.replace('*', "1.0.0")),
            ),
            None => return "no other trigger to plan".to_string(),
        }
    } else if on.workflow_call.is_some() {
        let req = PlanRequest {
            event: &Event::new(EventKind::Push, "refs/heads/main"),
            workflows: &[],
            job: None,
            vars: &vars,
            resolver,
        };
        return match gantry_plan::plan::plan_workflow(wf.clone(), serde_json::Map::new(), &req, 0) {
            Ok(p) => format!("as workflow_call: {} jobs", p.jobs.len()),
            Err(e) => format!("as workflow_call: {}", e.join("; ")),
        };
    } else {
        return "listens only to events Gantry does not raise locally".to_string();
    };
    if let Some(d) = &on.workflow_dispatch {
        for (name, (_, def)) in &d.inputs {
            if def.required && def.default.is_none() {
                let value = def
                    .options
                    .first()
                    .map(|o| o.value.clone())
                    .unwrap_or_else(|| "x".into());
                event.inputs.insert(name.clone(), value);
            }
        }
    }
    let kind = event.kind.name();
    let result = gantry_plan::plan(&PlanRequest {
        event: &event,
        workflows: std::slice::from_ref(wf),
        job: None,
        vars: &vars,
        resolver,
    });
    match result {
        Ok(plan) => match (plan.workflows.first(), plan.skipped.first()) {
            (Some(w), _) => format!("as {kind}: {} jobs", w.jobs.len()),
            (None, Some(s)) => format!("as {kind}: skipped ({})", s.reason),
            (None, None) => format!("as {kind}: nothing"),
        },
        Err(errors) => format!(
            "as {kind}: {}",
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn first_literal(list: Option<&Vec<gantry_syntax::Spanned<String>>>) -> Option<&str> {
    list?
        .iter()
        .map(|s| s.value.as_str())
        .find(|s| !s.starts_with('!'))
}
