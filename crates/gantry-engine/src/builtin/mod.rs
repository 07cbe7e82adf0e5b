//! Built-in actions: `actions/checkout`, `actions/cache` (+ `cache/restore`,
//! `cache/save`), `actions/upload-artifact`, `actions/download-artifact`,
//! `actions/setup-*` and the Docker image actions (`docker/metadata-action`,
//! `login-action`, `build-push-action`), run in-process with no download.

mod artifact;
mod cache;
mod checkout;
mod docker;
pub(crate) mod docker_meta;
mod inputs;
mod paths;
mod process;
mod rust;
mod setup;
mod storage;
mod version;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

/// Everything a built-in action may use. Paths are absolute.
pub struct BuiltinCtx<'a> {
    /// `with:` after expression evaluation (keys as written, e.g. `fetch-depth`).
    pub inputs: &'a IndexMap<String, String>,
    /// `$GITHUB_WORKSPACE` of the job.
    pub workspace: &'a Path,
    /// The local repository the run is for (source of `actions/checkout`).
    pub repo_dir: &'a Path,
    /// The commit and ref of the event.
    pub sha: &'a str,
    pub git_ref: &'a str,
    /// Per-run directory; artifacts live in `run_dir/artifacts/<name>/`.
    pub run_dir: &'a Path,
    /// Persistent cache store shared by runs (`actions/cache`).
    pub cache_dir: &'a Path,
    /// The step's full environment (PATH, HOME, RUNNER_TEMP, …).
    pub env: &'a IndexMap<String, String>,
    /// Writes one line to the step's log (the caller masks secrets).
    pub log: &'a mut (dyn FnMut(String) + Send),
    pub cancel: CancellationToken,
    /// The `github` context (event, repository) of the job.
    pub github: &'a serde_json::Value,
    /// Builds and pushes images, when the executor can.
    pub images: Option<&'a dyn gantry_executor::ImageService>,
    /// Registry credentials given by `docker/login-action` in this job, by
    /// registry host (`""` is Docker Hub).
    pub logins: &'a mut IndexMap<String, gantry_executor::Credentials>,
}

/// What a built-in action produced.
#[derive(Debug, Default)]
pub struct BuiltinOutcome {
    /// Step outputs (`steps.<id>.outputs.*`).
    pub outputs: IndexMap<String, String>,
    /// Work to do at the end of the job (like a JavaScript action's `post`).
    pub post: Option<PostAction>,
    /// Directories to prepend to PATH for later steps.
    pub add_path: Vec<PathBuf>,
    /// Environment variables for later steps.
    pub set_env: IndexMap<String, String>,
    /// Values to mask from now on (as `::add-mask::` does).
    pub masks: Vec<String>,
}

/// A job-end action scheduled by a built-in action.
#[derive(Debug, Clone)]
pub enum PostAction {
    /// `actions/cache`: save `paths` under `key` unless the key was an exact hit.
    CacheSave { key: String, paths: Vec<String> },
}

/// Whether `uses` (e.g. `actions/checkout@v4`) names a built-in action.
pub fn is_builtin(uses: &str) -> bool {
    lookup(uses).is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Checkout,
    Cache,
    CacheRestore,
    CacheSave,
    UploadArtifact,
    DownloadArtifact,
    Setup(&'static str),
    DockerMetadata,
    DockerLogin,
    DockerBuildPush,
    DockerSetup,
}

fn lookup(uses: &str) -> Option<Builtin> {
    let name = uses.split('@').next()?.to_ascii_lowercase();
    Some(match name.as_str() {
        "actions/checkout" => Builtin::Checkout,
        "actions/cache" => Builtin::Cache,
        "actions/cache/restore" => Builtin::CacheRestore,
        "actions/cache/save" => Builtin::CacheSave,
        "actions/upload-artifact" => Builtin::UploadArtifact,
        "actions/download-artifact" => Builtin::DownloadArtifact,
        "actions/setup-node" => Builtin::Setup("node"),
        "actions/setup-python" => Builtin::Setup("python"),
        "actions/setup-go" => Builtin::Setup("go"),
        "actions/setup-java" => Builtin::Setup("java"),
        "actions/setup-dotnet" => Builtin::Setup("dotnet"),
        "dtolnay/rust-toolchain"
        | "actions-rs/toolchain"
        | "actions-rust-lang/setup-rust-toolchain" => Builtin::Setup("rust"),
        "docker/metadata-action" => Builtin::DockerMetadata,
        "docker/login-action" => Builtin::DockerLogin,
        "docker/build-push-action" => Builtin::DockerBuildPush,
        "docker/setup-buildx-action" | "docker/setup-qemu-action" => Builtin::DockerSetup,
        _ => return None,
    })
}

/// Runs a built-in action. `None` when `uses` is not built in; `Some(Err)`
/// carries a message that says what went wrong and what to do.
pub async fn run(uses: &str, ctx: &mut BuiltinCtx<'_>) -> Option<Result<BuiltinOutcome, String>> {
    let builtin = lookup(uses)?;
    if ctx.cancel.is_cancelled() {
        return Some(Err(process::CANCELLED.to_string()));
    }
    Some(match builtin {
        Builtin::Checkout => checkout::run(ctx).await,
        Builtin::Cache => cache::run_cache(ctx).await,
        Builtin::CacheRestore => cache::run_restore(ctx).await,
        Builtin::CacheSave => cache::run_save(ctx).await,
        Builtin::UploadArtifact => artifact::upload(ctx).await,
        Builtin::DownloadArtifact => artifact::download(ctx).await,
        Builtin::Setup(tool) => setup::run(tool, uses, ctx).await,
        Builtin::DockerMetadata => docker::metadata(ctx),
        Builtin::DockerLogin => docker::login(ctx).await,
        Builtin::DockerBuildPush => docker::build_push(ctx).await,
        Builtin::DockerSetup => Ok(docker::setup(uses, ctx)),
    })
}

/// Runs a post action at the end of a job.
pub async fn run_post(post: &PostAction, ctx: &mut BuiltinCtx<'_>) -> Result<(), String> {
    if ctx.cancel.is_cancelled() {
        return Err(process::CANCELLED.to_string());
    }
    match post {
        PostAction::CacheSave { key, paths } => cache::save(ctx, key, paths).await,
    }
}

#[cfg(test)]
mod tests_support {
    //! A scratch repository, workspace, run and cache directory for tests.

    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::{Arc, Mutex};

    use indexmap::IndexMap;
    use tokio_util::sync::CancellationToken;

    use super::{BuiltinCtx, BuiltinOutcome, PostAction};

    /// Runs git in `dir` with a fixed identity; returns stdout.
    pub fn git_in(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub struct Harness {
        _tmp: tempfile::TempDir,
        pub root: PathBuf,
        pub repo: PathBuf,
        pub workspace: PathBuf,
        pub run_dir: PathBuf,
        pub cache_dir: PathBuf,
        pub home: PathBuf,
        pub env: IndexMap<String, String>,
        logs: Arc<Mutex<Vec<String>>>,
    }

    impl Harness {
        pub fn new() -> Harness {
            let tmp = tempfile::tempdir().expect("temp dir");
            let root = std::fs::canonicalize(tmp.path()).expect("canonical temp dir");
            let (repo, workspace, run_dir, cache_dir, home) = (
                root.join("repo"),
                root.join("work/ws"),
                root.join("run"),
                root.join("cache"),
                root.join("home"),
            );
            for dir in [&repo, &workspace, &run_dir, &home] {
                std::fs::create_dir_all(dir).expect("create dir");
            }
            let mut env: IndexMap<String, String> = std::env::vars().collect();
            env.insert("HOME".to_string(), home.to_string_lossy().into_owned());
            if let Ok(real_home) = std::env::var("HOME") {
                // Tools installed per user (pyenv, rustup) stay reachable.
                for (var, sub) in [
                    ("PYENV_ROOT", ".pyenv"),
                    ("RUSTUP_HOME", ".rustup"),
                    ("CARGO_HOME", ".cargo"),
                ] {
                    if !env.contains_key(var) && Path::new(&real_home).join(sub).exists() {
                        env.insert(var.to_string(), format!("{real_home}/{sub}"));
                    }
                }
            }
            env.insert("GITHUB_REPOSITORY".to_string(), "me/repo".to_string());
            env.insert(
                "RUNNER_TEMP".to_string(),
                run_dir.join("tmp").to_string_lossy().into_owned(),
            );
            env.insert("GITHUB_RUN_ID".to_string(), "7".to_string());
            Harness {
                _tmp: tmp,
                root,
                repo,
                workspace,
                run_dir,
                cache_dir,
                home,
                env,
                logs: Arc::default(),
            }
        }

        pub fn logs(&self) -> Vec<String> {
            self.logs.lock().expect("log lock").clone()
        }

        pub async fn run(
            &self,
            uses: &str,
            inputs: &IndexMap<String, String>,
            sha: &str,
            git_ref: &str,
        ) -> Result<BuiltinOutcome, String> {
            self.run_full(uses, inputs, sha, git_ref, &self.env).await
        }

        pub async fn run_with_env(
            &self,
            uses: &str,
            inputs: &IndexMap<String, String>,
            env: &IndexMap<String, String>,
        ) -> Result<BuiltinOutcome, String> {
            self.run_full(uses, inputs, "", "", env).await
        }

        async fn run_full(
            &self,
            uses: &str,
            inputs: &IndexMap<String, String>,
            sha: &str,
            git_ref: &str,
            env: &IndexMap<String, String>,
        ) -> Result<BuiltinOutcome, String> {
            let logs = self.logs.clone();
            let mut log = move |line: String| logs.lock().expect("log lock").push(line);
            let mut ctx = BuiltinCtx {
                inputs,
                workspace: &self.workspace,
                repo_dir: &self.repo,
                sha,
                git_ref,
                run_dir: &self.run_dir,
                cache_dir: &self.cache_dir,
                env,
                log: &mut log,
                cancel: CancellationToken::new(),
                github: &serde_json::Value::Null,
                images: None,
                logins: &mut IndexMap::new(),
            };
            super::run(uses, &mut ctx).await.expect("a built-in action")
        }

        pub async fn run_post(&self, post: &PostAction) -> Result<(), String> {
            let logs = self.logs.clone();
            let mut log = move |line: String| logs.lock().expect("log lock").push(line);
            let inputs = IndexMap::new();
            let mut ctx = BuiltinCtx {
                inputs: &inputs,
                workspace: &self.workspace,
                repo_dir: &self.repo,
                sha: "",
                git_ref: "",
                run_dir: &self.run_dir,
                cache_dir: &self.cache_dir,
                env: &self.env,
                log: &mut log,
                cancel: CancellationToken::new(),
                github: &serde_json::Value::Null,
                images: None,
                logins: &mut IndexMap::new(),
            };
            super::run_post(post, &mut ctx).await
        }
    }
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::tests_support::Harness;
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn recognizes_builtins() {
        assert!(is_builtin("actions/checkout@v4"));
        assert!(is_builtin("Actions/Cache/Restore@v4"));
        assert!(is_builtin("dtolnay/rust-toolchain@stable"));
        assert!(!is_builtin("actions/github-script@v7"));
    }

    #[tokio::test]
    async fn futures_are_send_and_unknown_actions_are_none() {
        let h = Harness::new();
        let inputs = IndexMap::new();
        let mut log = |_line: String| {};
        let mut ctx = BuiltinCtx {
            inputs: &inputs,
            workspace: &h.workspace,
            repo_dir: &h.repo,
            sha: "",
            git_ref: "",
            run_dir: &h.run_dir,
            cache_dir: &h.cache_dir,
            env: &h.env,
            log: &mut log,
            cancel: CancellationToken::new(),
            github: &serde_json::Value::Null,
            images: None,
            logins: &mut IndexMap::new(),
        };
        {
            let future = run("actions/upload-artifact@v4", &mut ctx);
            assert_send(&future);
        }
        assert!(run("someone/else@v1", &mut ctx).await.is_none());
        ctx.cancel.cancel();
        let cancelled = run("actions/checkout@v4", &mut ctx)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(cancelled, "cancelled");
        let post = PostAction::CacheSave {
            key: "k".to_string(),
            paths: vec!["x".to_string()],
        };
        {
            let future = run_post(&post, &mut ctx);
            assert_send(&future);
        }
    }

    #[tokio::test]
    async fn unexpected_inputs_are_warned_about() {
        let h = Harness::new();
        let mut inputs = IndexMap::new();
        inputs.insert("path".to_string(), "x".to_string());
        inputs.insert("nmae".to_string(), "typo".to_string());
        h.run("actions/upload-artifact@v4", &inputs, "", "")
            .await
            .unwrap();
        assert!(
            h.logs()
                .iter()
                .any(|l| l.contains("unexpected input `nmae`")),
            "{:?}",
            h.logs()
        );
    }
}
