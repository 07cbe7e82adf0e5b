//! `actions/checkout`: puts a commit of the local repository into the
//! workspace with the `git` CLI. A full history is a local clone (hard
//! links, no copy); a shallow one is a fetch of the commit through a
//! `file://` URL. Nothing leaves the machine.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::inputs::{self, bool_input, input, list_input};
use super::paths;
use super::process;
use super::{BuiltinCtx, BuiltinOutcome};

const ACTION: &str = "actions/checkout";

const INPUTS: &[&str] = &[
    "repository",
    "ref",
    "token",
    "ssh-key",
    "ssh-known-hosts",
    "ssh-strict",
    "ssh-user",
    "persist-credentials",
    "path",
    "clean",
    "filter",
    "sparse-checkout",
    "sparse-checkout-cone-mode",
    "fetch-depth",
    "fetch-tags",
    "show-progress",
    "lfs",
    "submodules",
    "set-safe-directory",
    "github-server-url",
];

/// Variables that would point git at another repository than the one named.
const GIT_REPO_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
];

const GIT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submodules {
    No,
    Top,
    Recursive,
}

/// The `git` CLI with settings that keep it quiet, offline and away from
/// the user's hooks.
struct Git {
    cancel: CancellationToken,
}

impl Git {
    fn command(&self, dir: Option<&Path>) -> Command {
        let mut command = Command::new("git");
        if let Some(dir) = dir {
            command.arg("-C").arg(dir);
        }
        for setting in [
            "safe.directory=*",
            "advice.detachedHead=false",
            "init.defaultBranch=main",
            "core.hooksPath=/dev/null",
            "protocol.file.allow=always",
            "maintenance.auto=false",
            "gc.auto=0",
        ] {
            command.arg("-c").arg(setting);
        }
        for var in GIT_REPO_VARS {
            command.env_remove(var);
        }
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_LFS_SKIP_SMUDGE", "1")
            .env("LC_ALL", "C");
        command
    }

    /// Runs git; `Ok(None)` when it exits non-zero.
    async fn try_run<I, S>(&self, dir: Option<&Path>, args: I) -> Result<Option<String>, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Ok(self.run_full(dir, args).await?.ok())
    }

    /// Runs git; an error carries git's own message.
    async fn run<I, S>(&self, dir: Option<&Path>, args: I) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_full(dir, args).await?
    }

    async fn run_full<I, S>(
        &self,
        dir: Option<&Path>,
        args: I,
    ) -> Result<Result<String, String>, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let mut command = self.command(dir);
        command.args(&args);
        let out = process::output(&mut command, &self.cancel, GIT_TIMEOUT)
            .await
            .map_err(|e| {
                if e.contains("cannot run") {
                    format!("{e}: install git and make sure it is on PATH")
                } else {
                    e
                }
            })?;
        if out.status.success() {
            Ok(Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()))
        } else {
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Ok(Err(format!("`git {}` failed: {stderr}", shown.join(" "))))
        }
    }
}

/// What to check out: the commit, the `ref` output and the local branch to
/// create (none: a detached HEAD).
#[derive(Debug)]
struct Target {
    commit: String,
    ref_output: String,
    branch: Option<String>,
    tag: Option<String>,
}

fn is_full_sha(text: &str) -> bool {
    (text.len() == 40 || text.len() == 64) && text.chars().all(|c| c.is_ascii_hexdigit())
}

async fn resolve_commit(git: &Git, repo: &Path, rev: &str) -> Result<Option<String>, String> {
    git.try_run(
        Some(repo),
        [
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .await
}

async fn resolve_target(
    git: &Git,
    repo: &Path,
    ctx_sha: &str,
    ctx_ref: &str,
    ref_input: Option<&str>,
) -> Result<Target, String> {
    let Some(wanted) = ref_input else {
        let ref_output = if ctx_ref.is_empty() || ctx_ref.starts_with("refs/") {
            ctx_ref.to_string()
        } else {
            format!("refs/heads/{ctx_ref}")
        };
        let rev = if !ctx_sha.is_empty() {
            ctx_sha
        } else if !ref_output.is_empty() {
            ref_output.as_str()
        } else {
            "HEAD"
        };
        let commit = resolve_commit(git, repo, rev).await?.ok_or_else(|| {
            format!(
                "commit `{rev}` of the event is not in the local repository {}: fetch it into that repository, or set `ref:` to a branch, tag or commit that exists there",
                repo.display()
            )
        })?;
        let branch = ref_output.strip_prefix("refs/heads/").map(String::from);
        let tag = ref_output.strip_prefix("refs/tags/").map(String::from);
        return Ok(Target {
            commit,
            ref_output,
            branch,
            tag,
        });
    };
    if is_full_sha(wanted) {
        let commit = resolve_commit(git, repo, wanted).await?.ok_or_else(|| {
            format!("commit `{wanted}` (input `ref`) is not in the local repository {}: use a commit that exists there", repo.display())
        })?;
        return Ok(Target {
            commit,
            ref_output: String::new(),
            branch: None,
            tag: None,
        });
    }
    let candidates: Vec<String> = if wanted.starts_with("refs/") {
        vec![wanted.to_string()]
    } else {
        vec![
            format!("refs/heads/{wanted}"),
            format!("refs/tags/{wanted}"),
            format!("refs/remotes/origin/{wanted}"),
            wanted.to_string(),
        ]
    };
    for candidate in &candidates {
        if let Some(commit) = resolve_commit(git, repo, candidate).await? {
            let branch = candidate
                .strip_prefix("refs/heads/")
                .or_else(|| candidate.strip_prefix("refs/remotes/origin/"))
                .map(String::from);
            let tag = candidate.strip_prefix("refs/tags/").map(String::from);
            return Ok(Target {
                commit,
                ref_output: wanted.to_string(),
                branch,
                tag,
            });
        }
    }
    Err(format!(
        "ref `{wanted}` (input `ref`) was not found in the local repository {}: use a branch, tag or commit that exists there (pull requests and remote-only branches need a local ref)",
        repo.display()
    ))
}

fn parse_submodules(value: Option<&str>) -> Result<Submodules, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => Ok(Submodules::No),
        Some("true") => Ok(Submodules::Top),
        Some("recursive") => Ok(Submodules::Recursive),
        Some(other) => Err(format!(
            "input `submodules` must be `true`, `false` or `recursive`, not `{other}`: fix it under `with:`"
        )),
    }
}

fn check_repository(value: Option<&str>, ctx: &BuiltinCtx<'_>) -> Result<(), String> {
    let Some(wanted) = value else { return Ok(()) };
    let current = ctx
        .env
        .get("GITHUB_REPOSITORY")
        .map(String::as_str)
        .unwrap_or("");
    let dir_name = ctx
        .repo_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let wanted_name = wanted
        .trim_end_matches(".git")
        .rsplit('/')
        .next()
        .unwrap_or(wanted);
    let same = if current.is_empty() {
        wanted_name.eq_ignore_ascii_case(&dir_name)
    } else {
        wanted
            .trim_end_matches(".git")
            .eq_ignore_ascii_case(current)
    };
    if same {
        return Ok(());
    }
    let shown = if current.is_empty() {
        dir_name
    } else {
        current.to_string()
    };
    Err(format!(
        "`repository: {wanted}` cannot be checked out: only the local repository ({shown}) is available offline; remove `repository:` or copy the other repository in with a `run:` step"
    ))
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Removes everything inside `dir`, keeping `dir`.
async fn clear_dir(dir: &Path) -> Result<(), String> {
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
    {
        let path = entry.path();
        let is_dir = entry.file_type().await.map(|t| t.is_dir()).unwrap_or(false);
        let removed = if is_dir {
            tokio::fs::remove_dir_all(&path).await
        } else {
            tokio::fs::remove_file(&path).await
        };
        removed.map_err(|e| format!("cannot delete {}: {e}; delete it by hand", path.display()))?;
    }
    Ok(())
}

async fn is_empty_dir(dir: &Path) -> bool {
    match tokio::fs::read_dir(dir).await {
        Ok(mut entries) => matches!(entries.next_entry().await, Ok(None)),
        Err(_) => false,
    }
}

pub(super) async fn run(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in inputs::unexpected_inputs(ctx.inputs, INPUTS, ACTION) {
        (ctx.log)(warning);
    }
    let started = Instant::now();
    let inputs = ctx.inputs;
    check_repository(input(inputs, "repository"), ctx)?;
    let fetch_depth: u32 = match input(inputs, "fetch-depth") {
        None => 1,
        Some(value) => value
            .parse()
            .map_err(|_| format!("input `fetch-depth` must be a whole number (0 for the full history), not `{value}`: fix it under `with:`"))?,
    };
    let clean = bool_input(inputs, "clean", true)?;
    let fetch_tags = bool_input(inputs, "fetch-tags", false)?;
    let submodules = parse_submodules(input(inputs, "submodules"))?;
    let sparse = list_input(inputs, "sparse-checkout");
    let cone = bool_input(inputs, "sparse-checkout-cone-mode", true)?;
    if bool_input(inputs, "lfs", false)? {
        (ctx.log)("warning: `lfs: true` is not supported offline: Git LFS files are checked out as pointer files".to_string());
    }
    if let Some(filter) = input(inputs, "filter") {
        (ctx.log)(format!(
            "`filter: {filter}` is ignored: a local checkout has every object at hand"
        ));
    }
    let target_dir =
        paths::inside_workspace(input(inputs, "path").unwrap_or("."), ctx.workspace, "path")?;
    let repo = std::fs::canonicalize(ctx.repo_dir).map_err(|e| {
        format!(
            "the local repository {} cannot be read: {e}; run gantry inside a git repository",
            ctx.repo_dir.display()
        )
    })?;

    let git = Git {
        cancel: ctx.cancel.clone(),
    };
    let target = resolve_target(&git, &repo, ctx.sha, ctx.git_ref, input(inputs, "ref")).await?;

    if input(inputs, "ref").is_none()
        && let Some(status) = git
            .try_run(
                Some(&repo),
                ["status", "--porcelain", "--untracked-files=no"],
            )
            .await?
        && !status.is_empty()
        && git
            .try_run(Some(&repo), ["rev-parse", "HEAD"])
            .await?
            .as_deref()
            == Some(target.commit.as_str())
    {
        (ctx.log)(format!(
            "note: {} has uncommitted changes; they are not part of the checkout (commit {} is checked out): commit them to include them",
            repo.display(),
            short(&target.commit)
        ));
    }

    // Never delete the source repository: refuse a target that contains it.
    tokio::fs::create_dir_all(&target_dir).await.map_err(|e| {
        format!(
            "cannot create {}: {e}; check the workspace permissions",
            target_dir.display()
        )
    })?;
    let target_real = std::fs::canonicalize(&target_dir).unwrap_or_else(|_| target_dir.clone());
    if target_real == repo {
        (ctx.log)(format!(
            "{} is the repository itself: nothing to check out",
            target_dir.display()
        ));
        return Ok(outcome(&target));
    }
    if repo.starts_with(&target_real) {
        return Err(format!(
            "cannot check out into {}: it contains the source repository {}; set `path:` to a directory inside the workspace that does not contain it",
            target_dir.display(),
            repo.display()
        ));
    }

    let reused = reuse_existing(
        ctx,
        &git,
        &repo,
        &target_dir,
        &target,
        fetch_depth,
        fetch_tags,
        clean,
    )
    .await?;
    if !reused {
        if !is_empty_dir(&target_dir).await {
            (ctx.log)(format!("Deleting the contents of {}", target_dir.display()));
            clear_dir(&target_dir).await?;
        }
        fresh_fetch(&git, &repo, &target_dir, &target, fetch_depth, fetch_tags).await?;
    }

    let mut checkout: Vec<OsString> = vec!["checkout".into(), "--quiet".into(), "--force".into()];
    match &target.branch {
        Some(branch) => checkout.extend(["-B".into(), branch.into(), target.commit.clone().into()]),
        None => checkout.extend(["--detach".into(), target.commit.clone().into()]),
    }
    git.run(Some(&target_dir), &checkout).await?;
    if !sparse.is_empty() {
        let mut args: Vec<String> = vec![
            "sparse-checkout".into(),
            "set".into(),
            if cone { "--cone" } else { "--no-cone" }.into(),
            "--".into(),
        ];
        args.extend(sparse.iter().cloned());
        git.run(Some(&target_dir), &args).await?;
    }
    if submodules != Submodules::No {
        update_submodules(
            &git,
            &target_dir,
            &repo,
            submodules == Submodules::Recursive,
        )
        .await?;
    }

    let what = if target.ref_output.is_empty() {
        String::new()
    } else {
        format!(" ({})", target.ref_output)
    };
    (ctx.log)(format!(
        "Checked out {}{what} from {} into {} (fetch-depth {fetch_depth}) in {} ms",
        target.commit,
        repo.display(),
        target_dir.display(),
        started.elapsed().as_millis()
    ));
    Ok(outcome(&target))
}

fn outcome(target: &Target) -> BuiltinOutcome {
    let mut out = BuiltinOutcome::default();
    out.outputs
        .insert("ref".to_string(), target.ref_output.clone());
    out.outputs
        .insert("commit".to_string(), target.commit.clone());
    out
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Refspecs that bring `target` into the checkout.
fn refspecs(target: &Target) -> Vec<String> {
    let mut specs = vec![match &target.branch {
        Some(branch) => format!("+{}:refs/remotes/origin/{branch}", target.commit),
        None => target.commit.clone(),
    }];
    if let Some(tag) = &target.tag {
        specs.push(format!("+refs/tags/{tag}:refs/tags/{tag}"));
    }
    specs
}

/// A new checkout into an empty directory.
async fn fresh_fetch(
    git: &Git,
    repo: &Path,
    dir: &Path,
    target: &Target,
    depth: u32,
    tags: bool,
) -> Result<(), String> {
    if depth == 0 {
        // A local clone hard-links the objects: fast, and every commit is there.
        return git
            .run(
                None,
                [
                    OsStr::new("clone"),
                    OsStr::new("--no-checkout"),
                    OsStr::new("--quiet"),
                    OsStr::new("--"),
                    repo.as_os_str(),
                    dir.as_os_str(),
                ],
            )
            .await
            .map(drop);
    }
    git.run(Some(dir), ["init", "--quiet"]).await?;
    git.run(
        Some(dir),
        [
            OsStr::new("remote"),
            OsStr::new("add"),
            OsStr::new("origin"),
            repo.as_os_str(),
        ],
    )
    .await?;
    let mut args: Vec<String> = vec![
        "fetch".into(),
        "--quiet".into(),
        if tags { "--tags" } else { "--no-tags" }.into(),
    ];
    args.push(format!("--depth={depth}"));
    args.push(file_url(repo));
    args.extend(refspecs(target));
    git.run(Some(dir), &args).await.map(drop)
}

/// Updates a checkout left by an earlier `actions/checkout` of the same
/// repository. `false` when there is none (or it cannot be reused).
#[allow(clippy::too_many_arguments)]
async fn reuse_existing(
    ctx: &mut BuiltinCtx<'_>,
    git: &Git,
    repo: &Path,
    dir: &Path,
    target: &Target,
    depth: u32,
    tags: bool,
    clean: bool,
) -> Result<bool, String> {
    if !dir.join(".git").exists() {
        return Ok(false);
    }
    let origin = git
        .try_run(Some(dir), ["config", "--get", "remote.origin.url"])
        .await?;
    if origin.as_deref().map(Path::new) != Some(repo) {
        return Ok(false);
    }
    if clean {
        let cleaned = git.try_run(Some(dir), ["clean", "-ffdx"]).await?.is_some();
        let reset = git
            .try_run(Some(dir), ["reset", "--hard", "--quiet", "HEAD"])
            .await?
            .is_some();
        if !cleaned || !reset {
            (ctx.log)(format!(
                "The existing checkout in {} could not be cleaned: checking out anew",
                dir.display()
            ));
            return Ok(false);
        }
    }
    let mut args: Vec<String> = vec![
        "fetch".into(),
        "--quiet".into(),
        if tags || depth == 0 {
            "--tags"
        } else {
            "--no-tags"
        }
        .into(),
    ];
    if depth == 0 {
        if dir.join(".git").join("shallow").exists() {
            args.push("--unshallow".into());
        }
        args.push(file_url(repo));
        args.push("+refs/heads/*:refs/remotes/origin/*".into());
    } else {
        args.push(format!("--depth={depth}"));
        args.push(file_url(repo));
    }
    args.extend(refspecs(target));
    match git.run(Some(dir), &args).await {
        Ok(_) => {
            (ctx.log)(format!(
                "Updated the existing checkout in {}",
                dir.display()
            ));
            Ok(true)
        }
        Err(e) if e == process::CANCELLED => Err(e),
        Err(e) => {
            (ctx.log)(format!(
                "The existing checkout in {} could not be updated ({e}): checking out anew",
                dir.display()
            ));
            Ok(false)
        }
    }
}

/// `git submodule update --init`, pointing each submodule at the copy that
/// is checked out in the source repository when there is one.
async fn update_submodules(
    git: &Git,
    dir: &Path,
    source: &Path,
    recursive: bool,
) -> Result<(), String> {
    let mut stack: Vec<(PathBuf, PathBuf)> = vec![(dir.to_path_buf(), source.to_path_buf())];
    while let Some((dir, source)) = stack.pop() {
        if !dir.join(".gitmodules").exists() {
            continue;
        }
        git.run(Some(&dir), ["submodule", "init"]).await?;
        let listing = git
            .try_run(
                Some(&dir),
                [
                    "config",
                    "--file",
                    ".gitmodules",
                    "--get-regexp",
                    r"^submodule\..*\.path$",
                ],
            )
            .await?
            .unwrap_or_default();
        let mut paths = Vec::new();
        for line in listing.lines() {
            let Some((key, path)) = line.split_once(' ') else {
                continue;
            };
            let Some(name) = key
                .strip_prefix("submodule.")
                .and_then(|k| k.strip_suffix(".path"))
            else {
                continue;
            };
            let local = source.join(path);
            if local.join(".git").exists() {
                git.run(
                    Some(&dir),
                    [
                        OsString::from("config"),
                        format!("submodule.{name}.url").into(),
                        local.clone().into_os_string(),
                    ],
                )
                .await?;
            }
            paths.push((dir.join(path), local));
        }
        git.run(Some(&dir), ["submodule", "update", "--quiet", "--force"]).await.map_err(|e| {
            format!(
                "{e}\nsubmodules must be available locally (gantry has no network access): initialize them in {} (`git submodule update --init`) or set `submodules: false`",
                source.display()
            )
        })?;
        if recursive {
            stack.extend(paths);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command as StdCommand;

    use indexmap::IndexMap;

    use super::super::tests_support::{Harness, git_in};
    use super::*;

    fn repo_with_commits(dir: &Path, n: usize) -> Vec<String> {
        git_in(dir, &["init", "-q", "-b", "main"]);
        let mut shas = Vec::new();
        for i in 0..n {
            std::fs::write(dir.join("file.txt"), format!("version {i}\n")).unwrap();
            git_in(dir, &["add", "file.txt"]);
            git_in(dir, &["commit", "-q", "-m", &format!("commit {i}")]);
            shas.push(git_in(dir, &["rev-parse", "HEAD"]));
        }
        shas
    }

    fn count(dir: &Path) -> String {
        git_in(dir, &["rev-list", "--count", "HEAD"])
    }

    #[tokio::test]
    async fn checks_out_the_event_sha_shallow_by_default() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 3);
        let mut inputs = IndexMap::new();
        inputs.insert("path".to_string(), "src".to_string());
        let started = Instant::now();
        let out = h
            .run("actions/checkout@v4", &inputs, &shas[1], "refs/heads/main")
            .await
            .unwrap();
        let elapsed = started.elapsed();
        let dir = h.workspace.join("src");
        assert_eq!(count(&dir), "1");
        assert_eq!(
            std::fs::read_to_string(dir.join("file.txt")).unwrap(),
            "version 1\n"
        );
        assert_eq!(out.outputs["commit"], shas[1]);
        assert_eq!(out.outputs["ref"], "refs/heads/main");
        assert_eq!(git_in(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
        assert_eq!(
            git_in(&dir, &["config", "remote.origin.url"]),
            std::fs::canonicalize(&h.repo).unwrap().to_string_lossy()
        );
        eprintln!("shallow checkout took {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(5),
            "checkout took {elapsed:?}"
        );
    }

    #[tokio::test]
    async fn full_history_with_fetch_depth_zero_into_workspace() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 3);
        let mut inputs = IndexMap::new();
        inputs.insert("fetch-depth".to_string(), "0".to_string());
        let started = Instant::now();
        let out = h
            .run("actions/checkout@v4", &inputs, &shas[2], "main")
            .await
            .unwrap();
        eprintln!("full checkout took {:?}", started.elapsed());
        assert_eq!(count(&h.workspace), "3");
        assert_eq!(out.outputs["ref"], "refs/heads/main");
        assert_eq!(out.outputs["commit"], shas[2]);
    }

    #[tokio::test]
    async fn fetch_depth_two_gives_two_commits() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 4);
        let mut inputs = IndexMap::new();
        inputs.insert("fetch-depth".to_string(), "2".to_string());
        h.run("actions/checkout@v4", &inputs, &shas[3], "refs/heads/main")
            .await
            .unwrap();
        assert_eq!(count(&h.workspace), "2");
    }

    #[tokio::test]
    async fn ref_input_selects_a_branch_tag_or_sha() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 3);
        git_in(&h.repo, &["branch", "old", &shas[0]]);
        git_in(&h.repo, &["tag", "-a", "v1", "-m", "v1", &shas[1]]);

        let mut inputs = IndexMap::new();
        inputs.insert("ref".to_string(), "old".to_string());
        inputs.insert("path".to_string(), "a".to_string());
        let out = h
            .run("actions/checkout@v4", &inputs, &shas[2], "refs/heads/main")
            .await
            .unwrap();
        assert_eq!(out.outputs["commit"], shas[0]);
        assert_eq!(out.outputs["ref"], "old");
        assert_eq!(
            git_in(
                &h.workspace.join("a"),
                &["rev-parse", "--abbrev-ref", "HEAD"]
            ),
            "old"
        );

        inputs.insert("ref".to_string(), "v1".to_string());
        inputs.insert("path".to_string(), "b".to_string());
        let out = h
            .run("actions/checkout@v4", &inputs, &shas[2], "refs/heads/main")
            .await
            .unwrap();
        assert_eq!(out.outputs["commit"], shas[1]);
        assert_eq!(
            git_in(&h.workspace.join("b"), &["describe", "--tags"]),
            "v1"
        );

        inputs.insert("ref".to_string(), shas[0].clone());
        inputs.insert("path".to_string(), "c".to_string());
        let out = h
            .run("actions/checkout@v4", &inputs, &shas[2], "refs/heads/main")
            .await
            .unwrap();
        assert_eq!(out.outputs["commit"], shas[0]);
        assert_eq!(out.outputs["ref"], "");
        assert_eq!(
            std::fs::read_to_string(h.workspace.join("c/file.txt")).unwrap(),
            "version 0\n"
        );

        inputs.insert("ref".to_string(), "nope".to_string());
        let err = h
            .run("actions/checkout@v4", &inputs, &shas[2], "refs/heads/main")
            .await
            .unwrap_err();
        assert!(
            err.contains("ref `nope`") && err.contains("not found"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn path_outside_the_workspace_is_rejected() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 1);
        let mut inputs = IndexMap::new();
        inputs.insert("path".to_string(), "../escape".to_string());
        let err = h
            .run("actions/checkout@v4", &inputs, &shas[0], "refs/heads/main")
            .await
            .unwrap_err();
        assert!(err.contains("outside the workspace"), "{err}");
        assert!(!h.workspace.parent().unwrap().join("escape").exists());
    }

    #[tokio::test]
    async fn another_repository_is_rejected_by_name() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 1);
        let mut inputs = IndexMap::new();
        inputs.insert("repository".to_string(), "someone/else".to_string());
        let err = h
            .run("actions/checkout@v4", &inputs, &shas[0], "refs/heads/main")
            .await
            .unwrap_err();
        assert!(
            err.contains("someone/else") && err.contains("offline"),
            "{err}"
        );
        inputs.insert("repository".to_string(), "me/repo".to_string());
        h.run("actions/checkout@v4", &inputs, &shas[0], "refs/heads/main")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn second_checkout_cleans_and_updates() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 2);
        let inputs = IndexMap::new();
        h.run("actions/checkout@v4", &inputs, &shas[0], "refs/heads/main")
            .await
            .unwrap();
        std::fs::write(h.workspace.join("junk"), "x").unwrap();
        std::fs::write(h.workspace.join("file.txt"), "edited").unwrap();
        h.run("actions/checkout@v4", &inputs, &shas[1], "refs/heads/main")
            .await
            .unwrap();
        assert!(!h.workspace.join("junk").exists());
        assert_eq!(
            std::fs::read_to_string(h.workspace.join("file.txt")).unwrap(),
            "version 1\n"
        );
    }

    #[tokio::test]
    async fn a_dirty_repository_is_checked_out_at_the_commit() {
        let h = Harness::new();
        let shas = repo_with_commits(&h.repo, 1);
        std::fs::write(h.repo.join("file.txt"), "uncommitted").unwrap();
        let inputs = IndexMap::new();
        h.run("actions/checkout@v4", &inputs, &shas[0], "refs/heads/main")
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(h.workspace.join("file.txt")).unwrap(),
            "version 0\n"
        );
        assert!(
            h.logs().iter().any(|l| l.contains("uncommitted changes")),
            "{:?}",
            h.logs()
        );
    }

    #[tokio::test]
    async fn submodules_come_from_the_local_checkout() {
        let h = Harness::new();
        let sub = h.root.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        repo_with_commits(&sub, 1);
        repo_with_commits(&h.repo, 1);
        let status = StdCommand::new("git")
            .args(["-c", "protocol.file.allow=always", "submodule", "add", "-q"])
            .arg(&sub)
            .arg("libs/sub")
            .current_dir(&h.repo)
            .status()
            .unwrap();
        assert!(status.success());
        git_in(&h.repo, &["commit", "-q", "-m", "add submodule"]);
        let sha = git_in(&h.repo, &["rev-parse", "HEAD"]);
        let mut inputs = IndexMap::new();
        inputs.insert("submodules".to_string(), "recursive".to_string());
        h.run("actions/checkout@v4", &inputs, &sha, "refs/heads/main")
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(h.workspace.join("libs/sub/file.txt")).unwrap(),
            "version 0\n"
        );
    }

    #[tokio::test]
    async fn sparse_checkout_keeps_only_the_listed_directories() {
        let h = Harness::new();
        for dir in ["keep", "drop"] {
            std::fs::create_dir_all(h.repo.join(dir)).unwrap();
            std::fs::write(h.repo.join(dir).join("f.txt"), dir).unwrap();
        }
        git_in(&h.repo, &["init", "-q", "-b", "main"]);
        git_in(&h.repo, &["add", "."]);
        git_in(&h.repo, &["commit", "-q", "-m", "dirs"]);
        let sha = git_in(&h.repo, &["rev-parse", "HEAD"]);
        let mut inputs = IndexMap::new();
        inputs.insert("sparse-checkout".to_string(), "keep".to_string());
        h.run("actions/checkout@v4", &inputs, &sha, "refs/heads/main")
            .await
            .unwrap();
        assert!(h.workspace.join("keep/f.txt").exists());
        assert!(!h.workspace.join("drop").exists());
    }
}
