//! Where requests go: the [`Routes`] a driver sets, and the routing table the proxy compiles
//! from them.
//!
//! A request first picks a version by weight with smooth weighted round robin (deterministic and
//! exact: with weights 10 and 90, every run of 100 requests sends exactly 10 to the first version,
//! spread out rather than in a burst), then the least-loaded backend of that version, ties broken
//! round robin. Retries prefer another backend of the same version, then any backend of another
//! version, zero-weight versions included (a blue environment kept warm is a fine fallback).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::stats::Recorder;

/// One instance of the application that the proxy may send requests to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// The instance's name, unique within the proxy; [`crate::Proxy::drain`] takes it.
    pub id: String,
    /// The version label the instance runs (an artifact digest, a release name).
    pub version: String,
    /// Where it listens for plain HTTP/1.1.
    pub addr: SocketAddr,
}

/// The backends and the traffic weight of each version. Weights are relative (percentages by
/// convention); a version without a weight gets none of the new traffic. A weighted version with
/// no backends is left out, so its share goes to the other versions rather than failing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    pub backends: Vec<Backend>,
    pub weights: Vec<(String, u32)>,
}

impl Routes {
    /// No backends: every request is answered 503.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a backend.
    pub fn backend(
        mut self,
        id: impl Into<String>,
        version: impl Into<String>,
        addr: SocketAddr,
    ) -> Self {
        self.backends.push(Backend {
            id: id.into(),
            version: version.into(),
            addr,
        });
        self
    }

    /// Sets a version's weight, replacing an earlier one.
    pub fn weight(mut self, version: impl Into<String>, weight: u32) -> Self {
        let version = version.into();
        self.weights.retain(|(label, _)| *label != version);
        self.weights.push((version, weight));
        self
    }
}

/// How long a backend whose connection failed is passed over while others are available.
const EJECTION: Duration = Duration::from_secs(1);

/// The live state of one backend, shared by the routing tables that list it and by the requests
/// in flight to it.
#[derive(Debug)]
pub(crate) struct BackendState {
    pub(crate) backend: Backend,
    /// `http://addr`, the prefix of every URI sent to it.
    pub(crate) base_uri: String,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Milliseconds since the proxy's epoch until which the backend is passed over.
    ejected_until: AtomicU64,
    pub(crate) recorder: Recorder,
}

impl BackendState {
    fn new(backend: Backend) -> Self {
        Self {
            base_uri: format!("http://{}", backend.addr),
            backend,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            ejected_until: AtomicU64::new(0),
            recorder: Recorder::default(),
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Resolves once no request is in flight to this backend.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn eject(&self, clock: &Clock) {
        self.ejected_until.store(
            clock.now_millis() + EJECTION.as_millis() as u64,
            Ordering::Relaxed,
        );
    }

    fn is_ejected(&self, clock: &Clock) -> bool {
        self.ejected_until.load(Ordering::Relaxed) > clock.now_millis()
    }
}

/// Counts a request in flight to a backend from creation until drop (the end of the response
/// body), so draining waits for bodies still streaming.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<BackendState>);

impl InFlight {
    pub(crate) fn start(backend: Arc<BackendState>) -> Self {
        backend.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(backend)
    }

    pub(crate) fn backend(&self) -> &BackendState {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A cheap millisecond clock relative to the proxy's start.
#[derive(Debug)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Self {
        Self(Instant::now())
    }

    fn now_millis(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// Smooth weighted round robin: each turn every entry gains its weight, the richest entry is
/// chosen and pays the total back. Over any `total` consecutive turns each entry is chosen exactly
/// `weight` times, interleaved as evenly as the weights allow.
#[derive(Debug)]
pub(crate) struct SmoothWeighted {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl SmoothWeighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let weights: Vec<i64> = weights.into_iter().map(i64::from).collect();
        Self {
            current: vec![0; weights.len()],
            total: weights.iter().sum(),
            weights,
        }
    }

    /// The next entry, or `None` when every weight is zero.
    pub(crate) fn next(&mut self) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let mut best = 0;
        for index in 0..self.weights.len() {
            self.current[index] += self.weights[index];
            if self.current[index] > self.current[best] {
                best = index;
            }
        }
        self.current[best] -= self.total;
        Some(best)
    }
}

/// One version's backends within a routing table.
#[derive(Debug)]
pub(crate) struct VersionRoute {
    pub(crate) label: String,
    pub(crate) weight: u32,
    pub(crate) backends: Vec<Arc<BackendState>>,
    pub(crate) recorder: Arc<Recorder>,
    next_backend: AtomicUsize,
}

impl VersionRoute {
    /// The least-loaded backend not yet `tried`, preferring backends that are not ejected; ties
    /// go round robin.
    fn pick(&self, tried: &[Arc<BackendState>], clock: &Clock) -> Option<Arc<BackendState>> {
        let count = self.backends.len();
        if count == 0 {
            return None;
        }
        let start = self.next_backend.fetch_add(1, Ordering::Relaxed) % count;
        let mut best: Option<(&Arc<BackendState>, (bool, usize))> = None;
        for offset in 0..count {
            let candidate = &self.backends[(start + offset) % count];
            if tried.iter().any(|done| Arc::ptr_eq(done, candidate)) {
                continue;
            }
            let load = (candidate.is_ejected(clock), candidate.in_flight());
            if best.is_none_or(|(_, best_load)| load < best_load) {
                best = Some((candidate, load));
            }
        }
        best.map(|(backend, _)| Arc::clone(backend))
    }
}

/// An immutable snapshot of the routes, swapped whole by `set_routes`; only the weighted picker's
/// counters change.
#[derive(Debug)]
pub(crate) struct Table {
    /// What the table was compiled from.
    pub(crate) routes: Routes,
    pub(crate) versions: Vec<VersionRoute>,
    picker: Mutex<SmoothWeighted>,
}

impl Table {
    pub(crate) fn empty() -> Self {
        Self {
            routes: Routes::new(),
            versions: Vec::new(),
            picker: Mutex::new(SmoothWeighted::new([])),
        }
    }

    /// Builds a table, reusing the state (in-flight counts, measurements) of backends that were
    /// already known by id and address, and registering new ones.
    pub(crate) fn compile(
        routes: &Routes,
        registry: &mut HashMap<String, Weak<BackendState>>,
        version_recorder: &mut dyn FnMut(&str) -> Arc<Recorder>,
    ) -> Self {
        registry.retain(|_, state| state.strong_count() > 0);
        let mut versions: Vec<VersionRoute> = Vec::new();
        for backend in &routes.backends {
            let state = match registry.get(&backend.id).and_then(Weak::upgrade) {
                Some(state) if state.backend == *backend => state,
                _ => {
                    let state = Arc::new(BackendState::new(backend.clone()));
                    registry.insert(backend.id.clone(), Arc::downgrade(&state));
                    state
                }
            };
            match versions
                .iter_mut()
                .find(|route| route.label == backend.version)
            {
                Some(route) => route.backends.push(state),
                None => versions.push(VersionRoute {
                    label: backend.version.clone(),
                    weight: routes
                        .weights
                        .iter()
                        .find(|(label, _)| *label == backend.version)
                        .map_or(0, |(_, weight)| *weight),
                    backends: vec![state],
                    recorder: version_recorder(&backend.version),
                    next_backend: AtomicUsize::new(0),
                }),
            }
        }
        let picker = SmoothWeighted::new(versions.iter().map(|route| route.weight));
        Self {
            routes: routes.clone(),
            versions,
            picker: Mutex::new(picker),
        }
    }

    /// The backend for a request's first attempt, with its version's index.
    pub(crate) fn first(&self, clock: &Clock) -> Option<(usize, Arc<BackendState>)> {
        let version = self
            .picker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next()?;
        let backend = self.versions[version].pick(&[], clock)?;
        Some((version, backend))
    }

    /// The backend for a retry after `tried` failed: the same version first, then the others in
    /// order of weight.
    pub(crate) fn retry(
        &self,
        version: usize,
        tried: &[Arc<BackendState>],
        clock: &Clock,
    ) -> Option<(usize, Arc<BackendState>)> {
        if let Some(backend) = self.versions[version].pick(tried, clock) {
            return Some((version, backend));
        }
        let mut others: Vec<usize> = (0..self.versions.len())
            .filter(|&other| other != version)
            .collect();
        others.sort_by_key(|&other| std::cmp::Reverse(self.versions[other].weight));
        others
            .into_iter()
            .find_map(|other| Some((other, self.versions[other].pick(tried, clock)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(weights: &[u32], turns: usize) -> Vec<usize> {
        let mut picker = SmoothWeighted::new(weights.iter().copied());
        (0..turns)
            .map(|_| picker.next().expect("a weighted entry"))
            .collect()
    }

    #[test]
    fn smooth_weighted_round_robin_honours_weights_exactly_over_each_cycle() {
        let cases: [&[u32]; 6] = [
            &[100],
            &[10, 90],
            &[50, 50],
            &[25, 75],
            &[1, 2, 97],
            &[0, 100],
        ];
        for weights in cases {
            let total: u32 = weights.iter().sum();
            let chosen = picks(weights, total as usize * 3);
            for cycle in chosen.chunks(total as usize) {
                for (index, &weight) in weights.iter().enumerate() {
                    let count = cycle.iter().filter(|&&pick| pick == index).count();
                    assert_eq!(count, weight as usize, "weights {weights:?}, entry {index}");
                }
            }
        }
    }

    #[test]
    fn smooth_weighted_round_robin_spreads_a_small_share_instead_of_bursting() {
        let chosen = picks(&[10, 90], 100);
        let positions: Vec<usize> = chosen
            .iter()
            .enumerate()
            .filter(|(_, pick)| **pick == 0)
            .map(|(at, _)| at)
            .collect();
        for pair in positions.windows(2) {
            assert_eq!(pair[1] - pair[0], 10, "canary picks at {positions:?}");
        }
    }

    #[test]
    fn all_zero_weights_route_nothing() {
        assert_eq!(SmoothWeighted::new([0, 0]).next(), None);
        assert_eq!(SmoothWeighted::new([]).next(), None);
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn compile(routes: &Routes, registry: &mut HashMap<String, Weak<BackendState>>) -> Table {
        Table::compile(routes, registry, &mut |_| Arc::new(Recorder::default()))
    }

    #[test]
    fn backends_keep_their_state_across_route_changes_while_they_keep_their_address() {
        let mut registry = HashMap::new();
        let before = compile(
            &Routes::new()
                .backend("a", "v1", addr(1))
                .backend("b", "v1", addr(2))
                .weight("v1", 100),
            &mut registry,
        );
        let routes_after = Routes::new()
            .backend("a", "v1", addr(1))
            .backend("b", "v1", addr(3))
            .weight("v1", 100);
        let after = compile(&routes_after, &mut registry);
        assert!(Arc::ptr_eq(
            &before.versions[0].backends[0],
            &after.versions[0].backends[0]
        ));
        assert!(!Arc::ptr_eq(
            &before.versions[0].backends[1],
            &after.versions[0].backends[1]
        ));
    }

    #[test]
    fn a_request_goes_to_the_least_loaded_backend_of_its_version() {
        let clock = Clock::new();
        let mut registry = HashMap::new();
        let table = compile(
            &Routes::new()
                .backend("a", "v1", addr(1))
                .backend("b", "v1", addr(2))
                .weight("v1", 100),
            &mut registry,
        );
        let busy = InFlight::start(Arc::clone(&table.versions[0].backends[0]));
        for _ in 0..4 {
            assert_eq!(table.first(&clock).unwrap().1.backend.id, "b");
        }
        drop(busy);
        let ids: Vec<String> = (0..4)
            .map(|_| table.first(&clock).unwrap().1.backend.id.clone())
            .collect();
        assert!(
            ids.contains(&"a".to_owned()) && ids.contains(&"b".to_owned()),
            "round robin when idle: {ids:?}"
        );
    }

    #[test]
    fn an_ejected_backend_is_passed_over_while_another_is_available() {
        let clock = Clock::new();
        let mut registry = HashMap::new();
        let table = compile(
            &Routes::new()
                .backend("a", "v1", addr(1))
                .backend("b", "v1", addr(2))
                .weight("v1", 100),
            &mut registry,
        );
        table.versions[0].backends[0].eject(&clock);
        for _ in 0..4 {
            assert_eq!(table.first(&clock).unwrap().1.backend.id, "b");
        }
    }

    #[test]
    fn a_retry_tries_the_same_version_then_the_heaviest_other_version() {
        let clock = Clock::new();
        let mut registry = HashMap::new();
        let routes = Routes::new()
            .backend("a1", "v1", addr(1))
            .backend("a2", "v1", addr(2))
            .backend("b1", "v2", addr(3))
            .backend("c1", "v3", addr(4))
            .weight("v1", 100)
            .weight("v2", 0)
            .weight("v3", 5);
        let table = compile(&routes, &mut registry);
        let (version, first) = table.first(&clock).unwrap();
        assert_eq!(table.versions[version].label, "v1");
        let mut tried = vec![first];
        let mut order = Vec::new();
        while let Some((_, next)) = table.retry(version, &tried, &clock) {
            order.push(next.backend.version.clone());
            tried.push(next);
        }
        assert_eq!(order, ["v1", "v3", "v2"]);
    }

    #[test]
    fn a_weighted_version_without_backends_gets_no_traffic() {
        let clock = Clock::new();
        let mut registry = HashMap::new();
        let table = compile(
            &Routes::new()
                .backend("a", "v1", addr(1))
                .weight("v1", 50)
                .weight("v2", 50),
            &mut registry,
        );
        for _ in 0..10 {
            assert_eq!(table.first(&clock).unwrap().1.backend.version, "v1");
        }
    }
}
