//! `gantry-demo-app`: the small real HTTP application Gantry's deployment tests deploy, with
//! knobs to inject the faults a rollout must catch. Only the standard library (and `nix` for
//! waiting on SIGTERM), so it starts in milliseconds and needs nothing installed.
//!
//! It listens on `127.0.0.1:$PORT` (HTTP/1.1 with keep-alive) and answers
//! - `GET /health`: 200 `ok`, or 503 when `DEMO_FAIL_HEALTH=1`;
//! - anything else: 200 `hello from $GANTRY_VERSION (instance $GANTRY_INSTANCE)`, with an
//!   `x-gantry-version` header, after `DEMO_LATENCY_MS` milliseconds, and 500 for the share
//!   `DEMO_ERROR_RATE` (0 to 1) of these requests, spread evenly (0.5: every second one).
//!
//! `DEMO_CRASH_AFTER=N` exits with code 3 after answering N requests (health checks included).
//! Every request is logged to stdout (`GET / 200 12ms`). On SIGTERM it stops taking new requests,
//! finishes those in flight (up to 5 s) and exits 0.
//!
//! `gantry-demo-app get http://HOST:PORT/PATH` is its own smoke test instead: one GET, the status
//! line printed, exit 0 on a 2xx answer and 1 otherwise (so tests need no `curl`).

use std::env;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::exit;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

struct Knobs {
    version: String,
    instance: String,
    fail_health: bool,
    error_rate: f64,
    latency: Duration,
    crash_after: Option<u64>,
}

struct App {
    knobs: Knobs,
    /// Requests answered (all paths), for `DEMO_CRASH_AFTER`.
    answered: AtomicU64,
    /// Requests to other paths than `/health`, for the error share.
    served: AtomicU64,
    in_flight: AtomicU64,
    draining: AtomicBool,
}

fn knob<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = env::var(name).ok()?;
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => {
            eprintln!("gantry-demo-app: {name}={value:?} is not a valid value; ignoring it");
            None
        }
    }
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if let [get, url] = args.as_slice()
        && get == "get"
    {
        exit(match probe(url) {
            Ok((line, true)) => {
                println!("{line}");
                0
            }
            Ok((line, false)) => {
                eprintln!("{url}: {line}");
                1
            }
            Err(e) => {
                eprintln!("{url}: {e}");
                1
            }
        });
    }
    let Some(port) = knob::<u16>("PORT") else {
        eprintln!("gantry-demo-app: set PORT to the port to listen on");
        exit(2);
    };
    let knobs = Knobs {
        version: env::var("GANTRY_VERSION").unwrap_or_else(|_| "dev".into()),
        instance: env::var("GANTRY_INSTANCE").unwrap_or_else(|_| "0".into()),
        fail_health: knob::<u8>("DEMO_FAIL_HEALTH") == Some(1),
        error_rate: knob::<f64>("DEMO_ERROR_RATE")
            .unwrap_or(0.0)
            .clamp(0.0, 1.0),
        latency: Duration::from_millis(knob("DEMO_LATENCY_MS").unwrap_or(0)),
        crash_after: knob("DEMO_CRASH_AFTER"),
    };
    // SIGTERM is blocked in every thread (they inherit the mask) and taken by one.
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    if let Err(e) = term.thread_block() {
        eprintln!("gantry-demo-app: cannot block SIGTERM: {e}");
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("gantry-demo-app: cannot listen on 127.0.0.1:{port}: {e}");
            exit(2);
        }
    };
    println!(
        "listening on 127.0.0.1:{port} as version {} (instance {})",
        knobs.version, knobs.instance
    );
    let app = Arc::new(App {
        knobs,
        answered: AtomicU64::new(0),
        served: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        draining: AtomicBool::new(false),
    });
    {
        let app = app.clone();
        thread::spawn(move || {
            if term.wait().is_ok() {
                println!("SIGTERM: draining");
                app.draining.store(true, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(5);
                while app.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
                println!("bye");
                exit(0);
            }
        });
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if app.draining.load(Ordering::SeqCst) {
            continue;
        }
        let app = app.clone();
        thread::spawn(move || serve(&app, stream));
    }
}

/// Serves one connection's requests until it closes.
fn serve(app: &App, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        app.in_flight.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let http10 = parts.next() == Some("HTTP/1.0");
        let mut length = 0usize;
        let mut close = http10;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => {
                    app.in_flight.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                } else if name == "connection" {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        if length > 0
            && std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).is_err()
        {
            app.in_flight.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let (status, body) = answer(app, &path);
        close |= app.draining.load(Ordering::SeqCst);
        let response = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-gantry-version: {}\r\n{}\r\n{body}",
            reason(status),
            body.len(),
            app.knobs.version,
            if close { "connection: close\r\n" } else { "" },
        );
        let written = writer
            .write_all(response.as_bytes())
            .and_then(|()| writer.flush());
        println!(
            "{method} {path} {status} {}ms",
            started.elapsed().as_millis()
        );
        app.in_flight.fetch_sub(1, Ordering::SeqCst);
        let answered = app.answered.fetch_add(1, Ordering::SeqCst) + 1;
        if app.knobs.crash_after.is_some_and(|n| answered >= n) {
            println!("crashing after {answered} requests (DEMO_CRASH_AFTER)");
            exit(3);
        }
        if written.is_err() || close {
            return;
        }
    }
}

fn answer(app: &App, path: &str) -> (u16, String) {
    if path == "/health" {
        return if app.knobs.fail_health {
            (503, "unhealthy (DEMO_FAIL_HEALTH)\n".into())
        } else {
            (200, "ok\n".into())
        };
    }
    if !app.knobs.latency.is_zero() {
        thread::sleep(app.knobs.latency);
    }
    let n = app.served.fetch_add(1, Ordering::SeqCst);
    if fails(n, app.knobs.error_rate) {
        return (500, "injected error (DEMO_ERROR_RATE)\n".into());
    }
    (
        200,
        format!(
            "hello from {} (instance {})\n",
            app.knobs.version, app.knobs.instance
        ),
    )
}

/// Whether the `n`-th request (from 0) fails at `rate`: exactly `rate` of every prefix of
/// requests fails, rounded down, spread evenly.
fn fails(n: u64, rate: f64) -> bool {
    ((n + 1) as f64 * rate).floor() > (n as f64 * rate).floor()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// One `GET` of an `http://` URL: the answer's status line, and whether it is a 2xx.
fn probe(url: &str) -> Result<(String, bool), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    let line = line.trim_end().to_string();
    let ok = line
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2') && code.len() == 3);
    Ok((line, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_rate_fails_that_share_of_requests_evenly() {
        for (rate, expected) in [(0.0, 0), (0.05, 5), (0.5, 50), (1.0, 100)] {
            let failed = (0..100).filter(|&n| fails(n, rate)).count();
            assert_eq!(failed, expected, "rate {rate}");
        }
        let pattern: Vec<bool> = (0..4).map(|n| fails(n, 0.5)).collect();
        assert_eq!(pattern, [false, true, false, true]);
    }

    #[test]
    fn the_get_probe_passes_on_2xx_only_and_says_why_not() {
        for (status, ok) in [
            ("200 OK", true),
            ("204 No Content", true),
            ("503 Busy", false),
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/health", listener.local_addr().unwrap());
            let server = thread::spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = String::new();
                BufReader::new(stream.try_clone().unwrap())
                    .read_line(&mut request)
                    .unwrap();
                write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").unwrap();
                request
            });
            assert_eq!(probe(&url), Ok((format!("HTTP/1.1 {status}"), ok)));
            assert_eq!(server.join().unwrap(), "GET /health HTTP/1.1\r\n");
        }
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(
            probe(&format!("http://{closed}/"))
                .unwrap_err()
                .starts_with("cannot connect")
        );
        assert!(probe("https://example.com/").is_err());
    }
}
