//! Integration tests of the host executor: real processes, real signals, and
//! /proc checks that killed process trees are really gone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_executor::{
    CollectSink, ExecError, ExecLimits, Executor, Exit, HostExecutor, JobRuntime, JobSpec,
    ProcessSpec, Stream,
};
use tokio_util::sync::CancellationToken;

const GRACE: Duration = Duration::from_millis(300);

fn executor() -> Arc<dyn Executor> {
    Arc::new(HostExecutor::new().with_grace(GRACE))
}

fn path_env() -> Vec<(String, String)> {
    vec![("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned())]
}

fn sh(script: &str, cwd: &Path) -> ProcessSpec {
    ProcessSpec {
        program: "sh".to_owned(),
        args: vec!["-c".to_owned(), script.to_owned()],
        env: path_env(),
        cwd: cwd.to_path_buf(),
    }
}

async fn start(executor: &Arc<dyn Executor>, workspace: &Path) -> Box<dyn JobRuntime> {
    let job = JobSpec {
        job_name: "test".to_owned(),
        workspace: workspace.to_path_buf(),
        ..Default::default()
    };
    executor.start_job(&job).await.expect("start job")
}

async fn run(
    runtime: &dyn JobRuntime,
    spec: ProcessSpec,
    limits: ExecLimits,
) -> (Result<Exit, ExecError>, CollectSink) {
    let mut sink = CollectSink::default();
    let result = runtime.exec(spec, &mut sink, limits).await;
    (result, sink)
}

/// The pgid a script printed as its first line (`echo $$`).
fn first_line_pid(sink: &CollectSink) -> i32 {
    let text = sink.text(Stream::Stdout);
    let line = text.lines().next().unwrap_or_default();
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid in output {text:?}"))
}

/// Live (non-zombie) processes whose process group is `pgid`.
fn live_members(pgid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may contain anything, so
        // parse after the last ')'.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(state), Some(pgrp)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        if *state != "Z" && *state != "X" && pgrp.parse::<i32>().ok() == Some(pgid) {
            found.push(pid);
        }
    }
    found
}

/// Wait (bounded) until no live process of the group is left.
async fn assert_group_gone(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = live_members(pgid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of group {pgid} survived: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn timeout(after: Duration) -> ExecLimits {
    ExecLimits {
        timeout: Some(after),
        cancel: CancellationToken::new(),
    }
}

#[tokio::test]
async fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    for (script, expected) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("false", 1),
    ] {
        let (result, _) = run(&*runtime, sh(script, dir.path()), ExecLimits::default()).await;
        assert_eq!(result.unwrap(), Exit::Code(expected), "{script}");
    }
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn killed_by_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let (result, _) = run(
        &*runtime,
        sh("kill -9 $$", dir.path()),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::Signal(9));
    let (result, _) = run(
        &*runtime,
        sh("kill -TERM $$", dir.path()),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::Signal(15));
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn environment_is_exactly_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let spec = ProcessSpec {
        program: "env".to_owned(),
        args: Vec::new(),
        env: vec![
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
            ("GREETING".to_owned(), "hello world".to_owned()),
        ],
        cwd: dir.path().to_path_buf(),
    };
    let (result, sink) = run(&*runtime, spec, ExecLimits::default()).await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    let text = sink.text(Stream::Stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["GREETING=hello world", "PATH=/usr/bin:/bin"]);
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn working_directory_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub dir");
    std::fs::create_dir(&sub).unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    // stdin is /dev/null: `cat` ends at once instead of waiting for input.
    let (result, sink) = run(&*runtime, sh("pwd; cat", &sub), ExecLimits::default()).await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    let expected = std::fs::canonicalize(&sub).unwrap();
    assert_eq!(
        PathBuf::from(sink.text(Stream::Stdout).trim_end()),
        expected
    );
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn stdout_and_stderr_interleave_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let script = "echo o1; sleep 0.05; echo e1 >&2; sleep 0.05; echo o2; sleep 0.05; echo e2 >&2";
    let (result, sink) = run(&*runtime, sh(script, dir.path()), ExecLimits::default()).await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    assert_eq!(
        sink.chunks,
        vec![
            (Stream::Stdout, b"o1\n".to_vec()),
            (Stream::Stderr, b"e1\n".to_vec()),
            (Stream::Stdout, b"o2\n".to_vec()),
            (Stream::Stderr, b"e2\n".to_vec()),
        ]
    );
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn large_output_arrives_complete() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let script = "head -c 5000000 /dev/zero; head -c 3000000 /dev/zero >&2";
    let (result, sink) = run(&*runtime, sh(script, dir.path()), ExecLimits::default()).await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    assert_eq!(sink.bytes(Stream::Stdout).len(), 5_000_000);
    assert_eq!(sink.bytes(Stream::Stderr).len(), 3_000_000);
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn timeout_kills_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let script = r#"echo $$; sh -c "sleep 1000" & sleep 1000"#;
    let started = Instant::now();
    let (result, sink) = run(
        &*runtime,
        sh(script, dir.path()),
        timeout(Duration::from_millis(200)),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_group_gone(first_line_pid(&sink)).await;
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn processes_ignoring_sigterm_get_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    // The ignored disposition is inherited by every child.
    let script =
        r#"trap "" TERM; echo $$; sh -c "sleep 1000" & sleep 1000 > /dev/null 2>&1 & wait"#;
    let started = Instant::now();
    let (result, sink) = run(
        &*runtime,
        sh(script, dir.path()),
        timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::TimedOut);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100) + GRACE, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_group_gone(first_line_pid(&sink)).await;
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn background_processes_ignoring_sigterm_get_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    // The main shell dies on SIGTERM at once; the background one ignores it
    // and no longer holds the pipes.
    let script = r#"echo $$; (trap "" TERM; sleep 1000) > /dev/null 2>&1 & sleep 1000"#;
    let started = Instant::now();
    let (result, sink) = run(
        &*runtime,
        sh(script, dir.path()),
        timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::TimedOut);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100) + GRACE, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_group_gone(first_line_pid(&sink)).await;
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn cancel_kills_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let cancel = CancellationToken::new();
    let limits = ExecLimits {
        timeout: Some(Duration::from_secs(60)),
        cancel: cancel.clone(),
    };
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let script = r#"echo $$; sh -c 'sh -c "sleep 1000" & sleep 1000' & sleep 1000"#;
    let started = Instant::now();
    let (result, sink) = run(&*runtime, sh(script, dir.path()), limits).await;
    canceller.await.unwrap();
    assert_eq!(result.unwrap(), Exit::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_group_gone(first_line_pid(&sink)).await;
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn already_cancelled_spawns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let marker = dir.path().join("ran");
    let script = format!("touch '{}'", marker.display());
    let limits = ExecLimits {
        timeout: None,
        cancel,
    };
    let (result, _) = run(&*runtime, sh(&script, dir.path()), limits).await;
    assert_eq!(result.unwrap(), Exit::Cancelled);
    assert!(!marker.exists());
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn background_process_survives_until_finish() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let script = "echo $$; sleep 1000 > /dev/null 2>&1 &";
    let (result, sink) = run(&*runtime, sh(script, dir.path()), ExecLimits::default()).await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    let pgid = first_line_pid(&sink);
    assert_eq!(live_members(pgid).len(), 1, "the background sleep runs");

    // A later step of the same job does not disturb it.
    let (result, _) = run(&*runtime, sh("true", dir.path()), ExecLimits::default()).await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    assert_eq!(
        live_members(pgid).len(),
        1,
        "the background sleep still runs"
    );

    runtime.finish().await.unwrap();
    assert_group_gone(pgid).await;
}

#[tokio::test]
async fn dropping_the_job_kills_background_processes_too() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let (result, sink) = run(
        &*runtime,
        sh("echo $$; sleep 1000 > /dev/null 2>&1 &", dir.path()),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    let pgid = first_line_pid(&sink);
    drop(runtime);
    assert_group_gone(pgid).await;
}

#[tokio::test]
async fn draining_does_not_wait_for_background_processes_holding_the_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let started = Instant::now();
    let (result, sink) = run(
        &*runtime,
        sh("echo $$; sleep 1000 &", dir.path()),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let pgid = first_line_pid(&sink);
    runtime.finish().await.unwrap();
    assert_group_gone(pgid).await;
}

#[tokio::test]
async fn draining_forwards_output_written_after_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let (result, sink) = run(
        &*runtime,
        sh("(sleep 0.02; echo late) & echo early", dir.path()),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(result.unwrap(), Exit::Code(0));
    assert_eq!(sink.text(Stream::Stdout), "early\nlate\n");
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn missing_program_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    let spec = ProcessSpec {
        program: "pwsh-not-installed".to_owned(),
        args: vec!["-command".to_owned(), "1".to_owned()],
        env: path_env(),
        cwd: dir.path().to_path_buf(),
    };
    let (result, _) = run(&*runtime, spec, ExecLimits::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ExecError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "`pwsh-not-installed` not found: install it or choose another `shell:`"
    );

    let missing = dir.path().join("missing");
    let (result, _) = run(&*runtime, sh("true", &missing), ExecLimits::default()).await;
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "working directory `{}` does not exist: create it in an earlier step or fix `working-directory:`",
            missing.display()
        )
    );

    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let spec = ProcessSpec {
        program: script.display().to_string(),
        args: Vec::new(),
        env: path_env(),
        cwd: dir.path().to_path_buf(),
    };
    let (result, _) = run(&*runtime, spec, ExecLimits::default()).await;
    assert!(
        matches!(result, Err(ExecError::PermissionDenied { .. })),
        "{result:?}"
    );
    runtime.finish().await.unwrap();
}

#[tokio::test]
async fn containers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let job = JobSpec {
        job_name: "build".to_owned(),
        workspace: dir.path().to_path_buf(),
        container: Some(gantry_executor::ContainerSpec {
            image: "node:20".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = match executor.start_job(&job).await {
        Ok(_) => panic!("a container job started on the host executor"),
        Err(err) => err,
    };
    assert_eq!(
        err.to_string(),
        "job `build` (container `node:20`) needs Docker, which the host executor does not have: run gantry where a Docker engine is reachable, or remove `container:`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_execs_in_concurrent_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let mut tasks = Vec::new();
    for job in 0..8 {
        let executor = Arc::clone(&executor);
        let workspace = dir.path().join(format!("job{job}"));
        tasks.push(tokio::spawn(async move {
            let runtime = start(&executor, &workspace).await;
            for step in 0..5 {
                let script = format!("echo job{job} step{step}; exit {step}");
                let (result, sink) =
                    run(&*runtime, sh(&script, &workspace), ExecLimits::default()).await;
                assert_eq!(result.unwrap(), Exit::Code(step));
                assert_eq!(sink.text(Stream::Stdout), format!("job{job} step{step}\n"));
            }
            runtime.finish().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn programs_are_found_on_the_processs_own_path_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let executor = executor();
    let runtime = start(&executor, dir.path()).await;
    // Two tools of the same name: the first PATH entry wins, a
    // non-executable file is skipped, and a relative entry is relative to
    // the process's working directory.
    for (sub, body, mode) in [
        ("first", "echo first", 0o755),
        ("second", "echo second", 0o755),
        ("plain", "echo not-executable", 0o644),
    ] {
        let bin = dir.path().join(sub);
        std::fs::create_dir_all(&bin).unwrap();
        let tool = bin.join("gantry-test-tool");
        std::fs::write(&tool, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    }
    let cases = [
        ("plain:first:second:/usr/bin:/bin", "first\n"),
        ("second:first:/usr/bin:/bin", "second\n"),
        (
            &*format!("{}:/usr/bin:/bin", dir.path().join("second").display()),
            "second\n",
        ),
    ];
    for (path, expected) in cases {
        let spec = ProcessSpec {
            program: "gantry-test-tool".to_owned(),
            args: Vec::new(),
            env: vec![("PATH".to_owned(), path.to_owned())],
            cwd: dir.path().to_path_buf(),
        };
        let (result, sink) = run(&*runtime, spec, ExecLimits::default()).await;
        assert_eq!(result.unwrap(), Exit::Code(0), "PATH={path}");
        assert_eq!(sink.text(Stream::Stdout), expected, "PATH={path}");
    }
    runtime.finish().await.unwrap();
}
