//! The `process` target with real processes: the supervisor starting, restarting and stopping
//! instances of the demo application (and of small shell scripts where a behaviour is easier to
//! provoke there), and the health checks against them.

use std::time::{Duration, Instant};

use gantry_deploy::model::HealthCheck;
use gantry_rollout::{
    Backoff, Event, Exit, Instance, InstanceId, InstanceSpec, Outcome, Reason, State, Supervisor,
    SupervisorConfig, SupervisorError, check, wait_healthy,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

const DEMO: &str = env!("CARGO_BIN_EXE_gantry-demo-app");
const PATIENCE: Duration = Duration::from_secs(15);

/// With `exec` the application itself leads its group, so its own exit status is recorded
/// (dash keeps a shell between otherwise).
fn demo() -> String {
    format!("exec '{DEMO}'")
}

fn fast() -> SupervisorConfig {
    SupervisorConfig {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(60),
        },
        ..SupervisorConfig::default()
    }
}

fn health(retries: u32) -> HealthCheck {
    HealthCheck {
        path: "/health".into(),
        status: 200,
        timeout: Duration::from_secs(1),
        retries,
        interval: Duration::from_millis(50),
    }
}

fn spec(version: &str, command: impl Into<String>) -> InstanceSpec {
    InstanceSpec::new(version, command, env!("CARGO_MANIFEST_DIR"))
}

/// The next event of `instance` that `wanted` accepts; the others of it are returned too.
async fn wait_for(
    events: &mut broadcast::Receiver<Event>,
    instance: InstanceId,
    wanted: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.recv().await.expect("the event channel works");
            if event.instance() != instance {
                continue;
            }
            let done = wanted(&event);
            seen.push(event);
            if done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no such event for instance {instance}; saw {seen:?}"));
    seen
}

async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plain HTTP/1.1 GET: (status, body).
async fn get(instance: &Instance, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(instance.addr())
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// Whether a process runs (a zombie does not count).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn two_instances_run_on_their_own_ports_and_pass_their_health_checks() {
    let supervisor = Supervisor::new(fast());
    let a = supervisor.start(spec("v1", demo())).unwrap();
    let b = supervisor.start(spec("v1", demo())).unwrap();
    assert_ne!(a.port, b.port);
    for instance in [&a, &b] {
        let result = wait_healthy(&supervisor, instance.id, &health(50))
            .await
            .unwrap_or_else(|failure| panic!("{failure}"));
        assert!(result.healthy);
        assert_eq!(
            result.attempts.last().unwrap().outcome,
            Outcome::Status(200)
        );
        let (status, body) = get(instance, "/").await;
        assert_eq!(
            (status, body),
            (200, format!("hello from v1 (instance {})\n", instance.id))
        );
    }
    until("both instances to be running", || {
        supervisor
            .list()
            .iter()
            .all(|i| i.state == State::Running && i.pid.is_some() && i.restarts == 0)
    })
    .await;
    assert_eq!(supervisor.list().len(), 2);
}

#[tokio::test]
async fn an_instance_killed_with_sigkill_is_restarted_and_announced() {
    let supervisor = Supervisor::new(fast());
    let instance = supervisor.start(spec("v1", demo())).unwrap();
    wait_healthy(&supervisor, instance.id, &health(50))
        .await
        .unwrap();
    let mut events = supervisor.subscribe();
    let pid = instance.pid.unwrap();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();

    let seen = wait_for(&mut events, instance.id, |e| {
        matches!(e, Event::Restarted { .. })
    })
    .await;
    let Event::Exited { exit, .. } = &seen[0] else {
        panic!("{seen:?}")
    };
    assert_eq!(*exit, Exit::Signal(9));
    let Event::Restarted {
        pid: new_pid,
        restarts,
        ..
    } = seen[1]
    else {
        panic!("{seen:?}")
    };
    assert_eq!(restarts, 1);
    assert_ne!(new_pid, pid);

    wait_healthy(&supervisor, instance.id, &health(50))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    let now = supervisor.get(instance.id).unwrap();
    assert_eq!(
        (now.restarts, now.pid, now.port, now.last_exit),
        (1, Some(new_pid), instance.port, Some(Exit::Signal(9)))
    );
    let logs = supervisor.logs(instance.id).join("\n");
    assert!(logs.contains("was killed by SIGKILL"), "{logs}");
    assert!(logs.contains("restarting in 50ms (restart 1)"), "{logs}");
}

#[tokio::test]
async fn a_failing_health_check_shows_every_attempt_and_the_instance_logs() {
    let supervisor = Supervisor::new(fast());
    let instance = supervisor
        .start(spec("v2", demo()).env("DEMO_FAIL_HEALTH", "1"))
        .unwrap();
    let failure = wait_healthy(&supervisor, instance.id, &health(20))
        .await
        .expect_err("the demo app answers 503");
    assert_eq!(failure.reason, Reason::Unhealthy);
    assert_eq!(failure.attempts.len(), 20);
    assert_eq!(
        failure.attempts.last().unwrap().outcome,
        Outcome::Status(503),
        "the last attempts reach the started app"
    );
    assert!(
        failure
            .logs
            .iter()
            .any(|l| l.contains("out | GET /health 503")),
        "{:?}",
        failure.logs
    );
    let text = failure.to_string();
    assert!(
        text.starts_with(&format!(
            "instance {} (version v2 on {}) failed its health check: GET /health did not answer 200 in 20 attempts\n",
            instance.id,
            instance.addr()
        )),
        "{text}"
    );
    assert!(text.contains("  attempt 20: answered 503 in "), "{text}");
    assert!(text.contains("listening on 127.0.0.1:"), "{text}");
    assert!(text.contains("hint: the application must listen"), "{text}");

    let direct = check(instance.addr(), &health(2)).await;
    assert!(!direct.healthy);
    assert_eq!(direct.attempts.len(), 2);
}

#[tokio::test]
async fn waiting_for_health_fails_at_once_when_the_process_exits() {
    let supervisor = Supervisor::new(fast());
    let instance = supervisor
        .start(spec(
            "v3",
            "echo starting; sleep 0.3; echo 'config.toml: no such file' >&2; exit 3",
        ))
        .unwrap();
    let started = Instant::now();
    let slow = HealthCheck {
        retries: 1000,
        interval: Duration::from_secs(1),
        ..health(0)
    };
    let failure = wait_healthy(&supervisor, instance.id, &slow)
        .await
        .expect_err("the process exits");
    assert!(started.elapsed() < Duration::from_secs(3), "not at once");
    assert_eq!(failure.reason, Reason::Exited(Exit::Code(3)));
    assert!(!failure.attempts.is_empty());
    let text = failure.to_string();
    assert!(
        text.contains("the process exited with code 3 while waiting for GET /health"),
        "{text}"
    );
    assert!(text.contains("err | config.toml: no such file"), "{text}");
    assert!(text.contains("out | starting"), "{text}");

    // Between restarts, the instance is down: the wait fails without trying.
    until("the instance to be down", || {
        supervisor.get(instance.id).unwrap().state == State::Crashed
    })
    .await;
    let failure = wait_healthy(&supervisor, instance.id, &slow)
        .await
        .unwrap_err();
    assert_eq!(failure.reason, Reason::Exited(Exit::Code(3)));
    assert!(failure.attempts.is_empty());
}

#[tokio::test]
async fn stopping_is_graceful_and_is_not_a_crash() {
    let supervisor = Supervisor::new(fast());
    let instance = supervisor.start(spec("v1", demo())).unwrap();
    wait_healthy(&supervisor, instance.id, &health(50))
        .await
        .unwrap();
    let mut events = supervisor.subscribe();
    let started = Instant::now();
    let stopped = supervisor
        .stop(instance.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no SIGKILL wait"
    );
    assert_eq!(
        (stopped.state, stopped.pid, stopped.last_exit),
        (State::Stopped, None, Some(Exit::Code(0)))
    );
    assert_eq!(
        events.recv().await.unwrap(),
        Event::Stopped {
            instance: instance.id,
            exit: Some(Exit::Code(0))
        }
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        matches!(
            events.try_recv(),
            Err(broadcast::error::TryRecvError::Empty)
        ),
        "nothing after the stop: no restart"
    );
    assert!(!alive(instance.pid.unwrap()));
    let logs = supervisor.logs(instance.id).join("\n");
    assert!(logs.contains("SIGTERM: draining"), "{logs}");
    assert!(logs.contains("bye"), "{logs}");
    // Stopping again is harmless; a stopped instance fails its wait at once.
    supervisor
        .stop(instance.id, Duration::from_secs(1))
        .await
        .unwrap();
    let failure = wait_healthy(&supervisor, instance.id, &health(5))
        .await
        .unwrap_err();
    assert_eq!(failure.reason, Reason::Stopped);
}

#[tokio::test]
async fn a_process_ignoring_sigterm_is_killed_after_the_grace_with_its_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(fast());
    // The background child ignores SIGTERM as well and must not outlive the instance.
    let instance = supervisor
        .start(InstanceSpec::new(
            "v1",
            "trap '' TERM; sleep 300 & echo $! > child.pid; sleep 300",
            dir.path(),
        ))
        .unwrap();
    let pid_file = dir.path().join("child.pid");
    until("the child's pid", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let child: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child));
    let started = Instant::now();
    let stopped = supervisor
        .stop(instance.id, Duration::from_millis(300))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(stopped.last_exit, Some(Exit::Signal(9)));
    until("the background child to die", || !alive(child)).await;
}

#[tokio::test]
async fn a_crashing_instance_takes_its_background_children_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(SupervisorConfig {
        max_restarts: 0,
        ..fast()
    });
    let mut events = supervisor.subscribe();
    let instance = supervisor
        .start(InstanceSpec::new(
            "v1",
            "sleep 300 & echo $! > child.pid; sleep 0.3; exit 1",
            dir.path(),
        ))
        .unwrap();
    wait_for(&mut events, instance.id, |e| {
        matches!(e, Event::GaveUp { .. })
    })
    .await;
    let child: u32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    until("the background child to die", || !alive(child)).await;
}

#[tokio::test]
async fn a_crash_loop_backs_off_and_gives_up() {
    let supervisor = Supervisor::new(SupervisorConfig {
        max_restarts: 2,
        ..fast()
    });
    let mut events = supervisor.subscribe();
    let started = Instant::now();
    let instance = supervisor.start(spec("v1", "echo try; exit 1")).unwrap();
    let seen = wait_for(&mut events, instance.id, |e| {
        matches!(e, Event::GaveUp { .. })
    })
    .await;
    // Backoff of 50 ms, then 100 ms.
    assert!(started.elapsed() >= Duration::from_millis(150));
    let kinds: Vec<String> = seen
        .iter()
        .map(|e| match e {
            Event::Started { .. } => "started".to_string(),
            Event::Exited { exit, .. } => format!("exited: {exit}"),
            Event::Restarted { restarts, .. } => format!("restarted {restarts}"),
            Event::GaveUp { restarts, .. } => format!("gave up after {restarts}"),
            Event::Stopped { .. } => "stopped".to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "started",
            "exited: exited with code 1",
            "restarted 1",
            "exited: exited with code 1",
            "restarted 2",
            "exited: exited with code 1",
            "gave up after 2",
        ]
    );
    let now = supervisor.get(instance.id).unwrap();
    assert_eq!((now.state, now.restarts, now.pid), (State::Failed, 2, None));
    let logs = supervisor.logs(instance.id);
    assert_eq!(logs.iter().filter(|l| l.ends_with("out | try")).count(), 3);
    assert!(
        logs.last()
            .unwrap()
            .ends_with("gave up after 2 crashes in a row (2 restarts in all)")
    );
    supervisor.forget(instance.id).unwrap();
    assert!(supervisor.list().is_empty());
}

#[tokio::test]
async fn the_log_ring_keeps_only_the_last_lines() {
    let supervisor = Supervisor::new(SupervisorConfig {
        log_lines: 100,
        ..fast()
    });
    let instance = supervisor
        .start(spec(
            "v1",
            "i=0; while [ $i -lt 1000 ]; do echo line $i; i=$((i+1)); done; echo done >&2; sleep 300",
        ))
        .unwrap();
    until("all output", || {
        supervisor
            .logs(instance.id)
            .last()
            .is_some_and(|l| l.ends_with("err | done"))
    })
    .await;
    let logs = supervisor.logs(instance.id);
    assert_eq!(logs.len(), 100);
    assert!(logs[0].ends_with("out | line 901"), "{}", logs[0]);
    assert!(logs[98].ends_with("out | line 999"), "{}", logs[98]);
    assert_eq!(supervisor.tail(instance.id, 2).len(), 2);
    assert!(supervisor.logs(InstanceId(999)).is_empty());
}

#[tokio::test]
async fn an_instance_gets_its_port_and_names_but_not_gantrys_environment() {
    let supervisor = Supervisor::new(fast());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let instance = supervisor
        .start(
            spec(
                "sha-1234",
                "echo \"port=$PORT version=$GANTRY_VERSION instance=$GANTRY_INSTANCE extra=$EXTRA leak=${CARGO_MANIFEST_DIR:-none} path=${PATH:+set}\"; sleep 300",
            )
            .env("EXTRA", "yes")
            .port(port),
        )
        .unwrap();
    assert_eq!(instance.port, port);
    until("the line", || !supervisor.logs(instance.id).is_empty()).await;
    let line = &supervisor.logs(instance.id)[0];
    assert!(
        line.ends_with(&format!(
            "out | port={port} version=sha-1234 instance={} extra=yes leak=none path=set",
            instance.id
        )),
        "{line}"
    );
    let taken = supervisor.start(spec("v2", "true").port(port)).unwrap_err();
    assert!(matches!(taken, SupervisorError::PortTaken(p) if p == port));
}

#[tokio::test]
async fn starting_in_a_missing_directory_says_what_to_do() {
    let supervisor = Supervisor::new(fast());
    let error = supervisor
        .start(InstanceSpec::new("v1", "true", "/nonexistent/app"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot start version v1: the working directory /nonexistent/app is not a directory; deploy the files first or fix the target's `dir`"
    );
    assert!(supervisor.list().is_empty());
}

#[tokio::test]
async fn dropping_the_supervisor_kills_every_instance() {
    let supervisor = Supervisor::new(fast());
    let pids: Vec<u32> = (0..2)
        .map(|_| {
            supervisor
                .start(spec("v1", "sleep 300"))
                .unwrap()
                .pid
                .unwrap()
        })
        .collect();
    assert!(pids.iter().all(|&p| alive(p)));
    drop(supervisor);
    until("the instances to die", || pids.iter().all(|&p| !alive(p))).await;
}

#[tokio::test]
async fn shutdown_stops_every_instance_gracefully() {
    let supervisor = Supervisor::new(fast());
    for _ in 0..3 {
        supervisor.start(spec("v1", demo())).unwrap();
    }
    for instance in supervisor.list() {
        wait_healthy(&supervisor, instance.id, &health(50))
            .await
            .unwrap();
    }
    supervisor.shutdown(Duration::from_secs(10)).await;
    for instance in supervisor.list() {
        assert_eq!(
            (instance.state, instance.last_exit),
            (State::Stopped, Some(Exit::Code(0)))
        );
    }
}

#[tokio::test]
async fn a_stop_waits_for_the_application_behind_a_shell_to_drain() {
    let supervisor = Supervisor::new(fast());
    // The outer shell dies of the SIGTERM at once; the "application" (the subshell) takes half a
    // second to drain, and must be given that time rather than be killed with the shell.
    let instance = supervisor
        .start(spec(
            "v1",
            "(trap 'sleep 0.5; echo drained; exit 0' TERM; echo up; while true; do sleep 0.05; done); echo after",
        ))
        .unwrap();
    until("the app to be up", || {
        supervisor
            .logs(instance.id)
            .iter()
            .any(|l| l.ends_with("out | up"))
    })
    .await;
    let started = Instant::now();
    let stopped = supervisor
        .stop(instance.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        stopped.last_exit,
        Some(Exit::Signal(15)),
        "the shell's own end"
    );
    let logs = supervisor.logs(instance.id);
    assert!(
        logs.iter().any(|l| l.ends_with("out | drained")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn the_demo_app_injects_errors_latency_and_crashes_on_request() {
    let supervisor = Supervisor::new(SupervisorConfig {
        max_restarts: 0,
        ..fast()
    });
    let instance = supervisor
        .start(
            spec("v9", demo())
                .env("DEMO_ERROR_RATE", "0.5")
                .env("DEMO_LATENCY_MS", "200")
                .env("DEMO_CRASH_AFTER", "4"),
        )
        .unwrap();
    let mut events = supervisor.subscribe();
    // The first health check is one request.
    let result = wait_healthy(&supervisor, instance.id, &health(50))
        .await
        .unwrap();
    assert!(result.attempts.last().unwrap().latency < Duration::from_millis(200));
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        statuses.push(get(&instance, "/").await.0);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
    assert_eq!(statuses, [200, 500]);
    // Two requests on one kept-alive connection: the fourth request is the last.
    let mut stream = tokio::net::TcpStream::connect(instance.addr())
        .await
        .unwrap();
    let mut response = Vec::new();
    stream
        .write_all(
            b"GET /health HTTP/1.1\r\nhost: x\r\n\r\nGET /health HTTP/1.1\r\nhost: x\r\n\r\n",
        )
        .await
        .unwrap();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert_eq!(response.matches("HTTP/1.1 200 OK").count(), 1, "{response}");
    let seen = wait_for(&mut events, instance.id, |e| {
        matches!(e, Event::GaveUp { .. })
    })
    .await;
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Event::Exited {
                exit: Exit::Code(3),
                ..
            }
        )),
        "{seen:?}"
    );
    let logs = supervisor.logs(instance.id).join("\n");
    assert!(
        logs.contains("crashing after 4 requests (DEMO_CRASH_AFTER)"),
        "{logs}"
    );
}

#[tokio::test]
async fn an_instance_that_stayed_up_long_enough_starts_its_backoff_over() {
    let supervisor = Supervisor::new(SupervisorConfig {
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_secs(30),
            reset_after: Duration::from_millis(200),
        },
        max_restarts: 1,
        ..fast()
    });
    let mut events = supervisor.subscribe();
    let instance = supervisor.start(spec("v1", "sleep 0.3; exit 1")).unwrap();
    // One crash in a row is allowed; because each run lasts longer than `reset_after`, the count
    // starts over every time and the supervisor never gives up.
    let seen = wait_for(&mut events, instance.id, |e| {
        matches!(e, Event::Restarted { restarts: 3, .. })
    })
    .await;
    assert!(
        !seen.iter().any(|e| matches!(e, Event::GaveUp { .. })),
        "{seen:?}"
    );
    let logs = supervisor.logs(instance.id);
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("restarting in 20ms"))
            .count(),
        3,
        "{logs:?}"
    );
}

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(&'static str, i32)>>);

impl gantry_rollout::GroupWatch for Recorder {
    fn watch(&self, pgid: i32) {
        self.0.lock().unwrap().push(("watch", pgid));
    }
    fn release(&self, pgid: i32) {
        self.0.lock().unwrap().push(("release", pgid));
    }
}

#[tokio::test]
async fn every_process_group_is_watched_while_it_lives() {
    let recorder = std::sync::Arc::new(Recorder::default());
    let supervisor = Supervisor::new(SupervisorConfig {
        group_watch: Some(recorder.clone()),
        ..fast()
    });
    let mut events = supervisor.subscribe();
    let instance = supervisor.start(spec("v1", "sleep 300")).unwrap();
    let first = instance.pid.unwrap() as i32;
    kill(Pid::from_raw(first), Signal::SIGKILL).unwrap();
    let seen = wait_for(&mut events, instance.id, |e| {
        matches!(e, Event::Restarted { .. })
    })
    .await;
    let Some(Event::Restarted { pid: second, .. }) = seen.last() else {
        panic!("{seen:?}")
    };
    let second = *second as i32;
    supervisor
        .stop(instance.id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            ("watch", first),
            ("release", first),
            ("watch", second),
            ("release", second)
        ]
    );
}
