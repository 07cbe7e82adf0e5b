//! What the command line learns from the local git repository (via the
//! `git` CLI): the root, HEAD, refs, changed files and the event payload.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_plan::{Event, EventKind};
use serde_json::{Value, json};

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    // `--no-optional-locks`: reading facts must not take the user's index lock.
    let out = Command::new("git")
        .arg("--no-optional-locks")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `git`: {e}: install git"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The repository's top directory.
pub fn root(dir: &Path) -> Result<PathBuf, String> {
    git(dir, &["rev-parse", "--show-toplevel"])
        .map(PathBuf::from)
        .map_err(|_| {
            format!(
                "`{}` is not inside a git repository: run gantry in a repository (or pass -C DIR)",
                dir.display()
            )
        })
}

/// Facts gathered for one event.
pub struct RepoEvent {
    pub event: Event,
    pub sha: String,
    pub repository: String,
    pub actor: String,
    pub payload: Value,
    /// Whether the work tree has uncommitted changes (they are not run).
    pub dirty: bool,
}

pub struct EventRequest<'a> {
    pub kind: EventKind,
    /// `--event tag` was asked for.
    pub tag: bool,
    pub git_ref: Option<&'a str>,
    pub base: Option<&'a str>,
    pub inputs: &'a indexmap::IndexMap<String, String>,
    pub schedule: Option<&'a str>,
    /// Whether some workflow filters on paths (changed files cost a diff).
    pub needs_changed_files: bool,
}

/// Runs several git commands at once (each is a process start, a few ms;
/// in parallel they cost about one).
fn git_all(dir: &Path, commands: &[Vec<String>]) -> Vec<Result<String, String>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = commands
            .iter()
            .map(|args| {
                scope.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    git(dir, &args)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("git thread failed".to_string()))
            })
            .collect()
    })
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The error for a `--ref` that names nothing: the branches there are, and
/// the closest one.
fn unknown_ref(root: &Path, r: &str) -> String {
    let branches = git(
        root,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
    )
    .unwrap_or_default();
    let branches: Vec<&str> = branches.lines().filter(|l| !l.is_empty()).collect();
    let hint = gantry_plan::suggest::did_you_mean(r, branches.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    format!(
        "`{r}` is neither a branch nor a tag of this repository{hint}: pass an existing branch or tag with `--ref` (branches: {})",
        if branches.is_empty() {
            "none".to_string()
        } else {
            branches.join(", ")
        }
    )
}

/// `git log` format of the facts a push payload needs, NUL-separated.
const LOG_FORMAT: &str = "--format=%H%x00%P%x00%an%x00%ae%x00%cI%x00%B";

/// Builds the event for a local run.
pub fn event(root: &Path, req: &EventRequest<'_>) -> Result<RepoEvent, String> {
    // Round 1: everything that depends on nothing else. Each command is a
    // process start (~1.5 ms of CPU), so facts share commands: the current
    // branch is the `%(HEAD)` mark of `for-each-ref`, and for a push of the
    // current branch HEAD's sha comes with the `log` of its commit.
    let head_log_first = req.git_ref.is_none() && !req.tag;
    let mut round1 = vec![
        args(&[
            "config",
            "--get-regexp",
            r"^(remote\.origin\.url|user\.name)$",
        ]),
        args(&["status", "--porcelain", "--untracked-files=no"]),
        args(&[
            "for-each-ref",
            "--format=%(refname) %(symref) %(HEAD)",
            "refs/remotes/origin/HEAD",
            "refs/heads",
        ]),
        if head_log_first {
            args(&["log", "-1", LOG_FORMAT, "HEAD"])
        } else {
            args(&["rev-parse", "--verify", "-q", "HEAD"])
        },
    ];
    if let Some(r) = req.git_ref.filter(|r| !r.starts_with("refs/")) {
        round1.push(args(&[
            "for-each-ref",
            "--format=%(refname)",
            &format!("refs/heads/{r}"),
            &format!("refs/tags/{r}"),
        ]));
    } else if req.tag && req.git_ref.is_none() {
        round1.push(args(&["describe", "--tags", "--exact-match", "HEAD"]));
    }
    let mut r1 = git_all(root, &round1).into_iter();
    let config = r1.next().and_then(Result::ok).unwrap_or_default();
    let dirty = r1
        .next()
        .and_then(Result::ok)
        .is_some_and(|s| !s.is_empty());
    let refs = r1.next().and_then(Result::ok).unwrap_or_default();
    let head_or_log = r1.next().and_then(Result::ok).filter(|h| !h.is_empty());
    let no_commits = || {
        "the repository has no commits yet: commit your workflow first (`git add -A && git commit -m init`)".to_string()
    };
    let (head, early_log) = if head_log_first {
        let log = head_or_log.ok_or_else(no_commits)?;
        let sha = log.split('\0').next().unwrap_or_default().to_string();
        (sha, Some(Ok::<String, String>(log)))
    } else {
        (head_or_log.ok_or_else(no_commits)?, None)
    };
    let branch = current_branch(&refs);
    let extra = if head_log_first { None } else { r1.next() };

    let full_ref = match req.git_ref {
        Some(r) if r.starts_with("refs/") => r.to_string(),
        Some(r) => {
            let found = extra.and_then(Result::ok).unwrap_or_default();
            let tag_ref = format!("refs/tags/{r}");
            let branch_ref = format!("refs/heads/{r}");
            let has = |full: &str| found.lines().any(|l| l == full);
            if req.tag {
                if has(&tag_ref) {
                    tag_ref
                } else {
                    return Err(format!(
                        "tag `{r}` does not exist: create it with `git tag {r}`"
                    ));
                }
            } else if has(&branch_ref) {
                branch_ref
            } else if has(&tag_ref) {
                tag_ref
            } else {
                return Err(unknown_ref(root, r));
            }
        }
        None if req.tag => {
            let tag = extra
                .and_then(Result::ok)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    "`--event tag` needs a tag: HEAD is not tagged, pass `--ref v1.2.3`".to_string()
                })?;
            format!("refs/tags/{tag}")
        }
        None => format!(
            "refs/heads/{}",
            branch.clone().unwrap_or_else(|| "main".to_string())
        ),
    };
    let mut remote_url = None;
    let mut user_name = None;
    for line in config.lines() {
        if let Some(v) = line.strip_prefix("remote.origin.url ") {
            remote_url = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("user.name ") {
            user_name = Some(v.to_string());
        }
    }
    let repository = repository_name(root, remote_url.as_deref());
    let actor =
        user_name.unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "gantry".into()));
    let default_branch = default_branch(&refs, branch.as_deref());
    let base = req
        .base
        .map(str::to_string)
        .unwrap_or_else(|| default_branch.clone());

    // Round 2: the commit's facts (and the PR base), which need the ref.
    let commit = if req.git_ref.is_some() || req.tag {
        format!("{full_ref}^{{commit}}")
    } else {
        head.clone()
    };
    let is_pr = matches!(
        req.kind,
        EventKind::PullRequest | EventKind::PullRequestTarget
    );
    let mut round2 = Vec::new();
    if early_log.is_none() {
        round2.push(args(&["log", "-1", LOG_FORMAT, &commit]));
    }
    if is_pr {
        round2.push(args(&[
            "rev-parse",
            "-q",
            "--verify",
            &format!("{base}^{{commit}}"),
        ]));
    }
    let mut r2 = git_all(root, &round2).into_iter();
    let log = match early_log {
        Some(log) => log.ok(),
        None => r2.next().and_then(Result::ok),
    }
    .ok_or_else(|| format!("ref `{full_ref}` does not exist in this repository"))?;
    let mut fields = log.splitn(6, '\0');
    let sha = fields.next().unwrap_or_default().to_string();
    let parents = fields.next().unwrap_or_default().to_string();
    let author = fields.next().unwrap_or_default().to_string();
    let email = fields.next().unwrap_or_default().to_string();
    let timestamp = fields.next().unwrap_or_default().to_string();
    let message = fields.next().unwrap_or_default().trim_end().to_string();
    let base_sha =
        if is_pr {
            Some(r2.next().and_then(Result::ok).ok_or_else(|| {
                format!("base branch `{base}` does not exist: pass `--base BRANCH`")
            })?)
        } else {
            None
        };

    let repo_json = json!({
        "name": repository.rsplit('/').next().unwrap_or_default(),
        "full_name": repository,
        "default_branch": default_branch,
        "owner": {"login": repository.split('/').next().unwrap_or_default()},
    });
    let mut event = Event::new(req.kind, full_ref.clone());
    let payload = match req.kind {
        EventKind::Push => {
            let before = parents
                .split_whitespace()
                .next()
                .map(str::to_string)
                .unwrap_or_else(|| "0".repeat(40));
            if req.needs_changed_files {
                event.changed_files = changed_files(root, &before, &sha);
            }
            json!({
                "ref": full_ref,
                "before": before,
                "after": sha,
                "created": false,
                "deleted": false,
                "forced": false,
                "base_ref": null,
                "head_commit": {"id": sha, "message": message, "timestamp": timestamp, "author": {"name": author, "email": email}},
                "commits": [{"id": sha, "message": message}],
                "pusher": {"name": actor},
                "sender": {"login": actor},
                "repository": repo_json,
            })
        }
        EventKind::PullRequest | EventKind::PullRequestTarget => {
            let head_branch = branch.clone().unwrap_or_else(|| "HEAD".into());
            let base_sha = base_sha.unwrap_or_default();
            if req.needs_changed_files {
                let merge_base =
                    git(root, &["merge-base", &base_sha, &sha]).unwrap_or(base_sha.clone());
                event.changed_files = changed_files(root, &merge_base, &sha);
            }
            event.base_ref = Some(format!("refs/heads/{base}"));
            event.head_ref = Some(format!("refs/heads/{head_branch}"));
            event.action = Some("synchronize".into());
            event.git_ref = "refs/pull/1/merge".into();
            json!({
                "action": "synchronize",
                "number": 1,
                "pull_request": {
                    "number": 1,
                    "title": message.lines().next().unwrap_or_default(),
                    "head": {"ref": head_branch, "sha": sha, "repo": repo_json},
                    "base": {"ref": base, "sha": base_sha, "repo": repo_json},
                    "user": {"login": actor},
                    "draft": false,
                    "merged": false,
                    "labels": [],
                },
                "sender": {"login": actor},
                "repository": repo_json,
            })
        }
        EventKind::WorkflowDispatch => {
            event.inputs = req.inputs.clone();
            json!({"inputs": req.inputs, "ref": full_ref, "sender": {"login": actor}, "repository": repo_json})
        }
        EventKind::Schedule => {
            event.schedule = req.schedule.map(str::to_string);
            json!({"schedule": req.schedule.unwrap_or(""), "repository": repo_json})
        }
    };
    Ok(RepoEvent {
        event,
        sha,
        repository,
        actor,
        payload,
        dirty,
    })
}

fn changed_files(root: &Path, from: &str, to: &str) -> Option<Vec<String>> {
    let out = if from.chars().all(|c| c == '0') {
        git(root, &["ls-tree", "-r", "--name-only", to]).ok()?
    } else {
        git(root, &["diff", "--name-only", from, to]).ok()?
    };
    Some(
        out.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// `owner/name` from the `origin` remote, or `local/<dir>`.
fn repository_name(root: &Path, remote_url: Option<&str>) -> String {
    if let Some(url) = remote_url {
        let trimmed = url.trim_end_matches('/').trim_end_matches(".git");
        let parts: Vec<&str> = trimmed.rsplit(['/', ':']).take(2).collect();
        if parts.len() == 2 && !parts[0].is_empty() && !parts[1].is_empty() {
            return format!("{}/{}", parts[1], parts[0]);
        }
    }
    let dir = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    format!("local/{dir}")
}

/// The default branch: what `origin/HEAD` points at, else `main` or
/// `master` if one exists, else the current branch.
/// `refs` is `for-each-ref --format='%(refname) %(symref)'` output.
/// The branch `HEAD` is on: the `for-each-ref` line marked `*` by `%(HEAD)`
/// (none when HEAD is detached).
fn current_branch(refs: &str) -> Option<String> {
    refs.lines()
        .filter(|l| l.ends_with(" *"))
        .find_map(|l| l.split(' ').next()?.strip_prefix("refs/heads/"))
        .map(str::to_string)
}

fn default_branch(refs: &str, current: Option<&str>) -> String {
    let mut names = Vec::new();
    for line in refs.lines() {
        let mut fields = line.split(' ');
        let name = fields.next().unwrap_or_default();
        let symref = fields.next().unwrap_or_default();
        if name == "refs/remotes/origin/HEAD" {
            if let Some(b) = symref.strip_prefix("refs/remotes/origin/") {
                return b.to_string();
            }
        } else if let Some(b) = name.strip_prefix("refs/heads/") {
            names.push(b);
        }
    }
    ["main", "master"]
        .into_iter()
        .find(|c| names.contains(c))
        .map(str::to_string)
        .unwrap_or_else(|| current.unwrap_or("main").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_branches() {
        assert_eq!(
            default_branch(
                "refs/remotes/origin/HEAD refs/remotes/origin/trunk\nrefs/heads/main \n",
                None
            ),
            "trunk"
        );
        assert_eq!(
            default_branch("refs/heads/master \n", Some("dev")),
            "master"
        );
        assert_eq!(default_branch("", Some("dev")), "dev");
        // `%(HEAD)` marks the current branch with a third field.
        let refs = "refs/remotes/origin/HEAD refs/remotes/origin/main  \nrefs/heads/feature/x  *\nrefs/heads/main   \n";
        assert_eq!(default_branch(refs, Some("feature/x")), "main");
        assert_eq!(current_branch(refs).as_deref(), Some("feature/x"));
        assert_eq!(current_branch("refs/heads/main   \n"), None);
    }

    #[test]
    fn repository_names() {
        let root = Path::new("/x/proj");
        assert_eq!(
            repository_name(root, Some("git@github.com:acme/widget.git")),
            "acme/widget"
        );
        assert_eq!(
            repository_name(root, Some("https://example.com/acme/widget/")),
            "acme/widget"
        );
        assert_eq!(repository_name(root, None), "local/proj");
    }
}
