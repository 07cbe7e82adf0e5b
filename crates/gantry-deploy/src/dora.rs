//! DORA metrics from the deployment history of one environment over a period: deployment
//! frequency, lead time for changes, change failure rate and time to restore.
//!
//! The definitions, over the deployments that finished inside the period:
//! - **deployment frequency**: successful deployments per day (and per week).
//! - **lead time for changes**: the median, over every change a successful deployment brought,
//!   of the time from the change's commit to the end of that deployment (commit → production).
//! - **change failure rate**: the share of deployments that failed: rolled back, failed, or
//!   succeeded and were later restored (a rollback or a fix after the fact, `restored_at`).
//! - **time to restore**: the median, over those failures, of the time from the failure to the
//!   restore. A rollout that rolled back failed while it ran: from its start to `restored_at`,
//!   or to its end when the rollback itself restored the service. A deployment restored after it
//!   succeeded failed once it was live: from its end to `restored_at`. A failure not restored
//!   yet is counted apart ([`Dora::unrestored`]).

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::journal::DeployResult;

/// One finished deployment, as the history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub environment: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub result: DeployResult,
    /// The commit times of the changes this deployment brought to the environment (those not
    /// deployed there before).
    pub commits: Vec<Timestamp>,
    /// When the service was restored after this deployment broke it, if it did and was.
    pub restored_at: Option<Timestamp>,
}

/// A span of time: from `start` (included) to `end` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    fn days(&self) -> f64 {
        self.end.duration_since(self.start).as_secs_f64() / 86_400.0
    }
}

/// The four metrics for one environment and period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dora {
    /// Deployments that finished in the period, whatever their result.
    pub deployments: u64,
    pub successful: u64,
    /// Successful deployments per day and per week.
    pub per_day: f64,
    pub per_week: f64,
    /// Median commit → production time; `None` without any change deployed.
    #[serde(with = "opt_secs")]
    pub lead_time: Option<Duration>,
    /// How many changes the lead time is measured over.
    pub changes: u64,
    /// Failed deployments, in percent of all; `None` without deployments.
    pub change_failure_rate: Option<f64>,
    pub failures: u64,
    /// Median time to restore; `None` without a restored failure.
    #[serde(with = "opt_secs")]
    pub time_to_restore: Option<Duration>,
    /// Failures not restored yet.
    pub unrestored: u64,
}

/// Deployments and failures of one day, for charts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    pub start: Timestamp,
    pub deployments: u64,
    pub failures: u64,
}

/// The DORA metrics of `environment` over `period`.
pub fn dora(records: &[Record], environment: &str, period: &Period) -> Dora {
    let in_period: Vec<&Record> = records
        .iter()
        .filter(|r| r.environment == environment && period.contains(r.finished_at))
        .collect();
    let successful: Vec<&&Record> = in_period
        .iter()
        .filter(|r| r.result == DeployResult::Succeeded)
        .collect();
    let mut lead_times: Vec<Duration> = successful
        .iter()
        .flat_map(|r| r.commits.iter().map(|c| between(*c, r.finished_at)))
        .collect();
    let failures: Vec<&&Record> = in_period.iter().filter(|r| failed(r)).collect();
    let mut restores: Vec<Duration> = failures.iter().filter_map(|r| time_to_restore(r)).collect();
    let days = period.days();
    let per_day = if days > 0.0 {
        successful.len() as f64 / days
    } else {
        0.0
    };
    Dora {
        deployments: in_period.len() as u64,
        successful: successful.len() as u64,
        per_day,
        per_week: per_day * 7.0,
        changes: lead_times.len() as u64,
        lead_time: median(&mut lead_times),
        change_failure_rate: (!in_period.is_empty())
            .then(|| failures.len() as f64 * 100.0 / in_period.len() as f64),
        failures: failures.len() as u64,
        unrestored: (failures.len() - restores.len()) as u64,
        time_to_restore: median(&mut restores),
    }
}

/// Deployments and failures of `environment` per day of `period` (days counted from its start).
pub fn daily(records: &[Record], environment: &str, period: &Period) -> Vec<Day> {
    let n_days = period.days().ceil().max(0.0) as usize;
    let mut days: Vec<Day> = (0..n_days)
        .map(|i| Day {
            start: period.start + jiff::SignedDuration::from_secs(86_400 * i as i64),
            deployments: 0,
            failures: 0,
        })
        .collect();
    for r in records
        .iter()
        .filter(|r| r.environment == environment && period.contains(r.finished_at))
    {
        let index = (r.finished_at.duration_since(period.start).as_secs() / 86_400) as usize;
        if let Some(day) = days.get_mut(index) {
            day.deployments += 1;
            day.failures += u64::from(failed(r));
        }
    }
    days
}

fn failed(record: &Record) -> bool {
    record.result != DeployResult::Succeeded || record.restored_at.is_some()
}

fn time_to_restore(record: &Record) -> Option<Duration> {
    match record.result {
        DeployResult::Succeeded => record
            .restored_at
            .map(|restored| between(record.finished_at, restored)),
        DeployResult::RolledBack { .. } => Some(between(
            record.started_at,
            record.restored_at.unwrap_or(record.finished_at),
        )),
        DeployResult::Failed { .. } => record
            .restored_at
            .map(|restored| between(record.started_at, restored)),
    }
}

/// The time from `from` to `to`, zero when `to` comes first (clock skew between hosts).
fn between(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or_default()
}

fn median(values: &mut [Duration]) -> Option<Duration> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

/// Optional durations as seconds, `null` when absent.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    /// Seconds since the start of the test period.
    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + secs).unwrap()
    }

    fn week() -> Period {
        Period {
            start: t(0),
            end: t(7 * DAY),
        }
    }

    fn deployed(finished: i64, took: i64, result: DeployResult, commits_ago: &[i64]) -> Record {
        Record {
            environment: "production".into(),
            started_at: t(finished - took),
            finished_at: t(finished),
            result,
            commits: commits_ago.iter().map(|ago| t(finished - ago)).collect(),
            restored_at: None,
        }
    }

    fn rolled_back() -> DeployResult {
        DeployResult::RolledBack {
            reason: "error rate 7.5% > 5%".into(),
        }
    }

    fn failed_result() -> DeployResult {
        DeployResult::Failed {
            reason: "v1 did not come back".into(),
        }
    }

    #[test]
    fn the_four_metrics_follow_their_definitions() {
        struct Case {
            name: &'static str,
            records: Vec<Record>,
            expected: Dora,
        }
        let cases = [
            Case {
                name: "no deployment",
                records: vec![],
                expected: Dora {
                    deployments: 0,
                    successful: 0,
                    per_day: 0.0,
                    per_week: 0.0,
                    lead_time: None,
                    changes: 0,
                    change_failure_rate: None,
                    failures: 0,
                    time_to_restore: None,
                    unrestored: 0,
                },
            },
            Case {
                name: "daily deployments, lead times of 1, 2 and 5 hours",
                records: (0..7)
                    .map(|day| {
                        deployed(
                            day * DAY + 10 * HOUR,
                            300,
                            DeployResult::Succeeded,
                            if day == 0 {
                                &[HOUR, 2 * HOUR, 5 * HOUR]
                            } else {
                                &[2 * HOUR]
                            },
                        )
                    })
                    .collect(),
                expected: Dora {
                    deployments: 7,
                    successful: 7,
                    per_day: 1.0,
                    per_week: 7.0,
                    lead_time: Some(Duration::from_secs(2 * 3600)),
                    changes: 9,
                    change_failure_rate: Some(0.0),
                    failures: 0,
                    time_to_restore: None,
                    unrestored: 0,
                },
            },
            Case {
                name: "a rollback, a late restore, an open failure; only successes count for lead time",
                records: vec![
                    deployed(DAY, 600, DeployResult::Succeeded, &[HOUR, 3 * HOUR]),
                    // Rolled back by itself 10 minutes after it started.
                    deployed(2 * DAY, 600, rolled_back(), &[30 * HOUR]),
                    // Went live, broke, restored 2 hours after it finished.
                    Record {
                        restored_at: Some(t(3 * DAY + 2 * HOUR)),
                        ..deployed(3 * DAY, 600, DeployResult::Succeeded, &[2 * HOUR])
                    },
                    // Its rollback failed and nothing is restored yet.
                    deployed(4 * DAY, 600, failed_result(), &[HOUR]),
                    // Outside the period, or another environment: ignored.
                    deployed(8 * DAY, 600, rolled_back(), &[HOUR]),
                    deployed(-DAY, 600, rolled_back(), &[HOUR]),
                    Record {
                        environment: "staging".into(),
                        ..deployed(DAY, 600, rolled_back(), &[HOUR])
                    },
                ],
                expected: Dora {
                    deployments: 4,
                    successful: 2,
                    per_day: 2.0 / 7.0,
                    per_week: 2.0,
                    lead_time: Some(Duration::from_secs(2 * 3600)),
                    changes: 3,
                    change_failure_rate: Some(75.0),
                    failures: 3,
                    // 10 minutes and 2 hours.
                    time_to_restore: Some(Duration::from_secs((600 + 2 * 3600) / 2)),
                    unrestored: 1,
                },
            },
        ];
        for case in cases {
            let got = dora(&case.records, "production", &week());
            assert_eq!(
                got.per_day.to_bits(),
                case.expected.per_day.to_bits(),
                "{}",
                case.name
            );
            assert!(
                (got.per_week - case.expected.per_week).abs() < 1e-9,
                "{}",
                case.name
            );
            let normalise = |d: Dora| Dora {
                per_day: 0.0,
                per_week: 0.0,
                ..d
            };
            assert_eq!(normalise(got), normalise(case.expected), "{}", case.name);
        }
    }

    #[test]
    fn a_commit_stamped_after_its_deployment_counts_as_zero_lead_time() {
        let skewed = deployed(DAY, 60, DeployResult::Succeeded, &[-30]);
        assert_eq!(
            dora(&[skewed], "production", &week()).lead_time,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_the_two_middles() {
        let secs = |v: &[u64]| {
            v.iter()
                .map(|s| Duration::from_secs(*s))
                .collect::<Vec<_>>()
        };
        let cases: &[(&[u64], Option<u64>)] = &[
            (&[], None),
            (&[7], Some(7)),
            (&[9, 1, 5], Some(5)),
            (&[10, 2, 4, 100], Some(7)),
        ];
        for (values, expected) in cases {
            assert_eq!(
                median(&mut secs(values)),
                expected.map(Duration::from_secs),
                "{values:?}"
            );
        }
    }

    #[test]
    fn daily_counts_feed_the_charts() {
        let records = [
            deployed(HOUR, 60, DeployResult::Succeeded, &[]),
            deployed(2 * HOUR, 60, rolled_back(), &[]),
            deployed(2 * DAY + HOUR, 60, DeployResult::Succeeded, &[]),
        ];
        let period = Period {
            start: t(0),
            end: t(3 * DAY),
        };
        let got: Vec<(u64, u64)> = daily(&records, "production", &period)
            .iter()
            .map(|d| (d.deployments, d.failures))
            .collect();
        assert_eq!(got, [(2, 1), (0, 0), (1, 0)]);
        assert_eq!(daily(&records, "production", &period)[2].start, t(2 * DAY));
    }

    #[test]
    fn metrics_serialise_with_durations_in_seconds() {
        let got = dora(
            &[deployed(DAY, 60, DeployResult::Succeeded, &[90])],
            "production",
            &week(),
        );
        let json = serde_json::to_value(&got).unwrap();
        assert_eq!(json["lead_time"], serde_json::json!(90.0));
        assert_eq!(json["time_to_restore"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Dora>(json).unwrap(), got);
    }
}
