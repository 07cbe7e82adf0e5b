//! The vocabulary of a deployment shared by configuration, planning and analysis: how traffic
//! moves to a new version ([`Strategy`]), when an instance counts as healthy ([`HealthCheck`]) and
//! when a rollout must be rolled back ([`Thresholds`]). Every default is the one the users
//! expect, written once here.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a new version replaces the running one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Strategy {
    /// Stop every old instance, then start the new ones (downtime is accepted).
    Recreate,
    /// Replace instances `batch_size` at a time, never with more than `max_unavailable` of the
    /// wanted replicas out of service.
    Rolling {
        batch_size: u32,
        max_unavailable: u32,
    },
    /// Start the whole new version beside the old one, check it, switch all traffic at once;
    /// the old version stays running (warm) for `keep_previous` so rolling back is instant.
    BlueGreen {
        #[serde(with = "secs")]
        keep_previous: Duration,
    },
    /// Send `initial_percent` of the traffic to the new version, then add `increment_percent`
    /// every `step_duration` while the analysis passes, up to 100.
    Canary {
        initial_percent: u8,
        increment_percent: u8,
        #[serde(with = "secs")]
        step_duration: Duration,
    },
}

impl Strategy {
    /// Rolling with one instance at a time and none unavailable.
    pub const ROLLING: Strategy = Strategy::Rolling {
        batch_size: 1,
        max_unavailable: 0,
    };
    /// Blue-green keeping the previous version warm for ten minutes.
    pub const BLUE_GREEN: Strategy = Strategy::BlueGreen {
        keep_previous: Duration::from_secs(600),
    };
    /// A canary at 10 %, then +25 % every minute.
    pub const CANARY: Strategy = Strategy::Canary {
        initial_percent: 10,
        increment_percent: 25,
        step_duration: Duration::from_secs(60),
    };

    /// The name used in configuration, records and pages.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Recreate => "recreate",
            Strategy::Rolling { .. } => "rolling",
            Strategy::BlueGreen { .. } => "blue-green",
            Strategy::Canary { .. } => "canary",
        }
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::ROLLING
    }
}

/// An HTTP check an instance must pass before it receives traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// The path requested on the instance, e.g. `/health`.
    pub path: String,
    /// The status that means healthy.
    pub status: u16,
    /// How long one attempt may take.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// How many attempts before the instance is declared unhealthy.
    pub retries: u32,
    /// The pause between attempts.
    #[serde(with = "secs")]
    pub interval: Duration,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: "/health".into(),
            status: 200,
            timeout: Duration::from_secs(2),
            retries: 10,
            interval: Duration::from_secs(1),
        }
    }
}

/// The limits a rollout is analysed against, at every step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Fail above this share of 5xx answers and failed connections, in percent.
    pub max_error_rate: f64,
    /// Fail when the 95th percentile latency is above this, in milliseconds.
    pub max_response_ms: u64,
    /// Fail when fewer than this share of requests were answered at all (not a connection
    /// failure, not a timeout), in percent.
    pub min_availability: f64,
    /// How long each analysis window is.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Below this many requests in a window the verdict is "inconclusive", not "pass".
    pub min_requests: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_error_rate: 5.0,
            max_response_ms: 2000,
            min_availability: 95.0,
            interval: Duration::from_secs(10),
            min_requests: 1,
        }
    }
}

/// Durations as (fractional) seconds in JSON, so records stay readable.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_numbers() {
        let t = Thresholds::default();
        assert_eq!(
            (t.max_error_rate, t.max_response_ms, t.min_availability),
            (5.0, 2000, 95.0)
        );
        assert_eq!(
            Strategy::CANARY,
            Strategy::Canary {
                initial_percent: 10,
                increment_percent: 25,
                step_duration: Duration::from_secs(60)
            }
        );
    }

    #[test]
    fn strategies_round_trip_through_json_with_durations_in_seconds() {
        for s in [
            Strategy::Recreate,
            Strategy::ROLLING,
            Strategy::BLUE_GREEN,
            Strategy::CANARY,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(
                serde_json::from_str::<Strategy>(&json).unwrap(),
                s,
                "{json}"
            );
        }
        assert_eq!(
            serde_json::to_value(Strategy::CANARY).unwrap(),
            serde_json::json!({"kind": "canary", "initial_percent": 10, "increment_percent": 25, "step_duration": 60.0})
        );
    }
}
