//! What the command line learns from the local git repository: the root,
//! HEAD, refs, the event's commit, changed files and the event payload.
//!
//! Refs, configuration and commits are read in-process with `gix` (each
//! `git` process costs about a millisecond of CPU and a round trip, which is
//! most of a small run's start-up); the `git` CLI does the rest (the work
//! tree's state, diffs, rare lookups), and everything when `gix` cannot open
//! the repository.

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

/// The repository containing a directory: its top directory, and its
/// `gix` handle when `gix` can open it.
struct Repo {
    root: PathBuf,
    gix: Option<gix::Repository>,
}

/// Finds the repository containing `dir` (as git does, environment
/// variables such as `GIT_DIR` included).
fn open(dir: &Path) -> Result<Repo, String> {
    if let Ok(repo) = gix::discover_with_environment_overrides(dir)
        && let Some(root) = repo.workdir().map(Path::to_path_buf)
    {
        // The same spelling of the path as `git rev-parse --show-toplevel`.
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        return Ok(Repo {
            root,
            gix: Some(repo),
        });
    }
    git(dir, &["rev-parse", "--show-toplevel"])
        .map(|root| Repo {
            root: PathBuf::from(root),
            gix: None,
        })
        .map_err(|_| {
            format!(
                "`{}` is not inside a git repository: run gantry in a repository (or pass -C DIR)",
                dir.display()
            )
        })
}

/// The top of the work tree containing `dir`, found by looking for `.git`
/// upwards; `None` whenever git's environment variables could change the
/// answer or the layout is not a plain work tree (git then decides).
fn quick_root(dir: &Path) -> Option<PathBuf> {
    const REDIRECTING: &[&str] = &[
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_CEILING_DIRECTORIES",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    ];
    if REDIRECTING.iter().any(|v| std::env::var_os(v).is_some()) {
        return None;
    }
    let start = std::fs::canonicalize(dir).ok()?;
    let mut dir = start.as_path();
    loop {
        let dot_git = dir.join(".git");
        match std::fs::symlink_metadata(&dot_git) {
            Ok(meta) if meta.is_dir() && dot_git.join("HEAD").is_file() => {
                return Some(dir.to_path_buf());
            }
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return None,
        }
        // Inside a `.git` or a bare repository: git's rules apply.
        if dir.join("HEAD").is_file() && dir.join("objects").is_dir() {
            return None;
        }
        dir = dir.parent()?;
    }
}

/// The repository's top directory.
pub fn root(dir: &Path) -> Result<PathBuf, String> {
    open(dir).map(|repo| repo.root)
}

/// Facts gathered for one event.
pub struct RepoEvent {
    pub event: Event,
    pub sha: String,
    pub repository: String,
    pub actor: String,
    pub payload: Value,
}

/// `git status` of the work tree, running in the background: whether it
/// has uncommitted changes (they are not run). On a large repository the
/// check can take a while, so nothing waits for it before the jobs start.
pub struct DirtyCheck(Option<Background>);

impl DirtyCheck {
    pub fn start(root: &Path) -> DirtyCheck {
        DirtyCheck(Some(Background::start(
            root,
            args(&["status", "--porcelain", "--untracked-files=no"]),
        )))
    }

    /// The answer, once and only once, as soon as it is there (never blocks).
    pub fn poll(&mut self) -> Option<bool> {
        if self.0.as_ref().is_some_and(|b| b.0.is_finished()) {
            return self.take();
        }
        None
    }

    /// The answer, waiting for it if need be; `None` if it was given already.
    pub fn wait(&mut self) -> Option<bool> {
        self.take()
    }

    fn take(&mut self) -> Option<bool> {
        let check = self.0.take()?;
        Some(check.join().is_ok_and(|s| !s.is_empty()))
    }
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

/// A git command running on a thread of its own, joined when its answer is
/// needed.
struct Background(std::thread::JoinHandle<Result<String, String>>);

impl Background {
    fn start(dir: &Path, args: Vec<String>) -> Background {
        let dir = dir.to_path_buf();
        Background(std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            git(&dir, &args)
        }))
    }

    fn join(self) -> Result<String, String> {
        self.0
            .join()
            .unwrap_or_else(|_| Err("git thread failed".to_string()))
    }
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

/// What refs and configuration say, read from `.git` directly when it is
/// plain (see [`crate::gitdir`]), else from the git CLI.
struct RefFacts {
    /// The branch HEAD is on (none when detached).
    branch: Option<String>,
    /// HEAD's commit; `None` in a repository without commits.
    head: Option<String>,
    default_branch: String,
    remote_url: Option<String>,
    user_name: Option<String>,
    /// For `--ref NAME`: which of `refs/heads/NAME` and `refs/tags/NAME` exist.
    found: Vec<String>,
}

fn short_ref_candidates(name: &str) -> [String; 2] {
    [format!("refs/heads/{name}"), format!("refs/tags/{name}")]
}

fn ref_facts_gix(repo: &gix::Repository, git_ref: Option<&str>) -> Option<RefFacts> {
    let config = repo.config_snapshot();
    let text = |key: &str| config.string(key).map(|v| v.to_string());
    let head = repo.head().ok()?;
    let branch = head.referent_name().and_then(|name| {
        name.as_bstr()
            .to_string()
            .strip_prefix("refs/heads/")
            .map(str::to_string)
    });
    let head_id = repo.head_id().ok().map(|id| id.to_string());
    let exists = |name: &str| repo.try_find_reference(name).ok().flatten().is_some();
    let origin_head = repo
        .try_find_reference("refs/remotes/origin/HEAD")
        .ok()
        .flatten()
        .and_then(|r| match r.target() {
            gix::refs::TargetRef::Symbolic(name) => name
                .as_bstr()
                .to_string()
                .strip_prefix("refs/remotes/origin/")
                .map(str::to_string),
            gix::refs::TargetRef::Object(_) => None,
        });
    let default_branch = origin_head
        .or_else(|| {
            ["main", "master"]
                .into_iter()
                .find(|b| exists(&format!("refs/heads/{b}")))
                .map(str::to_string)
        })
        .unwrap_or_else(|| branch.clone().unwrap_or_else(|| "main".into()));
    let found = match git_ref.filter(|r| !r.starts_with("refs/")) {
        Some(r) => short_ref_candidates(r)
            .into_iter()
            .filter(|full| exists(full))
            .collect(),
        None => Vec::new(),
    };
    Some(RefFacts {
        branch,
        head: head_id,
        default_branch,
        remote_url: text("remote.origin.url"),
        user_name: text("user.name"),
        found,
    })
}

/// A commit's facts in [`LOG_FORMAT`]'s layout, read with `gix`: `spec` is
/// a full ref name (peeled to its commit) or a commit id.
fn commit_log_gix(repo: &gix::Repository, spec: &str) -> Option<String> {
    let commit = if spec.starts_with("refs/") {
        repo.find_reference(spec).ok()?.peel_to_commit().ok()?
    } else {
        let id = gix::ObjectId::from_hex(spec.as_bytes()).ok()?;
        repo.find_commit(id).ok()?
    };
    let decoded = commit.decode().ok()?;
    let author = decoded.author().ok()?;
    let committer = decoded.committer().ok()?;
    let parents: Vec<String> = decoded.parents().map(|p| p.to_string()).collect();
    let time = committer.time().ok()?;
    let offset = jiff::tz::Offset::from_seconds(time.offset).ok()?;
    let zoned = jiff::Timestamp::from_second(time.seconds)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::fixed(offset));
    // As git's `%cI` writes it: `Z` for UTC, else the offset.
    let date = if time.offset == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    };
    Some(format!(
        "{}\0{}\0{}\0{}\0{date}\0{}",
        commit.id,
        parents.join(" "),
        author.name,
        author.email,
        String::from_utf8_lossy(decoded.message).trim_end(),
    ))
}

fn ref_facts_cli(root: &Path, git_ref: Option<&str>) -> RefFacts {
    let mut round = vec![
        args(&[
            "config",
            "--get-regexp",
            r"^(remote\.origin\.url|user\.name)$",
        ]),
        args(&[
            "for-each-ref",
            "--format=%(refname) %(symref) %(HEAD)",
            "refs/remotes/origin/HEAD",
            "refs/heads",
        ]),
        args(&["rev-parse", "--verify", "-q", "HEAD"]),
    ];
    let short = git_ref.filter(|r| !r.starts_with("refs/"));
    if let Some(r) = short {
        let [branch, tag] = short_ref_candidates(r);
        round.push(args(&[
            "for-each-ref",
            "--format=%(refname)",
            &branch,
            &tag,
        ]));
    }
    let mut answers = git_all(root, &round).into_iter();
    let config = answers.next().and_then(Result::ok).unwrap_or_default();
    let refs = answers.next().and_then(Result::ok).unwrap_or_default();
    let head = answers
        .next()
        .and_then(Result::ok)
        .filter(|h| !h.is_empty());
    let found = match short {
        Some(r) => {
            let listed = answers.next().and_then(Result::ok).unwrap_or_default();
            short_ref_candidates(r)
                .into_iter()
                .filter(|full| listed.lines().any(|l| l == full))
                .collect()
        }
        None => Vec::new(),
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
    let branch = current_branch(&refs);
    let default_branch = default_branch(&refs, branch.as_deref());
    RefFacts {
        branch,
        head,
        default_branch,
        remote_url,
        user_name,
        found,
    }
}

/// An event whose git facts are being gathered: [`start`] finds the
/// repository, then reads refs, configuration and the commit on a thread of
/// its own, so that this runs while the workflows are read;
/// [`Pending::finish`] collects them.
pub struct Pending {
    /// The repository's top directory.
    pub root: PathBuf,
    kind: EventKind,
    inputs: indexmap::IndexMap<String, String>,
    schedule: Option<String>,
    gathering: std::thread::JoinHandle<Result<Gathered, String>>,
}

/// What the gathering thread found.
struct Gathered {
    facts: RefFacts,
    /// The event's ref (`None`: the tag at HEAD, from `describe`), or why
    /// there is none.
    full_ref: Result<Option<String>, String>,
    /// The commit's facts in [`LOG_FORMAT`]'s layout.
    log: Option<Result<String, String>>,
    /// `--event tag` without `--ref`: the tag at HEAD.
    describe: Option<Result<String, String>>,
    /// Pull requests: the base branch's commit.
    base_sha: Option<Result<String, String>>,
    /// The base branch's name.
    base_name: String,
    /// The top directory git found.
    found_root: PathBuf,
}

struct GatherRequest {
    kind: EventKind,
    tag: bool,
    git_ref: Option<String>,
    base: Option<String>,
}

/// Starts gathering the facts for one event in the repository containing
/// `dir` (see [`Pending`]); returns once the repository is found.
pub fn start(dir: &Path, req: &EventRequest<'_>) -> Result<Pending, String> {
    let request = GatherRequest {
        kind: req.kind,
        tag: req.tag,
        git_ref: req.git_ref.map(str::to_string),
        base: req.base.map(str::to_string),
    };
    let dir = dir.to_path_buf();
    let quick = quick_root(&dir);
    let (found, root) = std::sync::mpsc::channel();
    // A `gix` repository stays on the thread that opened it.
    let gathering = std::thread::spawn(move || {
        let repo = open(&dir);
        let _ = found.send(repo.as_ref().map(|r| r.root.clone()).map_err(Clone::clone));
        repo.map(|repo| gather(repo, request))
    });
    // Opening the repository (configuration files and all) takes longer
    // than finding its top: the workflows are read meanwhile, and
    // `finish` checks that git agrees.
    let root = match quick {
        Some(root) => root,
        None => root
            .recv()
            .map_err(|_| "reading the repository failed (internal error)".to_string())??,
    };
    Ok(Pending {
        root,
        kind: req.kind,
        inputs: req.inputs.clone(),
        schedule: req.schedule.map(str::to_string),
        gathering,
    })
}

fn gather(repo: Repo, req: GatherRequest) -> Gathered {
    let root = repo.root.as_path();
    let git_ref = req.git_ref.as_deref();
    let local = repo.gix.as_ref();
    let facts = local
        .as_ref()
        .and_then(|r| ref_facts_gix(r, git_ref))
        .unwrap_or_else(|| ref_facts_cli(root, git_ref));
    let full_ref: Result<Option<String>, String> = match git_ref {
        Some(r) if r.starts_with("refs/") => Ok(Some(r.to_string())),
        Some(r) => {
            let [branch_ref, tag_ref] = short_ref_candidates(r);
            let has = |full: &str| facts.found.iter().any(|f| f == full);
            if req.tag {
                if has(&tag_ref) {
                    Ok(Some(tag_ref))
                } else {
                    Err(format!(
                        "tag `{r}` does not exist: create it with `git tag {r}`"
                    ))
                }
            } else if has(&branch_ref) {
                Ok(Some(branch_ref))
            } else if has(&tag_ref) {
                Ok(Some(tag_ref))
            } else {
                Err(unknown_ref(root, r))
            }
        }
        // The tag at HEAD, from `describe` below.
        None if req.tag => Ok(None),
        None => Ok(Some(format!(
            "refs/heads/{}",
            facts.branch.clone().unwrap_or_else(|| "main".to_string())
        ))),
    };
    // The commit the event is about: the ref's, else HEAD's.
    let commit = match (&full_ref, git_ref) {
        (Ok(Some(full)), Some(_)) => Some(full.clone()),
        (Ok(_), _) => facts.head.clone(),
        (Err(_), _) => None,
    };
    let log = commit.map(|spec| {
        local
            .as_ref()
            .and_then(|r| commit_log_gix(r, &spec))
            .map(Ok)
            .unwrap_or_else(|| {
                let spec = if spec.starts_with("refs/") {
                    format!("{spec}^{{commit}}")
                } else {
                    spec
                };
                git(root, &["log", "-1", LOG_FORMAT, &spec])
            })
    });
    let describe = (req.tag && git_ref.is_none() && facts.head.is_some())
        .then(|| git(root, &["describe", "--tags", "--exact-match", "HEAD"]));
    let base_name = req
        .base
        .clone()
        .unwrap_or_else(|| facts.default_branch.clone());
    let base_sha = matches!(
        req.kind,
        EventKind::PullRequest | EventKind::PullRequestTarget
    )
    .then(|| {
        git(
            root,
            &[
                "rev-parse",
                "-q",
                "--verify",
                &format!("{base_name}^{{commit}}"),
            ],
        )
    });
    Gathered {
        facts,
        full_ref,
        log,
        describe,
        base_sha,
        base_name,
        found_root: repo.root.clone(),
    }
}

impl Pending {
    /// Waits for the git commands and builds the event. `needs_changed_files`:
    /// some workflow filters on paths (the changed files cost a diff).
    pub fn finish(self, needs_changed_files: bool) -> Result<RepoEvent, String> {
        let Pending {
            root,
            kind,
            inputs,
            schedule,
            gathering,
        } = self;
        let Gathered {
            facts,
            full_ref,
            log,
            describe,
            base_sha,
            base_name: base,
            found_root,
        } = gathering
            .join()
            .map_err(|_| "reading the repository failed (internal error)".to_string())??;
        if found_root != root {
            return Err(format!(
                "git says this repository's top directory is `{}`, not `{}`: run gantry there (or pass -C {})",
                found_root.display(),
                root.display(),
                found_root.display()
            ));
        }
        if facts.head.is_none() {
            return Err("the repository has no commits yet: commit your workflow first (`git add -A && git commit -m init`)".to_string());
        }
        let full_ref = match full_ref? {
            Some(full) => full,
            None => {
                let tag = describe
                    .and_then(Result::ok)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        "`--event tag` needs a tag: HEAD is not tagged, pass `--ref v1.2.3`"
                            .to_string()
                    })?;
                format!("refs/tags/{tag}")
            }
        };
        let log = log
            .and_then(Result::ok)
            .ok_or_else(|| format!("ref `{full_ref}` does not exist in this repository"))?;
        let RefFacts {
            branch,
            default_branch,
            remote_url,
            user_name,
            ..
        } = facts;
        let repository = repository_name(&root, remote_url.as_deref());
        let actor =
            user_name.unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "gantry".into()));

        let mut fields = log.splitn(6, '\0');
        let sha = fields.next().unwrap_or_default().to_string();
        let parents = fields.next().unwrap_or_default().to_string();
        let author = fields.next().unwrap_or_default().to_string();
        let email = fields.next().unwrap_or_default().to_string();
        let timestamp = fields.next().unwrap_or_default().to_string();
        let message = fields.next().unwrap_or_default().trim_end().to_string();
        let base_sha = match base_sha {
            Some(found) => Some(found.ok().filter(|s| !s.is_empty()).ok_or_else(|| {
                format!("base branch `{base}` does not exist: pass `--base BRANCH`")
            })?),
            None => None,
        };
        let root = root.as_path();
        let req_inputs = &inputs;
        let req_schedule = schedule.as_deref();
        let needs_changed = needs_changed_files;
        let repo_json = json!({
            "name": repository.rsplit('/').next().unwrap_or_default(),
            "full_name": repository,
            "default_branch": default_branch,
            "owner": {"login": repository.split('/').next().unwrap_or_default()},
        });
        let mut event = Event::new(kind, full_ref.clone());
        let payload = match kind {
            EventKind::Push => {
                let before = parents
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
                    .unwrap_or_else(|| "0".repeat(40));
                if needs_changed {
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
                if needs_changed {
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
                event.inputs = req_inputs.clone();
                json!({"inputs": req_inputs, "ref": full_ref, "sender": {"login": actor}, "repository": repo_json})
            }
            EventKind::Schedule => {
                event.schedule = req_schedule.map(str::to_string);
                json!({"schedule": req_schedule.unwrap_or(""), "repository": repo_json})
            }
        };
        Ok(RepoEvent {
            event,
            sha,
            repository,
            actor,
            payload,
        })
    }
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
