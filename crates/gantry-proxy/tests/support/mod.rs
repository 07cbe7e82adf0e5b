//! Real backends and clients on loopback for the proxy's tests: a tiny HTTP/1.1 application
//! whose behaviour is chosen by the request path, and keep-alive clients that speak to the proxy.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;

/// A test application instance. Paths:
/// - `/status/NNN` answers that status;
/// - `/slow/MS` waits MS milliseconds, then answers 200;
/// - `/gated` says it arrived (see [`TestBackend::arrived`]), then waits for [`TestBackend::release`];
/// - `/echo-headers` answers the request headers, one `name: value` a line;
/// - `/echo-body` answers the request body;
/// - anything else answers 200 with the backend's id.
///
/// Every answer carries `x-backend: ID`.
pub struct TestBackend {
    pub id: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    pub arrived: Arc<Notify>,
    gate: Arc<Semaphore>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl TestBackend {
    pub async fn start(id: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let hits = Arc::new(AtomicUsize::new(0));
        let arrived = Arc::new(Notify::new());
        let gate = Arc::new(Semaphore::new(0));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let state = Arc::new(AppState {
            id: id.to_owned(),
            hits: Arc::clone(&hits),
            arrived: Arc::clone(&arrived),
            gate: Arc::clone(&gate),
        });
        let connection_tasks = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&state);
                let service = service_fn(move |request| answer(Arc::clone(&state), request));
                let connection = tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                connection_tasks
                    .lock()
                    .unwrap()
                    .push(connection.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Self {
            id: id.to_owned(),
            addr,
            hits,
            arrived,
            gate,
            tasks,
        }
    }

    /// Lets one `/gated` request answer.
    pub fn release(&self) {
        self.gate.add_permits(1);
    }

    /// Stops at once, like a crashed process: the listener and every connection close.
    pub fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        self.stop();
    }
}

struct AppState {
    id: String,
    hits: Arc<AtomicUsize>,
    arrived: Arc<Notify>,
    gate: Arc<Semaphore>,
}

async fn answer(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    let mut status = StatusCode::OK;
    let body = if let Some(code) = path.strip_prefix("/status/") {
        status = StatusCode::from_u16(code.parse().unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        state.id.clone()
    } else if let Some(millis) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(millis.parse().unwrap_or(0))).await;
        state.id.clone()
    } else if path == "/gated" {
        state.arrived.notify_one();
        state
            .gate
            .acquire()
            .await
            .expect("the gate stays open")
            .forget();
        state.id.clone()
    } else if path == "/echo-headers" {
        request
            .headers()
            .iter()
            .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or("?")))
            .collect()
    } else if path == "/echo-body" {
        let body = request
            .into_body()
            .collect()
            .await
            .map(|body| body.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&body).into_owned()
    } else {
        state.id.clone()
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "x-backend",
        state.id.parse().expect("an id is a header value"),
    );
    Ok(response)
}

/// An address nothing listens on: connecting to it is refused.
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    listener.local_addr().expect("a local address")
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

/// A pooled keep-alive HTTP/1.1 client.
pub fn http1_client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client with prior knowledge (no upgrade, no TLS).
pub fn http2_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn send(client: &TestClient, request: Request<Full<Bytes>>) -> Result<Answer, String> {
    let response = client
        .request(request)
        .await
        .map_err(|error| format!("request failed: {error:?}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| format!("body failed: {error:?}"))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub async fn get(client: &TestClient, proxy: SocketAddr, path: &str) -> Answer {
    get_with(client, proxy, path, &[]).await
}

pub async fn get_with(
    client: &TestClient,
    proxy: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::get(format!("http://{proxy}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(
        client,
        request.body(Full::default()).expect("a valid request"),
    )
    .await
    .expect("the proxy answers")
}
