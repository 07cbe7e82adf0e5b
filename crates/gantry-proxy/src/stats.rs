//! What the proxy measured for one version or one backend over a window of time.
//!
//! A [`Recorder`] counts every response by status class, every request the proxy had to answer
//! itself (502 when no backend could be reached, 504 on timeout) and every failed connection
//! attempt, and keeps a latency [`Histogram`] of the time to the backend's response headers.
//! The rollout driver reads a [`Window`] every analysis interval and converts it to its own types.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::histogram::{Histogram, Latencies};

/// Counts and latencies of the requests sent to one version (or one backend) during a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Every request routed here: answered by a backend or failed.
    pub requests: u64,
    /// Responses from a backend, by status class.
    pub status_1xx: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// Requests no backend answered: the proxy replied 502 (no backend reachable) or 504
    /// (timeout) itself.
    pub failed: u64,
    /// The part of `failed` that timed out (504).
    pub timeouts: u64,
    /// Connection attempts that failed, including those the proxy then retried successfully on
    /// another backend (so the client never saw them). A sign of a dead or overloaded instance.
    pub connect_errors: u64,
    /// Responses whose body broke off after the status was counted (the backend died or reset
    /// the connection mid-body): the client got a truncated answer.
    pub interrupted: u64,
    /// Time from receiving the request to the backend's response headers, for the responses a
    /// backend gave (failed requests are not in it).
    pub latency: Latencies,
}

impl Window {
    /// Requests that a user saw fail: 5xx from a backend, those the proxy answered itself, and
    /// responses cut off mid-body.
    pub fn errors(&self) -> u64 {
        self.status_5xx + self.failed + self.interrupted
    }

    /// `errors()` as a fraction of `requests`; 0 when there were no requests.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors() as f64 / self.requests as f64
        }
    }
}

/// Lock-free counters for one version or backend.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// Index 0 holds 1xx, …, index 4 holds 5xx.
    by_class: [AtomicU64; 5],
    failed: AtomicU64,
    timeouts: AtomicU64,
    connect_errors: AtomicU64,
    interrupted: AtomicU64,
    latency: Histogram,
}

/// How a request the proxy answered itself failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No backend could be reached (502).
    Unreachable,
    /// The backend did not answer in time (504).
    Timeout,
}

impl Recorder {
    pub(crate) fn record_response(&self, status: u16, latency: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        self.latency.record(latency);
    }

    pub(crate) fn record_failure(&self, failure: Failure) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if failure == Failure::Timeout {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn record_connect_error(&self) {
        self.connect_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_interrupted(&self) {
        self.interrupted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Window {
        self.read(|cell| cell.load(Ordering::Relaxed), Histogram::snapshot)
    }

    pub(crate) fn take(&self) -> Window {
        self.read(|cell| cell.swap(0, Ordering::Relaxed), Histogram::take)
    }

    fn read(
        &self,
        read_cell: impl Fn(&AtomicU64) -> u64,
        read_latency: impl Fn(&Histogram) -> Latencies,
    ) -> Window {
        let [status_1xx, status_2xx, status_3xx, status_4xx, status_5xx] =
            self.by_class.each_ref().map(&read_cell);
        let failed = read_cell(&self.failed);
        Window {
            requests: status_1xx + status_2xx + status_3xx + status_4xx + status_5xx + failed,
            status_1xx,
            status_2xx,
            status_3xx,
            status_4xx,
            status_5xx,
            failed,
            timeouts: read_cell(&self.timeouts),
            connect_errors: read_cell(&self.connect_errors),
            interrupted: read_cell(&self.interrupted),
            latency: read_latency(&self.latency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_counted_by_status_class_and_failures_apart() {
        let recorder = Recorder::default();
        for status in [200, 204, 301, 404, 429, 500, 503] {
            recorder.record_response(status, Duration::from_millis(2));
        }
        recorder.record_failure(Failure::Unreachable);
        recorder.record_failure(Failure::Timeout);
        recorder.record_connect_error();
        recorder.record_interrupted();
        let window = recorder.snapshot();
        assert_eq!(
            (
                window.requests,
                window.status_2xx,
                window.status_3xx,
                window.status_4xx,
                window.status_5xx
            ),
            (9, 2, 1, 2, 2)
        );
        assert_eq!(
            (window.failed, window.timeouts, window.connect_errors),
            (2, 1, 1)
        );
        assert_eq!(window.interrupted, 1);
        assert_eq!(window.errors(), 5, "5xx, failures and interrupted bodies");
        assert!((window.error_rate() - 5.0 / 9.0).abs() < 1e-9);
        assert_eq!(window.latency.count, 7);
    }

    #[test]
    fn taking_a_window_starts_the_next_one_from_zero() {
        let recorder = Recorder::default();
        recorder.record_response(200, Duration::from_millis(1));
        assert_eq!(recorder.take().requests, 1);
        assert_eq!(recorder.snapshot(), Window::default());
        assert_eq!(Window::default().error_rate(), 0.0);
    }
}
