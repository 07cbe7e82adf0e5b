//! One request through the proxy: maintenance check, choice of backend, header rewriting,
//! forwarding with retries on unreachable backends, the timeout, and the measurements.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};

use crate::body::{ReadBody, RequestBody, ResponseBody, read_body};
use crate::headers::{add_forwarded, strip_hop_by_hop};
use crate::maintenance::Notice;
use crate::proxy::Shared;
use crate::routes::{BackendState, InFlight, Table};
use crate::stats::Failure;

/// The backend a request is being sent to, and its version's index in the table.
struct Attempt {
    version: usize,
    backend: Arc<BackendState>,
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    if let Some(maintenance) = shared.maintenance_at(started) {
        let accept = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok());
        return Ok(maintenance_response(Notice::new(
            &maintenance,
            started,
            accept,
        )));
    }
    let table = shared.table();
    let Some((version, backend)) = table.first(&shared.clock) else {
        shared
            .unrouted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(local_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "no healthy instance: no version of the application is routed to\n",
        ));
    };
    let mut attempt = Attempt { version, backend };
    let outcome = tokio::time::timeout(
        shared.config.request_timeout,
        forward(&shared, &table, &mut attempt, peer, request, started),
    )
    .await;
    Ok(match outcome {
        Ok(response) => response,
        Err(_elapsed) => {
            record_failure(&table, &attempt, Failure::Timeout);
            local_response(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway timeout: the instance did not answer in time\n",
            )
        }
    })
}

async fn forward(
    shared: &Shared,
    table: &Table,
    attempt: &mut Attempt,
    peer: SocketAddr,
    request: Request<Incoming>,
    started: Instant,
) -> Response<ResponseBody> {
    let (mut parts, body) = request.into_parts();
    // HTTP/2 carries the host in the URI's authority rather than a Host header.
    let host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
    });
    strip_hop_by_hop(&mut parts.headers);
    add_forwarded(
        &mut parts.headers,
        peer.ip(),
        &HeaderValue::from_static("http"),
        host.as_ref(),
    );
    if let Some(host) = host {
        parts.headers.insert(header::HOST, host);
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    let mut streaming = match read_body(body, shared.config.retry_body_limit).await {
        Ok(ReadBody::Buffered(bytes)) => Err(bytes),
        Ok(ReadBody::Streaming(body)) => Ok(body),
        Err(_) => {
            return local_response(
                StatusCode::BAD_REQUEST,
                "bad request: the request body could not be read\n",
            );
        }
    };
    if streaming.is_err() {
        // The client's `100 Continue` was already sent when the body was read.
        parts.headers.remove(header::EXPECT);
    }
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    let mut tried = Vec::new();
    loop {
        let body = match &mut streaming {
            Err(bytes) => RequestBody::Buffered(Some(bytes.clone())),
            Ok(body) => std::mem::replace(body, RequestBody::Buffered(None)),
        };
        let can_retry = streaming.is_err();
        let Ok(uri) = Uri::try_from(format!("{}{path}", attempt.backend.base_uri)) else {
            return local_response(
                StatusCode::BAD_REQUEST,
                "bad request: the request target is not a valid URI path\n",
            );
        };
        let mut outgoing = Request::new(body);
        *outgoing.method_mut() = parts.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.version_mut() = Version::HTTP_11;
        *outgoing.headers_mut() = parts.headers.clone();
        let in_flight = InFlight::start(Arc::clone(&attempt.backend));
        match shared.client.request(outgoing).await {
            Ok(response) => {
                let latency = started.elapsed();
                let status = response.status().as_u16();
                table.versions[attempt.version]
                    .recorder
                    .record_response(status, latency);
                attempt.backend.recorder.record_response(status, latency);
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                parts.version = Version::default();
                return Response::from_parts(
                    parts,
                    ResponseBody::Backend {
                        body,
                        in_flight,
                        version: Arc::clone(&table.versions[attempt.version].recorder),
                    },
                );
            }
            Err(error) => {
                drop(in_flight);
                // Not connected means nothing was sent: always safe to retry. A connection that
                // broke before the response may have reached the application: only idempotent
                // requests may go again.
                if error.is_connect() {
                    attempt.backend.eject(&shared.clock);
                    attempt.backend.recorder.record_connect_error();
                    table.versions[attempt.version]
                        .recorder
                        .record_connect_error();
                }
                let retry = can_retry && (error.is_connect() || idempotent);
                tried.push(Arc::clone(&attempt.backend));
                match table
                    .retry(attempt.version, &tried, &shared.clock)
                    .filter(|_| retry)
                {
                    Some((version, backend)) => *attempt = Attempt { version, backend },
                    None => {
                        record_failure(table, attempt, Failure::Unreachable);
                        return local_response(
                            StatusCode::BAD_GATEWAY,
                            "bad gateway: no instance of the application could be reached\n",
                        );
                    }
                }
            }
        }
    }
}

fn record_failure(table: &Table, attempt: &Attempt, failure: Failure) {
    table.versions[attempt.version]
        .recorder
        .record_failure(failure);
    attempt.backend.recorder.record_failure(failure);
}

fn local_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::local(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn maintenance_response(notice: Notice) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::local(notice.body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(notice.content_type),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(seconds) = notice.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
