//! Data-driven tests: `test_data/plan/*.yml` → `.plan` and
//! `test_data/validate/*.yml` → `.diag`. Adding a case means adding a file;
//! a missing expectation is created and `UPDATE_EXPECT=1` refreshes them.
//!
//! A plan case starts with comment lines that describe the event:
//! `# event: push refs/heads/main`, `# changed: a.rs, docs/x.md`,
//! `# action: opened`, `# base: refs/heads/main`, `# input: k=v`, `# job: build`.
//! Several `---`-separated YAML documents are several workflows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_plan::{Event, EventKind, MatrixPlan, PlanRequest, WorkflowPlan};
use gantry_syntax::ast::Workflow;

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", root.display());
    files
}

fn parse(file: &str, src: &str) -> Arc<Workflow> {
    let (wf, diags) = gantry_syntax::parse_workflow(file, src);
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| gantry_syntax::render(d, src))
        .collect();
    assert!(
        errors.is_empty(),
        "{file} has syntax errors:\n{}",
        errors.join("\n")
    );
    Arc::new(wf)
}

struct Files(Vec<(String, Arc<Workflow>)>);

impl gantry_plan::Resolver for Files {
    fn workflow(&self, _caller: &str, uses: &str) -> Result<Arc<Workflow>, String> {
        let name = uses.trim_start_matches("./");
        self.0
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, w)| w.clone())
            .ok_or_else(|| format!("no workflow `{uses}`"))
    }
}

fn show(out: &mut String, w: &WorkflowPlan, indent: &str) {
    out.push_str(&format!("{indent}workflow {} ({})\n", w.name, w.file));
    if !w.inputs.is_empty() {
        out.push_str(&format!(
            "{indent}  inputs {}\n",
            serde_json::Value::Object(w.inputs.clone())
        ));
    }
    for job in &w.jobs {
        let mut line = format!("{indent}  job {}", job.id);
        if !job.needs.is_empty() {
            line.push_str(&format!(" needs [{}]", job.needs.join(", ")));
        }
        match &job.matrix {
            MatrixPlan::None => {}
            MatrixPlan::Dynamic => line.push_str(" matrix dynamic"),
            MatrixPlan::Static(combos) => {
                let names: Vec<String> = combos
                    .iter()
                    .map(|c| gantry_plan::matrix::display_name(&job.id, c))
                    .collect();
                line.push_str(&format!(" matrix [{}]", names.join("; ")));
            }
        }
        out.push_str(&line);
        out.push('\n');
        if let Some(called) = &job.call {
            show(out, called, &format!("{indent}    "));
        }
    }
}

#[test]
fn plans() {
    for path in cases("plan") {
        let src = std::fs::read_to_string(&path).unwrap();
        let mut event = Event::new(EventKind::Push, "refs/heads/main");
        let mut job = None;
        for line in src.lines().take_while(|l| l.starts_with('#')) {
            let (key, value) = line.trim_start_matches('#').trim().split_once(':').unwrap();
            let value = value.trim();
            match key {
                "event" => {
                    let (kind, git_ref) =
                        value.split_once(' ').unwrap_or((value, "refs/heads/main"));
                    event.kind = EventKind::parse(kind).unwrap();
                    event.git_ref = git_ref.to_string();
                }
                "changed" => {
                    event.changed_files = Some(
                        value
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "action" => event.action = Some(value.to_string()),
                "base" => event.base_ref = Some(value.to_string()),
                "input" => {
                    let (k, v) = value.split_once('=').unwrap();
                    event.inputs.insert(k.to_string(), v.to_string());
                }
                "job" => job = Some(value.to_string()),
                other => panic!("{}: unknown header `{other}`", path.display()),
            }
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let workflows: Vec<(String, Arc<Workflow>)> = src
            .split("\n---\n")
            .enumerate()
            .map(|(i, doc)| {
                let file = if i == 0 {
                    format!("{stem}.yml")
                } else {
                    format!("{stem}-{i}.yml")
                };
                let wf = parse(&file, doc);
                (file, wf)
            })
            .collect();
        let asts: Vec<Arc<Workflow>> = workflows.iter().map(|(_, w)| w.clone()).collect();
        let resolver = Files(workflows.clone());
        let vars = serde_json::Map::new();
        let result = gantry_plan::plan(&PlanRequest {
            event: &event,
            workflows: &asts,
            job: job.as_deref(),
            vars: &vars,
            resolver: &resolver,
        });
        let mut out = String::new();
        match result {
            Ok(plan) => {
                for w in &plan.workflows {
                    show(&mut out, w, "");
                }
                for s in &plan.skipped {
                    out.push_str(&format!("skipped {}: {}\n", s.file, s.reason));
                }
                for f in &plan.failed {
                    out.push_str(&format!("failed {}: {}\n", f.file, f.message));
                }
            }
            Err(errors) => {
                for e in errors {
                    out.push_str(&format!("error {}: {}\n", e.file, e.message));
                }
            }
        }
        expect_test::expect_file![path.with_extension("plan")].assert_eq(&out);
    }
}

#[test]
fn validation() {
    for path in cases("validate") {
        let src = std::fs::read_to_string(&path).unwrap();
        let file = format!("{}.yml", path.file_stem().unwrap().to_string_lossy());
        let wf = parse(&file, &src);
        let diags = gantry_plan::validate(&wf, &src);
        let rendered: Vec<String> = diags
            .iter()
            .map(|d| gantry_syntax::render(d, &src))
            .collect();
        expect_test::expect_file![path.with_extension("diag")].assert_eq(&rendered.join("\n"));
    }
}
