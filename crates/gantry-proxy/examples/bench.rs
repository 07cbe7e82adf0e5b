//! Proxy overhead on loopback: a trivial HTTP/1.1 backend, the same closed-loop load sent to it
//! directly and then through the proxy, and requests/s with p50/p99 latency for both.
//!
//! `cargo run --release -p gantry-proxy --example bench -- --connections 32 --seconds 10`
//!
//! Options: `--connections N` keep-alive clients (default 32), `--seconds T` per phase (default
//! 5), `--body BYTES` response size (default 13), `--rate R` total requests per second spread over
//! the connections (default 0: as fast as possible). The load generator shares the machine with
//! the backend and the proxy, so compare the two phases with each other, not with other machines.
//! Flat out on a small machine the proxy competes with the load generator and the backend for the
//! same cores, so throughput measures CPU per request; a `--rate` below saturation measures the
//! latency the proxy adds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_proxy::{Histogram, Latencies, Proxy, Routes};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

struct Options {
    connections: usize,
    duration: Duration,
    body_size: usize,
    /// Total requests per second; 0 for no limit.
    rate: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        connections: 32,
        duration: Duration::from_secs(5),
        body_size: 13,
        rate: 0,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag} takes a whole number, not {value:?}"))?;
        match flag.as_str() {
            "--connections" if number > 0 => options.connections = number as usize,
            "--seconds" if number > 0 => options.duration = Duration::from_secs(number),
            "--body" => options.body_size = number as usize,
            "--rate" => options.rate = number,
            _ => {
                return Err(format!(
                    "unknown option or zero value: {flag} {value} (options: --connections N, --seconds T, --body BYTES, --rate R)"
                ));
            }
        }
    }
    Ok(options)
}

/// A backend that answers every request 200 with the same body.
async fn start_backend(body_size: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("a local address");
    let body = Bytes::from(vec![b'x'; body_size]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let service = service_fn(move |_request| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

struct Phase {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Latencies,
}

/// `connections` clients, each with its own keep-alive connection, send requests for `duration`:
/// back to back, or each at `rate / connections` per second.
async fn drive(target: SocketAddr, connections: usize, duration: Duration, rate: u64) -> Phase {
    let histogram = Arc::new(Histogram::new());
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (histogram, errors) = (Arc::clone(&histogram), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let uri: hyper::Uri = format!("http://{target}/").parse().expect("a valid URI");
            let mut pace = (rate > 0).then(|| {
                let mut interval = tokio::time::interval(Duration::from_secs_f64(
                    connections as f64 / rate as f64,
                ));
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                interval
            });
            while Instant::now() < deadline {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                let sent = Instant::now();
                let request = Request::get(uri.clone())
                    .body(Empty::new())
                    .expect("a valid request");
                let outcome = match client.request(request).await {
                    Ok(response) if response.status().is_success() => {
                        response.into_body().collect().await.is_ok()
                    }
                    Ok(_) | Err(_) => false,
                };
                if outcome {
                    histogram.record(sent.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let latency = histogram.snapshot();
    Phase {
        requests: latency.count,
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        latency,
    }
}

fn report(name: &str, phase: &Phase) -> f64 {
    let per_second = phase.requests as f64 / phase.elapsed.as_secs_f64();
    println!(
        "{name:<8} {per_second:>10.0} req/s   p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms   errors {}",
        phase.latency.p50.as_secs_f64() * 1e3,
        phase.latency.p99.as_secs_f64() * 1e3,
        phase.latency.max.as_secs_f64() * 1e3,
        phase.errors,
    );
    per_second
}

/// What measuring costs the proxy per response: one histogram record, alone and with two threads
/// recording into the same histogram.
fn measure_recording_cost() {
    const RECORDS: u32 = 2_000_000;
    let histogram = Arc::new(Histogram::new());
    let record_many = |histogram: &Histogram| {
        for n in 0..RECORDS {
            histogram.record(Duration::from_micros(u64::from(n % 50_000)));
        }
    };
    let started = Instant::now();
    record_many(&histogram);
    let alone = started.elapsed().as_nanos() as f64 / f64::from(RECORDS);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| record_many(&histogram));
        }
    });
    let contended = started.elapsed().as_nanos() as f64 / f64::from(2 * RECORDS);
    println!(
        "histogram record: {alone:.1} ns alone, {contended:.1} ns per record with 2 threads on one histogram"
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench: {message}");
            return ExitCode::from(2);
        }
    };
    let backend = start_backend(options.body_size).await;
    let proxy = match Proxy::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("bench: cannot bind the proxy on loopback: {error}");
            return ExitCode::FAILURE;
        }
    };
    proxy.set_routes(
        Routes::new()
            .backend("bench", "v1", backend)
            .weight("v1", 100),
    );
    println!(
        "{} keep-alive connections, {}, {} s per phase, {}-byte responses, {} worker threads",
        options.connections,
        if options.rate == 0 {
            "flat out".to_owned()
        } else {
            format!("{} requests/s", options.rate)
        },
        options.duration.as_secs(),
        options.body_size,
        std::thread::available_parallelism().map_or(1, |cores| cores.get()),
    );

    measure_recording_cost();

    let warm_up = Duration::from_millis(500);
    drive(backend, options.connections, warm_up, options.rate).await;
    let direct = drive(backend, options.connections, options.duration, options.rate).await;
    drive(
        proxy.local_addr(),
        options.connections,
        warm_up,
        options.rate,
    )
    .await;
    proxy.take_window("v1");
    let proxied = drive(
        proxy.local_addr(),
        options.connections,
        options.duration,
        options.rate,
    )
    .await;
    let measured_by_proxy = proxy.take_window("v1");

    let direct_rate = report("direct", &direct);
    let proxied_rate = report("proxy", &proxied);
    println!(
        "overhead: throughput {:+.1} %, p50 {:+.3} ms, p99 {:+.3} ms; the proxy's own view: {} requests, {} failed, backend p50 {:.3} ms, p99 {:.3} ms",
        (proxied_rate / direct_rate - 1.0) * 100.0,
        (proxied.latency.p50.as_secs_f64() - direct.latency.p50.as_secs_f64()) * 1e3,
        (proxied.latency.p99.as_secs_f64() - direct.latency.p99.as_secs_f64()) * 1e3,
        measured_by_proxy.requests,
        measured_by_proxy.failed,
        measured_by_proxy.latency.p50.as_secs_f64() * 1e3,
        measured_by_proxy.latency.p99.as_secs_f64() * 1e3,
    );
    if direct.errors + proxied.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
