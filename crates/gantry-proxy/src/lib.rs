//! The reverse proxy Gantry puts in front of an environment's instances.
//!
//! The rollout driver owns a [`Proxy`] and steers it in process: [`Proxy::set_routes`] swaps the
//! backends and the weight of each version at once, [`Proxy::drain`] waits until a backend that
//! left the routes has no request in flight (so stopping it fails nothing), and
//! [`Proxy::take_window`] hands the analysis loop what each version answered since the last
//! window: counts by status class, failures, and latency percentiles.
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
