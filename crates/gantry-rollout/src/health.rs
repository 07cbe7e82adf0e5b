//! HTTP health checks: the `GET` an instance must answer with the expected status before it
//! receives traffic ([`check`]), and the wait for a supervised instance to pass it that gives up
//! the moment the instance's process exits ([`wait_healthy`]). A failure carries every attempt and
//! the instance's own last log lines, so whoever reads it sees why without looking elsewhere.
//!
//! Each attempt is one HTTP/1.1 request on a fresh connection (`Connection: close`), timed from
//! the connect to the response head; the body is not read.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gantry_deploy::model::HealthCheck;
use http_body_util::Empty;
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::broadcast;

use crate::supervisor::{Event, Exit, InstanceId, State, Supervisor};

/// How many of an instance's last log lines a failure shows.
pub const LOG_TAIL: usize = 40;

/// What one attempt got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The instance answered with this status.
    Status(u16),
    /// No answer: the connection failed, broke or timed out.
    Error(String),
}

/// One request of a health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    /// From the connect to the response head (or the error).
    pub latency: Duration,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Status(status) => write!(f, "answered {status} in {:.1?}", self.latency),
            Outcome::Error(error) => write!(f, "{error} (after {:.1?})", self.latency),
        }
    }
}

/// The attempts of one health check, until the first healthy answer or the last retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthResult {
    pub healthy: bool,
    pub attempts: Vec<Attempt>,
}

/// Checks `addr` up to `check.retries` times (at least once), `check.interval` apart, until it
/// answers `GET check.path` with `check.status` within `check.timeout`.
pub async fn check(addr: SocketAddr, check: &HealthCheck) -> HealthResult {
    let mut attempts = Vec::new();
    for n in 0..check.retries.max(1) {
        if n > 0 {
            tokio::time::sleep(check.interval).await;
        }
        let attempt = attempt(addr, check).await;
        let healthy = attempt.outcome == Outcome::Status(check.status);
        attempts.push(attempt);
        if healthy {
            return HealthResult {
                healthy: true,
                attempts,
            };
        }
    }
    HealthResult {
        healthy: false,
        attempts,
    }
}

/// One request, bounded by `check.timeout`.
pub async fn attempt(addr: SocketAddr, check: &HealthCheck) -> Attempt {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(check.timeout, get(addr, &check.path)).await {
        Ok(Ok(status)) => Outcome::Status(status),
        Ok(Err(error)) => Outcome::Error(error),
        Err(_) => Outcome::Error(format!("no answer within {:?}", check.timeout)),
    };
    Attempt {
        outcome,
        latency: started.elapsed(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let request = Request::get(path)
        .header(HOST, addr.to_string())
        .header(USER_AGENT, "gantry-health-check")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| {
            format!("the health check path {path:?} is not a valid request path ({e}); write it as `/health`")
        })?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| describe(&e))?;
    // The connection is driven beside the request and dropped (closed) with it.
    let connection = AbortOnDrop(tokio::spawn(connection));
    let status = sender
        .send_request(request)
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| describe(&e));
    drop(connection);
    status
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A hyper error with its causes (its own message is often just "connection error").
fn describe(error: &hyper::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why a supervised instance is not healthy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Every attempt got a wrong status or no answer.
    Unhealthy,
    /// Its process ended (or was already down) while we waited.
    Exited(Exit),
    /// It was stopped while we waited.
    Stopped,
    /// The supervisor does not know it.
    Unknown,
}

/// A supervised instance that did not become healthy, with everything needed to see why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthFailure {
    pub instance: InstanceId,
    pub version: String,
    pub addr: SocketAddr,
    pub path: String,
    pub status: u16,
    pub reason: Reason,
    pub attempts: Vec<Attempt>,
    /// The instance's last [`LOG_TAIL`] log lines.
    pub logs: Vec<String>,
}

impl fmt::Display for HealthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let HealthFailure {
            instance,
            version,
            addr,
            path,
            status,
            ..
        } = self;
        let who = format!("instance {instance} (version {version} on {addr})");
        match &self.reason {
            Reason::Unhealthy => writeln!(
                f,
                "{who} failed its health check: GET {path} did not answer {status} in {} attempts",
                self.attempts.len()
            )?,
            Reason::Exited(exit) => writeln!(
                f,
                "{who}: the process {exit} while waiting for GET {path} to answer {status}"
            )?,
            Reason::Stopped => writeln!(
                f,
                "{who} was stopped while waiting for GET {path} to answer {status}"
            )?,
            Reason::Unknown => {
                return writeln!(
                    f,
                    "instance {instance} is not supervised here; it cannot be health-checked"
                );
            }
        }
        for (n, attempt) in self.attempts.iter().enumerate() {
            writeln!(f, "  attempt {}: {attempt}", n + 1)?;
        }
        if self.logs.is_empty() {
            writeln!(f, "  the instance wrote no output")?;
        } else {
            writeln!(f, "  its last {} log lines:", self.logs.len())?;
            for line in &self.logs {
                writeln!(f, "  | {line}")?;
            }
        }
        match &self.reason {
            Reason::Unhealthy => write!(
                f,
                "hint: the application must listen on 127.0.0.1:$PORT and answer GET {path} with {status}; change the health check's `path` or `status` if it serves its health elsewhere"
            ),
            Reason::Exited(_) => write!(
                f,
                "hint: the application stopped by itself; its log above should say why"
            ),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for HealthFailure {}

/// Health-checks a supervised instance as [`check`] does, but fails at once, with the
/// instance's last log lines, if its process exits (or is already down, or is stopped) before
/// it answers healthily.
pub async fn wait_healthy(
    supervisor: &Supervisor,
    id: InstanceId,
    check: &HealthCheck,
) -> Result<HealthResult, HealthFailure> {
    // Subscribe before looking, so an exit between the two is still heard.
    let mut events = supervisor.subscribe();
    let Some(instance) = supervisor.get(id) else {
        return Err(HealthFailure {
            instance: id,
            version: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            path: check.path.clone(),
            status: check.status,
            reason: Reason::Unknown,
            attempts: Vec::new(),
            logs: Vec::new(),
        });
    };
    let fail = |reason: Reason, attempts: Vec<Attempt>| HealthFailure {
        instance: id,
        version: instance.version.clone(),
        addr: instance.addr(),
        path: check.path.clone(),
        status: check.status,
        reason,
        attempts,
        logs: supervisor.tail(id, LOG_TAIL),
    };
    if let Some(reason) = down(supervisor, id) {
        return Err(fail(reason, Vec::new()));
    }
    let addr = instance.addr();
    let mut attempts = Vec::new();
    for n in 0..check.retries.max(1) {
        if n > 0 {
            tokio::select! {
                () = tokio::time::sleep(check.interval) => {}
                reason = ended(&mut events, supervisor, id) => return Err(fail(reason, attempts)),
            }
        }
        tokio::select! {
            attempt = attempt(addr, check) => {
                let healthy = attempt.outcome == Outcome::Status(check.status);
                attempts.push(attempt);
                if healthy {
                    return Ok(HealthResult { healthy, attempts });
                }
            }
            reason = ended(&mut events, supervisor, id) => return Err(fail(reason, attempts)),
        }
    }
    Err(fail(Reason::Unhealthy, attempts))
}

/// Why the instance is not up now, if it is not.
fn down(supervisor: &Supervisor, id: InstanceId) -> Option<Reason> {
    let Some(instance) = supervisor.get(id) else {
        return Some(Reason::Unknown);
    };
    match instance.state {
        State::Starting | State::Running => None,
        State::Stopping | State::Stopped => Some(Reason::Stopped),
        State::Crashed | State::Failed => Some(Reason::Exited(
            instance
                .last_exit
                .unwrap_or(Exit::NotStarted("unknown".into())),
        )),
    }
}

/// Resolves when the instance's process ends or the instance is stopped.
async fn ended(
    events: &mut broadcast::Receiver<Event>,
    supervisor: &Supervisor,
    id: InstanceId,
) -> Reason {
    loop {
        match events.recv().await {
            Ok(Event::Exited { instance, exit, .. }) if instance == id => {
                return Reason::Exited(exit);
            }
            Ok(Event::Stopped { instance, .. }) if instance == id => return Reason::Stopped,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if let Some(reason) = down(supervisor, id) {
                    return reason;
                }
            }
            // The supervisor is borrowed for the whole wait, so its sender outlives us.
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn quick(retries: u32) -> HealthCheck {
        HealthCheck {
            path: "/health".into(),
            status: 200,
            timeout: Duration::from_millis(300),
            retries,
            interval: Duration::from_millis(10),
        }
    }

    /// A server that answers each connection with the next canned response (`None`: accept
    /// and say nothing).
    async fn canned(
        responses: Vec<Option<&'static str>>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            let mut silent = Vec::new();
            for response in responses {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap();
                requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                match response {
                    Some(text) => socket.write_all(text.as_bytes()).await.unwrap(),
                    None => silent.push(socket),
                }
            }
            if !silent.is_empty() {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            requests
        });
        (addr, server)
    }

    #[tokio::test]
    async fn a_check_retries_until_the_expected_status() {
        let (addr, server) = canned(vec![
            Some("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"),
            Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        ])
        .await;
        let result = check(addr, &quick(5)).await;
        assert!(result.healthy);
        let outcomes: Vec<_> = result.attempts.iter().map(|a| a.outcome.clone()).collect();
        assert_eq!(outcomes, [Outcome::Status(503), Outcome::Status(200)]);
        let requests = server.await.unwrap();
        assert!(
            requests[0].starts_with("GET /health HTTP/1.1\r\n"),
            "{requests:?}"
        );
        assert!(
            requests[0]
                .to_lowercase()
                .contains(&format!("host: {addr}"))
        );
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_closed_port_is_refused() {
        let (addr, _server) = canned(vec![None]).await;
        let result = check(addr, &quick(1)).await;
        assert!(!result.healthy);
        assert_eq!(
            result.attempts[0].outcome,
            Outcome::Error("no answer within 300ms".into())
        );
        assert!(result.attempts[0].latency >= Duration::from_millis(300));

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let result = check(closed, &quick(3)).await;
        assert!(!result.healthy);
        assert_eq!(result.attempts.len(), 3);
        for attempt in &result.attempts {
            let Outcome::Error(e) = &attempt.outcome else {
                panic!("{attempt:?}")
            };
            assert!(
                e.starts_with(&format!("cannot connect to {closed}:")),
                "{e}"
            );
        }
    }

    #[tokio::test]
    async fn a_garbage_answer_is_an_error_not_a_status() {
        let (addr, _server) = canned(vec![Some("SSH-2.0-OpenSSH\r\n")]).await;
        let result = check(addr, &quick(1)).await;
        let Outcome::Error(e) = &result.attempts[0].outcome else {
            panic!("{result:?}")
        };
        assert!(e.contains("invalid HTTP"), "{e}");
    }

    #[tokio::test]
    async fn a_path_that_is_no_path_says_how_to_write_it() {
        let mut hc = quick(1);
        hc.path = "health check".into();
        let result = check("127.0.0.1:9".parse().unwrap(), &hc).await;
        let Outcome::Error(e) = &result.attempts[0].outcome else {
            panic!("{result:?}")
        };
        assert!(e.contains("write it as `/health`"), "{e}");
    }
}
