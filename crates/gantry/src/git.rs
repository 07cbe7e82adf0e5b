//! What the command line learns from the local git repository (via the
//! `git` CLI): the root, HEAD, refs, changed files and the event payload.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_plan::{Event, EventKind};
use serde_json::{Value, json};

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
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
    git(dir, &["rev-parse", "--show-toplevel"]).map(PathBuf::from).map_err(|_| {
        format!("`{}` is not inside a git repository: run gantry in a repository (or pass -C DIR)", dir.display())
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
}

/// Builds the event for a local run.
pub fn event(root: &Path, req: &EventRequest<'_>) -> Result<RepoEvent, String> {
    let head = git(root, &["rev-parse", "--verify", "-q", "HEAD"]).map_err(|_| {
        "the repository has no commits yet: commit your workflow first (`git add -A && git commit -m init`)".to_string()
    })?;
    let branch = git(root, &["symbolic-ref", "-q", "--short", "HEAD"]).ok().filter(|b| !b.is_empty());
    let full_ref = match req.git_ref {
        Some(r) => resolve_ref(root, r, req.tag)?,
        None if req.tag => {
            let tag = git(root, &["describe", "--tags", "--exact-match", "HEAD"]).map_err(|_| {
                "`--event tag` needs a tag: HEAD is not tagged, pass `--ref v1.2.3`".to_string()
            })?;
            format!("refs/tags/{tag}")
        }
        None => match &branch {
            Some(b) => format!("refs/heads/{b}"),
            None => "refs/heads/main".to_string(),
        },
    };
    let sha = if req.git_ref.is_some() || req.tag {
        git(root, &["rev-parse", "--verify", "-q", &format!("{full_ref}^{{commit}}")])
            .map_err(|_| format!("ref `{full_ref}` does not exist in this repository"))?
    } else {
        head.clone()
    };
    let repository = repository_name(root);
    let actor = git(root, &["config", "user.name"]).unwrap_or_else(|_| std::env::var("USER").unwrap_or_else(|_| "gantry".into()));
    let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"]).is_ok_and(|s| !s.is_empty());
    let default_branch = default_branch(root);
    let repo_json = json!({
        "name": repository.rsplit('/').next().unwrap_or_default(),
        "full_name": repository,
        "default_branch": default_branch,
        "owner": {"login": repository.split('/').next().unwrap_or_default()},
    });
    let mut event = Event::new(req.kind, full_ref.clone());
    let payload = match req.kind {
        EventKind::Push => {
            let before = git(root, &["rev-parse", "-q", "--verify", &format!("{sha}^")]).unwrap_or_else(|_| "0".repeat(40));
            event.changed_files = changed_files(root, &before, &sha);
            let message = git(root, &["log", "-1", "--format=%B", &sha]).unwrap_or_default();
            let author = git(root, &["log", "-1", "--format=%an", &sha]).unwrap_or_default();
            let email = git(root, &["log", "-1", "--format=%ae", &sha]).unwrap_or_default();
            let timestamp = git(root, &["log", "-1", "--format=%cI", &sha]).unwrap_or_default();
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
            let base = req.base.map(str::to_string).unwrap_or_else(|| default_branch.clone());
            let head_branch = branch.clone().unwrap_or_else(|| "HEAD".into());
            let base_sha = git(root, &["rev-parse", "-q", "--verify", &format!("{base}^{{commit}}")])
                .map_err(|_| format!("base branch `{base}` does not exist: pass `--base BRANCH`"))?;
            let merge_base = git(root, &["merge-base", &base_sha, &sha]).unwrap_or(base_sha.clone());
            event.changed_files = changed_files(root, &merge_base, &sha);
            event.base_ref = Some(format!("refs/heads/{base}"));
            event.head_ref = Some(format!("refs/heads/{head_branch}"));
            event.action = Some("synchronize".into());
            event.git_ref = "refs/pull/1/merge".into();
            json!({
                "action": "synchronize",
                "number": 1,
                "pull_request": {
                    "number": 1,
                    "title": git(root, &["log", "-1", "--format=%s", &sha]).unwrap_or_default(),
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
    Ok(RepoEvent { event, sha, repository, actor, payload, dirty })
}

fn resolve_ref(root: &Path, r: &str, tag: bool) -> Result<String, String> {
    if r.starts_with("refs/") {
        return Ok(r.to_string());
    }
    let tag_ref = format!("refs/tags/{r}");
    let branch_ref = format!("refs/heads/{r}");
    let exists = |full: &str| git(root, &["show-ref", "--verify", "-q", full]).is_ok();
    if tag {
        return if exists(&tag_ref) { Ok(tag_ref) } else { Err(format!("tag `{r}` does not exist: create it with `git tag {r}`")) };
    }
    if exists(&branch_ref) {
        Ok(branch_ref)
    } else if exists(&tag_ref) {
        Ok(tag_ref)
    } else {
        Err(format!("`{r}` is neither a branch nor a tag of this repository"))
    }
}

fn changed_files(root: &Path, from: &str, to: &str) -> Option<Vec<String>> {
    let out = if from.chars().all(|c| c == '0') {
        git(root, &["ls-tree", "-r", "--name-only", to]).ok()?
    } else {
        git(root, &["diff", "--name-only", from, to]).ok()?
    };
    Some(out.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// `owner/name` from the `origin` remote, or `local/<dir>`.
fn repository_name(root: &Path) -> String {
    if let Ok(url) = git(root, &["remote", "get-url", "origin"]) {
        let trimmed = url.trim_end_matches('/').trim_end_matches(".git");
        let parts: Vec<&str> = trimmed.rsplit(['/', ':']).take(2).collect();
        if parts.len() == 2 && !parts[0].is_empty() && !parts[1].is_empty() {
            return format!("{}/{}", parts[1], parts[0]);
        }
    }
    let dir = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "repo".into());
    format!("local/{dir}")
}

fn default_branch(root: &Path) -> String {
    if let Ok(head) = git(root, &["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"]) {
        if let Some(b) = head.strip_prefix("origin/") {
            return b.to_string();
        }
    }
    for candidate in ["main", "master"] {
        if git(root, &["show-ref", "--verify", "-q", &format!("refs/heads/{candidate}")]).is_ok() {
            return candidate.to_string();
        }
    }
    git(root, &["symbolic-ref", "-q", "--short", "HEAD"]).unwrap_or_else(|_| "main".into())
}
