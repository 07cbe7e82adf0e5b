//! The proxy end to end on loopback: real backends, real keep-alive clients, real route switches.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_proxy::{Maintenance, Proxy, ProxyConfig, Routes};
use http_body_util::Full;
use hyper::{Request, StatusCode};
use support::{TestBackend, dead_addr, get, get_with, http1_client, http2_client, send};

async fn proxy() -> Proxy {
    Proxy::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the proxy binds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_split_requests_exactly_between_versions() {
    let (stable, canary) = (
        TestBackend::start("stable").await,
        TestBackend::start("canary").await,
    );
    let proxy = proxy().await;
    let routes = Routes::new()
        .backend("stable", "v1", stable.addr)
        .backend("canary", "v2", canary.addr)
        .weight("v1", 75)
        .weight("v2", 25);
    proxy.set_routes(routes.clone());
    assert_eq!(proxy.routes(), routes);
    let client = http1_client();
    for _ in 0..200 {
        assert_eq!(
            get(&client, proxy.local_addr(), "/").await.status,
            StatusCode::OK
        );
    }
    assert_eq!((stable.hits(), canary.hits()), (150, 50));
    assert_eq!(
        (proxy.stats("v1").status_2xx, proxy.stats("v2").status_2xx),
        (150, 50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_backend_is_retried_on_another_and_no_request_fails() {
    let live = TestBackend::start("live").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("dead", "v1", dead_addr().await)
            .backend("live", "v1", live.addr)
            .weight("v1", 100),
    );
    let client = http1_client();
    for round in 0..20 {
        assert_eq!(get(&client, proxy.local_addr(), "/").await.body, "live");
        let payload = format!("order {round}");
        let post = Request::post(format!("http://{}/echo-body", proxy.local_addr()))
            .body(Full::new(Bytes::from(payload.clone())))
            .unwrap();
        let answer = send(&client, post).await.unwrap();
        assert_eq!(
            (answer.status, answer.body),
            (StatusCode::OK, payload),
            "a retried POST keeps its body"
        );
    }
    assert!(proxy.backend_stats("dead").connect_errors >= 1);
    let window = proxy.stats("v1");
    assert_eq!(
        (window.requests, window.status_2xx, window.failed),
        (40, 40, 0)
    );
    assert_eq!(
        window.connect_errors,
        proxy.backend_stats("dead").connect_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_falls_back_to_another_version_when_a_whole_version_is_down() {
    let blue = TestBackend::start("blue").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("green", "v2", dead_addr().await)
            .backend("blue", "v1", blue.addr)
            .weight("v2", 100)
            .weight("v1", 0),
    );
    let answer = get(&http1_client(), proxy.local_addr(), "/").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "blue")
    );
    assert_eq!(
        proxy.stats("v1").status_2xx,
        1,
        "the answer counts for the version that gave it"
    );
    assert_eq!(
        (proxy.stats("v2").connect_errors, proxy.stats("v2").failed),
        (1, 0)
    );
}

/// Runs `clients` keep-alive clients against the proxy until `stop` is set, and returns how many
/// requests succeeded and the failures seen.
fn load(
    proxy: SocketAddr,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
    let stop = Arc::clone(stop);
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let stop = Arc::clone(&stop);
            tasks.push(tokio::spawn(async move {
                let client = http1_client();
                let (mut succeeded, mut failures) = (0, Vec::new());
                while !stop.load(Ordering::SeqCst) {
                    let request = Request::get(format!("http://{proxy}/"))
                        .body(Full::default())
                        .unwrap();
                    match support::send(&client, request).await {
                        Ok(answer) if answer.status == StatusCode::OK => succeeded += 1,
                        Ok(answer) => failures.push(format!("{}: {}", answer.status, answer.body)),
                        Err(error) => failures.push(error),
                    }
                }
                (succeeded, failures)
            }));
        }
        let mut total = (0, Vec::new());
        for task in tasks {
            let (succeeded, failures) = task.await.unwrap();
            total.0 += succeeded;
            total.1.extend(failures);
        }
        total
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_routes_under_concurrent_load_loses_no_request() {
    let blue = [
        TestBackend::start("blue-1").await,
        TestBackend::start("blue-2").await,
    ];
    let green = [
        TestBackend::start("green-1").await,
        TestBackend::start("green-2").await,
    ];
    let proxy = proxy().await;
    let routes = |blue_weight: u32, green_weight: u32| {
        Routes::new()
            .backend("blue-1", "blue", blue[0].addr)
            .backend("blue-2", "blue", blue[1].addr)
            .backend("green-1", "green", green[0].addr)
            .backend("green-2", "green", green[1].addr)
            .weight("blue", blue_weight)
            .weight("green", green_weight)
    };
    proxy.set_routes(routes(100, 0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = load(proxy.local_addr(), 8, &stop);
    for (blue_weight, green_weight) in [(90, 10), (75, 25), (50, 50), (0, 100), (100, 0), (0, 100)]
    {
        tokio::time::sleep(Duration::from_millis(60)).await;
        proxy.set_routes(routes(blue_weight, green_weight));
    }
    // Blue leaves the routes, drains, and stops, as the rollout driver does.
    proxy.set_routes(
        Routes::new()
            .backend("green-1", "green", green[0].addr)
            .backend("green-2", "green", green[1].addr)
            .weight("green", 100),
    );
    for instance in &blue {
        tokio::time::timeout(Duration::from_secs(5), proxy.drain(&instance.id))
            .await
            .expect("blue drains");
        instance.stop();
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::SeqCst);
    let (succeeded, failures) = load.await.unwrap();
    assert_eq!(failures, Vec::<String>::new());
    assert!(succeeded > 100, "only {succeeded} requests ran");
    assert!(
        blue.iter().all(|instance| instance.hits() > 0)
            && green.iter().all(|instance| instance.hits() > 0)
    );
    let (blue_window, green_window) = (proxy.stats("blue"), proxy.stats("green"));
    assert_eq!(
        blue_window.requests + green_window.requests,
        succeeded as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_crashes_under_load_costs_no_request() {
    let instances = [TestBackend::start("a").await, TestBackend::start("b").await];
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("a", "v1", instances[0].addr)
            .backend("b", "v1", instances[1].addr)
            .weight("v1", 100),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let load = load(proxy.local_addr(), 6, &stop);
    tokio::time::sleep(Duration::from_millis(150)).await;
    instances[0].stop();
    tokio::time::sleep(Duration::from_millis(250)).await;
    stop.store(true, Ordering::SeqCst);
    let (succeeded, failures) = load.await.unwrap();
    assert_eq!(failures, Vec::<String>::new());
    assert!(succeeded > 50, "only {succeeded} requests ran");
    assert_eq!(proxy.stats("v1").failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_waits_for_the_requests_in_flight_to_a_removed_backend() {
    let (old, new) = (
        TestBackend::start("old").await,
        TestBackend::start("new").await,
    );
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("old", "v1", old.addr)
            .weight("v1", 100),
    );
    let address = proxy.local_addr();
    let arrived = old.arrived.notified();
    let slow_request = tokio::spawn(async move { get(&http1_client(), address, "/gated").await });
    arrived.await;
    proxy.set_routes(
        Routes::new()
            .backend("new", "v2", new.addr)
            .weight("v2", 100),
    );
    let drained = tokio::spawn(proxy.drain("old"));
    assert_eq!(
        get(&http1_client(), address, "/").await.body,
        "new",
        "new requests go to the new routes"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !drained.is_finished(),
        "a request is still in flight to the old backend"
    );
    assert_eq!(proxy.in_flight("old"), 1);
    old.release();
    let answer = slow_request.await.unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "old")
    );
    tokio::time::timeout(Duration::from_secs(2), drained)
        .await
        .expect("drained once the request completed")
        .unwrap();
    assert_eq!(proxy.in_flight("old"), 0);
    tokio::time::timeout(Duration::from_millis(100), proxy.drain("never-routed"))
        .await
        .expect("an unknown backend has nothing in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_answers_503_with_the_message_until_it_ends() {
    let app = TestBackend::start("app").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let until = Instant::now() + Duration::from_millis(1500);
    proxy.set_maintenance(Some(Maintenance {
        message: "Migrating <orders>".into(),
        until: Some(until),
    }));
    let client = http1_client();

    let plain = get(&client, proxy.local_addr(), "/").await;
    assert_eq!(
        (plain.status, plain.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "Migrating <orders>\n")
    );
    assert_eq!(plain.headers["retry-after"], "2");
    assert_eq!(plain.headers["content-type"], "text/plain; charset=utf-8");
    let html = get_with(
        &client,
        proxy.local_addr(),
        "/",
        &[("accept", "text/html,*/*;q=0.8")],
    )
    .await;
    assert_eq!(html.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        html.body.contains("<p>Migrating &lt;orders&gt;</p>"),
        "{}",
        html.body
    );
    assert_eq!(
        app.hits(),
        0,
        "nothing reaches the application during maintenance"
    );

    tokio::time::sleep_until((until + Duration::from_millis(20)).into()).await;
    assert_eq!(
        get(&client, proxy.local_addr(), "/").await.status,
        StatusCode::OK
    );
    assert_eq!(proxy.maintenance(), None);

    proxy.set_maintenance(Some(Maintenance {
        message: "Back soon".into(),
        until: None,
    }));
    let open_ended = get(&client, proxy.local_addr(), "/").await;
    assert_eq!(
        (open_ended.status, open_ended.headers.get("retry-after")),
        (StatusCode::SERVICE_UNAVAILABLE, None)
    );
    proxy.set_maintenance(None);
    assert_eq!(
        get(&client, proxy.local_addr(), "/").await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_status_classes_and_measure_latency_per_window() {
    let app = TestBackend::start("app").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let client = http1_client();
    let paths = ["/"; 5].into_iter().chain([
        "/status/301",
        "/status/404",
        "/status/404",
        "/status/503",
        "/slow/80",
        "/slow/80",
    ]);
    for path in paths {
        get(&client, proxy.local_addr(), path).await;
    }
    let window = proxy.take_window("v1");
    assert_eq!(
        (
            window.requests,
            window.status_2xx,
            window.status_3xx,
            window.status_4xx,
            window.status_5xx,
            window.failed
        ),
        (11, 7, 1, 2, 1, 0)
    );
    assert_eq!(window.latency.count, 11);
    assert!(
        window.latency.p50 < Duration::from_millis(80),
        "p50 {:?}",
        window.latency.p50
    );
    assert!(
        window.latency.p99 >= Duration::from_millis(79),
        "p99 {:?}",
        window.latency.p99
    );
    assert!(window.latency.max >= Duration::from_millis(80));
    assert_eq!(proxy.backend_stats("app").requests, 11);
    assert_eq!(
        proxy.stats("v1").requests,
        0,
        "taking the window starts a new one"
    );
    assert_eq!(proxy.stats("never-deployed").requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_prior_knowledge_clients_are_served_and_keep_their_host() {
    let app = TestBackend::start("app").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let client = http2_client();
    let answers = futures_join(&client, proxy.local_addr()).await;
    assert!(
        answers
            .iter()
            .all(|answer| answer.status == StatusCode::OK && answer.body == "app")
    );
    let echoed = get(&client, proxy.local_addr(), "/echo-headers").await;
    let authority = proxy.local_addr().to_string();
    assert!(
        echoed.body.contains(&format!("host: {authority}\n")),
        "{}",
        echoed.body
    );
    assert!(
        echoed
            .body
            .contains(&format!("x-forwarded-host: {authority}\n")),
        "{}",
        echoed.body
    );
}

/// Ten concurrent requests over one HTTP/2 connection.
async fn futures_join(client: &support::TestClient, proxy: SocketAddr) -> Vec<support::Answer> {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get(&client, proxy, "/slow/20").await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backend_is_answered_502_and_recorded_as_failed() {
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("gone", "v1", dead_addr().await)
            .weight("v1", 100),
    );
    let answer = get(&http1_client(), proxy.local_addr(), "/").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    let window = proxy.stats("v1");
    assert_eq!(
        (
            window.requests,
            window.failed,
            window.timeouts,
            window.status_5xx,
            window.errors()
        ),
        (1, 1, 0, 0, 1)
    );
    assert_eq!(window.connect_errors, 1);
    assert_eq!(proxy.backend_stats("gone").failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_slower_than_the_timeout_is_answered_504_and_recorded() {
    let app = TestBackend::start("app").await;
    let config = ProxyConfig {
        request_timeout: Duration::from_millis(150),
        ..ProxyConfig::default()
    };
    let proxy = Proxy::bind_with(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap();
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let started = Instant::now();
    let answer = get(&http1_client(), proxy.local_addr(), "/slow/2000").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(1500));
    let window = proxy.stats("v1");
    assert_eq!((window.requests, window.failed, window.timeouts), (1, 1, 1));
    assert_eq!(
        proxy.in_flight("app"),
        0,
        "the abandoned request is no longer counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_routes_every_request_is_answered_503_no_healthy_instance() {
    let proxy = proxy().await;
    let answer = get(&http1_client(), proxy.local_addr(), "/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer.body.starts_with("no healthy instance"),
        "{}",
        answer.body
    );
    let app = TestBackend::start("app").await;
    proxy.set_routes(Routes::new().backend("app", "v1", app.addr).weight("v1", 0));
    assert_eq!(
        get(&http1_client(), proxy.local_addr(), "/").await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "zero weight routes nothing"
    );
    assert_eq!(proxy.unrouted_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_sees_forwarded_headers_and_the_client_host_but_no_hop_by_hop_headers() {
    let app = TestBackend::start("app").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let headers = [
        ("host", "shop.example"),
        ("x-forwarded-for", "203.0.113.7"),
        ("connection", "x-trace-hop"),
        ("x-trace-hop", "1"),
        ("x-request-id", "r-42"),
    ];
    let echoed = get_with(
        &http1_client(),
        proxy.local_addr(),
        "/echo-headers",
        &headers,
    )
    .await
    .body;
    for expected in [
        "host: shop.example\n",
        "x-forwarded-for: 203.0.113.7, 127.0.0.1\n",
        "x-forwarded-proto: http\n",
        "x-forwarded-host: shop.example\n",
        "x-request-id: r-42\n",
    ] {
        assert!(
            echoed.contains(expected),
            "missing {expected:?} in\n{echoed}"
        );
    }
    assert!(
        !echoed.contains("x-trace-hop"),
        "a header named by Connection leaked:\n{echoed}"
    );
    assert!(!echoed.contains("connection: x-trace-hop"), "{echoed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_larger_than_the_retry_limit_is_streamed_through_whole() {
    let app = TestBackend::start("app").await;
    let config = ProxyConfig {
        retry_body_limit: 1024,
        ..ProxyConfig::default()
    };
    let proxy = Proxy::bind_with(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap();
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let client = http1_client();
    for size in [0, 1024, 1025, 300_000] {
        let payload: String = (0..size)
            .map(|n| char::from(b'a' + (n % 26) as u8))
            .collect();
        let post = Request::post(format!("http://{}/echo-body", proxy.local_addr()))
            .body(Full::new(Bytes::from(payload.clone())))
            .unwrap();
        let answer = send(&client, post).await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{size} bytes");
        assert!(
            answer.body == payload,
            "{size} bytes came back as {} bytes",
            answer.body.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_finishes_requests_in_flight_and_refuses_new_connections() {
    let app = TestBackend::start("app").await;
    let proxy = proxy().await;
    proxy.set_routes(
        Routes::new()
            .backend("app", "v1", app.addr)
            .weight("v1", 100),
    );
    let address = proxy.local_addr();
    let arrived = app.arrived.notified();
    let in_flight = tokio::spawn(async move { get(&http1_client(), address, "/gated").await });
    arrived.await;
    let shutdown = tokio::spawn(proxy.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!shutdown.is_finished(), "a request is still in flight");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the listener is closed"
    );
    app.release();
    assert_eq!(in_flight.await.unwrap().status, StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(2), shutdown)
        .await
        .expect("shutdown completes")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_off_mid_body_is_recorded_as_interrupted() {
    // A backend that promises 100 bytes, sends 5 and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0; 1024];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort")
            .await;
    });
    let proxy = proxy().await;
    proxy.set_routes(Routes::new().backend("flaky", "v1", addr).weight("v1", 100));
    let request = Request::get(format!("http://{}/", proxy.local_addr()))
        .body(Full::default())
        .unwrap();
    let outcome = send(&http1_client(), request).await;
    assert!(outcome.is_err(), "the client sees the truncated body");
    let window = proxy.stats("v1");
    assert_eq!(
        (
            window.requests,
            window.status_2xx,
            window.interrupted,
            window.errors()
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(proxy.backend_stats("flaky").interrupted, 1);
}
