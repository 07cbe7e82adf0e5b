//! Paths of the built-in actions: `~` and workspace-relative paths, and
//! the search behind `path:` inputs (globs with `*`/`**`, `!` exclusions,
//! the last matching pattern deciding, directories matching everything
//! below them), as `@actions/glob` does.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use super::process::CANCELLED;

/// Removes `.` and resolves `..` without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(prefix) => out.push(prefix.as_os_str()),
            Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out
}

/// `$HOME` of the step's environment.
pub(crate) fn home(env: &IndexMap<String, String>) -> Result<PathBuf, String> {
    env.get("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| "`~` needs HOME, which is not set in the step's environment: set HOME or use an absolute path".to_string())
}

/// Expands a leading `~` and makes `raw` absolute (relative to `workspace`).
pub(crate) fn expand_path(
    raw: &str,
    workspace: &Path,
    env: &IndexMap<String, String>,
) -> Result<PathBuf, String> {
    let expanded = if raw == "~" {
        home(env)?
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home(env)?.join(rest)
    } else {
        PathBuf::from(raw)
    };
    let absolute = if expanded.is_absolute() {
        expanded
    } else {
        workspace.join(expanded)
    };
    Ok(normalize(&absolute))
}

/// `raw` (relative to `workspace`, or absolute) as an absolute path that
/// stays inside `workspace`.
pub(crate) fn inside_workspace(
    raw: &str,
    workspace: &Path,
    input_name: &str,
) -> Result<PathBuf, String> {
    let workspace = normalize(workspace);
    let path = normalize(&workspace.join(raw));
    if path.starts_with(&workspace) {
        Ok(path)
    } else {
        Err(format!(
            "`{input_name}: {raw}` points outside the workspace {}: use a path inside the workspace",
            workspace.display()
        ))
    }
}

fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// One line of a `path:` input: a literal path or a glob, maybe negated.
#[derive(Debug)]
pub(crate) struct PathPattern {
    pub negate: bool,
    /// The literal part: the path itself, or the directories before the
    /// first component with a wildcard.
    pub search_path: PathBuf,
    glob: Option<(GlobMatcher, GlobMatcher)>,
}

impl PathPattern {
    /// Whether `path` is matched by the pattern or lies below a match.
    pub fn matches(&self, path: &Path) -> bool {
        match &self.glob {
            None => path.starts_with(&self.search_path),
            Some((exact, descendants)) => exact.is_match(path) || descendants.is_match(path),
        }
    }
}

/// Parses the lines of a `path:` input. `#` lines are comments; `!` negates.
pub(crate) fn parse_patterns(
    lines: &[String],
    workspace: &Path,
    env: &IndexMap<String, String>,
) -> Result<Vec<PathPattern>, String> {
    let mut patterns = Vec::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negate, raw) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let path = expand_path(raw, workspace, env)?;
        let text = path.to_string_lossy().into_owned();
        if !has_glob(&text) {
            patterns.push(PathPattern {
                negate,
                search_path: path,
                glob: None,
            });
            continue;
        }
        let mut search_path = PathBuf::new();
        for component in path.components() {
            if has_glob(&component.as_os_str().to_string_lossy()) {
                break;
            }
            search_path.push(component);
        }
        let build = |pattern: &str| {
            GlobBuilder::new(pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map(|glob| glob.compile_matcher())
                .map_err(|e| format!("invalid pattern `{raw}` in `path`: {e}; fix the pattern"))
        };
        let exact = build(&text)?;
        let descendants = build(&format!("{}/**", text.trim_end_matches('/')))?;
        patterns.push(PathPattern {
            negate,
            search_path,
            glob: Some((exact, descendants)),
        });
    }
    Ok(patterns)
}

/// Whether the patterns select `path`: the last pattern that matches decides.
pub(crate) fn selected(patterns: &[PathPattern], path: &Path) -> bool {
    let mut result = false;
    for pattern in patterns {
        if pattern.matches(path) {
            result = !pattern.negate;
        }
    }
    result
}

/// The search paths of the include patterns, without duplicates and
/// without paths that lie below another search path.
pub(crate) fn search_paths(patterns: &[PathPattern]) -> Vec<PathBuf> {
    let candidates: Vec<&PathBuf> = patterns
        .iter()
        .filter(|p| !p.negate)
        .map(|p| &p.search_path)
        .collect();
    let mut result: Vec<PathBuf> = Vec::new();
    for path in &candidates {
        if result.contains(path) {
            continue;
        }
        let below_another = candidates
            .iter()
            .any(|other| other != path && path.starts_with(other));
        if !below_another {
            result.push((*path).clone());
        }
    }
    result
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchOptions {
    /// Follow symbolic links (artifacts) or keep them as links (caches).
    pub follow_symlinks: bool,
    /// Skip files and directories whose name starts with `.`.
    pub exclude_hidden: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SearchResult {
    /// Matched files, directories and links, sorted by path.
    pub items: Vec<(PathBuf, Kind)>,
    pub search_paths: Vec<PathBuf>,
    /// How many hidden entries were skipped.
    pub hidden_skipped: usize,
    pub warnings: Vec<String>,
}

/// Walks the search paths of `patterns` and keeps what they select.
/// Blocking: call it from `spawn_blocking`.
pub(crate) fn search(
    patterns: &[PathPattern],
    options: SearchOptions,
    cancel: &CancellationToken,
) -> Result<SearchResult, String> {
    let mut result = SearchResult {
        search_paths: search_paths(patterns),
        ..SearchResult::default()
    };
    let mut visited: HashSet<PathBuf> = HashSet::new();
    for root in result.search_paths.clone() {
        let mut stack = vec![root];
        while let Some(path) = stack.pop() {
            if cancel.is_cancelled() {
                return Err(CANCELLED.to_string());
            }
            let link_meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    result
                        .warnings
                        .push(format!("warning: skipped {}: {e}", path.display()));
                    continue;
                }
            };
            if options.exclude_hidden
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'))
            {
                result.hidden_skipped += 1;
                continue;
            }
            let meta = if link_meta.file_type().is_symlink() && options.follow_symlinks {
                match fs::metadata(&path) {
                    Ok(meta) => meta,
                    Err(_) => {
                        result.warnings.push(format!(
                            "warning: skipped broken symbolic link {}",
                            path.display()
                        ));
                        continue;
                    }
                }
            } else {
                link_meta
            };
            let is_selected = selected(patterns, &path);
            if meta.file_type().is_symlink() {
                if is_selected {
                    result.items.push((path, Kind::Symlink));
                }
            } else if meta.is_dir() {
                if options.follow_symlinks {
                    let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    if !visited.insert(real) {
                        continue;
                    }
                }
                if is_selected {
                    result.items.push((path.clone(), Kind::Dir));
                }
                match fs::read_dir(&path) {
                    Ok(entries) => {
                        let mut children: Vec<PathBuf> =
                            entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                        children.sort_unstable_by(|a, b| b.cmp(a));
                        stack.extend(children);
                    }
                    Err(e) => result.warnings.push(format!(
                        "warning: cannot read directory {}: {e}",
                        path.display()
                    )),
                }
            } else if is_selected {
                result.items.push((path, Kind::File));
            }
        }
    }
    result.items.sort();
    result.items.dedup();
    Ok(result)
}

/// The deepest directory that contains all `paths`.
pub(crate) fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::from("/");
    };
    let mut common: Vec<Component<'_>> = first.components().collect();
    for path in &paths[1..] {
        let shared = common
            .iter()
            .zip(path.components())
            .take_while(|(a, b)| **a == *b)
            .count();
        common.truncate(shared);
    }
    common.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
    }

    #[test]
    fn inside_workspace_rejects_escapes() {
        let ws = Path::new("/w/ws");
        assert_eq!(
            inside_workspace("sub/dir", ws, "path").unwrap(),
            PathBuf::from("/w/ws/sub/dir")
        );
        assert_eq!(
            inside_workspace(".", ws, "path").unwrap(),
            PathBuf::from("/w/ws")
        );
        let err = inside_workspace("../other", ws, "path").unwrap_err();
        assert!(err.contains("outside the workspace"), "{err}");
        assert!(inside_workspace("/etc", ws, "path").is_err());
    }

    #[test]
    fn expand_path_uses_home_and_workspace() {
        let mut env = IndexMap::new();
        env.insert("HOME".to_string(), "/home/me".to_string());
        let ws = Path::new("/ws");
        assert_eq!(
            expand_path("~/.npm", ws, &env).unwrap(),
            PathBuf::from("/home/me/.npm")
        );
        assert_eq!(
            expand_path("target", ws, &env).unwrap(),
            PathBuf::from("/ws/target")
        );
        assert_eq!(
            expand_path("/abs/x", ws, &env).unwrap(),
            PathBuf::from("/abs/x")
        );
        let err = expand_path("~/x", ws, &IndexMap::new()).unwrap_err();
        assert!(err.contains("HOME"), "{err}");
    }

    #[test]
    fn patterns_last_match_wins_and_descendants_match() {
        let env = IndexMap::new();
        let ws = Path::new("/ws");
        let pats = parse_patterns(
            &lines(&["dist", "!dist/tmp", "dist/tmp/keep.txt", "**/*.log"]),
            ws,
            &env,
        )
        .unwrap();
        assert!(selected(&pats, Path::new("/ws/dist/a.js")));
        assert!(!selected(&pats, Path::new("/ws/dist/tmp/x")));
        assert!(selected(&pats, Path::new("/ws/dist/tmp/keep.txt")));
        assert!(selected(&pats, Path::new("/ws/a/b/c.log")));
        assert!(!selected(&pats, Path::new("/ws/src/main.rs")));
        assert_eq!(search_paths(&pats), vec![PathBuf::from("/ws")]);
    }

    #[test]
    fn star_does_not_cross_directories() {
        let pats =
            parse_patterns(&lines(&["out/*.txt"]), Path::new("/ws"), &IndexMap::new()).unwrap();
        assert!(selected(&pats, Path::new("/ws/out/a.txt")));
        assert!(!selected(&pats, Path::new("/ws/out/sub/a.txt")));
        assert_eq!(pats[0].search_path, PathBuf::from("/ws/out"));
    }

    #[test]
    fn common_ancestor_of_paths() {
        let paths = vec![
            PathBuf::from("/ws/a/b"),
            PathBuf::from("/ws/a/c/d"),
            PathBuf::from("/ws/a/b/e"),
        ];
        assert_eq!(common_ancestor(&paths), PathBuf::from("/ws/a"));
        assert_eq!(
            common_ancestor(&[PathBuf::from("/x/y")]),
            PathBuf::from("/x/y")
        );
    }
}
