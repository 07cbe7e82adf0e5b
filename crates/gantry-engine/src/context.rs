//! The expression contexts a job and its steps see, and `hashFiles`.

use std::path::Path;
use std::sync::Arc;

use gantry_expr::{Context, Status};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Every context root. Run-wide ones are shared; the others change as the
/// job goes.
#[derive(Debug, Clone, Default)]
pub struct Contexts {
    pub github: Arc<Value>,
    pub vars: Arc<Value>,
    pub secrets: Arc<Value>,
    pub runner: Arc<Value>,
    pub inputs: Arc<Value>,
    pub needs: Arc<Value>,
    pub matrix: Arc<Value>,
    pub strategy: Arc<Value>,
    pub job: Value,
    pub env: Value,
    pub steps: Value,
    /// Only for `on.workflow_call.outputs.*.value`.
    pub jobs: Value,
}

/// An expression evaluation context over [`Contexts`].
pub struct Eval<'a> {
    pub contexts: &'a Contexts,
    pub status: Status,
    /// The workspace for `hashFiles` (None where it is not available).
    pub workspace: Option<&'a Path>,
}

impl Context for Eval<'_> {
    fn context(&self, name: &str) -> Option<&Value> {
        let c = self.contexts;
        let value: &Value = match name.to_ascii_lowercase().as_str() {
            "github" => &c.github,
            "vars" => &c.vars,
            "secrets" => &c.secrets,
            "runner" => &c.runner,
            "inputs" => &c.inputs,
            "needs" => &c.needs,
            "matrix" => &c.matrix,
            "strategy" => &c.strategy,
            "job" => &c.job,
            "env" => &c.env,
            "steps" => &c.steps,
            "jobs" => &c.jobs,
            _ => return None,
        };
        Some(value)
    }

    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        match self.workspace {
            Some(workspace) => hash_files(workspace, patterns),
            None => Err("hashFiles() is only available in steps".to_string()),
        }
    }

    fn status(&self) -> Status {
        self.status
    }
}

/// GitHub's `hashFiles`: the SHA-256 of the concatenated SHA-256 digests of
/// every matching file under the workspace, in path order; `""` when no file
/// matches. Patterns are relative to the workspace; `!` excludes.
pub fn hash_files(workspace: &Path, patterns: &[String]) -> Result<String, String> {
    let mut include = globset::GlobSetBuilder::new();
    let mut exclude = globset::GlobSetBuilder::new();
    let mut any_include = false;
    for raw in patterns.iter().flat_map(|p| p.lines()) {
        let pattern = raw.trim();
        if pattern.is_empty() {
            continue;
        }
        let (negated, body) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let body = body.strip_prefix("./").unwrap_or(body);
        let ws = workspace.to_string_lossy();
        let body = body
            .strip_prefix(ws.as_ref())
            .map(|b| b.trim_start_matches('/'))
            .unwrap_or(body);
        let glob = globset::GlobBuilder::new(body)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("hashFiles: bad pattern `{pattern}`: {e}"))?;
        if negated {
            exclude.add(glob);
        } else {
            include.add(glob);
            any_include = true;
        }
    }
    if !any_include {
        return Ok(String::new());
    }
    let include = include.build().map_err(|e| format!("hashFiles: {e}"))?;
    let exclude = exclude.build().map_err(|e| format!("hashFiles: {e}"))?;
    let mut files = Vec::new();
    walk(workspace, workspace, &mut files)
        .map_err(|e| format!("hashFiles: cannot read the workspace: {e}"))?;
    files.sort();
    let mut outer = Sha256::new();
    let mut matched = 0usize;
    for rel in files {
        if include.is_match(&rel) && !exclude.is_match(&rel) {
            let bytes = std::fs::read(workspace.join(&rel))
                .map_err(|e| format!("hashFiles: cannot read `{rel}`: {e}"))?;
            outer.update(Sha256::digest(&bytes));
            matched += 1;
        }
    }
    if matched == 0 {
        return Ok(String::new());
    }
    Ok(hex(&outer.finalize()))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            walk(root, &path, out)?;
        } else if kind.is_file()
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A JSON object from string pairs.
pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_files_matches_globs_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/x.lock"), "1").unwrap();
        std::fs::write(dir.path().join("y.lock"), "2").unwrap();
        std::fs::write(dir.path().join("z.txt"), "3").unwrap();
        let all = hash_files(dir.path(), &["**/*.lock".to_string()]).unwrap();
        assert_eq!(all.len(), 64);
        let root_only = hash_files(dir.path(), &["*.lock".to_string()]).unwrap();
        assert_ne!(all, root_only);
        let excluded =
            hash_files(dir.path(), &["**/*.lock".to_string(), "!a/**".to_string()]).unwrap();
        assert_eq!(excluded, root_only);
        assert_eq!(
            hash_files(dir.path(), &["nothing/*".to_string()]).unwrap(),
            ""
        );
        // Same content, same hash: it is deterministic.
        assert_eq!(
            all,
            hash_files(dir.path(), &["**/*.lock".to_string()]).unwrap()
        );
    }
}
