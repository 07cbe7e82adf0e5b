//! Health analysis: judging one window of the proxy's measurements of a version against the
//! [`Thresholds`], metric by metric, with a [`Verdict`] a person can read for each ("error rate
//! 7.5% > 5% (30 of 400 requests)") and one [`Outcome`] for the whole window.
//!
//! The definitions, over the requests the proxy sent to the version during the window:
//! - **error rate** = (5xx answers + failed requests) / requests. A failed request got no answer
//!   at all: the connection was refused or reset, or the instance did not answer in time.
//! - **availability** = answered requests / requests. A 5xx answer counts as available (the
//!   instance is up and answering) but erroneous, as uptime checks and load balancers count it;
//!   the error rate already counts it against the version.
//! - **p95 latency**: the 95th percentile of the time to the response head over the answered
//!   requests, 5xx included (a fast error is still an answer); failed requests have no latency.
//! - Below `min_requests` requests nothing is judged from traffic: the verdicts are
//!   inconclusive, never a pass. A window without any answer has no p95 either.
//!
//! A canary can also be compared with its baseline (the old version over the same window):
//! [`analyze_canary`] adds verdicts that fail when the canary's error rate or p95 is much worse
//! than the baseline's, even inside the absolute thresholds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::Thresholds;

/// What the proxy measured for one version during one analysis window.
///
/// `server_errors` and `failed` are counted among `requests` (a window where they add up to
/// more is judged as if they were capped at `requests`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// Every request sent to the version.
    pub requests: u64,
    /// Requests answered with a 5xx status.
    pub server_errors: u64,
    /// Requests without an answer: connection failures and timeouts.
    pub failed: u64,
    /// Latencies of the answered requests.
    pub latency: LatencyHistogram,
}

impl Window {
    /// Counts an answered request.
    pub fn record_answer(&mut self, status: u16, latency: Duration) {
        self.requests += 1;
        if (500..600).contains(&status) {
            self.server_errors += 1;
        }
        self.latency.record(latency);
    }

    /// Counts a request that got no answer (refused, reset or timed out).
    pub fn record_failure(&mut self) {
        self.requests += 1;
        self.failed += 1;
    }

    /// Adds another window's measurements (e.g. from several proxy workers).
    pub fn merge(&mut self, other: &Window) {
        self.requests += other.requests;
        self.server_errors += other.server_errors;
        self.failed += other.failed;
        self.latency.merge(&other.latency);
    }

    fn failed(&self) -> u64 {
        self.failed.min(self.requests)
    }

    fn erroneous(&self) -> u64 {
        (self.server_errors + self.failed).min(self.requests)
    }

    /// The error rate in percent; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        percent(self.erroneous(), self.requests)
    }

    /// The availability in percent; `None` without requests.
    pub fn availability(&self) -> Option<f64> {
        percent(self.requests - self.failed(), self.requests)
    }

    /// The 95th percentile latency in milliseconds; `None` without answers.
    pub fn p95_ms(&self) -> Option<f64> {
        self.latency
            .quantile(0.95)
            .map(|d| d.as_secs_f64() * 1000.0)
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// A value read from Prometheus for the window, and the limit it must respect.
#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusValue {
    pub query: String,
    /// `None` when the query returned no sample (which is inconclusive, not a pass).
    pub value: Option<f64>,
    pub comparison: Comparison,
    pub threshold: f64,
}

/// How much worse than its baseline a canary may be.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineLimits {
    /// The canary's error rate may exceed the baseline's by this many percentage points.
    pub max_error_rate_increase: f64,
    /// The canary's p95 may be this many times the baseline's.
    pub max_latency_ratio: f64,
}

impl Default for BaselineLimits {
    fn default() -> Self {
        BaselineLimits {
            max_error_rate_increase: 1.0,
            max_latency_ratio: 1.5,
        }
    }
}

/// The judgement of one window: every verdict and what they mean together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub verdicts: Vec<Verdict>,
    /// `Fail` when any verdict fails; otherwise `Inconclusive` when any is; otherwise `Pass`.
    pub outcome: Outcome,
}

impl Analysis {
    /// Combines verdicts into one analysis.
    pub fn from_verdicts(verdicts: Vec<Verdict>) -> Analysis {
        let outcome = verdicts
            .iter()
            .map(|v| v.outcome)
            .max()
            .unwrap_or(Outcome::Inconclusive);
        Analysis { verdicts, outcome }
    }

    /// The sentences of the verdicts that decided the outcome, joined: the reason a rollout
    /// rolls back or waits.
    pub fn reason(&self) -> String {
        self.verdicts
            .iter()
            .filter(|v| v.outcome == self.outcome)
            .map(|v| v.explanation.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One metric's judgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub metric: Metric,
    /// The measured value (percent or milliseconds, as the metric says); `None` when there was
    /// nothing to measure.
    pub measured: Option<f64>,
    /// The limit the value was held to; `None` when it could not be known (a baseline without
    /// traffic).
    pub threshold: Option<f64>,
    pub comparison: Comparison,
    pub outcome: Outcome,
    /// What was decided and why, in one sentence.
    pub explanation: String,
}

/// What a verdict is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "metric")]
pub enum Metric {
    /// Percent of requests answered 5xx or not answered.
    ErrorRate,
    /// Milliseconds.
    P95Latency,
    /// Percent of requests answered.
    Availability,
    Prometheus {
        query: String,
    },
    /// The canary's error rate against the baseline's plus the allowed increase.
    ErrorRateVsBaseline,
    /// The canary's p95 against the baseline's times the allowed ratio.
    P95LatencyVsBaseline,
}

/// Which side of the threshold passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// The measured value must not be above the threshold.
    AtMost,
    /// The measured value must not be below the threshold.
    AtLeast,
}

impl Comparison {
    fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Comparison::AtMost => measured <= threshold,
            Comparison::AtLeast => measured >= threshold,
        }
    }

    fn sign(self, holds: bool) -> &'static str {
        match (self, holds) {
            (Comparison::AtMost, true) => "≤",
            (Comparison::AtMost, false) => ">",
            (Comparison::AtLeast, true) => "≥",
            (Comparison::AtLeast, false) => "<",
        }
    }
}

/// A verdict's or an analysis's result, ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Inconclusive,
    Fail,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Fail => "fail",
        })
    }
}

/// Judges one window against the thresholds and the Prometheus values.
pub fn analyze(
    window: &Window,
    thresholds: &Thresholds,
    prometheus: &[PrometheusValue],
) -> Analysis {
    let mut verdicts = traffic_verdicts(window, thresholds);
    verdicts.extend(prometheus.iter().map(prometheus_verdict));
    Analysis::from_verdicts(verdicts)
}

/// Judges a canary's window like [`analyze`], and also against its baseline's window.
pub fn analyze_canary(
    canary: &Window,
    baseline: &Window,
    thresholds: &Thresholds,
    prometheus: &[PrometheusValue],
    limits: &BaselineLimits,
) -> Analysis {
    let mut verdicts = traffic_verdicts(canary, thresholds);
    verdicts.extend(prometheus.iter().map(prometheus_verdict));
    verdicts.extend(baseline_verdicts(canary, baseline, thresholds, limits));
    Analysis::from_verdicts(verdicts)
}

fn traffic_verdicts(window: &Window, thresholds: &Thresholds) -> Vec<Verdict> {
    let enough = window.requests >= thresholds.min_requests.max(1);
    let too_few = |metric: Metric, threshold: f64, comparison: Comparison| Verdict {
        explanation: format!(
            "{} not judged: {} (at least {} needed)",
            metric.label(),
            requests(window.requests),
            thresholds.min_requests.max(1)
        ),
        metric,
        measured: None,
        threshold: Some(threshold),
        comparison,
        outcome: Outcome::Inconclusive,
    };
    let max_error_rate = thresholds.max_error_rate;
    let max_ms = thresholds.max_response_ms as f64;
    let min_availability = thresholds.min_availability;
    if !enough {
        return vec![
            too_few(Metric::ErrorRate, max_error_rate, Comparison::AtMost),
            too_few(Metric::P95Latency, max_ms, Comparison::AtMost),
            too_few(Metric::Availability, min_availability, Comparison::AtLeast),
        ];
    }
    let answered = window.requests - window.failed();
    let p95 = match window.p95_ms() {
        Some(p95) => judge(
            Metric::P95Latency,
            p95,
            max_ms,
            Comparison::AtMost,
            format!("over {}", plural(answered, "answer", "answers")),
        ),
        None => Verdict {
            metric: Metric::P95Latency,
            measured: None,
            threshold: Some(max_ms),
            comparison: Comparison::AtMost,
            outcome: Outcome::Inconclusive,
            explanation: format!(
                "p95 latency not judged: none of the {} was answered",
                requests(window.requests)
            ),
        },
    };
    vec![
        judge(
            Metric::ErrorRate,
            window.error_rate().unwrap_or(0.0),
            max_error_rate,
            Comparison::AtMost,
            format!("{} of {}", window.erroneous(), requests(window.requests)),
        ),
        p95,
        judge(
            Metric::Availability,
            window.availability().unwrap_or(0.0),
            min_availability,
            Comparison::AtLeast,
            format!(
                "{} of {} unanswered",
                window.failed(),
                requests(window.requests)
            ),
        ),
    ]
}

fn baseline_verdicts(
    canary: &Window,
    baseline: &Window,
    thresholds: &Thresholds,
    limits: &BaselineLimits,
) -> Vec<Verdict> {
    let min = thresholds.min_requests.max(1);
    let enough = canary.requests >= min && baseline.requests >= min;
    let mut verdicts = Vec::new();
    let (Some(canary_rate), Some(baseline_rate)) = (canary.error_rate(), baseline.error_rate())
    else {
        return inconclusive_baseline(canary, baseline, min);
    };
    if !enough {
        return inconclusive_baseline(canary, baseline, min);
    }
    let allowed = baseline_rate + limits.max_error_rate_increase;
    verdicts.push(judge(
        Metric::ErrorRateVsBaseline,
        canary_rate,
        allowed,
        Comparison::AtMost,
        format!(
            "baseline {}% + {} allowed",
            number(baseline_rate),
            plural_f(limits.max_error_rate_increase, "point", "points")
        ),
    ));
    match (canary.p95_ms(), baseline.p95_ms()) {
        (Some(canary_p95), Some(baseline_p95)) => verdicts.push(judge(
            Metric::P95LatencyVsBaseline,
            canary_p95,
            baseline_p95 * limits.max_latency_ratio,
            Comparison::AtMost,
            format!(
                "baseline {} ms × {}",
                number(baseline_p95),
                number(limits.max_latency_ratio)
            ),
        )),
        _ => verdicts.push(Verdict {
            metric: Metric::P95LatencyVsBaseline,
            measured: canary.p95_ms(),
            threshold: None,
            comparison: Comparison::AtMost,
            outcome: Outcome::Inconclusive,
            explanation: "p95 latency against the baseline not judged: a side has no answer".into(),
        }),
    }
    verdicts
}

fn inconclusive_baseline(canary: &Window, baseline: &Window, min: u64) -> Vec<Verdict> {
    [Metric::ErrorRateVsBaseline, Metric::P95LatencyVsBaseline]
        .into_iter()
        .map(|metric| Verdict {
            explanation: format!(
                "{} not judged: the canary had {}, the baseline {} (at least {min} each needed)",
                metric.label(),
                requests(canary.requests),
                requests(baseline.requests)
            ),
            metric,
            measured: None,
            threshold: None,
            comparison: Comparison::AtMost,
            outcome: Outcome::Inconclusive,
        })
        .collect()
}

fn prometheus_verdict(value: &PrometheusValue) -> Verdict {
    let metric = Metric::Prometheus {
        query: value.query.clone(),
    };
    match value.value {
        Some(measured) if measured.is_finite() => judge(
            metric,
            measured,
            value.threshold,
            value.comparison,
            String::new(),
        ),
        _ => Verdict {
            explanation: format!("{} returned no value", metric.label()),
            metric,
            measured: None,
            threshold: Some(value.threshold),
            comparison: value.comparison,
            outcome: Outcome::Inconclusive,
        },
    }
}

fn judge(
    metric: Metric,
    measured: f64,
    threshold: f64,
    comparison: Comparison,
    context: String,
) -> Verdict {
    let holds = comparison.holds(measured, threshold);
    let unit = metric.unit();
    let mut explanation = format!(
        "{} {}{unit} {} {}{unit}",
        metric.label(),
        shown(unit, measured, threshold),
        comparison.sign(holds),
        number(threshold),
    );
    if !context.is_empty() {
        explanation.push_str(&format!(" ({context})"));
    }
    Verdict {
        metric,
        measured: Some(measured),
        threshold: Some(threshold),
        comparison,
        outcome: if holds { Outcome::Pass } else { Outcome::Fail },
        explanation,
    }
}

impl Metric {
    fn label(&self) -> String {
        match self {
            Metric::ErrorRate => "error rate".into(),
            Metric::P95Latency => "p95 latency".into(),
            Metric::Availability => "availability".into(),
            Metric::Prometheus { query } => format!("prometheus `{query}`"),
            Metric::ErrorRateVsBaseline => "error rate against the baseline".into(),
            Metric::P95LatencyVsBaseline => "p95 latency against the baseline".into(),
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Metric::ErrorRate | Metric::Availability | Metric::ErrorRateVsBaseline => "%",
            Metric::P95Latency | Metric::P95LatencyVsBaseline => " ms",
            Metric::Prometheus { .. } => "",
        }
    }
}

/// A measured value as shown next to its threshold: milliseconds from 100 up as whole numbers
/// (the histogram is precise to 0.4 %), unless rounding would make the value read as the
/// threshold it differs from.
fn shown(unit: &str, measured: f64, threshold: f64) -> String {
    if unit == " ms" && measured >= 100.0 {
        let rounded = measured.round();
        if rounded != threshold.round() || measured == threshold {
            return number(rounded);
        }
    }
    number(measured)
}

/// At most two decimals, without trailing zeros: `7.5`, `5`, `0.33`.
fn number(value: f64) -> String {
    let rounded = format!("{value:.2}");
    let trimmed = rounded.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".into()
    } else {
        trimmed.into()
    }
}

fn requests(n: u64) -> String {
    plural(n, "request", "requests")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural_f(n: f64, one: &str, many: &str) -> String {
    format!("{} {}", number(n), if n == 1.0 { one } else { many })
}

/// Response times in fixed buckets, precise to 0.4 % (2 ms at 2 s) and exact below 0.5 ms.
///
/// Values are microseconds. Below 512 µs every microsecond has its bucket; above, each power of
/// two is split into 256 buckets of equal width (log-linear, as HDR histograms do), up to about
/// 18 minutes (longer latencies count as that). A quantile is the middle of the bucket holding
/// it, kept within the smallest and largest values recorded.
#[derive(Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    min_us: u64,
    max_us: u64,
}

const LINEAR: u64 = 512;
const PER_OCTAVE: u64 = 256;
const MAX_US: u64 = (1 << 30) - 1;
const BUCKETS: usize = (LINEAR + (30 - 9) * PER_OCTAVE) as usize;

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.total)
            .field("min_us", &self.min_us)
            .field("max_us", &self.max_us)
            .finish()
    }
}

impl LatencyHistogram {
    /// Counts one response time.
    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(MAX_US)
            .min(MAX_US);
        self.counts[bucket(us)] += 1;
        self.total += 1;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
    }

    /// How many response times were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0.95 for p95) by nearest rank; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bounds(index);
                let middle = low + width / 2;
                return Some(Duration::from_micros(
                    middle.clamp(self.min_us, self.max_us),
                ));
            }
        }
        Some(Duration::from_micros(self.max_us))
    }
}

fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let octave = u64::from(63 - us.leading_zeros());
    let shift = octave - 8;
    let top = us >> shift;
    (LINEAR + (shift - 1) * PER_OCTAVE + (top - PER_OCTAVE)) as usize
}

/// The lowest value of a bucket and its width, in microseconds.
fn bounds(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < LINEAR {
        return (index, 1);
    }
    let shift = (index - LINEAR) / PER_OCTAVE + 1;
    let top = (index - LINEAR) % PER_OCTAVE + PER_OCTAVE;
    (top << shift, 1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(requests: u64, server_errors: u64, failed: u64, latency_ms: &[u64]) -> Window {
        let mut w = Window {
            requests,
            server_errors,
            failed,
            ..Window::default()
        };
        for ms in latency_ms {
            w.latency.record(Duration::from_millis(*ms));
        }
        w
    }

    /// `n` answers, `slow_percent` of them taking `slow_ms` and the rest 100 ms.
    fn latencies(n: u64, slow_percent: u64, slow_ms: u64) -> Vec<u64> {
        (0..n)
            .map(|i| {
                if i * 100 < n * slow_percent {
                    slow_ms
                } else {
                    100
                }
            })
            .collect()
    }

    #[test]
    fn windows_are_judged_metric_by_metric_with_a_sentence_each() {
        let thresholds = Thresholds {
            min_requests: 20,
            ..Thresholds::default()
        };
        let cases: &[(Window, Outcome, &[&str])] = &[
            (
                window(400, 30, 0, &latencies(400, 1, 3000)),
                Outcome::Fail,
                &[
                    "error rate 7.5% > 5% (30 of 400 requests)",
                    "p95 latency 100 ms ≤ 2000 ms (over 400 answers)",
                    "availability 100% ≥ 95% (0 of 400 requests unanswered)",
                ],
            ),
            (
                window(400, 4, 1, &latencies(399, 10, 2500)),
                Outcome::Fail,
                &[
                    "error rate 1.25% ≤ 5% (5 of 400 requests)",
                    "p95 latency 2500 ms > 2000 ms (over 399 answers)",
                    "availability 99.75% ≥ 95% (1 of 400 requests unanswered)",
                ],
            ),
            (
                window(100, 0, 6, &latencies(94, 0, 0)),
                Outcome::Fail,
                &[
                    "error rate 6% > 5% (6 of 100 requests)",
                    "p95 latency 100 ms ≤ 2000 ms (over 94 answers)",
                    "availability 94% < 95% (6 of 100 requests unanswered)",
                ],
            ),
            (
                window(300, 0, 0, &latencies(300, 4, 5000)),
                Outcome::Pass,
                &[
                    "error rate 0% ≤ 5% (0 of 300 requests)",
                    "p95 latency 100 ms ≤ 2000 ms (over 300 answers)",
                    "availability 100% ≥ 95% (0 of 300 requests unanswered)",
                ],
            ),
            // Too little traffic is never a pass, even when everything looks fine.
            (
                window(3, 0, 0, &[10, 10, 10]),
                Outcome::Inconclusive,
                &[
                    "error rate not judged: 3 requests (at least 20 needed)",
                    "p95 latency not judged: 3 requests (at least 20 needed)",
                    "availability not judged: 3 requests (at least 20 needed)",
                ],
            ),
            (
                window(0, 0, 0, &[]),
                Outcome::Inconclusive,
                &[
                    "error rate not judged: 0 requests (at least 20 needed)",
                    "p95 latency not judged: 0 requests (at least 20 needed)",
                    "availability not judged: 0 requests (at least 20 needed)",
                ],
            ),
            // Nothing answered: the failure is judged, the latency cannot be.
            (
                window(50, 0, 50, &[]),
                Outcome::Fail,
                &[
                    "error rate 100% > 5% (50 of 50 requests)",
                    "p95 latency not judged: none of the 50 requests was answered",
                    "availability 0% < 95% (50 of 50 requests unanswered)",
                ],
            ),
        ];
        for (w, outcome, expected) in cases {
            let analysis = analyze(w, &thresholds, &[]);
            let sentences: Vec<&str> = analysis
                .verdicts
                .iter()
                .map(|v| v.explanation.as_str())
                .collect();
            assert_eq!(sentences, *expected);
            assert_eq!(analysis.outcome, *outcome, "{expected:?}");
        }
    }

    #[test]
    fn a_verdict_keeps_the_metric_the_measurement_and_the_threshold() {
        let analysis = analyze(&window(400, 30, 0, &[100]), &Thresholds::default(), &[]);
        assert_eq!(
            analysis.verdicts[0],
            Verdict {
                metric: Metric::ErrorRate,
                measured: Some(7.5),
                threshold: Some(5.0),
                comparison: Comparison::AtMost,
                outcome: Outcome::Fail,
                explanation: "error rate 7.5% > 5% (30 of 400 requests)".into(),
            }
        );
        assert_eq!(
            analysis.reason(),
            "error rate 7.5% > 5% (30 of 400 requests)"
        );
        let json = serde_json::to_string(&analysis).unwrap();
        assert_eq!(serde_json::from_str::<Analysis>(&json).unwrap(), analysis);
    }

    #[test]
    fn prometheus_values_are_judged_and_a_missing_one_is_inconclusive() {
        let healthy = window(100, 0, 0, &[50]);
        let cases: &[(Option<f64>, Comparison, Outcome, &str)] = &[
            (
                Some(0.3),
                Comparison::AtMost,
                Outcome::Fail,
                "prometheus `queue_depth` 0.3 > 0.1",
            ),
            (
                Some(0.05),
                Comparison::AtMost,
                Outcome::Pass,
                "prometheus `queue_depth` 0.05 ≤ 0.1",
            ),
            (
                Some(0.05),
                Comparison::AtLeast,
                Outcome::Fail,
                "prometheus `queue_depth` 0.05 < 0.1",
            ),
            (
                None,
                Comparison::AtMost,
                Outcome::Inconclusive,
                "prometheus `queue_depth` returned no value",
            ),
            (
                Some(f64::NAN),
                Comparison::AtMost,
                Outcome::Inconclusive,
                "prometheus `queue_depth` returned no value",
            ),
        ];
        for (value, comparison, outcome, sentence) in cases {
            let query = PrometheusValue {
                query: "queue_depth".into(),
                value: *value,
                comparison: *comparison,
                threshold: 0.1,
            };
            let analysis = analyze(&healthy, &Thresholds::default(), &[query]);
            let verdict = analysis.verdicts.last().unwrap();
            assert_eq!(
                (verdict.outcome, verdict.explanation.as_str()),
                (*outcome, *sentence)
            );
            assert_eq!(analysis.outcome, *outcome);
        }
    }

    #[test]
    fn a_canary_much_worse_than_its_baseline_fails_inside_the_thresholds() {
        let thresholds = Thresholds {
            min_requests: 10,
            ..Thresholds::default()
        };
        let limits = BaselineLimits::default();
        let cases: &[(Window, Window, Outcome, &[&str])] = &[
            (
                window(100, 4, 0, &latencies(100, 0, 0)),
                window(1000, 5, 0, &latencies(1000, 0, 0)),
                Outcome::Fail,
                &[
                    "error rate against the baseline 4% > 1.5% (baseline 0.5% + 1 point allowed)",
                    "p95 latency against the baseline 100 ms ≤ 150 ms (baseline 100 ms × 1.5)",
                ],
            ),
            (
                window(100, 1, 0, &latencies(100, 10, 400)),
                window(1000, 5, 0, &latencies(1000, 0, 0)),
                Outcome::Fail,
                &[
                    "error rate against the baseline 1% ≤ 1.5% (baseline 0.5% + 1 point allowed)",
                    "p95 latency against the baseline 400 ms > 150 ms (baseline 100 ms × 1.5)",
                ],
            ),
            (
                window(100, 1, 0, &latencies(100, 0, 0)),
                window(1000, 5, 0, &latencies(1000, 0, 0)),
                Outcome::Pass,
                &[
                    "error rate against the baseline 1% ≤ 1.5% (baseline 0.5% + 1 point allowed)",
                    "p95 latency against the baseline 100 ms ≤ 150 ms (baseline 100 ms × 1.5)",
                ],
            ),
            (
                window(100, 0, 0, &latencies(100, 0, 0)),
                window(5, 0, 0, &latencies(5, 0, 0)),
                Outcome::Inconclusive,
                &[
                    "error rate against the baseline not judged: the canary had 100 requests, the baseline 5 requests (at least 10 each needed)",
                    "p95 latency against the baseline not judged: the canary had 100 requests, the baseline 5 requests (at least 10 each needed)",
                ],
            ),
        ];
        for (canary, baseline, outcome, expected) in cases {
            let analysis = analyze_canary(canary, baseline, &thresholds, &[], &limits);
            let sentences: Vec<&str> = analysis.verdicts[3..]
                .iter()
                .map(|v| v.explanation.as_str())
                .collect();
            assert_eq!(sentences, *expected);
            assert_eq!(analysis.outcome, *outcome, "{expected:?}");
        }
    }

    #[test]
    fn counting_responses_splits_errors_from_failures() {
        let mut w = Window::default();
        for (status, ms) in [(200, 5), (503, 1), (404, 7), (500, 2)] {
            w.record_answer(status, Duration::from_millis(ms));
        }
        w.record_failure();
        assert_eq!((w.requests, w.server_errors, w.failed), (5, 2, 1));
        assert_eq!(w.error_rate(), Some(60.0));
        assert_eq!(w.availability(), Some(80.0));
        assert_eq!(w.latency.count(), 4);
        let mut both = w.clone();
        both.merge(&w);
        assert_eq!((both.requests, both.latency.count()), (10, 8));
        assert_eq!(both.error_rate(), Some(60.0));
    }

    /// A deterministic spread of latencies (a linear congruential generator), in microseconds.
    fn spread(n: usize, seed: u64, low_us: u64, high_us: u64) -> Vec<u64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                low_us + (state >> 33) % (high_us - low_us)
            })
            .collect()
    }

    #[test]
    fn quantiles_are_within_half_a_percent_of_the_exact_value() {
        let cases: &[(&str, Vec<u64>)] = &[
            ("sub-millisecond", spread(10_000, 1, 50, 900)),
            ("tens of ms", spread(10_000, 2, 5_000, 80_000)),
            (
                "around the 2 s threshold",
                spread(5_000, 3, 1_500_000, 2_600_000),
            ),
            ("long tail", {
                let mut v = spread(9_500, 4, 1_000, 20_000);
                v.extend(spread(500, 5, 1_000_000, 60_000_000));
                v
            }),
            ("one value", vec![1_234_567]),
        ];
        for (name, samples) in cases {
            let mut h = LatencyHistogram::default();
            samples
                .iter()
                .for_each(|us| h.record(Duration::from_micros(*us)));
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
                let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
                let exact = sorted[rank - 1] as f64;
                let got = h.quantile(q).unwrap().as_micros() as f64;
                let error = (got - exact).abs();
                assert!(
                    error <= exact * 0.004 + 1.0,
                    "{name} q{q}: {got} µs, exact {exact} µs"
                );
            }
        }
        assert_eq!(LatencyHistogram::default().quantile(0.95), None);
    }

    #[test]
    fn merging_histograms_equals_recording_everything_in_one() {
        let (a, b) = (
            spread(1000, 7, 100, 3_000_000),
            spread(1000, 8, 100, 50_000),
        );
        let mut one = LatencyHistogram::default();
        let (mut left, mut right) = (LatencyHistogram::default(), LatencyHistogram::default());
        for us in &a {
            one.record(Duration::from_micros(*us));
            left.record(Duration::from_micros(*us));
        }
        for us in &b {
            one.record(Duration::from_micros(*us));
            right.record(Duration::from_micros(*us));
        }
        left.merge(&right);
        assert_eq!(left, one);
    }

    #[test]
    fn buckets_cover_every_value_once_in_order() {
        let mut previous = (0, 0);
        for index in 0..BUCKETS {
            let (low, width) = bounds(index);
            assert_eq!(
                low,
                previous.0 + previous.1,
                "bucket {index} follows the last"
            );
            assert_eq!(bucket(low), index);
            assert_eq!(bucket(low + width - 1), index);
            previous = (low, width);
        }
        assert_eq!(previous.0 + previous.1 - 1, MAX_US);
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_secs(3600));
        assert_eq!(h.quantile(0.5), Some(Duration::from_micros(MAX_US)));
    }

    #[test]
    fn milliseconds_are_whole_unless_that_would_hide_a_breach() {
        for (measured, threshold, expected) in [
            (399.872, 150.0, "400"),
            (2000.4, 2000.0, "2000.4"),
            (2000.0, 2000.0, "2000"),
            (42.126, 2000.0, "42.13"),
        ] {
            assert_eq!(shown(" ms", measured, threshold), expected);
        }
        assert_eq!(shown("%", 399.872, 5.0), "399.87");
    }

    #[test]
    fn numbers_read_without_noise() {
        for (value, expected) in [
            (7.5, "7.5"),
            (5.0, "5"),
            (1.0 / 3.0, "0.33"),
            (-0.0001, "0"),
            (2000.0, "2000"),
        ] {
            assert_eq!(number(value), expected);
        }
    }
}
