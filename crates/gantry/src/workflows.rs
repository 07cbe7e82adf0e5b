//! Finding, reading and checking a repository's workflow files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_syntax::ast::Workflow;
use gantry_syntax::Diagnostic;

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
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
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
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().map(|d| d.join(path)).unwrap_or(path.to_path_buf()) };
    let root_abs = std::fs::canonicalize(root).unwrap_or(root.to_path_buf());
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    abs.strip_prefix(&root_abs).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

/// Reads, parses and validates one file.
pub fn load(root: &Path, path: &Path) -> Result<LoadedWorkflow, String> {
    let file = display_path(root, path);
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{file}`: {e}"))?;
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => return Err(format!("`{file}` is not UTF-8 text: save it as UTF-8")),
    };
    Ok(check(file, source))
}

/// Parses and validates a workflow's text.
pub fn check(file: String, source: String) -> LoadedWorkflow {
    let (workflow, mut diagnostics) = gantry_syntax::parse_workflow(&file, &source);
    if !diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.extend(gantry_plan::validate(&workflow, &source));
    }
    diagnostics.sort_by_key(|d| (d.span.start.line, d.span.start.col));
    LoadedWorkflow { file, source, workflow: Arc::new(workflow), diagnostics }
}

/// Picks workflows by file path, file name, stem or `name:`.
pub fn select<'a>(all: &'a [LoadedWorkflow], wanted: &[String], root: &Path) -> Result<Vec<&'a LoadedWorkflow>, String> {
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
            let hint = gantry_plan::suggest::did_you_mean(want, names.iter().map(|n| {
                Path::new(n).file_stem().map(|s| s.to_str().unwrap_or(n)).unwrap_or(n)
            }))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
            return Err(format!(
                "no workflow `{want}`{hint}: workflows here are {}",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
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
            Some(local) => self.root.join(local),
            None => {
                // owner/repo/.github/workflows/x.yml@ref, vendored like actions.
                let rel = gantry_engine::action::vendored_path(uses).ok_or_else(|| format!("`{uses}` is not a workflow reference"))?;
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
        let loaded = load(&self.root, &path).map_err(|e| format!("reusable workflow `{uses}`: {e}"))?;
        if let Some(d) = loaded.diagnostics.iter().find(|d| d.is_error()) {
            return Err(format!(
                "reusable workflow `{uses}` is invalid: {}:{}:{}: {}",
                d.file, d.span.start.line, d.span.start.col, d.message
            ));
        }
        Ok(loaded.workflow)
    }
}
