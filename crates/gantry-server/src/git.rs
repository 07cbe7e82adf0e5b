//! The server's reads of its repositories, with the `git` CLI: workflow files at a commit,
//! changed files, commit titles, refs; mirrors of remote repositories; the merge commit of a
//! pull request. Every call is a short process with no terminal and no prompt.

use std::path::Path;

use tokio::process::Command;

/// The all-zero id git uses for "no commit" (a new or deleted ref).
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Where workflows live, relative to the repository root.
const WORKFLOW_DIRS: [&str; 2] = [".github/workflows", ".gantry/workflows"];

fn command(git_dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("--git-dir")
        .arg(git_dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_QUARANTINE_PATH")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

async fn output(git_dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = command(git_dir)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}: install git on the server"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`git {}` in {} failed: {}",
            args.join(" "),
            git_dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

async fn text(git_dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = output(git_dir, args).await?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// The git directory of a repository path: `PATH/.git` for a work tree, `PATH` for a bare one.
pub async fn git_dir_of(path: &Path) -> Result<std::path::PathBuf, String> {
    let out = Command::new("git")
        .current_dir(path)
        .args(["rev-parse", "--absolute-git-dir"])
        .env_remove("GIT_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}: install git on the server"))?;
    if !out.status.success() {
        return Err(format!(
            "{} is not a git repository: give the path of a repository (`git init --bare` makes one to push to)",
            path.display()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().into())
}

/// The commit a ref or revision names.
pub async fn resolve(git_dir: &Path, rev: &str) -> Result<String, String> {
    text(
        git_dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .await
    .map_err(|_| format!("`{rev}` is not a branch, tag or commit of this repository"))
}

/// The branch `HEAD` points at (`main`), if any.
pub async fn head_branch(git_dir: &Path) -> Option<String> {
    let full = text(git_dir, &["symbolic-ref", "--quiet", "HEAD"])
        .await
        .ok()?;
    full.strip_prefix("refs/heads/").map(str::to_string)
}

/// The workflow files of a commit: `(path, text)` for every `*.yml`/`*.yaml` directly in
/// `.github/workflows/` or `.gantry/workflows/`, sorted by path.
pub async fn workflow_files(git_dir: &Path, sha: &str) -> Result<Vec<(String, String)>, String> {
    let mut args = vec!["ls-tree", "-z", "--name-only", sha, "--"];
    let dirs: Vec<String> = WORKFLOW_DIRS.iter().map(|d| format!("{d}/")).collect();
    args.extend(dirs.iter().map(String::as_str));
    let listing = output(git_dir, &args).await?;
    let mut files = Vec::new();
    for raw in listing.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(raw).into_owned();
        if !(path.ends_with(".yml") || path.ends_with(".yaml")) {
            continue;
        }
        let blob = output(git_dir, &["cat-file", "blob", &format!("{sha}:{path}")]).await?;
        let text = String::from_utf8(blob)
            .map_err(|_| format!("`{path}` is not UTF-8 text: save it as UTF-8"))?;
        files.push((path, text));
    }
    files.sort();
    Ok(files)
}

/// The files that differ between two commits; `None` when that cannot be told (a new branch).
pub async fn changed_files(git_dir: &Path, before: &str, after: &str) -> Option<Vec<String>> {
    if before == ZERO_SHA || after == ZERO_SHA {
        return None;
    }
    let out = output(git_dir, &["diff", "--name-only", "-z", before, after])
        .await
        .ok()?;
    Some(
        out.split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
    )
}

/// A commit's subject line and author name.
pub async fn commit_title(git_dir: &Path, sha: &str) -> (String, String) {
    match text(git_dir, &["log", "-1", "--format=%s%x00%an", sha]).await {
        Ok(line) => {
            let (subject, author) = line.split_once('\0').unwrap_or((line.as_str(), ""));
            (subject.to_string(), author.to_string())
        }
        Err(_) => (String::new(), String::new()),
    }
}

/// Branch heads: `(branch, sha)`.
pub async fn branches(git_dir: &Path) -> Result<Vec<(String, String)>, String> {
    let out = text(
        git_dir,
        &[
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads/",
        ],
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(b, s)| (b.to_string(), s.to_string()))
        .collect())
}

/// Makes (or updates) a bare mirror of a remote repository: every branch and tag of `url`, and
/// the `refspecs` given (a pull request's head). Returns the ref updates: `(ref, old, new)`.
pub async fn fetch(
    git_dir: &Path,
    url: &str,
    refspecs: &[String],
) -> Result<Vec<(String, String, String)>, String> {
    if !git_dir.join("HEAD").exists() {
        tokio::fs::create_dir_all(git_dir)
            .await
            .map_err(|e| format!("cannot create {}: {e}", git_dir.display()))?;
        output(git_dir, &["init", "--quiet", "--bare"]).await?;
    }
    let before = heads_and_tags(git_dir).await;
    let mut args: Vec<String> = vec![
        "fetch".into(),
        "--quiet".into(),
        "--prune".into(),
        "--no-write-fetch-head".into(),
        "--".into(),
        url.into(),
        "+refs/heads/*:refs/heads/*".into(),
        "+refs/tags/*:refs/tags/*".into(),
    ];
    args.extend(refspecs.iter().cloned());
    let shown: Vec<&str> = args.iter().map(String::as_str).collect();
    output(git_dir, &shown).await.map_err(|e| {
        format!("{e}: check that the repository URL is right and reachable from the server")
    })?;
    let after = heads_and_tags(git_dir).await;
    let mut updates = Vec::new();
    for (name, new) in &after {
        let old = before.get(name).cloned().unwrap_or_else(|| ZERO_SHA.into());
        if &old != new {
            updates.push((name.clone(), old, new.clone()));
        }
    }
    Ok(updates)
}

async fn heads_and_tags(git_dir: &Path) -> std::collections::BTreeMap<String, String> {
    text(
        git_dir,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads/",
            "refs/tags/",
        ],
    )
    .await
    .unwrap_or_default()
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(r, s)| (r.to_string(), s.to_string()))
    .collect()
}

/// The commit a pull request would make if merged (`base` + `head`), stored as
/// `refs/pull/NUMBER/merge`. A conflict is an error that says so.
pub async fn merge_commit(
    git_dir: &Path,
    number: u64,
    base_sha: &str,
    head_sha: &str,
) -> Result<String, String> {
    let tree = output(
        git_dir,
        &[
            "merge-tree",
            "--write-tree",
            "--no-messages",
            base_sha,
            head_sha,
        ],
    )
    .await
    .map_err(|_| {
        format!("pull request #{number} has conflicts with its base: resolve them, then push again")
    })?;
    let tree = String::from_utf8_lossy(&tree);
    let tree = tree.lines().next().unwrap_or("").trim().to_string();
    let message = format!("Merge {head_sha} into {base_sha}");
    let out = command(git_dir)
        .args([
            "commit-tree",
            &tree,
            "-p",
            base_sha,
            "-p",
            head_sha,
            "-m",
            &message,
        ])
        .env("GIT_AUTHOR_NAME", "Gantry")
        .env("GIT_AUTHOR_EMAIL", "gantry@localhost")
        .env("GIT_COMMITTER_NAME", "Gantry")
        .env("GIT_COMMITTER_EMAIL", "gantry@localhost")
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot make the merge commit of pull request #{number}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    output(
        git_dir,
        &["update-ref", &format!("refs/pull/{number}/merge"), &sha],
    )
    .await?;
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn commit(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        run(dir, &["add", "-A"]);
        run(dir, &["commit", "--quiet", "-m", message]);
        run(dir, &["rev-parse", "HEAD"])
    }

    #[tokio::test]
    async fn reads_workflows_changes_titles_and_merges() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path();
        run(work, &["init", "--quiet", "-b", "main"]);
        let first = commit(
            work,
            &[
                (".github/workflows/ci.yml", "on: push\n"),
                (".github/workflows/nested/x.yml", "ignored\n"),
                (".github/workflows/README.md", "not a workflow\n"),
                (".gantry/workflows/deploy.yaml", "on: workflow_dispatch\n"),
            ],
            "First commit\n\nbody",
        );
        let git_dir = git_dir_of(work).await.unwrap();
        assert!(git_dir.ends_with(".git"));
        let files = workflow_files(&git_dir, &first).await.unwrap();
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [".gantry/workflows/deploy.yaml", ".github/workflows/ci.yml"]
        );
        assert_eq!(files[1].1, "on: push\n");
        assert_eq!(
            commit_title(&git_dir, &first).await,
            ("First commit".into(), "t".into())
        );
        assert_eq!(resolve(&git_dir, "main").await.unwrap(), first);
        assert!(
            resolve(&git_dir, "nope")
                .await
                .unwrap_err()
                .contains("`nope`")
        );
        assert_eq!(head_branch(&git_dir).await.as_deref(), Some("main"));

        let second = commit(work, &[("src/lib.rs", "fn x() {}\n")], "Second");
        assert_eq!(
            changed_files(&git_dir, &first, &second).await,
            Some(vec!["src/lib.rs".to_string()])
        );
        assert_eq!(changed_files(&git_dir, ZERO_SHA, &second).await, None);
        assert_eq!(
            branches(&git_dir).await.unwrap(),
            [("main".to_string(), second.clone())]
        );

        // A pull request: a branch from `first`, merged onto `second`.
        run(work, &["checkout", "--quiet", "-b", "feature", &first]);
        let head = commit(work, &[("docs/a.md", "a\n")], "Docs");
        let merge = merge_commit(&git_dir, 7, &second, &head).await.unwrap();
        assert_eq!(resolve(&git_dir, "refs/pull/7/merge").await.unwrap(), merge);
        let parents = run(work, &["log", "-1", "--format=%P", &merge]);
        assert_eq!(parents, format!("{second} {head}"));
        let merged_files = run(work, &["ls-tree", "-r", "--name-only", &merge]);
        assert!(merged_files.contains("docs/a.md") && merged_files.contains("src/lib.rs"));

        // A conflict is reported as such.
        let conflict = commit(work, &[("src/lib.rs", "fn y() {}\n")], "Conflict");
        let err = merge_commit(&git_dir, 8, &second, &conflict)
            .await
            .unwrap_err();
        assert!(err.contains("conflicts"), "{err}");
    }

    #[tokio::test]
    async fn mirrors_a_remote_and_reports_ref_updates() {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin");
        std::fs::create_dir_all(&origin).unwrap();
        run(&origin, &["init", "--quiet", "-b", "main"]);
        let first = commit(&origin, &[("a", "1")], "one");
        let mirror = dir.path().join("mirror.git");
        let url = origin.to_string_lossy().into_owned();
        let updates = fetch(&mirror, &url, &[]).await.unwrap();
        assert_eq!(
            updates,
            [(
                "refs/heads/main".to_string(),
                ZERO_SHA.to_string(),
                first.clone()
            )]
        );
        assert!(fetch(&mirror, &url, &[]).await.unwrap().is_empty());
        let second = commit(&origin, &[("a", "2")], "two");
        run(&origin, &["tag", "v1"]);
        let updates = fetch(&mirror, &url, &[]).await.unwrap();
        assert_eq!(
            updates,
            [
                ("refs/heads/main".to_string(), first, second.clone()),
                ("refs/tags/v1".to_string(), ZERO_SHA.to_string(), second),
            ]
        );
        let err = fetch(&mirror, "/nonexistent/repo", &[]).await.unwrap_err();
        assert!(err.contains("reachable"), "{err}");
    }
}
