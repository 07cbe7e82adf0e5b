//! The server's Prometheus metrics: what finished, what waits, how long jobs take, how HTTP
//! requests end. One [`Metrics`] per server, shared in an `Arc`; [`Metrics::encode`] gives the
//! text a `/metrics` endpoint serves (OpenMetrics, which Prometheus reads).
//!
//! Labels are a closed, small set: run and job results, and HTTP status classes. Nothing that
//! names a repository, user or secret is ever a label.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bucket bounds for durations, in seconds: 0.1 s to one hour.
const DURATION_BUCKETS: [f64; 16] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0,
    3600.0,
];

/// The HTTP status classes counted (anything outside 100–599 counts as `5xx`).
const HTTP_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

/// The server's metrics. `Send + Sync`; every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    runs_finished: Family<ResultLabel, Counter>,
    jobs_finished: Family<ResultLabel, Counter>,
    queue_length: Gauge,
    runs_running: Gauge,
    queue_wait: Histogram,
    job_duration: Histogram,
    /// One counter per entry of [`HTTP_CLASSES`], created up front so every class shows (at 0).
    http: [Counter; 5],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let runs_finished = Family::<ResultLabel, Counter>::default();
        registry.register(
            "gantry_runs_finished",
            "Runs that finished, by result",
            runs_finished.clone(),
        );
        let jobs_finished = Family::<ResultLabel, Counter>::default();
        registry.register(
            "gantry_jobs_finished",
            "Jobs that finished, by result",
            jobs_finished.clone(),
        );
        let queue_length = Gauge::default();
        registry.register(
            "gantry_queue_length",
            "Runs waiting in the queue",
            queue_length.clone(),
        );
        let runs_running = Gauge::default();
        registry.register(
            "gantry_runs_running",
            "Runs running now",
            runs_running.clone(),
        );
        let queue_wait = Histogram::new(DURATION_BUCKETS);
        registry.register_with_unit(
            "gantry_queue_wait",
            "Time from a run being queued to its start",
            Unit::Seconds,
            queue_wait.clone(),
        );
        let job_duration = Histogram::new(DURATION_BUCKETS);
        registry.register_with_unit(
            "gantry_job_duration",
            "How long finished jobs ran",
            Unit::Seconds,
            job_duration.clone(),
        );
        let http_family = Family::<ClassLabel, Counter>::default();
        registry.register(
            "gantry_http_requests",
            "HTTP responses sent, by status class",
            http_family.clone(),
        );
        let http =
            HTTP_CLASSES.map(|class| http_family.get_or_create(&ClassLabel { class }).clone());
        Metrics {
            registry,
            runs_finished,
            jobs_finished,
            queue_length,
            runs_running,
            queue_wait,
            job_duration,
            http,
        }
    }

    /// A run finished with `result` (`success`, `failure`, `cancelled`…).
    pub fn run_finished(&self, result: &str) {
        self.runs_finished
            .get_or_create(&ResultLabel {
                result: result.to_string(),
            })
            .inc();
    }

    /// A job finished with `result` after running for `duration`.
    pub fn job_finished(&self, result: &str, duration: Duration) {
        self.jobs_finished
            .get_or_create(&ResultLabel {
                result: result.to_string(),
            })
            .inc();
        self.job_duration.observe(duration.as_secs_f64());
    }

    /// How many runs are queued now.
    pub fn set_queue_length(&self, runs: i64) {
        self.queue_length.set(runs);
    }

    /// How many runs are running now.
    pub fn set_running(&self, runs: i64) {
        self.runs_running.set(runs);
    }

    /// A run started `wait` after it was queued.
    pub fn queue_wait(&self, wait: Duration) {
        self.queue_wait.observe(wait.as_secs_f64());
    }

    /// The server sent a response with `status`.
    pub fn http_response(&self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.http[class].inc();
    }

    /// Everything, in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Metrics>();
        let metrics = std::sync::Arc::new(Metrics::new());
        let m = metrics.clone();
        std::thread::spawn(move || m.run_finished("success"))
            .join()
            .unwrap();
        assert!(
            metrics
                .encode()
                .contains("gantry_runs_finished_total{result=\"success\"} 1\n")
        );
    }

    #[test]
    fn encode_shows_the_events() {
        let m = Metrics::new();
        m.run_finished("success");
        m.run_finished("success");
        m.run_finished("failure");
        m.job_finished("success", Duration::from_millis(50));
        m.job_finished("cancelled", Duration::from_secs(4000));
        m.set_queue_length(3);
        m.set_running(2);
        m.queue_wait(Duration::from_secs(7));
        for status in [200, 204, 302, 404, 403, 500, 101, 999] {
            m.http_response(status);
        }
        let text = m.encode();
        for line in [
            "# TYPE gantry_runs_finished counter",
            "gantry_runs_finished_total{result=\"success\"} 2",
            "gantry_runs_finished_total{result=\"failure\"} 1",
            "gantry_jobs_finished_total{result=\"success\"} 1",
            "gantry_jobs_finished_total{result=\"cancelled\"} 1",
            "gantry_queue_length 3",
            "gantry_runs_running 2",
            "# TYPE gantry_queue_wait_seconds histogram",
            "# UNIT gantry_queue_wait_seconds seconds",
            "gantry_queue_wait_seconds_sum 7.0",
            "gantry_queue_wait_seconds_count 1",
            "gantry_queue_wait_seconds_bucket{le=\"5.0\"} 0",
            "gantry_queue_wait_seconds_bucket{le=\"10.0\"} 1",
            "gantry_job_duration_seconds_count 2",
            "gantry_job_duration_seconds_bucket{le=\"0.1\"} 1",
            "gantry_job_duration_seconds_bucket{le=\"3600.0\"} 1",
            "gantry_job_duration_seconds_bucket{le=\"+Inf\"} 2",
            "gantry_http_requests_total{class=\"1xx\"} 1",
            "gantry_http_requests_total{class=\"2xx\"} 2",
            "gantry_http_requests_total{class=\"3xx\"} 1",
            "gantry_http_requests_total{class=\"4xx\"} 2",
            "gantry_http_requests_total{class=\"5xx\"} 2",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
    }

    #[test]
    fn a_fresh_registry_shows_zeroes() {
        let text = Metrics::new().encode();
        assert!(text.contains("gantry_queue_length 0\n"));
        assert!(text.contains("gantry_http_requests_total{class=\"5xx\"} 0\n"));
        assert!(text.contains("gantry_job_duration_seconds_count 0\n"));
    }
}
