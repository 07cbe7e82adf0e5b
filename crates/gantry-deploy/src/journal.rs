//! The deployment journal: the record that makes a rollout crash-safe and tells its story.
//!
//! A [`Journal`] holds the [`Deployment`], the plan it follows (stored with it, so a restart
//! resumes the very plan that was started, even after an upgrade of Gantry) and an append-only
//! list of [`Entry`]s. The rule the driver follows: **every step is written before it is taken**
//! ([`Event::Intent`]) and confirmed once taken ([`Event::Done`], or [`Event::Analysis`] for an
//! analysis). [`next`] reads the journal alone and says what to do now; [`on_restart`] does the
//! same after a crash, applying the [`Policy`]; [`summary`] condenses it for pages.
//!
//! An intent without its confirmation means the step may be half taken: the driver takes it
//! again ([`Next::Redo`]), so every step must be idempotent:
//! - `Start`/`Stop` name the instance count that must run afterwards: bring the version to it.
//! - `WaitHealthy` only reads; `Route` sets the weights; `Promote` sets the environment's
//!   version.
//! - `Analyze` measures a fresh window; the windows judged before stay recorded.
//! - `Smoke` runs the smoke tests again: they must be repeatable (checks, not one-off changes).
//! - `KeepWarm` may shorten its wait by the time since the intent ([`Next::Redo::since`]).
//!
//! Traffic is never left split without a record: a `Route` is written before it is applied,
//! and after a crash it is either applied again (resume) or undone by the rollback, whose own
//! steps (written in [`Event::RollbackStarted`]) route everything back to the previous version.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, Outcome};
use crate::model::Strategy;
use crate::plan::{Fleet, Running, Step, Weight, rollback_plan};

/// One deployment of a version to an environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub environment: String,
    /// The version rolled out (an image digest or an artifact's name).
    pub version: String,
    pub replicas: u32,
    /// What ran before, and what a rollback returns to; `None` for a first deployment.
    pub previous: Option<Running>,
    pub strategy: Strategy,
    pub started_at: Timestamp,
    /// Who started it: a user, or the workflow run that deployed.
    pub actor: String,
}

/// The deployment, its plan and everything that happened, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub deployment: Deployment,
    pub plan: Vec<Step>,
    pub entries: Vec<Entry>,
}

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at: Timestamp,
    pub event: Event,
}

/// What happened. `step` indexes the plan, or the rollback's steps once a rollback started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum Event {
    /// The driver is about to take `step` (written before it is taken).
    Intent {
        step: usize,
        action: Step,
    },
    /// The driver took `step`.
    Done {
        step: usize,
        outcome: StepOutcome,
    },
    /// An analysis window of `step` was judged (this confirms an `Analyze` step, unless it
    /// was inconclusive and another window is measured).
    Analysis {
        step: usize,
        analysis: Analysis,
    },
    /// Someone paused the rollout: no new step is taken until it is resumed.
    Paused {
        actor: String,
    },
    Resumed {
        actor: String,
    },
    /// Someone promoted the rollout by hand: the remaining analyses are skipped.
    PromotedByHand {
        actor: String,
    },
    /// Someone aborted the rollout: it rolls back.
    Aborted {
        actor: String,
        reason: String,
    },
    /// Gantry restarted while the rollout ran.
    Restarted,
    /// The rollout is being undone, for `reason`, with these steps.
    RollbackStarted {
        reason: String,
        steps: Vec<Step>,
    },
    Finished {
        result: DeployResult,
    },
}

/// Whether a step could be taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum StepOutcome {
    Ok,
    /// The step could not be taken; `reason` says what happened (e.g. which instance failed
    /// its health check and its last log lines).
    Failed {
        reason: String,
    },
}

/// How a deployment ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum DeployResult {
    Succeeded,
    RolledBack {
        reason: String,
    },
    /// Neither the new version nor the previous one could be made to run as planned: someone
    /// has to look.
    Failed {
        reason: String,
    },
}

/// Which list of steps an index refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Rollout,
    Rollback,
}

/// What the driver must do now.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Write `Intent { step: index, .. }`, then take the step.
    Take {
        phase: Phase,
        index: usize,
        step: Step,
    },
    /// The step's intent is written but the step is not confirmed (a crash, or an inconclusive
    /// analysis that needs another window): take it again, without writing another intent.
    Redo {
        phase: Phase,
        index: usize,
        step: Step,
        /// When the intent was written.
        since: Timestamp,
    },
    /// Paused by hand: take nothing until someone resumes.
    Wait,
    /// Write `RollbackStarted { reason, steps }`, then take these steps.
    RollBack { reason: String, steps: Vec<Step> },
    /// Write `Finished { result }`.
    Finish(DeployResult),
    /// The journal is closed.
    Finished(DeployResult),
}

/// How the journal's decisions bend.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// How many more windows an analysis step measures after an inconclusive one.
    pub inconclusive_retries: u32,
    /// What happens when they are all inconclusive (too little traffic to judge).
    pub still_inconclusive: StillInconclusive,
    /// What a restart of Gantry in the middle of a rollout does.
    pub on_restart: OnRestart,
}

/// What an analysis step that never got a verdict leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StillInconclusive {
    /// Go on, as health checks passed and no traffic showed harm (recorded as inconclusive).
    Proceed,
    RollBack,
}

/// What a restart in the middle of a rollout leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnRestart {
    /// Take the unconfirmed step again and carry on.
    Resume,
    /// Roll back, unless nothing was taken yet or the new version is already promoted.
    RollBack,
}

impl Default for Policy {
    /// Two more windows for an inconclusive analysis and then go on (an environment without
    /// traffic must still deploy), and resume after a restart.
    fn default() -> Self {
        Policy {
            inconclusive_retries: 2,
            still_inconclusive: StillInconclusive::Proceed,
            on_restart: OnRestart::Resume,
        }
    }
}

impl Journal {
    /// A journal with nothing written yet.
    pub fn new(deployment: Deployment, plan: Vec<Step>) -> Journal {
        Journal {
            deployment,
            plan,
            entries: Vec::new(),
        }
    }

    /// Appends what happened at `at`.
    pub fn record(&mut self, at: Timestamp, event: Event) {
        self.entries.push(Entry { at, event });
    }
}

/// What every step of one phase went through, read from the entries.
#[derive(Clone, Debug, Default)]
struct StepLog {
    intent: Option<Timestamp>,
    done: Option<StepOutcome>,
    analyses: Vec<Analysis>,
}

/// The journal folded into what [`next`] needs.
struct State<'a> {
    rollout: Vec<StepLog>,
    rollback: Option<(&'a str, &'a [Step], Vec<StepLog>)>,
    finished: Option<&'a DeployResult>,
    paused: bool,
    promoted_by_hand: bool,
    aborted: Option<String>,
}

fn fold(journal: &Journal) -> State<'_> {
    let mut state = State {
        rollout: vec![StepLog::default(); journal.plan.len()],
        rollback: None,
        finished: None,
        paused: false,
        promoted_by_hand: false,
        aborted: None,
    };
    for entry in &journal.entries {
        match &entry.event {
            Event::Intent { step, .. } => {
                if let Some(l) = log_of(&mut state, *step) {
                    l.intent.get_or_insert(entry.at);
                }
            }
            Event::Done { step, outcome } => {
                if let Some(l) = log_of(&mut state, *step) {
                    l.done = Some(outcome.clone());
                }
            }
            Event::Analysis { step, analysis } => {
                if let Some(l) = log_of(&mut state, *step) {
                    l.analyses.push(analysis.clone());
                }
            }
            Event::Paused { .. } => state.paused = true,
            Event::Resumed { .. } => state.paused = false,
            Event::PromotedByHand { .. } => state.promoted_by_hand = true,
            Event::Aborted { actor, reason } => {
                state
                    .aborted
                    .get_or_insert(format!("aborted by {actor}: {reason}"));
            }
            Event::Restarted => {}
            Event::RollbackStarted { reason, steps } => {
                if state.rollback.is_none() {
                    let logs = vec![StepLog::default(); steps.len()];
                    state.rollback = Some((reason.as_str(), steps.as_slice(), logs));
                }
            }
            Event::Finished { result } => state.finished = Some(result),
        }
    }
    state
}

/// The log of `step` in the phase under way.
fn log_of<'s>(state: &'s mut State<'_>, step: usize) -> Option<&'s mut StepLog> {
    match &mut state.rollback {
        Some((_, _, logs)) => logs.get_mut(step),
        None => state.rollout.get_mut(step),
    }
}

/// What the driver must do now, from the journal alone.
///
/// Rollout steps are taken in order. A step that failed, an analysis that failed, an analysis
/// still inconclusive when the policy says so, or an abort by hand start the rollback (before
/// the new version is promoted; afterwards a failed cleanup step fails the deployment instead).
/// A failed rollback step fails the deployment: nothing more can be done automatically.
pub fn next(journal: &Journal, policy: &Policy) -> Next {
    let state = fold(journal);
    if let Some(result) = state.finished {
        return Next::Finished(result.clone());
    }
    if let Some((reason, steps, logs)) = &state.rollback {
        for (index, (step, log)) in steps.iter().zip(logs).enumerate() {
            match (&log.done, log.intent) {
                (Some(StepOutcome::Ok), _) => continue,
                (Some(StepOutcome::Failed { reason: why }), _) => {
                    return Next::Finish(DeployResult::Failed {
                        reason: format!(
                            "rolling back failed at \"{step}\": {why} (the rollback started because {reason})"
                        ),
                    });
                }
                (None, Some(since)) => {
                    return Next::Redo {
                        phase: Phase::Rollback,
                        index,
                        step: step.clone(),
                        since,
                    };
                }
                (None, None) => {
                    return Next::Take {
                        phase: Phase::Rollback,
                        index,
                        step: step.clone(),
                    };
                }
            }
        }
        return Next::Finish(DeployResult::RolledBack {
            reason: (*reason).to_owned(),
        });
    }
    let promoted = promoted(journal, &state);
    if let (Some(reason), false) = (&state.aborted, promoted) {
        return roll_back(journal, &state, reason.clone());
    }
    for (index, (step, log)) in journal.plan.iter().zip(&state.rollout).enumerate() {
        let failed = |why: String| {
            if promoted {
                Next::Finish(DeployResult::Failed {
                    reason: format!(
                        "\"{step}\" failed after {} was promoted: {why}",
                        journal.deployment.version
                    ),
                })
            } else {
                roll_back(journal, &state, format!("\"{step}\" failed: {why}"))
            }
        };
        if let Some(StepOutcome::Failed { reason }) = &log.done {
            return failed(reason.clone());
        }
        let complete = match step {
            Step::Analyze { .. } => match log.analyses.last().map(|a| a.outcome) {
                _ if log.done == Some(StepOutcome::Ok) => true,
                Some(Outcome::Pass) => true,
                Some(Outcome::Fail) => {
                    let analysis = log.analyses.last().map(Analysis::reason);
                    return failed(analysis.unwrap_or_default());
                }
                Some(Outcome::Inconclusive)
                    if log.analyses.len() > policy.inconclusive_retries as usize =>
                {
                    match policy.still_inconclusive {
                        StillInconclusive::Proceed => true,
                        StillInconclusive::RollBack => {
                            let reason = log.analyses.last().map(Analysis::reason);
                            return roll_back(
                                journal,
                                &state,
                                format!(
                                    "no verdict after {} analyses: {}",
                                    log.analyses.len(),
                                    reason.unwrap_or_default()
                                ),
                            );
                        }
                    }
                }
                Some(Outcome::Inconclusive) | None => state.promoted_by_hand,
            },
            _ => log.done == Some(StepOutcome::Ok),
        };
        if complete {
            continue;
        }
        return match log.intent {
            Some(since) => Next::Redo {
                phase: Phase::Rollout,
                index,
                step: step.clone(),
                since,
            },
            None if state.paused => Next::Wait,
            None => Next::Take {
                phase: Phase::Rollout,
                index,
                step: step.clone(),
            },
        };
    }
    Next::Finish(DeployResult::Succeeded)
}

/// What the driver must do when Gantry starts again with this journal open: [`next`], except
/// that with [`OnRestart::RollBack`] a rollout that had begun and is not promoted rolls back.
/// Either way traffic ends up recorded: an unconfirmed `Route` is applied again, or the rollback
/// routes everything to the previous version.
pub fn on_restart(journal: &Journal, policy: &Policy) -> Next {
    let next = next(journal, policy);
    let state = fold(journal);
    let begun = state.rollout.iter().any(|log| log.intent.is_some());
    match (&next, policy.on_restart) {
        (
            Next::Take {
                phase: Phase::Rollout,
                step,
                ..
            }
            | Next::Redo {
                phase: Phase::Rollout,
                step,
                ..
            },
            OnRestart::RollBack,
        ) if begun && !promoted(journal, &state) => roll_back(
            journal,
            &state,
            format!(
                "Gantry restarted before \"{step}\" was confirmed, and the restart policy rolls back"
            ),
        ),
        _ => next,
    }
}

/// Whether every `Promote` step of the plan is confirmed.
fn promoted(journal: &Journal, state: &State) -> bool {
    journal.plan.iter().zip(&state.rollout).any(|(step, log)| {
        matches!(step, Step::Promote { .. }) && log.done == Some(StepOutcome::Ok)
    })
}

/// The rollback from where the rollout stands: every step with an intent counts as taken (a
/// half-taken step is undone as if it had completed; rollback steps are declarative).
fn roll_back(journal: &Journal, state: &State, reason: String) -> Next {
    let deployment = &journal.deployment;
    let mut fleet = Fleet::new(deployment.previous.as_ref());
    for (step, log) in journal.plan.iter().zip(&state.rollout) {
        if log.intent.is_some() {
            fleet.apply(step);
        }
    }
    Next::RollBack {
        reason,
        steps: rollback_plan(&fleet, deployment.previous.as_ref(), &deployment.version),
    }
}

/// A deployment as the environments page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `None` while the rollout runs.
    pub result: Option<DeployResult>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// From start to finish (or to the last entry while it runs).
    #[serde(with = "crate::model::secs")]
    pub duration: Duration,
    pub rolled_back_because: Option<String>,
    /// Every analysis, in order.
    pub decisions: Vec<Decision>,
    /// Pauses, resumes, promotions and aborts by hand, and restarts, in order.
    pub interventions: Vec<String>,
}

/// One analysis and the traffic it judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub at: Timestamp,
    pub step: usize,
    /// The weights in force while the window was measured.
    pub traffic: Vec<Weight>,
    pub outcome: Outcome,
    /// The verdicts' sentences.
    pub verdicts: Vec<String>,
}

/// The journal condensed: result, duration, why it rolled back and every decision.
pub fn summary(journal: &Journal) -> Summary {
    let started_at = journal.deployment.started_at;
    let mut summary = Summary {
        result: None,
        started_at,
        finished_at: None,
        duration: Duration::ZERO,
        rolled_back_because: None,
        decisions: Vec::new(),
        interventions: Vec::new(),
    };
    let mut traffic = Vec::new();
    if let Some(previous) = &journal.deployment.previous {
        traffic.push(Weight {
            version: previous.version.clone(),
            percent: 100,
        });
    }
    let mut last = started_at;
    for entry in &journal.entries {
        last = last.max(entry.at);
        match &entry.event {
            Event::Intent {
                action: Step::Route { weights },
                ..
            } => traffic = weights.clone(),
            Event::Analysis { step, analysis } => summary.decisions.push(Decision {
                at: entry.at,
                step: *step,
                traffic: traffic.clone(),
                outcome: analysis.outcome,
                verdicts: analysis
                    .verdicts
                    .iter()
                    .map(|v| v.explanation.clone())
                    .collect(),
            }),
            Event::Paused { actor } => summary.interventions.push(format!("paused by {actor}")),
            Event::Resumed { actor } => summary.interventions.push(format!("resumed by {actor}")),
            Event::PromotedByHand { actor } => {
                summary.interventions.push(format!("promoted by {actor}"));
            }
            Event::Aborted { actor, reason } => {
                summary
                    .interventions
                    .push(format!("aborted by {actor}: {reason}"));
            }
            Event::Restarted => summary.interventions.push("Gantry restarted".into()),
            Event::RollbackStarted { reason, .. } => {
                summary.rolled_back_because.get_or_insert(reason.clone());
            }
            Event::Finished { result } => {
                summary.result = Some(result.clone());
                summary.finished_at = Some(entry.at);
            }
            Event::Intent { .. } | Event::Done { .. } => {}
        }
    }
    let end = summary.finished_at.unwrap_or(last);
    summary.duration = Duration::try_from(end.duration_since(started_at)).unwrap_or_default();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Comparison, Metric, Verdict};
    use crate::plan::{Rollout, plan};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn journal(strategy: Strategy) -> Journal {
        let deployment = Deployment {
            id: "d-1".into(),
            environment: "production".into(),
            version: "v2".into(),
            replicas: 2,
            previous: Some(Running {
                version: "v1".into(),
                count: 2,
            }),
            strategy: strategy.clone(),
            started_at: at(0),
            actor: "alice".into(),
        };
        let steps = plan(&Rollout {
            strategy,
            current: deployment.previous.clone(),
            version: "v2".into(),
            replicas: 2,
            analysis: Duration::from_secs(10),
            smoke: false,
        })
        .unwrap();
        Journal::new(deployment, steps)
    }

    fn analysis(outcome: Outcome, sentence: &str) -> Analysis {
        Analysis::from_verdicts(vec![Verdict {
            metric: Metric::ErrorRate,
            measured: Some(1.0),
            threshold: Some(5.0),
            comparison: Comparison::AtMost,
            outcome,
            explanation: sentence.into(),
        }])
    }

    /// A driver that follows [`next`] and answers each step with `answer` (the outcome of a
    /// step, or the analysis of a window), writing the journal as it goes, until the journal
    /// is finished. Returns the steps taken, one line each.
    fn drive(
        journal: &mut Journal,
        policy: &Policy,
        mut answer: impl FnMut(Phase, &Step) -> Answer,
    ) -> Vec<String> {
        let mut taken = Vec::new();
        let mut clock = 1;
        for _ in 0..200 {
            clock += 1;
            let (phase, index, step) = match next(journal, policy) {
                Next::Take { phase, index, step } => {
                    journal.record(
                        at(clock),
                        Event::Intent {
                            step: index,
                            action: step.clone(),
                        },
                    );
                    (phase, index, step)
                }
                Next::Redo {
                    phase, index, step, ..
                } => (phase, index, step),
                Next::RollBack { reason, steps } => {
                    taken.push(format!("roll back: {reason}"));
                    journal.record(at(clock), Event::RollbackStarted { reason, steps });
                    continue;
                }
                Next::Finish(result) => {
                    journal.record(at(clock), Event::Finished { result });
                    continue;
                }
                Next::Finished(_) | Next::Wait => return taken,
            };
            let prefix = if phase == Phase::Rollback {
                "back: "
            } else {
                ""
            };
            taken.push(format!("{prefix}{step}"));
            let event = match answer(phase, &step) {
                Answer::Ok => Event::Done {
                    step: index,
                    outcome: StepOutcome::Ok,
                },
                Answer::Failed(reason) => Event::Done {
                    step: index,
                    outcome: StepOutcome::Failed {
                        reason: reason.into(),
                    },
                },
                Answer::Judged(outcome) => Event::Analysis {
                    step: index,
                    analysis: analysis(outcome, &format!("judged {outcome}")),
                },
            };
            journal.record(at(clock), event);
        }
        panic!("the journal never finished: {taken:#?}");
    }

    enum Answer {
        Ok,
        Failed(&'static str),
        Judged(Outcome),
    }

    fn healthy(_: Phase, step: &Step) -> Answer {
        match step {
            Step::Analyze { .. } => Answer::Judged(Outcome::Pass),
            _ => Answer::Ok,
        }
    }

    fn result(journal: &Journal) -> DeployResult {
        match next(journal, &Policy::default()) {
            Next::Finished(result) => result,
            other => panic!("not finished: {other:?}"),
        }
    }

    #[test]
    fn a_healthy_rollout_takes_every_step_of_its_plan_and_succeeds() {
        for strategy in [
            Strategy::Recreate,
            Strategy::ROLLING,
            Strategy::BLUE_GREEN,
            Strategy::CANARY,
        ] {
            let mut j = journal(strategy.clone());
            let taken = drive(&mut j, &Policy::default(), healthy);
            let planned: Vec<String> = j.plan.iter().map(ToString::to_string).collect();
            assert_eq!(taken, planned, "{strategy:?}");
            assert_eq!(result(&j), DeployResult::Succeeded);
            // Every step was written before it was confirmed.
            for (i, entry) in j.entries.iter().enumerate() {
                if let Event::Done { step, .. } | Event::Analysis { step, .. } = entry.event {
                    assert!(j.entries[..i].iter().any(|e| matches!(
                        e.event, Event::Intent { step: s, .. } if s == step
                    )));
                }
            }
        }
    }

    #[test]
    fn a_canary_rolls_back_when_an_analysis_fails() {
        let mut j = journal(Strategy::CANARY);
        let mut windows = 0;
        let taken = drive(&mut j, &Policy::default(), |_, step| match step {
            Step::Analyze { .. } => {
                windows += 1;
                Answer::Judged(if windows == 2 {
                    Outcome::Fail
                } else {
                    Outcome::Pass
                })
            }
            _ => Answer::Ok,
        });
        assert_eq!(
            taken,
            [
                "start 1 instance of v2 (1 running)",
                "wait until every instance of v2 is healthy",
                "route 90% to v1, 10% to v2",
                "analyse for 1m",
                "route 65% to v1, 35% to v2",
                "analyse for 1m",
                "roll back: \"analyse for 1m\" failed: judged fail",
                "back: wait until every instance of v1 is healthy",
                "back: route 100% to v1",
                "back: stop 1 instance of v2 (0 left)",
            ]
        );
        assert_eq!(
            result(&j),
            DeployResult::RolledBack {
                reason: "\"analyse for 1m\" failed: judged fail".into()
            }
        );
    }

    #[test]
    fn failures_roll_back_or_fail_depending_on_where_they_happen() {
        let cases: &[(Strategy, &str, DeployResult)] = &[
            (
                Strategy::ROLLING,
                "wait until every instance of v2 is healthy",
                DeployResult::RolledBack {
                    reason: "\"wait until every instance of v2 is healthy\" failed: boom".into(),
                },
            ),
            // After the promotion there is nothing to roll back to automatically.
            (
                Strategy::BLUE_GREEN,
                "stop 2 instances of v1 (0 left)",
                DeployResult::Failed {
                    reason: "\"stop 2 instances of v1 (0 left)\" failed after v2 was promoted: boom"
                        .into(),
                },
            ),
            // A rollback that cannot be taken needs a person.
            (
                Strategy::Recreate,
                "start 2 instances of v1 (2 running)",
                DeployResult::Failed {
                    reason: "rolling back failed at \"start 2 instances of v1 (2 running)\": boom (the rollback started because \"wait until every instance of v2 is healthy\" failed: boom)"
                        .into(),
                },
            ),
        ];
        for (strategy, failing, expected) in cases {
            let mut j = journal(strategy.clone());
            drive(&mut j, &Policy::default(), |_, step| {
                if step.to_string() == *failing
                    || (*failing == "start 2 instances of v1 (2 running)"
                        && matches!(step, Step::WaitHealthy { version } if version == "v2"))
                {
                    Answer::Failed("boom")
                } else {
                    healthy(Phase::Rollout, step)
                }
            });
            assert_eq!(result(&j), *expected, "{strategy:?}");
        }
    }

    #[test]
    fn inconclusive_analyses_are_retried_then_follow_the_policy() {
        let cases: &[(StillInconclusive, usize, Option<&str>)] = &[
            (StillInconclusive::Proceed, 2 * 3, None),
            (
                StillInconclusive::RollBack,
                3,
                Some("no verdict after 3 analyses: judged inconclusive"),
            ),
        ];
        for (still, windows, rolled_back) in cases {
            let policy = Policy {
                still_inconclusive: *still,
                ..Policy::default()
            };
            let mut j = journal(Strategy::ROLLING);
            let taken = drive(&mut j, &policy, |_, step| match step {
                Step::Analyze { .. } => Answer::Judged(Outcome::Inconclusive),
                _ => Answer::Ok,
            });
            let n_windows = taken.iter().filter(|t| t.starts_with("analyse")).count();
            assert_eq!(n_windows, *windows, "{still:?}");
            let s = summary(&j);
            assert_eq!(s.rolled_back_because.as_deref(), *rolled_back);
            assert!(
                s.decisions
                    .iter()
                    .all(|d| d.outcome == Outcome::Inconclusive)
            );
        }
    }

    /// Takes the rollout up to (not including) the step described `until`, writes that step's
    /// intent as a crashed driver would have, and returns the journal.
    fn crashed_during(strategy: Strategy, until: &str) -> Journal {
        let mut j = journal(strategy);
        let mut clock = 0;
        loop {
            clock += 1;
            let Next::Take { index, step, .. } = next(&j, &Policy::default()) else {
                panic!("never reached {until}");
            };
            j.record(
                at(clock),
                Event::Intent {
                    step: index,
                    action: step.clone(),
                },
            );
            if step.to_string() == until {
                return j;
            }
            let event = match healthy(Phase::Rollout, &step) {
                Answer::Judged(o) => Event::Analysis {
                    step: index,
                    analysis: analysis(o, "fine"),
                },
                _ => Event::Done {
                    step: index,
                    outcome: StepOutcome::Ok,
                },
            };
            j.record(at(clock), event);
        }
    }

    #[test]
    fn a_restart_redoes_or_rolls_back_an_unconfirmed_step() {
        let cases: &[(Strategy, &str, OnRestart, &str)] = &[
            (
                Strategy::CANARY,
                "route 65% to v1, 35% to v2",
                OnRestart::Resume,
                "redo route 65% to v1, 35% to v2",
            ),
            (
                Strategy::CANARY,
                "route 65% to v1, 35% to v2",
                OnRestart::RollBack,
                "roll back: wait until every instance of v1 is healthy | route 100% to v1 | stop 1 instance of v2 (0 left)",
            ),
            (
                Strategy::ROLLING,
                "stop 1 instance of v1 (1 left)",
                OnRestart::RollBack,
                "roll back: start 1 instance of v1 (2 running) | wait until every instance of v1 is healthy | route 100% to v1 | stop 1 instance of v2 (0 left)",
            ),
            // The first step was under way: its instances may have started.
            (
                Strategy::BLUE_GREEN,
                "start 2 instances of v2 (2 running)",
                OnRestart::RollBack,
                "roll back: wait until every instance of v1 is healthy | route 100% to v1 | stop 2 instances of v2 (0 left)",
            ),
            // Promoted: only the cleanup is left, and it goes on.
            (
                Strategy::BLUE_GREEN,
                "keep v1 warm for 10m",
                OnRestart::RollBack,
                "redo keep v1 warm for 10m",
            ),
        ];
        for (strategy, until, policy, expected) in cases {
            let j = crashed_during(strategy.clone(), until);
            let policy = Policy {
                on_restart: *policy,
                ..Policy::default()
            };
            let got = match on_restart(&j, &policy) {
                Next::Redo { step, .. } => format!("redo {step}"),
                Next::RollBack { steps, .. } => format!(
                    "roll back: {}",
                    steps
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" | ")
                ),
                other => format!("{other:?}"),
            };
            assert_eq!(got, *expected, "{strategy:?} during {until}");
        }
    }

    #[test]
    fn a_restart_before_any_step_simply_starts() {
        let j = journal(Strategy::CANARY);
        let policy = Policy {
            on_restart: OnRestart::RollBack,
            ..Policy::default()
        };
        assert!(matches!(
            on_restart(&j, &policy),
            Next::Take { index: 0, .. }
        ));
    }

    #[test]
    fn a_rollback_interrupted_by_a_crash_continues_where_it_stopped() {
        let mut j = crashed_during(Strategy::CANARY, "analyse for 1m");
        let Next::RollBack { reason, steps } = on_restart(
            &j,
            &Policy {
                on_restart: OnRestart::RollBack,
                ..Policy::default()
            },
        ) else {
            panic!("no rollback")
        };
        j.record(at(50), Event::RollbackStarted { reason, steps });
        j.record(
            at(51),
            Event::Intent {
                step: 0,
                action: Step::WaitHealthy {
                    version: "v1".into(),
                },
            },
        );
        // Crash again: the rollback step is taken again, whatever the policy says.
        assert!(matches!(
            on_restart(&j, &Policy {
                on_restart: OnRestart::RollBack,
                ..Policy::default()
            }),
            Next::Redo {
                phase: Phase::Rollback,
                index: 0,
                since,
                ..
            } if since == at(51)
        ));
    }

    #[test]
    fn manual_controls_pause_skip_analyses_or_abort() {
        // Paused: the step under way finishes, no new one starts until resumed.
        let mut j = journal(Strategy::CANARY);
        j.record(
            at(1),
            Event::Paused {
                actor: "bob".into(),
            },
        );
        assert_eq!(next(&j, &Policy::default()), Next::Wait);
        j.record(
            at(2),
            Event::Resumed {
                actor: "bob".into(),
            },
        );
        assert!(matches!(next(&j, &Policy::default()), Next::Take { .. }));

        // Promoted by hand: the remaining analyses are skipped, the routes are still taken.
        let mut j = crashed_during(Strategy::CANARY, "analyse for 1m");
        j.record(
            at(30),
            Event::PromotedByHand {
                actor: "carol".into(),
            },
        );
        let taken = drive(&mut j, &Policy::default(), healthy);
        assert!(
            !taken.iter().any(|t| t.starts_with("analyse")),
            "{taken:#?}"
        );
        assert!(taken.contains(&"route 100% to v2".to_string()));
        assert_eq!(result(&j), DeployResult::Succeeded);

        // Aborted: roll back at once.
        let mut j = crashed_during(Strategy::CANARY, "analyse for 1m");
        j.record(
            at(30),
            Event::Aborted {
                actor: "dave".into(),
                reason: "customers complain".into(),
            },
        );
        drive(&mut j, &Policy::default(), healthy);
        assert_eq!(
            result(&j),
            DeployResult::RolledBack {
                reason: "aborted by dave: customers complain".into()
            }
        );
        assert_eq!(
            summary(&j).interventions,
            ["aborted by dave: customers complain"]
        );
    }

    #[test]
    fn the_summary_tells_the_result_the_duration_and_every_decision() {
        let mut j = journal(Strategy::CANARY);
        let mut windows = 0;
        drive(&mut j, &Policy::default(), |_, step| match step {
            Step::Analyze { .. } => {
                windows += 1;
                Answer::Judged(if windows == 3 {
                    Outcome::Fail
                } else {
                    Outcome::Pass
                })
            }
            _ => Answer::Ok,
        });
        let s = summary(&j);
        assert_eq!(
            s.result,
            Some(DeployResult::RolledBack {
                reason: "\"analyse for 1m\" failed: judged fail".into()
            })
        );
        assert_eq!(
            s.rolled_back_because.as_deref(),
            Some("\"analyse for 1m\" failed: judged fail")
        );
        let decisions: Vec<(u8, Outcome)> = s
            .decisions
            .iter()
            .map(|d| (d.traffic.last().unwrap().percent, d.outcome))
            .collect();
        assert_eq!(
            decisions,
            [
                (10, Outcome::Pass),
                (35, Outcome::Pass),
                (60, Outcome::Fail)
            ]
        );
        assert_eq!(s.finished_at, j.entries.last().map(|e| e.at));
        assert_eq!(
            s.duration,
            Duration::from_secs(s.finished_at.unwrap().as_second() as u64 - 1_700_000_000)
        );
        let json = serde_json::to_string(&j).unwrap();
        assert_eq!(serde_json::from_str::<Journal>(&json).unwrap(), j);
    }
}
