//! The rollout driver end to end: real instances of the demo application behind the real proxy
//! on loopback, deployed with each strategy while a small load generator hammers the proxy and
//! counts every request that did not get a 2xx.
//!
//! Versions carry their fault in their name (the command picks it with `{version}`):
//! `*-errors` answers 500 to every second request, `*-unhealthy` fails its health check and
//! `*-crashing` exits after a few requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gantry_deploy::config::{Listen, ProcessTarget};
use gantry_deploy::journal::{self, DeployResult, Deployment, Event as Record, Journal, OnRestart};
use gantry_deploy::model::{HealthCheck, Strategy, Thresholds};
use gantry_deploy::plan::{Rollout, Running, Step, plan};
use gantry_rollout::{Backoff, JournalSink, MemorySink, Runtime, Settings, SupervisorConfig};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use tokio::task::JoinHandle;

const DEMO: &str = env!("CARGO_BIN_EXE_gantry-demo-app");
const INTERVAL: Duration = Duration::from_millis(300);
const PATIENCE: Duration = Duration::from_secs(20);

fn settings() -> Settings {
    let command = format!(
        "case {{version}} in *-errors) export DEMO_ERROR_RATE=0.5;; *-unhealthy) export DEMO_FAIL_HEALTH=1;; *-crashing) export DEMO_CRASH_AFTER=40;; esac; exec '{DEMO}'"
    );
    let target = ProcessTarget {
        command,
        instances: 2,
        listen: Listen {
            host: Some("127.0.0.1".into()),
            port: 0,
        },
        env: Vec::new(),
        workdir: Some(env!("CARGO_MANIFEST_DIR").into()),
    };
    let mut settings = Settings::new("staging", target)
        .with_health(HealthCheck {
            path: "/health".into(),
            status: 200,
            timeout: Duration::from_secs(1),
            // An instance starting on a busy machine may take a while to listen.
            retries: 40,
            interval: Duration::from_millis(50),
        })
        .with_thresholds(Thresholds {
            interval: INTERVAL,
            min_requests: 5,
            ..Thresholds::default()
        });
    // The demo app is its own smoke test (`get URL`): nothing else needs to be installed.
    settings.smoke = vec![format!(
        "'{}' get \"$URL/\" >/dev/null",
        env!("CARGO_BIN_EXE_gantry-demo-app")
    )];
    // Sub-millisecond loopback latencies differ by multiples from one window to the next: the
    // canary's comparison with its baseline judges errors here, not noise.
    settings.baseline.max_latency_ratio = 50.0;
    settings.stop_grace = Duration::from_secs(2);
    settings.drain_timeout = Duration::from_secs(2);
    settings.supervisor = SupervisorConfig {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(60),
        },
        ..SupervisorConfig::default()
    };
    settings
}

fn journal(version: &str, previous: Option<&str>, strategy: Strategy) -> Journal {
    let previous = previous.map(|v| Running {
        version: v.into(),
        count: 2,
    });
    let steps = plan(&Rollout {
        strategy: strategy.clone(),
        current: previous.clone(),
        version: version.into(),
        replicas: 2,
        analysis: INTERVAL,
        smoke: true,
    })
    .expect("a valid rollout");
    Journal::new(
        Deployment {
            id: format!("deploy-{version}"),
            environment: "staging".into(),
            version: version.into(),
            replicas: 2,
            previous,
            strategy,
            started_at: Timestamp::now(),
            actor: "test".into(),
        },
        steps,
    )
}

/// An environment already running v1 on two instances (deployed by the driver itself).
async fn running_v1() -> Runtime {
    let mut runtime = Runtime::start(settings()).await.expect("the proxy listens");
    let mut first = journal("v1", None, Strategy::ROLLING);
    let result = deploy(&mut runtime, &mut first, &mut MemorySink::default()).await;
    assert_eq!(result, DeployResult::Succeeded, "{:#?}", first.entries);
    runtime
}

async fn deploy(
    runtime: &mut Runtime,
    journal: &mut Journal,
    sink: &mut MemorySink,
) -> DeployResult {
    let result = tokio::time::timeout(PATIENCE, runtime.deploy(journal, sink))
        .await
        .expect("the deployment ends in time")
        .expect("the journal is written");
    assert_every_entry_written_on_its_own(sink, journal);
    result
}

/// The sink saw every entry the moment it was recorded: an intent is stored before its step is
/// taken, since nothing else happens between the record and the write.
fn assert_every_entry_written_on_its_own(sink: &MemorySink, journal: &Journal) {
    assert_eq!(sink.writes.len(), journal.entries.len());
    for (n, written) in sink.writes.iter().enumerate() {
        assert_eq!(written.entries[..], journal.entries[..=n]);
    }
}

/// What the load generator saw.
#[derive(Debug, Default)]
struct Report {
    ok: u64,
    /// 2xx answers per version, in the order versions first answered.
    ok_by_version: Vec<(String, u64)>,
    /// Non-2xx answers: the status and the version that gave it.
    bad: Vec<(u16, String)>,
    /// Requests that got no answer at all.
    failed: Vec<String>,
}

struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Report>>,
}

impl Load {
    fn start(url: String) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let client: Client<HttpConnector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let workers = (0..4)
            .map(|_| {
                let (client, stop, url) = (client.clone(), stop.clone(), url.clone());
                tokio::spawn(async move {
                    let mut report = Report::default();
                    let uri: hyper::Uri = format!("{url}/").parse().expect("a valid uri");
                    while !stop.load(Ordering::Relaxed) {
                        match client.get(uri.clone()).await {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                let version = response
                                    .headers()
                                    .get("x-gantry-version")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("the proxy")
                                    .to_owned();
                                match response.into_body().collect().await {
                                    Ok(_) if (200..300).contains(&status) => {
                                        report.ok += 1;
                                        match report
                                            .ok_by_version
                                            .iter_mut()
                                            .find(|(v, _)| *v == version)
                                        {
                                            Some((_, n)) => *n += 1,
                                            None => report.ok_by_version.push((version, 1)),
                                        }
                                    }
                                    Ok(_) => report.bad.push((status, version)),
                                    Err(e) => report.failed.push(format!("body: {e}")),
                                }
                            }
                            Err(e) => report.failed.push(format!("{e:?}")),
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    report
                })
            })
            .collect();
        Load { stop, workers }
    }

    async fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Report::default();
        for worker in self.workers {
            let report = worker.await.expect("the load worker does not panic");
            total.ok += report.ok;
            for (version, n) in report.ok_by_version {
                match total.ok_by_version.iter_mut().find(|(v, _)| *v == version) {
                    Some((_, total)) => *total += n,
                    None => total.ok_by_version.push((version, n)),
                }
            }
            total.bad.extend(report.bad);
            total.failed.extend(report.failed);
        }
        total
    }
}

/// The load ran across the switch: v1 answered first, then v2, and nothing else did.
fn assert_switched_from_v1_to_v2(report: &Report) {
    let versions: Vec<&str> = report
        .ok_by_version
        .iter()
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(versions, ["v1", "v2"], "{report:?}");
    assert!(
        report.ok_by_version.iter().all(|(_, n)| *n > 20),
        "{report:?}"
    );
}

fn routed_versions(runtime: &Runtime) -> Vec<(String, u32)> {
    runtime.proxy().routes().weights
}

fn backend_versions(runtime: &Runtime) -> Vec<String> {
    let mut versions: Vec<String> = runtime
        .proxy()
        .routes()
        .backends
        .into_iter()
        .map(|b| b.version)
        .collect();
    versions.dedup();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_under_load_fails_no_request_and_succeeds() {
    let mut runtime = running_v1().await;
    let load = Load::start(runtime.url());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rollout = journal("v2", Some("v1"), Strategy::ROLLING);
    let mut sink = MemorySink::default();
    let result = deploy(&mut runtime, &mut rollout, &mut sink).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = load.finish().await;

    assert_eq!(result, DeployResult::Succeeded, "{:#?}", rollout.entries);
    assert_eq!(
        journal::summary(&rollout).result,
        Some(DeployResult::Succeeded)
    );
    assert!(
        report.failed.is_empty(),
        "failed requests: {:?}",
        report.failed
    );
    assert!(report.bad.is_empty(), "non-2xx answers: {:?}", report.bad);
    assert!(
        report.ok > 100,
        "too little load to prove anything: {report:?}"
    );
    assert_switched_from_v1_to_v2(&report);
    assert_eq!(routed_versions(&runtime), vec![("v2".to_owned(), 100)]);
    assert_eq!(backend_versions(&runtime), vec!["v2".to_owned()]);
    assert!(runtime.instances("v1").is_empty());
    assert_eq!(runtime.instances("v2").len(), 2);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_with_errors_rolls_back_within_one_analysis_interval() {
    let mut runtime = running_v1().await;
    let load = Load::start(runtime.url());
    let mut rollout = journal(
        "v2-errors",
        Some("v1"),
        Strategy::Canary {
            initial_percent: 25,
            increment_percent: 25,
            step_duration: Duration::from_secs(1),
        },
    );
    let mut sink = MemorySink::default();
    let result = deploy(&mut runtime, &mut rollout, &mut sink).await;
    let during = load.finish().await;
    let after = Load::start(runtime.url());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = after.finish().await;

    let DeployResult::RolledBack { reason } = &result else {
        panic!(
            "the canary must roll back: {result:?}\n{:#?}",
            rollout.entries
        );
    };
    assert!(reason.contains("error rate"), "{reason}");
    let summary = journal::summary(&rollout);
    let first = &summary.decisions[0];
    assert_eq!(summary.decisions.len(), 1, "{:#?}", summary.decisions);
    assert_eq!(first.outcome, gantry_deploy::analysis::Outcome::Fail);
    let verdict = first
        .verdicts
        .iter()
        .find(|v| v.starts_with("error rate"))
        .expect("an error-rate verdict");
    // Measured about 50 %, against the 5 % threshold.
    assert!(verdict.contains("> 5%"), "{verdict}");
    assert_eq!(
        summary.rolled_back_because.as_deref(),
        Some(reason.as_str())
    );
    // From the canary's first route to the start of the rollback: one analysis interval.
    let routed = rollout
        .entries
        .iter()
        .find(|e| matches!(&e.event, Record::Done { step, .. } if matches!(rollout.plan[*step], Step::Route { .. })))
        .expect("the canary was routed")
        .at;
    let rolled_back = rollout
        .entries
        .iter()
        .find(|e| matches!(e.event, Record::RollbackStarted { .. }))
        .expect("a rollback")
        .at;
    let took = Duration::try_from(rolled_back.duration_since(routed)).expect("in order");
    assert!(took < INTERVAL + Duration::from_millis(250), "{took:?}");

    assert!(
        during.failed.is_empty(),
        "failed requests: {:?}",
        during.failed
    );
    assert!(
        during
            .bad
            .iter()
            .all(|(status, version)| *status == 500 && version == "v2-errors"),
        "only the canary's own 500s: {:?}",
        during.bad
    );
    assert!(!during.bad.is_empty(), "the canary took traffic");
    assert_eq!(routed_versions(&runtime), vec![("v1".to_owned(), 100)]);
    assert_eq!(backend_versions(&runtime), vec!["v1".to_owned()]);
    assert!(after.failed.is_empty() && after.bad.is_empty(), "{after:?}");
    assert!(runtime.instances("v2-errors").is_empty());
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_switch_under_load_fails_no_request() {
    let mut runtime = running_v1().await;
    let load = Load::start(runtime.url());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rollout = journal(
        "v2",
        Some("v1"),
        Strategy::BlueGreen {
            keep_previous: Duration::from_millis(300),
        },
    );
    assert!(
        rollout
            .plan
            .iter()
            .any(|s| matches!(s, Step::KeepWarm { .. }))
    );
    let mut sink = MemorySink::default();
    let result = deploy(&mut runtime, &mut rollout, &mut sink).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = load.finish().await;

    assert_eq!(result, DeployResult::Succeeded, "{:#?}", rollout.entries);
    assert!(
        report.failed.is_empty(),
        "failed requests: {:?}",
        report.failed
    );
    assert!(report.bad.is_empty(), "non-2xx answers: {:?}", report.bad);
    assert!(
        report.ok > 100,
        "too little load to prove anything: {report:?}"
    );
    assert_switched_from_v1_to_v2(&report);
    assert_eq!(routed_versions(&runtime), vec![("v2".to_owned(), 100)]);
    assert!(runtime.instances("v1").is_empty());
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_failing_its_health_check_rolls_back_before_any_traffic_with_its_logs() {
    let mut runtime = running_v1().await;
    let load = Load::start(runtime.url());
    let mut rollout = journal("v2-unhealthy", Some("v1"), Strategy::ROLLING);
    let mut sink = MemorySink::default();
    let result = deploy(&mut runtime, &mut rollout, &mut sink).await;
    let report = load.finish().await;

    let DeployResult::RolledBack { reason } = &result else {
        panic!(
            "the rollout must roll back: {result:?}\n{:#?}",
            rollout.entries
        );
    };
    assert!(reason.contains("failed its health check"), "{reason}");
    // The application's own log lines, as it wrote them.
    assert!(reason.contains("GET /health 503"), "{reason}");
    assert!(
        !rollout.entries.iter().any(|e| matches!(
            &e.event,
            Record::Intent { action: Step::Route { weights }, .. }
                if weights.iter().any(|w| w.version == "v2-unhealthy")
        )),
        "no route to the unhealthy version was even intended"
    );
    assert_eq!(runtime.proxy().stats("v2-unhealthy").requests, 0);
    assert!(
        report.failed.is_empty() && report.bad.is_empty(),
        "{report:?}"
    );
    assert_eq!(routed_versions(&runtime), vec![("v1".to_owned(), 100)]);
    assert!(runtime.instances("v2-unhealthy").is_empty());
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_crashing_during_the_analysis_rolls_back_with_its_logs() {
    let mut runtime = running_v1().await;
    let load = Load::start(runtime.url());
    let mut rollout = journal(
        "v2-crashing",
        Some("v1"),
        Strategy::BlueGreen {
            keep_previous: Duration::ZERO,
        },
    );
    let mut sink = MemorySink::default();
    let result = deploy(&mut runtime, &mut rollout, &mut sink).await;
    let _ = load.finish().await;

    let DeployResult::RolledBack { reason } = &result else {
        panic!(
            "the rollout must roll back: {result:?}\n{:#?}",
            rollout.entries
        );
    };
    assert!(reason.contains("of v2-crashing crashed"), "{reason}");
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(reason.contains("crashing after 40 requests"), "{reason}");
    assert_eq!(routed_versions(&runtime), vec![("v1".to_owned(), 100)]);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_by_hand_during_a_canary_rolls_back() {
    let mut runtime = running_v1().await;
    let load = Load::start(runtime.url());
    let mut rollout = journal(
        "v2",
        Some("v1"),
        Strategy::Canary {
            initial_percent: 50,
            increment_percent: 50,
            step_duration: Duration::from_secs(3),
        },
    );
    let controller = runtime.controller();
    let aborter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        controller.abort("alice", "the dashboard looks odd");
    });
    let mut sink = MemorySink::default();
    let result = deploy(&mut runtime, &mut rollout, &mut sink).await;
    aborter.await.expect("the aborter runs");
    let report = load.finish().await;

    assert_eq!(
        result,
        DeployResult::RolledBack {
            reason: "aborted by alice: the dashboard looks odd".into()
        }
    );
    assert_eq!(
        journal::summary(&rollout).interventions,
        vec!["aborted by alice: the dashboard looks odd".to_owned()]
    );
    assert!(
        report.failed.is_empty() && report.bad.is_empty(),
        "{report:?}"
    );
    assert_eq!(routed_versions(&runtime), vec![("v1".to_owned(), 100)]);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_smoke_test_rolls_back_with_its_output() {
    let mut runtime = running_v1().await;
    runtime
        .settings_mut()
        .smoke
        .push("echo \"no basket on $URL/\" >&2; exit 1".into());
    let load = Load::start(runtime.url());
    let mut rollout = journal(
        "v2",
        Some("v1"),
        Strategy::BlueGreen {
            keep_previous: Duration::ZERO,
        },
    );
    let result = deploy(&mut runtime, &mut rollout, &mut MemorySink::default()).await;
    let report = load.finish().await;

    let DeployResult::RolledBack { reason } = &result else {
        panic!(
            "the rollout must roll back: {result:?}\n{:#?}",
            rollout.entries
        );
    };
    let url = runtime.url();
    assert!(
        reason.contains("\"run the smoke tests\" failed"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("| no basket on {url}/")),
        "{reason}"
    );
    assert!(
        report.failed.is_empty() && report.bad.is_empty(),
        "{report:?}"
    );
    assert_eq!(routed_versions(&runtime), vec![("v1".to_owned(), 100)]);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_canary_takes_no_step_until_resumed_and_promotion_by_hand_skips_its_analyses() {
    let mut runtime = running_v1().await;
    let mut rollout = journal(
        "v2",
        Some("v1"),
        Strategy::Canary {
            initial_percent: 50,
            increment_percent: 50,
            step_duration: Duration::from_secs(5),
        },
    );
    let controller = runtime.controller();
    controller.pause("bob");
    let hand = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        controller.promote("bob");
        controller.resume("bob");
    });
    let started = std::time::Instant::now();
    let result = deploy(&mut runtime, &mut rollout, &mut MemorySink::default()).await;
    hand.await.expect("the hand runs");

    assert_eq!(result, DeployResult::Succeeded, "{:#?}", rollout.entries);
    // Two canary steps of 5 s each were skipped.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        journal::summary(&rollout).interventions,
        ["paused by bob", "promoted by bob", "resumed by bob"]
    );
    let events: Vec<&Record> = rollout.entries.iter().map(|e| &e.event).collect();
    assert!(
        matches!(
            events[..3],
            [
                Record::Paused { .. },
                Record::PromotedByHand { .. },
                Record::Resumed { .. }
            ]
        ),
        "nothing was taken while paused: {events:#?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Record::Analysis { .. })));
    assert_eq!(routed_versions(&runtime), vec![("v2".to_owned(), 100)]);
    assert!(runtime.instances("v1").is_empty());
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_under_load_fails_no_request_and_maintenance_answers_503_with_the_message() {
    let runtime = running_v1().await;
    let load = Load::start(runtime.url());
    let steps = runtime.scale("v1", 3).await.expect("scales up");
    assert_eq!(steps.len(), 2, "start and wait: {steps:?}");
    assert_eq!(runtime.instances("v1").len(), 3);
    assert_eq!(runtime.proxy().routes().backends.len(), 3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    runtime.scale("v1", 1).await.expect("scales down");
    assert_eq!(runtime.instances("v1").len(), 1);
    assert_eq!(runtime.proxy().routes().backends.len(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = load.finish().await;
    assert!(
        report.failed.is_empty() && report.bad.is_empty(),
        "{report:?}"
    );
    assert!(
        runtime.scale("v1", 0).await.is_err(),
        "0 replicas is refused"
    );

    runtime.start_maintenance("back at noon", Some(Duration::from_secs(60)));
    let load = Load::start(runtime.url());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let during = load.finish().await;
    assert_eq!(during.ok, 0, "{during:?}");
    assert!(
        during.bad.iter().all(|(status, _)| *status == 503),
        "{during:?}"
    );
    runtime.end_maintenance();
    let load = Load::start(runtime.url());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = load.finish().await;
    assert!(after.ok > 0 && after.bad.is_empty(), "{after:?}");
    runtime.shutdown().await;
}

/// A database that goes away after some writes.
struct FailingSink {
    inner: MemorySink,
    writes_left: usize,
}

impl JournalSink for FailingSink {
    fn write(&mut self, journal: &Journal) -> Result<(), String> {
        if self.writes_left == 0 {
            return Err("the database is gone".into());
        }
        self.writes_left -= 1;
        self.inner.write(journal)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_intent_cannot_be_written_is_not_taken_and_a_restart_resumes_or_rolls_back() {
    for (policy, expected) in [(OnRestart::Resume, "v2"), (OnRestart::RollBack, "v1")] {
        let mut runtime = running_v1().await;
        let mut rollout = journal("v2", Some("v1"), Strategy::ROLLING);
        // Intent and confirmation of the first Start and WaitHealthy, then the Route's intent.
        let mut sink = FailingSink {
            inner: MemorySink::default(),
            writes_left: 5,
        };
        let error = runtime
            .deploy(&mut rollout, &mut sink)
            .await
            .expect_err("the journal cannot be written");
        assert!(
            error.to_string().contains("the database is gone"),
            "{error}"
        );
        // What the database holds: the Route's intent is the last thing written…
        let mut stored = sink.inner.writes.last().expect("some writes").clone();
        assert!(matches!(
            stored.entries.last().map(|e| &e.event),
            Some(Record::Intent {
                action: Step::Route { .. },
                ..
            })
        ));
        // …and the step after it, whose intent failed to be written, was not taken.
        assert_eq!(
            runtime.instances("v1").len(),
            2,
            "no v1 instance was stopped"
        );
        // Gantry dies: its instances die with it.
        drop(runtime);

        let mut settings = settings();
        settings.policy.on_restart = policy;
        let mut restarted = Runtime::start(settings).await.expect("the proxy listens");
        let result = tokio::time::timeout(
            PATIENCE,
            restarted.resume(&mut stored, &mut MemorySink::default()),
        )
        .await
        .expect("in time")
        .expect("the journal is written");
        assert_eq!(
            matches!(result, DeployResult::Succeeded),
            expected == "v2",
            "{policy:?}: {result:?}"
        );
        assert!(
            journal::summary(&stored)
                .interventions
                .contains(&"Gantry restarted".to_owned())
        );
        assert_eq!(
            routed_versions(&restarted),
            vec![(expected.to_owned(), 100)],
            "{policy:?}"
        );
        assert_eq!(restarted.instances(expected).len(), 2, "{policy:?}");
        let load = Load::start(restarted.url());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let report = load.finish().await;
        assert!(
            report.ok > 0 && report.bad.is_empty() && report.failed.is_empty(),
            "{report:?}"
        );
        restarted.shutdown().await;
    }
}

/// A sink that, the moment the keep-warm wait is announced, has someone abort (too late: the
/// new version is promoted) and then promote by hand (which ends the wait).
struct HandsAtKeepWarm {
    inner: MemorySink,
    controller: gantry_rollout::Controller,
}

impl JournalSink for HandsAtKeepWarm {
    fn write(&mut self, journal: &Journal) -> Result<(), String> {
        if let Some(Record::Intent {
            action: Step::KeepWarm { .. },
            ..
        }) = journal.entries.last().map(|e| &e.event)
        {
            self.controller.abort("carol", "too late");
            self.controller.promote("carol");
        }
        self.inner.write(journal)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_promotion_an_abort_changes_nothing_and_promoting_by_hand_ends_the_keep_warm_wait()
 {
    let mut runtime = running_v1().await;
    let mut rollout = journal(
        "v2",
        Some("v1"),
        Strategy::BlueGreen {
            keep_previous: Duration::from_secs(60),
        },
    );
    let mut sink = HandsAtKeepWarm {
        inner: MemorySink::default(),
        controller: runtime.controller(),
    };
    let result = tokio::time::timeout(PATIENCE, runtime.deploy(&mut rollout, &mut sink))
        .await
        .expect("the keep-warm wait was cut short")
        .expect("the journal is written");

    assert_eq!(result, DeployResult::Succeeded, "{:#?}", rollout.entries);
    assert_eq!(
        journal::summary(&rollout).interventions,
        ["aborted by carol: too late", "promoted by carol"]
    );
    assert!(runtime.instances("v1").is_empty());
    assert_eq!(routed_versions(&runtime), vec![("v2".to_owned(), 100)]);
    runtime.shutdown().await;
}
