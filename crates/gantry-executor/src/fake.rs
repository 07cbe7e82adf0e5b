//! A scriptable executor for engine tests: never spawns a process, plays what
//! the process's environment asks for, and records every call.
//!
//! Each exec reads these variables from [`ProcessSpec::env`] (the last value
//! of a repeated name wins), and acts in this order:
//!
//! | variable | effect |
//! | --- | --- |
//! | `FAKE_SPAWN_ERROR=1` | fail like a missing program ([`ExecError::NotFound`]) |
//! | `FAKE_STDOUT=text` | write `text` to stdout, exactly (no newline added) |
//! | `FAKE_STDERR=text` | write `text` to stderr, exactly |
//! | `FAKE_APPEND_<VAR>=text` | append `text` and a newline to the file named by the variable `VAR` of the same environment, e.g. `FAKE_APPEND_GITHUB_OUTPUT=result=ok` |
//! | `FAKE_SLEEP_MS=50` | wait that long, honouring the timeout ([`Exit::TimedOut`]) and cancellation ([`Exit::Cancelled`]) |
//! | `FAKE_SIGNAL=9` | end as killed by that signal ([`Exit::Signal`]) |
//! | `FAKE_EXIT=3` | exit with that code (default 0) |
//!
//! Everything received is in [`FakeExecutor::log`].

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::{
    BoxFuture, ExecError, ExecLimits, Executor, Exit, JobRuntime, JobSpec, OutputSink, ProcessSpec,
    Stream,
};

/// What a [`FakeExecutor`] was asked to do, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeLog {
    /// Every job started, in order.
    pub jobs_started: Vec<JobSpec>,
    /// Every exec: the job's name and the process spec, in the order received.
    pub execs: Vec<(String, ProcessSpec)>,
    /// The names of the jobs finished, in order.
    pub jobs_finished: Vec<String>,
}

/// A scriptable executor; clones share one log.
#[derive(Debug, Clone, Default)]
pub struct FakeExecutor {
    log: Arc<Mutex<FakeLog>>,
}

impl FakeExecutor {
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot of everything received so far.
    pub fn log(&self) -> FakeLog {
        lock(&self.log).clone()
    }

    /// The process specs received so far, in order, across all jobs.
    pub fn execs(&self) -> Vec<ProcessSpec> {
        lock(&self.log)
            .execs
            .iter()
            .map(|(_, spec)| spec.clone())
            .collect()
    }
}

fn lock(log: &Mutex<FakeLog>) -> std::sync::MutexGuard<'_, FakeLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Executor for FakeExecutor {
    fn name(&self) -> &str {
        "fake"
    }

    fn start_job<'a>(
        &'a self,
        job: &'a JobSpec,
    ) -> BoxFuture<'a, Result<Box<dyn JobRuntime>, ExecError>> {
        Box::pin(async move {
            lock(&self.log).jobs_started.push(job.clone());
            let runtime: Box<dyn JobRuntime> = Box::new(FakeJob {
                name: job.job_name.clone(),
                log: Arc::clone(&self.log),
            });
            Ok(runtime)
        })
    }
}

struct FakeJob {
    name: String,
    log: Arc<Mutex<FakeLog>>,
}

impl JobRuntime for FakeJob {
    fn exec<'a>(
        &'a self,
        spec: ProcessSpec,
        sink: &'a mut dyn OutputSink,
        limits: ExecLimits,
    ) -> BoxFuture<'a, Result<Exit, ExecError>> {
        Box::pin(async move {
            lock(&self.log)
                .execs
                .push((self.name.clone(), spec.clone()));
            play(&spec, sink, limits).await
        })
    }

    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), ExecError>> {
        lock(&self.log).jobs_finished.push(self.name.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

fn var<'s>(spec: &'s ProcessSpec, name: &str) -> Option<&'s str> {
    spec.env
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn number<T: std::str::FromStr>(spec: &ProcessSpec, name: &str) -> Result<Option<T>, ExecError> {
    match var(spec, name) {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| ExecError::Spawn {
            program: spec.program.clone(),
            error: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("fake executor: {name}=`{text}` is not a number"),
            ),
        }),
    }
}

async fn play(
    spec: &ProcessSpec,
    sink: &mut dyn OutputSink,
    limits: ExecLimits,
) -> Result<Exit, ExecError> {
    if limits.cancel.is_cancelled() {
        return Ok(Exit::Cancelled);
    }
    if var(spec, "FAKE_SPAWN_ERROR").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err(ExecError::NotFound {
            program: spec.program.clone(),
        });
    }
    let exit_code: i32 = number(spec, "FAKE_EXIT")?.unwrap_or(0);
    let signal: Option<i32> = number(spec, "FAKE_SIGNAL")?;
    let sleep_ms: Option<u64> = number(spec, "FAKE_SLEEP_MS")?;

    if let Some(text) = var(spec, "FAKE_STDOUT") {
        sink.output(Stream::Stdout, text.as_bytes());
    }
    if let Some(text) = var(spec, "FAKE_STDERR") {
        sink.output(Stream::Stderr, text.as_bytes());
    }
    for (name, text) in &spec.env {
        let Some(target) = name.strip_prefix("FAKE_APPEND_") else {
            continue;
        };
        let Some(path) = var(spec, target) else {
            return Err(ExecError::Io {
                context: format!("fake executor: {name} is set but {target} is not"),
                error: io::Error::from(io::ErrorKind::NotFound),
            });
        };
        append_line(path, text).map_err(|error| ExecError::Io {
            context: format!("fake executor: cannot append to `{path}`"),
            error,
        })?;
    }

    if let Some(ms) = sleep_ms {
        let sleep = tokio::time::sleep(Duration::from_millis(ms));
        let timeout = async {
            match limits.timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            () = timeout => return Ok(Exit::TimedOut),
            () = limits.cancel.cancelled() => return Ok(Exit::Cancelled),
        }
    }
    Ok(match signal {
        Some(signal) => Exit::Signal(signal),
        None => Exit::Code(exit_code),
    })
}

fn append_line(path: &str, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CollectSink;
    use std::path::PathBuf;
    use tokio_util::sync::CancellationToken;

    fn spec(env: &[(&str, &str)]) -> ProcessSpec {
        ProcessSpec {
            program: "bash".into(),
            args: vec!["-e".into(), "script.sh".into()],
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: PathBuf::from("/nonexistent"),
        }
    }

    fn job(name: &str) -> JobSpec {
        JobSpec {
            job_name: name.into(),
            workspace: PathBuf::from("/nonexistent"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn plays_output_and_exit_code_and_records_calls() {
        let fake = FakeExecutor::new();
        let executor: Arc<dyn Executor> = Arc::new(fake.clone());
        let build = job("build");
        let runtime = executor.start_job(&build).await.unwrap();
        let mut sink = CollectSink::default();
        let first = spec(&[
            ("FAKE_STDOUT", "hello\n"),
            ("FAKE_STDERR", "oops\n"),
            ("FAKE_EXIT", "3"),
        ]);
        let exit = runtime
            .exec(first.clone(), &mut sink, ExecLimits::default())
            .await
            .unwrap();
        assert_eq!(exit, Exit::Code(3));
        assert_eq!(sink.text(Stream::Stdout), "hello\n");
        assert_eq!(sink.text(Stream::Stderr), "oops\n");
        let second = spec(&[("FAKE_SIGNAL", "9")]);
        let exit = runtime
            .exec(second.clone(), &mut sink, ExecLimits::default())
            .await
            .unwrap();
        assert_eq!(exit, Exit::Signal(9));
        runtime.finish().await.unwrap();

        let log = fake.log();
        assert_eq!(log.jobs_started, vec![build]);
        assert_eq!(
            log.execs,
            vec![
                ("build".to_owned(), first.clone()),
                ("build".to_owned(), second.clone())
            ]
        );
        assert_eq!(log.jobs_finished, vec!["build".to_owned()]);
        assert_eq!(fake.execs(), vec![first, second]);
    }

    #[tokio::test]
    async fn sleep_honours_timeout_and_cancel() {
        let fake = FakeExecutor::new();
        let runtime = fake.start_job(&job("j")).await.unwrap();
        let mut sink = CollectSink::default();
        let limits = ExecLimits {
            timeout: Some(Duration::from_millis(20)),
            cancel: CancellationToken::new(),
        };
        let exit = runtime
            .exec(spec(&[("FAKE_SLEEP_MS", "10000")]), &mut sink, limits)
            .await
            .unwrap();
        assert_eq!(exit, Exit::TimedOut);

        let cancel = CancellationToken::new();
        let limits = ExecLimits {
            timeout: None,
            cancel: cancel.clone(),
        };
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            cancel.cancel();
        });
        let exit = runtime
            .exec(spec(&[("FAKE_SLEEP_MS", "10000")]), &mut sink, limits)
            .await
            .unwrap();
        canceller.await.unwrap();
        assert_eq!(exit, Exit::Cancelled);

        let exit = runtime
            .exec(
                spec(&[("FAKE_SLEEP_MS", "5")]),
                &mut sink,
                ExecLimits::default(),
            )
            .await
            .unwrap();
        assert_eq!(exit, Exit::Code(0));
    }

    #[tokio::test]
    async fn appends_to_runner_files_and_reports_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("output");
        let output_str = output.to_str().unwrap();
        let fake = FakeExecutor::new();
        let runtime = fake.start_job(&job("j")).await.unwrap();
        let mut sink = CollectSink::default();
        let env = [
            ("GITHUB_OUTPUT", output_str),
            ("FAKE_APPEND_GITHUB_OUTPUT", "result=ok"),
        ];
        runtime
            .exec(spec(&env), &mut sink, ExecLimits::default())
            .await
            .unwrap();
        runtime
            .exec(spec(&env), &mut sink, ExecLimits::default())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "result=ok\nresult=ok\n"
        );

        let err = runtime
            .exec(
                spec(&[("FAKE_APPEND_GITHUB_ENV", "A=1")]),
                &mut sink,
                ExecLimits::default(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("GITHUB_ENV is not"), "{err}");

        let err = runtime
            .exec(
                spec(&[("FAKE_EXIT", "three")]),
                &mut sink,
                ExecLimits::default(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("FAKE_EXIT=`three`"), "{err}");

        let err = runtime
            .exec(
                spec(&[("FAKE_SPAWN_ERROR", "1")]),
                &mut sink,
                ExecLimits::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`bash` not found: install it or choose another `shell:`"
        );
    }
}
