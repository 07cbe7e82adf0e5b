//! The reverse proxy Gantry puts in front of an environment's instances.
//!
//! The rollout driver owns a [`Proxy`] and steers it in process: [`Proxy::set_routes`] swaps the
//! backends and the weight of each version at once, [`Proxy::drain`] waits until a backend that
//! left the routes has no request in flight (so stopping it fails nothing), and
//! [`Proxy::take_window`] hands the analysis loop what each version answered since the last
//! window: counts by status class, failures, and latency percentiles.
//!
//! ```no_run
//! # async fn canary() -> std::io::Result<()> {
//! use gantry_proxy::{Proxy, Routes};
//! let proxy = Proxy::bind("127.0.0.1:8080".parse().unwrap()).await?;
//! let (old, new) = ("127.0.0.1:9001".parse().unwrap(), "127.0.0.1:9002".parse().unwrap());
//! // Send 10 % of the requests to the canary, then read what each version answered.
//! proxy.set_routes(Routes::new().backend("web-1", "v1", old).backend("web-2", "v2", new).weight("v1", 90).weight("v2", 10));
//! tokio::time::sleep(std::time::Duration::from_secs(30)).await;
//! let canary = proxy.take_window("v2");
//! if canary.error_rate() > 0.05 || canary.latency.p95.as_millis() > 2000 {
//!     // Roll back: everything to v1, then stop web-2 once nothing is in flight to it.
//!     proxy.set_routes(Routes::new().backend("web-1", "v1", old).weight("v1", 100));
//!     proxy.drain("web-2").await;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Serving: HTTP/1.1 with keep-alive and cleartext HTTP/2 towards clients, pooled keep-alive
//! HTTP/1.1 towards backends. Versions are chosen by smooth weighted round robin (deterministic,
//! exact over each cycle), backends within a version by least load. A request whose backend
//! cannot be reached is retried on another one when its body is small enough to have been
//! buffered ([`ProxyConfig::retry_body_limit`]), so an instance that dies mid-switch costs no
//! request. The proxy answers 503 itself when nothing is routed or during maintenance, 502 when
//! no backend could be reached and 504 past [`ProxyConfig::request_timeout`].
//!
//! Deliberately absent: TLS (a front proxy or load balancer terminates it), HTTP upgrades such as
//! WebSockets (the `Upgrade` header is stripped like any hop-by-hop header), active health checks
//! (the driver checks instances before routing to them), and any knowledge of `gantry-deploy`'s
//! types: the driver converts a [`Window`] into its own measurements.

mod body;
mod forward;
mod headers;
mod histogram;
mod maintenance;
mod proxy;
mod routes;
mod stats;

pub use histogram::{Histogram, Latencies};
pub use maintenance::Maintenance;
pub use proxy::{Proxy, ProxyConfig};
pub use routes::{Backend, Routes};
pub use stats::Window;
