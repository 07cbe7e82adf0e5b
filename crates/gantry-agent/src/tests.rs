//! The agent on real workflow files in a real git repository, with the host executor.

use std::path::Path;
use std::sync::Arc;

use gantry_api::{AgentEvent, Conclusion, Lease, RunRequest};
use gantry_executor::HostExecutor;
use tokio_util::sync::CancellationToken;

use super::*;

fn git(dir: &Path, args: &[&str]) -> String {
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

/// A repository with one commit holding `files`; returns its sha.
fn repo(dir: &Path, files: &[(&str, &str)]) -> String {
    git(dir, &["init", "--quiet", "-b", "main"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", "first"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn request(git_dir: &Path, sha: &str, workflow_file: &str) -> RunRequest {
    RunRequest {
        run_id: 7,
        run_number: 3,
        attempt: 1,
        repository: "acme/widget".into(),
        git_dir: git_dir.to_path_buf(),
        sha: sha.into(),
        git_ref: "refs/heads/main".into(),
        event_name: "push".into(),
        action: None,
        base_ref: None,
        head_ref: None,
        schedule: None,
        changed_files: None,
        inputs: Default::default(),
        payload: serde_json::json!({"ref": "refs/heads/main"}),
        actor: "alice".into(),
        workflow_file: workflow_file.into(),
        secrets: vec![("TOKEN".into(), "hunter2-very-secret".into())],
        vars: Default::default(),
        only_jobs: vec![],
        carried: vec![],
    }
}

fn execute_all(request: RunRequest, work: &Path) -> Vec<AgentEvent> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = AgentConfig {
        work_dir: work.join("work"),
        cache_dir: work.join("cache"),
        actions_dirs: vec![],
        max_parallel: 2,
        host_env: std::env::vars()
            .filter(|(k, _)| k == "PATH" || k == "HOME")
            .collect(),
        executor: Arc::new(HostExecutor::new()),
        scratch_dir: work.join("scratch"),
        artifacts_dir: work.join("artifacts"),
    };
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let lease = Lease {
            request,
            events: tx,
            cancel: CancellationToken::new(),
            abort: CancellationToken::new(),
        };
        let run = execute(&config, lease);
        let collect = async {
            let mut all = Vec::new();
            while let Some(event) = rx.recv().await {
                all.push(event);
            }
            all
        };
        let ((), all) = tokio::join!(run, collect);
        all
    })
}

fn log_of(events: &[AgentEvent], job: &str) -> String {
    let mut text = Vec::new();
    for e in events {
        if let AgentEvent::Log { key, data } = e
            && key == job
        {
            text.extend_from_slice(data);
        }
    }
    String::from_utf8(text).unwrap()
}

#[test]
fn runs_the_workflow_of_the_commit_and_reports_jobs_steps_and_logs() {
    let repo_dir = tempfile::tempdir().unwrap();
    let sha = repo(
        repo_dir.path(),
        &[(
            ".github/workflows/ci.yml",
            r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: Greet
        run: |
          echo "::group::Details"
          echo "hello from $GITHUB_SHA"
          echo "::endgroup::"
          echo "token is ${{ secrets.TOKEN }}"
          echo "::warning file=src/a.rs,line=3::look here"
          mkdir dist && echo binary > dist/app
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: dist/
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: cat README.md || echo no-checkout
"#,
        )],
    );
    let work = tempfile::tempdir().unwrap();
    let events = execute_all(
        request(repo_dir.path(), &sha, ".github/workflows/ci.yml"),
        work.path(),
    );

    assert!(
        matches!(events.first(), Some(AgentEvent::Planned { jobs }) if jobs.len() == 2 && jobs[1].needs == ["build"])
    );
    assert_eq!(
        events.last(),
        Some(&AgentEvent::RunFinished {
            conclusion: Conclusion::Success
        })
    );
    let build = log_of(&events, "build");
    assert!(build.contains("##[step]0 Greet\n"), "{build}");
    assert!(build.contains("##[group]Details\n"), "{build}");
    assert!(build.contains(&format!("hello from {sha}\n")), "{build}");
    assert!(build.contains("##[endgroup]\n"), "{build}");
    assert!(build.contains("token is ***\n"), "{build}");
    assert!(!build.contains("hunter2"), "{build}");
    assert!(
        build.contains("##[warning]src/a.rs:3: look here\n"),
        "{build}"
    );
    assert!(events.iter().any(|e| matches!(e, AgentEvent::Annotation { key, annotation } if key == "build" && annotation.level == "warning")));
    // Jobs finish in order, each after its steps.
    let order: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::JobStarted { key, .. } => Some(format!("start {key}")),
            AgentEvent::StepFinished {
                key,
                index,
                conclusion,
            } => Some(format!("step {key} {index} {}", conclusion.as_str())),
            AgentEvent::JobFinished {
                key, conclusion, ..
            } => Some(format!("end {key} {}", conclusion.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "start build",
            "step build 0 success",
            "step build 1 success",
            "end build success",
            "start test",
            "step test 0 success",
            "end test success"
        ]
    );
    // The artifact is kept for the server; the run's directories are gone.
    assert_eq!(
        std::fs::read_to_string(work.path().join("artifacts/7/app/app")).unwrap(),
        "binary\n"
    );
    assert_eq!(
        std::fs::read_dir(work.path().join("work")).unwrap().count(),
        0
    );
}

#[test]
fn an_invalid_workflow_fails_the_run_with_every_error_located() {
    let repo_dir = tempfile::tempdir().unwrap();
    let sha = repo(
        repo_dir.path(),
        &[(
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    stepz: []\n",
        )],
    );
    let work = tempfile::tempdir().unwrap();
    let events = execute_all(
        request(repo_dir.path(), &sha, ".github/workflows/ci.yml"),
        work.path(),
    );
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::RunLog { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(".github/workflows/ci.yml:5:5") && m.contains("stepz")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("invalid workflow file")),
        "{messages:?}"
    );
    assert_eq!(
        events.last(),
        Some(&AgentEvent::RunFinished {
            conclusion: Conclusion::Failure
        })
    );
}

#[test]
fn a_commit_that_is_not_there_fails_with_the_reason() {
    let repo_dir = tempfile::tempdir().unwrap();
    repo(repo_dir.path(), &[("README.md", "hi\n")]);
    let work = tempfile::tempdir().unwrap();
    let events = execute_all(
        request(
            repo_dir.path(),
            "0123456789012345678901234567890123456789",
            ".github/workflows/ci.yml",
        ),
        work.path(),
    );
    assert!(
        matches!(&events[0], AgentEvent::RunLog { message } if message.contains("cannot be checked out")),
        "{events:?}"
    );
    assert_eq!(events.len(), 2);
}
