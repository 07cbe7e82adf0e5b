//! The [`Proxy`] handle: binds the listener, serves HTTP/1.1 and HTTP/2 (cleartext, prior
//! knowledge or by preface) on every connection, and lets the rollout driver change routes, drain
//! backends, switch maintenance mode and read measurements while requests flow.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::body::RequestBody;
use crate::forward;
use crate::maintenance::Maintenance;
use crate::routes::{BackendState, Clock, Routes, Table};
use crate::stats::{Recorder, Window};

/// How the proxy treats requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// From receiving a request to the backend's response headers, retries included; past it the
    /// proxy answers 504.
    pub request_timeout: Duration,
    /// For opening a connection to a backend; past it the attempt counts as a connection failure
    /// and is retried elsewhere.
    pub connect_timeout: Duration,
    /// Request bodies up to this size are read before forwarding, so a request whose backend
    /// cannot be reached can be retried on another; larger bodies are streamed and sent once.
    pub retry_body_limit: usize,
    /// Idle keep-alive connections kept open per backend.
    pub idle_connections_per_backend: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(2),
            retry_body_limit: 1024 * 1024,
            idle_connections_per_backend: 256,
        }
    }
}

/// State shared by the handle and every request.
pub(crate) struct Shared {
    pub(crate) config: ProxyConfig,
    pub(crate) client: Client<HttpConnector, RequestBody>,
    pub(crate) clock: Clock,
    table: RwLock<Arc<Table>>,
    /// Every backend still referenced by a table or a request in flight, by id.
    registry: Mutex<HashMap<String, Weak<BackendState>>>,
    /// Measurements per version label, kept across route changes.
    versions: Mutex<HashMap<String, Arc<Recorder>>>,
    maintenance: RwLock<Option<Maintenance>>,
    pub(crate) unrouted: AtomicU64,
}

impl Shared {
    pub(crate) fn table(&self) -> Arc<Table> {
        Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The maintenance window covering `now`, ending an expired one.
    pub(crate) fn maintenance_at(&self, now: Instant) -> Option<Maintenance> {
        let current = self
            .maintenance
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match &*current {
            None => None,
            Some(maintenance) if maintenance.is_active(now) => Some(maintenance.clone()),
            Some(_) => {
                drop(current);
                let mut current = self
                    .maintenance
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if current
                    .as_ref()
                    .is_some_and(|maintenance| !maintenance.is_active(now))
                {
                    *current = None;
                }
                None
            }
        }
    }

    fn version_recorder(&self, version: &str) -> Option<Arc<Recorder>> {
        self.versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(version)
            .cloned()
    }

    fn backend(&self, id: &str) -> Option<Arc<BackendState>> {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .and_then(Weak::upgrade)
    }
}

/// A running reverse proxy. Dropping the handle stops accepting connections; requests in flight
/// still complete.
pub struct Proxy {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept_loop: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Listens on `addr` (port 0 picks a free port) with the default configuration.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with(addr, ProxyConfig::default()).await
    }

    /// Listens on `addr` with `config`. Until [`Proxy::set_routes`] is called every request is
    /// answered 503.
    pub async fn bind_with(addr: SocketAddr, config: ProxyConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.idle_connections_per_backend)
            .build(connector);
        let shared = Arc::new(Shared {
            config,
            client,
            clock: Clock::new(),
            table: RwLock::new(Arc::new(Table::empty())),
            registry: Mutex::new(HashMap::new()),
            versions: Mutex::new(HashMap::new()),
            maintenance: RwLock::new(None),
            unrouted: AtomicU64::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let accept_loop = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Self {
            shared,
            local_addr,
            stop,
            accept_loop: Some(accept_loop),
        })
    }

    /// Where the proxy listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces the routes at once: requests that start afterwards use the new ones, requests in
    /// flight finish on the backend they already have. A backend that keeps its id and address
    /// keeps its in-flight count and measurements.
    pub fn set_routes(&self, routes: Routes) {
        let table = {
            let mut registry = self
                .shared
                .registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut versions = self
                .shared
                .versions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Table::compile(&routes, &mut registry, &mut |version| {
                Arc::clone(versions.entry(version.to_owned()).or_default())
            })
        };
        *self
            .shared
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
    }

    /// The routes in force.
    pub fn routes(&self) -> Routes {
        self.shared.table().routes.clone()
    }

    /// Resolves when no request is in flight to backend `id` (at once for an unknown id). Remove
    /// the backend from the routes first, then drain it, then stop it: no request fails.
    pub fn drain(&self, id: &str) -> impl Future<Output = ()> + Send + 'static {
        let backend = self.shared.backend(id);
        async move {
            if let Some(backend) = backend {
                backend.idle().await;
            }
        }
    }

    /// Requests in flight to backend `id`, response bodies still streaming included.
    pub fn in_flight(&self, id: &str) -> usize {
        self.shared
            .backend(id)
            .map_or(0, |backend| backend.in_flight())
    }

    /// What was measured for `version` since the last [`Proxy::take_window`].
    pub fn stats(&self, version: &str) -> Window {
        self.shared
            .version_recorder(version)
            .map(|recorder| recorder.snapshot())
            .unwrap_or_default()
    }

    /// Like [`Proxy::stats`], and starts a new window.
    pub fn take_window(&self, version: &str) -> Window {
        self.shared
            .version_recorder(version)
            .map(|recorder| recorder.take())
            .unwrap_or_default()
    }

    /// What was measured for backend `id` since the last [`Proxy::take_backend_window`], while
    /// the backend is still routed or has requests in flight.
    pub fn backend_stats(&self, id: &str) -> Window {
        self.shared
            .backend(id)
            .map(|backend| backend.recorder.snapshot())
            .unwrap_or_default()
    }

    /// Like [`Proxy::backend_stats`], and starts a new window.
    pub fn take_backend_window(&self, id: &str) -> Window {
        self.shared
            .backend(id)
            .map(|backend| backend.recorder.take())
            .unwrap_or_default()
    }

    /// Requests answered 503 because no version had weight and backends.
    pub fn unrouted_requests(&self) -> u64 {
        self.shared.unrouted.load(Ordering::Relaxed)
    }

    /// Turns maintenance mode on (`Some`) or off (`None`).
    pub fn set_maintenance(&self, maintenance: Option<Maintenance>) {
        *self
            .shared
            .maintenance
            .write()
            .unwrap_or_else(PoisonError::into_inner) = maintenance;
    }

    /// The maintenance window in force now, if any.
    pub fn maintenance(&self) -> Option<Maintenance> {
        self.shared.maintenance_at(Instant::now())
    }

    /// Stops accepting connections and waits until every open connection has finished its
    /// requests and closed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(accept_loop) = self.accept_loop.take() {
            let _ = accept_loop.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // With a timer, hyper closes HTTP/1 connections that take over 30 s to send their headers.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // Out of file descriptors or a connection reset while queued: back off briefly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let service =
            service_fn(move |request| forward::handle(Arc::clone(&shared), peer, request));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the proxy's error.
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
