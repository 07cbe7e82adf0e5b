//! Finding and reading actions: local (`./path`) and vendored remote ones
//! (`OWNER/REPO[/PATH]@REF` from an actions directory).

use std::path::{Path, PathBuf};

use gantry_syntax::ast::{Action, ActionRuns, Step};

/// An action ready to run.
#[derive(Debug, Clone)]
pub struct ResolvedAction {
    /// The directory holding `action.yml` (`github.action_path`).
    pub dir: PathBuf,
    pub action: Action,
    pub kind: ActionKind,
}

#[derive(Debug, Clone)]
pub enum ActionKind {
    Composite(Vec<Step>),
    Node {
        main: String,
        pre: Option<String>,
        pre_if: Option<String>,
        post: Option<String>,
        post_if: Option<String>,
    },
    Docker,
}

/// The directory where a remote action is vendored, relative to an actions
/// directory: `OWNER/REPO@REF[/PATH]`.
pub fn vendored_path(uses: &str) -> Option<PathBuf> {
    let (path, reference) = uses.split_once('@')?;
    let mut parts = path.splitn(3, '/');
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    let mut dir = PathBuf::from(owner).join(format!("{repo}@{reference}"));
    if let Some(sub) = parts.next() {
        dir = dir.join(sub);
    }
    Some(dir)
}

/// Resolves `uses:`. Local paths are looked up in the job's workspace (as
/// on GitHub, after `actions/checkout`), then in the repository itself.
/// Remote actions are looked up in `REPO/.gantry/actions` and then in each
/// configured actions directory. The error says how to make it resolvable.
pub fn resolve(
    uses: &str,
    repo_dir: &Path,
    workspace: &Path,
    _current_action: Option<&Path>,
    actions_dirs: &[PathBuf],
) -> Result<ResolvedAction, String> {
    let candidates: Vec<PathBuf> = if let Some(local) = uses.strip_prefix("./") {
        vec![workspace.join(local), repo_dir.join(local)]
    } else {
        let Some(rel) = vendored_path(uses) else {
            return Err(format!(
                "`uses: {uses}` is not a valid action reference: write `owner/repo@ref` or `./path`"
            ));
        };
        std::iter::once(repo_dir.join(".gantry/actions"))
            .chain(actions_dirs.iter().cloned())
            .map(|d| d.join(&rel))
            .collect()
    };
    for dir in &candidates {
        for file in ["action.yml", "action.yaml"] {
            let path = dir.join(file);
            if path.is_file() {
                return load(dir, &path);
            }
        }
    }
    if uses.starts_with("./") {
        Err(format!(
            "local action `{uses}` not found: no action.yml in `{}` or `{}` (check it out with actions/checkout first, or fix the path)",
            candidates[0].display(),
            candidates[1].display()
        ))
    } else {
        let rel = vendored_path(uses).unwrap_or_default();
        let (path, reference) = uses.split_once('@').unwrap_or((uses, ""));
        let repo: String = path.split('/').take(2).collect::<Vec<_>>().join("/");
        Err(format!(
            "action `{uses}` is not built in and not vendored: Gantry runs offline, so copy the action into `.gantry/actions/{}` \
             (e.g. `git clone --depth 1 --branch {reference} https://github.com/{repo} .gantry/actions/{}`) or pass `--actions-dir DIR` holding `{}`",
            rel.display(),
            Path::new(&repo)
                .with_file_name(format!(
                    "{}@{reference}",
                    repo.rsplit('/').next().unwrap_or(&repo)
                ))
                .display(),
            rel.display()
        ))
    }
}

fn load(dir: &Path, path: &Path) -> Result<ResolvedAction, String> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let file = path.to_string_lossy().into_owned();
    let (action, diagnostics) = gantry_syntax::parse_action(&file, &source);
    if let Some(first) = diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!(
            "invalid action `{}`:{}:{}: {}",
            file, first.span.start.line, first.span.start.col, first.message
        ));
    }
    let kind = match &action.runs {
        ActionRuns::Composite { steps } => ActionKind::Composite(steps.clone()),
        ActionRuns::Node {
            main,
            pre,
            pre_if,
            post,
            post_if,
            ..
        } => ActionKind::Node {
            main: main.value.clone(),
            pre: pre.as_ref().map(|p| p.value.clone()),
            pre_if: pre_if.as_ref().map(|v| gantry_expr::to_string(&v.value)),
            post: post.as_ref().map(|p| p.value.clone()),
            post_if: post_if.as_ref().map(|v| gantry_expr::to_string(&v.value)),
        },
        ActionRuns::Docker { .. } => ActionKind::Docker,
    };
    Ok(ResolvedAction {
        dir: dir.to_path_buf(),
        action,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_paths() {
        assert_eq!(
            vendored_path("actions/foo@v3"),
            Some(PathBuf::from("actions/foo@v3"))
        );
        assert_eq!(
            vendored_path("o/r/sub/dir@main"),
            Some(PathBuf::from("o/r@main/sub/dir"))
        );
        assert_eq!(vendored_path("nope"), None);
    }

    #[test]
    fn missing_remote_action_says_how_to_vendor() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve("someone/thing@v2", dir.path(), dir.path(), None, &[]).unwrap_err();
        assert!(err.contains("not built in and not vendored"), "{err}");
        assert!(err.contains(".gantry/actions/someone/thing@v2"), "{err}");
        assert!(err.contains("--actions-dir"), "{err}");
    }
}
