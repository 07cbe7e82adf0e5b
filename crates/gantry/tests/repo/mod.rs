//! A scratch git repository for the action, reusable-workflow and command
//! line tests: files written and committed through the `git` CLI, and the
//! real `gantry` binary run in it (`-C repo`) with its own `GANTRY_HOME`.
//!
//! Each test crate that includes it uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

/// A temporary repository on `main` plus a Gantry home for its runs.
pub struct TestRepo {
    root: TempDir,
    home: TempDir,
}

/// What one `gantry` invocation did.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// stdout and stderr together, for looking for a message wherever it went.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The `--json` events (one object per stdout line).
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }

    /// Asserts the exit code, showing everything the command printed if not.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Outcome {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stdout or stderr contains `needle`.
    #[track_caller]
    pub fn expect_text(&self, needle: &str) -> &Outcome {
        assert!(
            self.all().contains(needle),
            "expected {needle:?} in the output\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that neither stdout nor stderr contains `needle`.
    #[track_caller]
    pub fn refute_text(&self, needle: &str) -> &Outcome {
        assert!(
            !self.all().contains(needle),
            "did not expect {needle:?} in the output\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl TestRepo {
    /// A fresh repository with no commit.
    pub fn new() -> TestRepo {
        let repo = TestRepo {
            root: tempfile::tempdir().expect("temp dir"),
            home: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Fixture"]);
        repo.git(&["config", "user.email", "fixture@example.com"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo.git(&["config", "tag.gpgsign", "false"]);
        repo
    }

    /// A repository whose first commit holds `files` (path, content).
    pub fn with(files: &[(&str, &str)]) -> TestRepo {
        let repo = TestRepo::new();
        for (path, content) in files {
            repo.write(path, content);
        }
        repo.commit("init");
        repo
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The Gantry home (`GANTRY_HOME`) of this repository's runs.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Writes a file (creating its directories); not committed.
    pub fn write(&self, rel: &str, content: &str) -> &TestRepo {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
        std::fs::write(&path, content).expect("write");
        self
    }

    /// Commits everything; returns the new HEAD.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs git in the repository; returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs `gantry ARGS` in this repository.
    pub fn gantry(&self, args: &[&str]) -> Outcome {
        gantry_in(self.path(), self.home(), args)
    }
}

/// Runs the real `gantry` binary with `-C dir` and `GANTRY_HOME=home`.
pub fn gantry_in(dir: &Path, home: &Path, args: &[&str]) -> Outcome {
    let output = assert_cmd::Command::cargo_bin("gantry")
        .expect("the gantry binary")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GANTRY_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("gantry runs");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The real-world workflow corpus (`shared/corpus/gha`), when present.
pub fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/gha");
    dir.is_dir().then_some(dir)
}

/// The `output` lines a job printed in a `--json` run, in order.
pub fn job_output(events: &[Value], job: &str) -> Vec<String> {
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "output" && e["job"] == job)
        .map(|e| e["text"].as_str().unwrap_or_default())
        .collect();
    text.lines().map(str::to_string).collect()
}

/// The result of a job (`job_finished` or `job_skipped`) in a `--json` run.
pub fn job_result(events: &[Value], job: &str) -> String {
    events
        .iter()
        .find_map(|e| match e["type"].as_str() {
            Some("job_finished") if e["job"] == job => e["result"].as_str().map(str::to_string),
            Some("job_skipped") if e["job"] == job => Some("skipped".to_string()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no result for job `{job}` in {events:#?}"))
}

/// Every error annotation's message of a job.
pub fn job_errors(events: &[Value], job: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "annotation" && e["job"] == job && e["level"] == "error")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `(name, outcome)` of every finished step of a job, in order.
pub fn job_steps(events: &[Value], job: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["type"] == "step_finished" && e["job"] == job)
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
