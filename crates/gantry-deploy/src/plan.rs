//! Rollout planning: which [`Step`]s, in which order, take an environment from the version it
//! runs to a new one for each [`Strategy`], back again ([`rollback_plan`]), or to another number
//! of instances ([`scale`]).
//!
//! A plan is data a driver executes one step at a time, writing each step to the journal before
//! taking it (see `journal`). Every step is declarative, so taking it twice is harmless:
//! [`Step::Start`] and [`Step::Stop`] carry the number of instances that must run afterwards
//! (`total`, `remaining`) besides how many that adds or removes, and a driver brings the version
//! to that number rather than starting or stopping `count` more.
//!
//! Traffic moves by weight per version ([`Step::Route`]); weights always add up to 100. While a
//! version that receives traffic has no instance the proxy answers 503 (the downtime recreate
//! accepts). The steps after [`Step::Promote`] only clean up: the new version is then the
//! environment's version, and going back is a new deployment.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Strategy, secs};

/// One action of a rollout, taken by a driver (the process supervisor, Docker, SSH or a script)
/// and written to the journal before it is taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "step")]
pub enum Step {
    /// Start `count` instances of `version`, so that `total` run afterwards.
    Start {
        version: String,
        count: u32,
        total: u32,
    },
    /// Wait until every instance of `version` passes its health check.
    WaitHealthy { version: String },
    /// Set the proxy's weights: each version's share of new requests, in percent (sum: 100).
    Route { weights: Vec<Weight> },
    /// Hold the traffic as it is for `duration`, measure every response and judge the new version
    /// against the thresholds (see `analysis`).
    Analyze {
        #[serde(with = "secs")]
        duration: Duration,
    },
    /// Run the environment's smoke tests against the new version, which now takes all traffic.
    Smoke,
    /// The new version becomes the environment's version: the rollout has succeeded.
    Promote { version: String },
    /// Keep `version` running without traffic for `duration`, so going back to it is instant.
    KeepWarm {
        version: String,
        #[serde(with = "secs")]
        duration: Duration,
    },
    /// Stop `count` instances of `version` (draining them first), so that `remaining` run
    /// afterwards.
    Stop {
        version: String,
        count: u32,
        remaining: u32,
    },
}

/// A version's share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weight {
    pub version: String,
    pub percent: u8,
}

/// A version and how many of its instances run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub version: String,
    pub count: u32,
}

/// What a rollout starts from and where it must end.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    pub strategy: Strategy,
    /// What the environment runs now; `None` for its first deployment.
    pub current: Option<Running>,
    /// The version to roll out.
    pub version: String,
    /// How many instances of it must run at the end.
    pub replicas: u32,
    /// How long each analysis holds (the thresholds' interval); a canary holds its own
    /// `step_duration` instead.
    pub analysis: Duration,
    /// Whether the environment has smoke tests to run once the new version takes all traffic.
    pub smoke: bool,
}

/// Why no plan could be made; each message says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    ZeroReplicas,
    SameVersion(String),
    ZeroBatch,
    CanaryInitial(u8),
    CanaryIncrement(u8),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::ZeroReplicas => write!(
                f,
                "0 replicas would run nothing: ask for at least 1 (maintenance mode stops traffic without undeploying)"
            ),
            PlanError::SameVersion(v) => write!(
                f,
                "version {v} already runs here: deploy another version, or scale to change the number of instances"
            ),
            PlanError::ZeroBatch => write!(
                f,
                "a rolling batch size of 0 would never replace anything: set `batch_size` to 1 or more"
            ),
            PlanError::CanaryInitial(p) => write!(
                f,
                "a canary's initial percentage must be between 1 and 100, not {p}"
            ),
            PlanError::CanaryIncrement(p) => write!(
                f,
                "a canary's increment must be between 1 and 100 percent, not {p}"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// The steps that roll `rollout.version` out with the rollout's strategy.
///
/// - **Recreate**: stop every old instance, start the new ones, wait until they are healthy,
///   route all traffic to them.
/// - **Rolling**: replace `batch_size` instances per batch. With `max_unavailable` 0 a batch
///   starts its new instances before stopping old ones (a surge); otherwise it first stops up to
///   `max_unavailable` old ones. After each batch the weights follow the instance counts and the
///   batch is analysed.
/// - **Blue-green**: start the whole new version, wait until it is healthy, switch all traffic,
///   analyse, promote, keep the old version warm for `keep_previous`, then stop it.
/// - **Canary**: start as many new instances as the first share needs, route `initial_percent`,
///   analyse for `step_duration`, add `increment_percent` (capped at 100) and so on; new instances
///   are added as the share grows so each carries about the same load, the old ones keep running
///   until the new version is promoted.
///
/// Every strategy runs the smoke tests (when there are some) once the new version takes all the
/// traffic, and analyses at least once after that. A first deployment (nothing running) has no
/// traffic to shift: it starts, checks, routes, analyses and promotes whatever the strategy.
pub fn plan(rollout: &Rollout) -> Result<Vec<Step>, PlanError> {
    if rollout.replicas == 0 {
        return Err(PlanError::ZeroReplicas);
    }
    match &rollout.strategy {
        Strategy::Rolling { batch_size: 0, .. } => return Err(PlanError::ZeroBatch),
        Strategy::Canary {
            initial_percent, ..
        } if !(1..=100).contains(initial_percent) => {
            return Err(PlanError::CanaryInitial(*initial_percent));
        }
        Strategy::Canary {
            increment_percent, ..
        } if !(1..=100).contains(increment_percent) => {
            return Err(PlanError::CanaryIncrement(*increment_percent));
        }
        _ => {}
    }
    let mut planner = Planner {
        steps: Vec::new(),
        fleet: Fleet::new(rollout.current.as_ref()),
        version: &rollout.version,
        smoke: rollout.smoke,
    };
    let Some(current) = rollout.current.as_ref().filter(|c| c.count > 0) else {
        planner.start_to(rollout.replicas);
        planner.route_all_to_new();
        planner.at_full_traffic();
        planner.analyze(rollout.analysis);
        planner.promote();
        return Ok(planner.steps);
    };
    if current.version == rollout.version {
        return Err(PlanError::SameVersion(current.version.clone()));
    }
    let old = current.version.as_str();
    match rollout.strategy {
        Strategy::Recreate => {
            planner.stop_to(old, 0);
            planner.start_to(rollout.replicas);
            planner.route_all_to_new();
            planner.at_full_traffic();
            planner.analyze(rollout.analysis);
            planner.promote();
        }
        Strategy::Rolling {
            batch_size,
            max_unavailable,
        } => {
            let mut started = 0;
            while started < rollout.replicas {
                let batch = batch_size.min(rollout.replicas - started);
                started += batch;
                let old_running = planner.fleet.running(old);
                let to_stop = if started == rollout.replicas {
                    old_running
                } else {
                    batch.min(old_running)
                };
                let stop_first = to_stop.min(max_unavailable);
                if stop_first > 0 {
                    planner.route_by_counts(old_running - stop_first);
                    planner.stop_to(old, old_running - stop_first);
                }
                planner.start_to(started);
                planner.route_by_counts(old_running - to_stop);
                if to_stop > stop_first {
                    planner.stop_to(old, old_running - to_stop);
                }
                if started == rollout.replicas {
                    planner.at_full_traffic();
                }
                planner.analyze(rollout.analysis);
            }
            planner.promote();
        }
        Strategy::BlueGreen { keep_previous } => {
            planner.start_to(rollout.replicas);
            planner.route_all_to_new();
            planner.at_full_traffic();
            planner.analyze(rollout.analysis);
            planner.promote();
            if !keep_previous.is_zero() {
                planner.steps.push(Step::KeepWarm {
                    version: old.to_owned(),
                    duration: keep_previous,
                });
            }
            planner.stop_to(old, 0);
        }
        Strategy::Canary {
            initial_percent,
            increment_percent,
            step_duration,
        } => {
            let mut percent = initial_percent;
            loop {
                let needed = (u64::from(rollout.replicas) * u64::from(percent)).div_ceil(100);
                planner.start_to(u32::try_from(needed).unwrap_or(rollout.replicas).max(1));
                planner.route(vec![
                    Weight {
                        version: old.to_owned(),
                        percent: 100 - percent,
                    },
                    Weight {
                        version: rollout.version.clone(),
                        percent,
                    },
                ]);
                if percent == 100 {
                    planner.at_full_traffic();
                }
                planner.analyze(step_duration);
                if percent == 100 {
                    break;
                }
                percent = percent.saturating_add(increment_percent).min(100);
            }
            planner.promote();
            planner.stop_to(old, 0);
        }
    }
    Ok(planner.steps)
}

/// The steps that bring the environment back to `previous` from `fleet` (what runs now, at any
/// point of a rollout of `version`): start the previous version's instances again where they
/// were stopped and wait until they are healthy, route all traffic to it, then stop the new
/// version. Without a previous version (a first deployment) the new version is only stopped.
pub fn rollback_plan(fleet: &Fleet, previous: Option<&Running>, version: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(previous) = previous.filter(|p| p.count > 0) {
        let running = fleet.running(&previous.version);
        if running < previous.count {
            steps.push(Step::Start {
                version: previous.version.clone(),
                count: previous.count - running,
                total: previous.count,
            });
        }
        steps.push(Step::WaitHealthy {
            version: previous.version.clone(),
        });
        steps.push(Step::Route {
            weights: vec![Weight {
                version: previous.version.clone(),
                percent: 100,
            }],
        });
    }
    // Always stop the new version, even when the fleet says none runs: after a crash the
    // journal may not know about instances a half-taken step started.
    steps.push(Step::Stop {
        version: version.to_owned(),
        count: fleet.running(version),
        remaining: 0,
    });
    steps
}

/// The steps that change how many instances of `version` run, from `from` to `to`: start the
/// missing ones and wait until they are healthy, or stop the extra ones. Traffic weights are per
/// version, so they do not change.
pub fn scale(version: &str, from: u32, to: u32) -> Result<Vec<Step>, PlanError> {
    if to == 0 {
        return Err(PlanError::ZeroReplicas);
    }
    let version = version.to_owned();
    Ok(match to.cmp(&from) {
        std::cmp::Ordering::Greater => vec![
            Step::Start {
                version: version.clone(),
                count: to - from,
                total: to,
            },
            Step::WaitHealthy { version },
        ],
        std::cmp::Ordering::Less => vec![Step::Stop {
            version,
            count: from - to,
            remaining: to,
        }],
        std::cmp::Ordering::Equal => Vec::new(),
    })
}

/// What runs and where traffic goes, as the steps taken so far leave it: the planner's own
/// bookkeeping, and the starting point of a rollback.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Instances per version (versions without instances are absent).
    pub running: BTreeMap<String, u32>,
    pub weights: Vec<Weight>,
}

impl Fleet {
    /// The fleet before a rollout: the current version's instances with all the traffic.
    pub fn new(current: Option<&Running>) -> Fleet {
        let mut fleet = Fleet::default();
        if let Some(current) = current.filter(|c| c.count > 0) {
            fleet.running.insert(current.version.clone(), current.count);
            fleet.weights.push(Weight {
                version: current.version.clone(),
                percent: 100,
            });
        }
        fleet
    }

    /// How many instances of `version` run.
    pub fn running(&self, version: &str) -> u32 {
        self.running.get(version).copied().unwrap_or(0)
    }

    /// The fleet once `step` is taken.
    pub fn apply(&mut self, step: &Step) {
        match step {
            Step::Start { version, total, .. } => {
                self.running.insert(version.clone(), *total);
            }
            Step::Stop {
                version, remaining, ..
            } => {
                if *remaining == 0 {
                    self.running.remove(version);
                } else {
                    self.running.insert(version.clone(), *remaining);
                }
            }
            Step::Route { weights } => self.weights = weights.clone(),
            Step::WaitHealthy { .. }
            | Step::Analyze { .. }
            | Step::Smoke
            | Step::Promote { .. }
            | Step::KeepWarm { .. } => {}
        }
    }
}

struct Planner<'a> {
    steps: Vec<Step>,
    fleet: Fleet,
    version: &'a str,
    smoke: bool,
}

impl Planner<'_> {
    fn push(&mut self, step: Step) {
        self.fleet.apply(&step);
        self.steps.push(step);
    }

    /// Start new instances until `total` run, and wait until they are healthy.
    fn start_to(&mut self, total: u32) {
        let running = self.fleet.running(self.version);
        if total <= running {
            return;
        }
        self.push(Step::Start {
            version: self.version.to_owned(),
            count: total - running,
            total,
        });
        self.push(Step::WaitHealthy {
            version: self.version.to_owned(),
        });
    }

    fn stop_to(&mut self, version: &str, remaining: u32) {
        let running = self.fleet.running(version);
        if remaining >= running {
            return;
        }
        self.push(Step::Stop {
            version: version.to_owned(),
            count: running - remaining,
            remaining,
        });
    }

    /// Route when the weights change; weights without any share (no instance at all) are not
    /// routed: the proxy keeps answering 503 for the version it has.
    fn route(&mut self, weights: Vec<Weight>) {
        let weights: Vec<Weight> = weights.into_iter().filter(|w| w.percent > 0).collect();
        if !weights.is_empty() && weights != self.fleet.weights {
            self.push(Step::Route { weights });
        }
    }

    fn route_all_to_new(&mut self) {
        self.route(vec![Weight {
            version: self.version.to_owned(),
            percent: 100,
        }]);
    }

    /// Weights proportional to `old` instances of the old version and the new version's
    /// instances (the old version's count as it will be once a stop that follows is taken).
    fn route_by_counts(&mut self, old: u32) {
        let mut counts = Vec::new();
        if let Some((old_version, _)) = self.fleet.running.iter().find(|(v, _)| *v != self.version)
        {
            counts.push((old_version.clone(), old));
        }
        counts.push((self.version.to_owned(), self.fleet.running(self.version)));
        self.route(proportional(&counts));
    }

    fn at_full_traffic(&mut self) {
        if self.smoke {
            self.push(Step::Smoke);
        }
    }

    fn analyze(&mut self, duration: Duration) {
        self.push(Step::Analyze { duration });
    }

    fn promote(&mut self) {
        self.push(Step::Promote {
            version: self.version.to_owned(),
        });
    }
}

/// Percentages proportional to `counts` that add up to 100 (largest remainders get the rounding),
/// with at least 1 % for every version that has an instance.
fn proportional(counts: &[(String, u32)]) -> Vec<Weight> {
    let total: u64 = counts.iter().map(|(_, n)| u64::from(*n)).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut shares: Vec<(u64, u64)> = counts
        .iter()
        .map(|(_, n)| {
            let scaled = u64::from(*n) * 100;
            (scaled / total, scaled % total)
        })
        .collect();
    let mut left = 100 - shares.iter().map(|(p, _)| p).sum::<u64>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(shares[i].1));
    for &i in order.iter().cycle().take(left as usize) {
        shares[i].0 += 1;
        left -= 1;
    }
    debug_assert_eq!(left, 0);
    for i in 0..shares.len() {
        if shares[i].0 == 0 && counts[i].1 > 0 {
            let richest = (0..shares.len()).max_by_key(|&j| shares[j].0).unwrap_or(i);
            shares[richest].0 -= 1;
            shares[i].0 = 1;
        }
    }
    counts
        .iter()
        .zip(shares)
        .map(|((version, _), (percent, _))| Weight {
            version: version.clone(),
            percent: u8::try_from(percent).unwrap_or(100),
        })
        .collect()
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Start {
                version,
                count,
                total,
            } => write!(
                f,
                "start {count} {} of {version} ({total} running)",
                instances(*count)
            ),
            Step::WaitHealthy { version } => {
                write!(f, "wait until every instance of {version} is healthy")
            }
            Step::Route { weights } => {
                f.write_str("route ")?;
                for (i, w) in weights.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}% to {}", w.percent, w.version)?;
                }
                Ok(())
            }
            Step::Analyze { duration } => write!(f, "analyse for {}", human(*duration)),
            Step::Smoke => f.write_str("run the smoke tests"),
            Step::Promote { version } => write!(f, "promote {version}"),
            Step::KeepWarm { version, duration } => {
                write!(f, "keep {version} warm for {}", human(*duration))
            }
            Step::Stop {
                version,
                count,
                remaining,
            } => write!(
                f,
                "stop {count} {} of {version} ({remaining} left)",
                instances(*count)
            ),
        }
    }
}

fn instances(count: u32) -> &'static str {
    if count == 1 { "instance" } else { "instances" }
}

/// `90s` → `1m30s`, `600s` → `10m`, `1.5s` → `1.5s`.
pub(crate) fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_millis() != 0 || secs == 0 {
        return format!("{}s", (duration.as_secs_f64() * 1000.0).round() / 1000.0);
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(strategy: Strategy, current: u32, replicas: u32) -> Rollout {
        Rollout {
            strategy,
            current: (current > 0).then(|| Running {
                version: "v1".into(),
                count: current,
            }),
            version: "v2".into(),
            replicas,
            analysis: Duration::from_secs(10),
            smoke: true,
        }
    }

    /// The plan as one line per step, the way a page shows it.
    fn lines(steps: &[Step]) -> Vec<String> {
        steps.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_strategy_plans_the_expected_steps() {
        let cases: &[(Strategy, u32, u32, &[&str])] = &[
            (
                Strategy::Recreate,
                2,
                2,
                &[
                    "stop 2 instances of v1 (0 left)",
                    "start 2 instances of v2 (2 running)",
                    "wait until every instance of v2 is healthy",
                    "route 100% to v2",
                    "run the smoke tests",
                    "analyse for 10s",
                    "promote v2",
                ],
            ),
            (
                Strategy::ROLLING,
                2,
                2,
                &[
                    "start 1 instance of v2 (1 running)",
                    "wait until every instance of v2 is healthy",
                    "route 50% to v1, 50% to v2",
                    "stop 1 instance of v1 (1 left)",
                    "analyse for 10s",
                    "start 1 instance of v2 (2 running)",
                    "wait until every instance of v2 is healthy",
                    "route 100% to v2",
                    "stop 1 instance of v1 (0 left)",
                    "run the smoke tests",
                    "analyse for 10s",
                    "promote v2",
                ],
            ),
            (
                Strategy::Rolling {
                    batch_size: 2,
                    max_unavailable: 1,
                },
                4,
                4,
                &[
                    "stop 1 instance of v1 (3 left)",
                    "start 2 instances of v2 (2 running)",
                    "wait until every instance of v2 is healthy",
                    "route 50% to v1, 50% to v2",
                    "stop 1 instance of v1 (2 left)",
                    "analyse for 10s",
                    "route 33% to v1, 67% to v2",
                    "stop 1 instance of v1 (1 left)",
                    "start 2 instances of v2 (4 running)",
                    "wait until every instance of v2 is healthy",
                    "route 100% to v2",
                    "stop 1 instance of v1 (0 left)",
                    "run the smoke tests",
                    "analyse for 10s",
                    "promote v2",
                ],
            ),
            (
                Strategy::BLUE_GREEN,
                3,
                3,
                &[
                    "start 3 instances of v2 (3 running)",
                    "wait until every instance of v2 is healthy",
                    "route 100% to v2",
                    "run the smoke tests",
                    "analyse for 10s",
                    "promote v2",
                    "keep v1 warm for 10m",
                    "stop 3 instances of v1 (0 left)",
                ],
            ),
            (
                Strategy::CANARY,
                4,
                4,
                &[
                    "start 1 instance of v2 (1 running)",
                    "wait until every instance of v2 is healthy",
                    "route 90% to v1, 10% to v2",
                    "analyse for 1m",
                    "start 1 instance of v2 (2 running)",
                    "wait until every instance of v2 is healthy",
                    "route 65% to v1, 35% to v2",
                    "analyse for 1m",
                    "start 1 instance of v2 (3 running)",
                    "wait until every instance of v2 is healthy",
                    "route 40% to v1, 60% to v2",
                    "analyse for 1m",
                    "start 1 instance of v2 (4 running)",
                    "wait until every instance of v2 is healthy",
                    "route 15% to v1, 85% to v2",
                    "analyse for 1m",
                    "route 100% to v2",
                    "run the smoke tests",
                    "analyse for 1m",
                    "promote v2",
                    "stop 4 instances of v1 (0 left)",
                ],
            ),
            // A first deployment has nothing to shift from, whatever the strategy.
            (
                Strategy::CANARY,
                0,
                2,
                &[
                    "start 2 instances of v2 (2 running)",
                    "wait until every instance of v2 is healthy",
                    "route 100% to v2",
                    "run the smoke tests",
                    "analyse for 10s",
                    "promote v2",
                ],
            ),
        ];
        for (strategy, current, replicas, expected) in cases {
            let steps = plan(&rollout(strategy.clone(), *current, *replicas)).unwrap();
            assert_eq!(
                lines(&steps),
                *expected,
                "{strategy:?} {current}→{replicas}"
            );
        }
    }

    /// Follows a plan step by step and checks what must hold at every point: the weights add up
    /// to 100 and name only versions that run, no more than `max_unavailable` of the wanted
    /// instances are ever out of service (for rolling), and the end state is the new version
    /// alone with all the traffic.
    fn check_invariants(r: &Rollout, steps: &[Step]) -> Result<(), String> {
        let mut fleet = Fleet::new(r.current.as_ref());
        let old = r.current.as_ref().map(|c| c.version.clone());
        let floor = match (&r.strategy, &r.current) {
            (
                Strategy::Rolling {
                    max_unavailable, ..
                },
                Some(c),
            ) => c.count.min(r.replicas).saturating_sub(*max_unavailable),
            _ => 0,
        };
        let mut healthy_new = 0;
        let mut promoted = false;
        for (i, step) in steps.iter().enumerate() {
            fleet.apply(step);
            match step {
                Step::WaitHealthy { .. } => healthy_new = fleet.running(&r.version),
                Step::Stop { version, .. } if *version == r.version => {
                    return Err(format!("step {i} stops the new version"));
                }
                Step::Route { weights } => {
                    let sum: u32 = weights.iter().map(|w| u32::from(w.percent)).sum();
                    if sum != 100 {
                        return Err(format!("step {i}: weights add up to {sum}"));
                    }
                    if let Some(w) = weights
                        .iter()
                        .find(|w| w.percent == 0 || fleet.running(&w.version) == 0)
                    {
                        return Err(format!("step {i} routes {w:?} to nothing"));
                    }
                    if weights.iter().any(|w| w.version == r.version) && healthy_new == 0 {
                        return Err(format!("step {i} routes before a health check"));
                    }
                }
                Step::Promote { .. } => {
                    promoted = true;
                    if fleet.weights
                        != [Weight {
                            version: r.version.clone(),
                            percent: 100,
                        }]
                    {
                        return Err(format!("step {i} promotes with {:?}", fleet.weights));
                    }
                }
                _ => {}
            }
            if let Some(old) = &old {
                let serving = fleet.running(old) + healthy_new.min(fleet.running(&r.version));
                if serving < floor {
                    return Err(format!("after step {i} only {serving} serve (< {floor})"));
                }
            }
        }
        let end: Vec<(String, u32)> = fleet.running.into_iter().collect();
        if end != [(r.version.clone(), r.replicas)] || !promoted {
            return Err(format!("ends with {end:?}, promoted: {promoted}"));
        }
        Ok(())
    }

    #[test]
    fn every_plan_keeps_traffic_whole_and_ends_on_the_new_version_alone() {
        let strategies = [
            Strategy::Recreate,
            Strategy::ROLLING,
            Strategy::Rolling {
                batch_size: 2,
                max_unavailable: 0,
            },
            Strategy::Rolling {
                batch_size: 3,
                max_unavailable: 1,
            },
            Strategy::Rolling {
                batch_size: 1,
                max_unavailable: 5,
            },
            Strategy::BLUE_GREEN,
            Strategy::BlueGreen {
                keep_previous: Duration::ZERO,
            },
            Strategy::CANARY,
            Strategy::Canary {
                initial_percent: 1,
                increment_percent: 33,
                step_duration: Duration::from_secs(5),
            },
            Strategy::Canary {
                initial_percent: 100,
                increment_percent: 1,
                step_duration: Duration::from_secs(5),
            },
        ];
        let mut n_plans = 0;
        for strategy in strategies {
            for current in [0, 1, 2, 3, 7, 150] {
                for replicas in [1, 2, 3, 5, 8, 150] {
                    let r = rollout(strategy.clone(), current, replicas);
                    let steps = plan(&r).unwrap();
                    if let Err(e) = check_invariants(&r, &steps) {
                        panic!(
                            "{strategy:?} {current}→{replicas}: {e}\n{:#?}",
                            lines(&steps)
                        );
                    }
                    n_plans += 1;
                }
            }
        }
        assert_eq!(n_plans, 360);
    }

    #[test]
    fn rolling_without_unavailability_surges_before_stopping() {
        let steps = plan(&rollout(Strategy::ROLLING, 3, 3)).unwrap();
        let first_start = steps.iter().position(|s| matches!(s, Step::Start { .. }));
        let first_stop = steps.iter().position(|s| matches!(s, Step::Stop { .. }));
        assert!(first_start < first_stop, "{:#?}", lines(&steps));
        let analyses = steps
            .iter()
            .filter(|s| matches!(s, Step::Analyze { .. }))
            .count();
        assert_eq!(analyses, 3, "one analysis per batch");
    }

    #[test]
    fn canary_percentages_grow_by_the_increment_and_stop_at_100() {
        let cases: &[(u8, u8, &[u8])] = &[
            (10, 25, &[10, 35, 60, 85, 100]),
            (50, 50, &[50, 100]),
            (20, 90, &[20, 100]),
            (100, 10, &[100]),
        ];
        for (initial, increment, expected) in cases {
            let strategy = Strategy::Canary {
                initial_percent: *initial,
                increment_percent: *increment,
                step_duration: Duration::from_secs(30),
            };
            let steps = plan(&rollout(strategy, 10, 10)).unwrap();
            let shares: Vec<u8> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Route { weights } => weights
                        .iter()
                        .find(|w| w.version == "v2")
                        .map(|w| w.percent),
                    _ => None,
                })
                .collect();
            assert_eq!(shares, *expected, "{initial}+{increment}");
        }
    }

    #[test]
    fn impossible_rollouts_are_refused_with_what_to_change() {
        let cases: &[(Rollout, &str)] = &[
            (
                rollout(Strategy::ROLLING, 2, 0),
                "0 replicas would run nothing",
            ),
            (
                rollout(
                    Strategy::Rolling {
                        batch_size: 0,
                        max_unavailable: 1,
                    },
                    2,
                    2,
                ),
                "set `batch_size` to 1 or more",
            ),
            (
                rollout(
                    Strategy::Canary {
                        initial_percent: 0,
                        increment_percent: 10,
                        step_duration: Duration::from_secs(1),
                    },
                    2,
                    2,
                ),
                "between 1 and 100, not 0",
            ),
            (
                rollout(
                    Strategy::Canary {
                        initial_percent: 10,
                        increment_percent: 0,
                        step_duration: Duration::from_secs(1),
                    },
                    2,
                    2,
                ),
                "between 1 and 100 percent, not 0",
            ),
            (
                Rollout {
                    version: "v1".into(),
                    ..rollout(Strategy::ROLLING, 2, 2)
                },
                "version v1 already runs here",
            ),
        ];
        for (r, expected) in cases {
            let message = plan(r).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn a_rollback_restarts_the_previous_version_only_where_it_was_stopped() {
        let previous = Running {
            version: "v1".into(),
            count: 3,
        };
        let cases: &[(Strategy, usize, &[&str])] = &[
            // Canary after its first route: v1 still runs entirely.
            (
                Strategy::CANARY,
                3,
                &[
                    "wait until every instance of v1 is healthy",
                    "route 100% to v1",
                    "stop 1 instance of v2 (0 left)",
                ],
            ),
            // Rolling after its first batch: one v1 instance was stopped.
            (
                Strategy::ROLLING,
                5,
                &[
                    "start 1 instance of v1 (3 running)",
                    "wait until every instance of v1 is healthy",
                    "route 100% to v1",
                    "stop 1 instance of v2 (0 left)",
                ],
            ),
            // Recreate after the new version started: everything of v1 must come back.
            (
                Strategy::Recreate,
                2,
                &[
                    "start 3 instances of v1 (3 running)",
                    "wait until every instance of v1 is healthy",
                    "route 100% to v1",
                    "stop 3 instances of v2 (0 left)",
                ],
            ),
            // Before anything was taken the new version has no instance; it is stopped anyway.
            (
                Strategy::BLUE_GREEN,
                0,
                &[
                    "wait until every instance of v1 is healthy",
                    "route 100% to v1",
                    "stop 0 instances of v2 (0 left)",
                ],
            ),
        ];
        for (strategy, taken, expected) in cases {
            let r = rollout(strategy.clone(), 3, 3);
            let steps = plan(&r).unwrap();
            let mut fleet = Fleet::new(Some(&previous));
            steps[..*taken].iter().for_each(|s| fleet.apply(s));
            let back = rollback_plan(&fleet, Some(&previous), "v2");
            assert_eq!(lines(&back), *expected, "{strategy:?} after {taken} steps");
            // And the rollback leaves v1 alone with all the traffic.
            back.iter().for_each(|s| fleet.apply(s));
            assert_eq!(
                fleet.running.into_iter().collect::<Vec<_>>(),
                [("v1".to_string(), 3)]
            );
            assert_eq!(
                fleet.weights,
                [Weight {
                    version: "v1".into(),
                    percent: 100
                }]
            );
        }
    }

    #[test]
    fn a_first_deployment_rolls_back_by_stopping_the_new_version() {
        let mut fleet = Fleet::new(None);
        fleet.apply(&Step::Start {
            version: "v1".into(),
            count: 2,
            total: 2,
        });
        assert_eq!(
            lines(&rollback_plan(&fleet, None, "v1")),
            ["stop 2 instances of v1 (0 left)"]
        );
    }

    #[test]
    fn scaling_starts_or_stops_the_difference() {
        let cases: &[(u32, u32, &[&str])] = &[
            (
                2,
                5,
                &[
                    "start 3 instances of v1 (5 running)",
                    "wait until every instance of v1 is healthy",
                ],
            ),
            (5, 1, &["stop 4 instances of v1 (1 left)"]),
            (3, 3, &[]),
        ];
        for (from, to, expected) in cases {
            assert_eq!(lines(&scale("v1", *from, *to).unwrap()), *expected);
        }
        assert_eq!(scale("v1", 3, 0), Err(PlanError::ZeroReplicas));
    }

    #[test]
    fn weights_are_proportional_and_add_up_to_100() {
        let cases: &[(&[u32], &[u8])] = &[
            (&[1, 1], &[50, 50]),
            (&[2, 1], &[67, 33]),
            (&[1, 2], &[33, 67]),
            (&[1, 1, 1], &[34, 33, 33]),
            (&[199, 1], &[99, 1]),
            (&[0, 3], &[0, 100]),
        ];
        for (counts, expected) in cases {
            let named: Vec<(String, u32)> = counts
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("v{i}"), *n))
                .collect();
            let got: Vec<u8> = proportional(&named).iter().map(|w| w.percent).collect();
            assert_eq!(got, *expected, "{counts:?}");
        }
    }

    #[test]
    fn steps_are_records_that_round_trip_through_json() {
        let steps = plan(&rollout(Strategy::CANARY, 2, 2)).unwrap();
        let json = serde_json::to_string(&steps).unwrap();
        assert_eq!(serde_json::from_str::<Vec<Step>>(&json).unwrap(), steps);
        assert_eq!(
            serde_json::to_value(&steps[2]).unwrap(),
            serde_json::json!({"step": "route", "weights": [
                {"version": "v1", "percent": 90}, {"version": "v2", "percent": 10}
            ]})
        );
    }

    #[test]
    fn durations_read_like_people_write_them() {
        for (secs, expected) in [
            (0.0, "0s"),
            (1.5, "1.5s"),
            (10.0, "10s"),
            (90.0, "1m30s"),
            (600.0, "10m"),
            (3660.0, "1h1m"),
        ] {
            assert_eq!(human(Duration::from_secs_f64(secs)), expected);
        }
    }
}
