//! Finding, reading and checking a repository's workflow files, and resolving the reusable
//! workflows they call (from the repository or vendored directories).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_syntax::Diagnostic;
use gantry_syntax::ast::Workflow;

/// The directories Gantry reads workflows from, relative to the repository root.
pub const WORKFLOW_DIRS: [&str; 2] = [".github/workflows", ".gantry/workflows"];

/// One workflow file: its text, its AST and every diagnostic about it.
pub struct LoadedWorkflow {
    /// Path relative to the repository root, as shown to users.
    pub file: String,
    pub source: String,
    pub workflow: Arc<Workflow>,
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadedWorkflow {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Every `*.yml`/`*.yaml` in the workflow directories, sorted.
pub fn discover(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in WORKFLOW_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_yaml = path.extension().is_some_and(|e| e == "yml" || e == "yaml");
            if is_yaml && path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Shows a path relative to the repository root when it is inside it.
pub fn display_path(root: &Path, path: &Path) -> String {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or(path.to_path_buf())
    };
    let root_abs = std::fs::canonicalize(root).unwrap_or(root.to_path_buf());
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    abs.strip_prefix(&root_abs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

/// Reads, parses and validates one file.
pub fn load(root: &Path, path: &Path) -> Result<LoadedWorkflow, String> {
    let file = display_path(root, path);
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{file}`: {e}"))?;
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => return Err(format!("`{file}` is not UTF-8 text: save it as UTF-8")),
    };
    let mut loaded = check(file, source);
    // Calls of local reusable workflows, against the called files.
    let base = repository_of(path).unwrap_or_else(|| root.to_path_buf());
    let calls = check_calls(&loaded, &base);
    if !calls.is_empty() {
        loaded.diagnostics.extend(calls);
        loaded
            .diagnostics
            .sort_by_key(|d| (d.span.start.line, d.span.start.col));
    }
    Ok(loaded)
}

/// Parses and validates a workflow's text.
pub fn check(file: String, source: String) -> LoadedWorkflow {
    let (workflow, mut diagnostics) = gantry_syntax::parse_workflow(&file, &source);
    // The semantic checks run on the best AST the parser built, so that
    // `validate` lists every problem at once, not syntax errors first.
    for d in gantry_plan::validate(&workflow, &source) {
        if !diagnostics
            .iter()
            .any(|s| s.span == d.span && s.message == d.message)
        {
            diagnostics.push(d);
        }
    }
    diagnostics.sort_by_key(|d| (d.span.start.line, d.span.start.col));
    LoadedWorkflow {
        file,
        source,
        workflow: Arc::new(workflow),
        diagnostics,
    }
}

/// Picks workflows by file path, file name, stem or `name:`.
pub fn select<'a>(
    all: &'a [LoadedWorkflow],
    wanted: &[String],
    root: &Path,
) -> Result<Vec<&'a LoadedWorkflow>, String> {
    if wanted.is_empty() {
        return Ok(all.iter().collect());
    }
    let mut out = Vec::new();
    for want in wanted {
        let as_path = display_path(root, Path::new(want));
        let found: Vec<&LoadedWorkflow> = all
            .iter()
            .filter(|w| {
                let p = Path::new(&w.file);
                w.file == *want
                    || w.file == as_path
                    || p.file_name().is_some_and(|n| n.to_string_lossy() == *want)
                    || p.file_stem().is_some_and(|n| n.to_string_lossy() == *want)
                    || w.workflow.name.as_ref().is_some_and(|n| n.value == *want)
            })
            .collect();
        if found.is_empty() {
            let names: Vec<&str> = all.iter().map(|w| w.file.as_str()).collect();
            let hint = gantry_plan::suggest::did_you_mean(
                want,
                names.iter().map(|n| {
                    Path::new(n)
                        .file_stem()
                        .map(|s| s.to_str().unwrap_or(n))
                        .unwrap_or(n)
                }),
            )
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
            return Err(format!(
                "no workflow `{want}`{hint}: workflows here are {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        }
        for w in found {
            if !out.iter().any(|o: &&LoadedWorkflow| o.file == w.file) {
                out.push(w);
            }
        }
    }
    Ok(out)
}

/// Resolves reusable workflows (`uses: ./.github/workflows/x.yml`) from the
/// repository root.
pub struct FileResolver {
    pub root: PathBuf,
    /// Extra directories of vendored actions and workflows (`--actions-dir`).
    pub actions_dirs: Vec<PathBuf>,
}

impl gantry_plan::Resolver for FileResolver {
    fn workflow(&self, _caller: &str, uses: &str) -> Result<Arc<Workflow>, String> {
        let path = match uses.strip_prefix("./") {
            Some(local) => {
                let path = self.root.join(local);
                if !path.is_file() {
                    return Err(format!(
                        "reusable workflow `{uses}` does not exist: create `{local}` or fix `uses:` (paths start at the repository root)"
                    ));
                }
                path
            }
            None => {
                // owner/repo/.github/workflows/x.yml@ref, vendored like actions.
                let rel = crate::action::vendored_path(uses)
                    .ok_or_else(|| format!("`{uses}` is not a workflow reference"))?;
                let found = std::iter::once(self.root.join(".gantry/actions"))
                    .chain(self.actions_dirs.iter().cloned())
                    .map(|d| d.join(&rel))
                    .find(|p| p.is_file());
                found.ok_or_else(|| {
                    format!(
                        "unsupported: remote reusable workflow `{uses}` is not vendored; Gantry runs offline: copy it to `.gantry/actions/{}` (or a --actions-dir)",
                        rel.display()
                    )
                })?
            }
        };
        let loaded =
            load(&self.root, &path).map_err(|e| format!("reusable workflow `{uses}`: {e}"))?;
        if let Some(d) = loaded.diagnostics.iter().find(|d| d.is_error()) {
            return Err(format!(
                "reusable workflow `{uses}` is invalid: {}:{}:{}: {}",
                d.file, d.span.start.line, d.span.start.col, d.message
            ));
        }
        Ok(loaded.workflow)
    }
}

/// The repository holding a workflow file at `R/.github/workflows/x.yml`
/// (or `R/.gantry/workflows/x.yml`): `R`.
pub fn repository_of(file: &Path) -> Option<PathBuf> {
    let file = std::fs::canonicalize(file).ok()?;
    let workflows = file.parent()?;
    let dot = workflows.parent()?;
    let is_dot = dot
        .file_name()
        .is_some_and(|n| n == ".github" || n == ".gantry");
    (workflows.file_name().is_some_and(|n| n == "workflows") && is_dot)
        .then(|| dot.parent().map(Path::to_path_buf))?
}

/// Checks the jobs that call a local reusable workflow against it: it
/// exists, is callable, gets its required inputs and secrets and no
/// unknown input.
pub fn check_calls(loaded: &LoadedWorkflow, base: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let file = loaded.file.as_str();
    for (id, (_, job)) in &loaded.workflow.jobs {
        let Some(uses) = &job.uses else { continue };
        let Some(local) = uses.value.strip_prefix("./") else {
            continue;
        };
        let path = base.join(local);
        let Ok(source) = std::fs::read_to_string(&path) else {
            out.push(
                Diagnostic::warning(file, uses.span, format!("reusable workflow `{}` not found", uses.value))
                    .with_hint(format!("create `{local}` in the repository or fix the path; the run will fail without it")),
            );
            continue;
        };
        let (called, _) = gantry_syntax::parse_workflow(local, &source);
        let Some(call) = &called.on.workflow_call else {
            out.push(
                Diagnostic::error(
                    file,
                    uses.span,
                    format!("`{local}` cannot be called: it has no `on: workflow_call`"),
                )
                .with_hint("add `workflow_call:` under its `on:` to make it reusable"),
            );
            continue;
        };
        for (name, (span, _)) in &job.with {
            if !call.inputs.contains_key(name) {
                let known: Vec<&str> = call.inputs.keys().map(String::as_str).collect();
                let hint = match gantry_plan::suggest::did_you_mean(name, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if known.is_empty() => format!("`{local}` declares no inputs"),
                    None => format!("`{local}` declares: {}", known.join(", ")),
                };
                out.push(
                    Diagnostic::error(file, *span, format!("unknown input `{name}` of `{local}`"))
                        .with_hint(hint),
                );
            }
        }
        for (name, (_, def)) in &call.inputs {
            if def.required && def.default.is_none() && !job.with.contains_key(name) {
                out.push(
                    Diagnostic::error(
                        file,
                        uses.span,
                        format!(
                            "job `{id}` does not pass the required input `{name}` of `{local}`"
                        ),
                    )
                    .with_hint(format!("add `{name}:` under the job's `with:`")),
                );
            }
        }
        if let Some(gantry_syntax::ast::CallSecrets::Map(given)) = &job.secrets {
            for (name, (_, def)) in &call.secrets {
                if def.required && !given.contains_key(name) {
                    out.push(
                        Diagnostic::error(
                            file,
                            uses.span,
                            format!(
                                "job `{id}` does not pass the required secret `{name}` of `{local}`"
                            ),
                        )
                        .with_hint(format!(
                            "add `{name}:` under the job's `secrets:`, or use `secrets: inherit`"
                        )),
                    );
                }
            }
        } else if job.secrets.is_none() {
            for (name, (_, def)) in &call.secrets {
                if def.required {
                    out.push(
                        Diagnostic::error(
                            file,
                            uses.span,
                            format!(
                                "job `{id}` does not pass the required secret `{name}` of `{local}`"
                            ),
                        )
                        .with_hint("add `secrets:` with it to the job, or `secrets: inherit`"),
                    );
                }
            }
        }
    }
    out
}
