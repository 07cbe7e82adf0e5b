//! Engine tests over the fake executor: scheduling, status functions,
//! outputs and fail-fast, with no process started. Each case is a workflow
//! and the trace of what the engine did.

use std::sync::Arc;

use gantry_engine::environment::{EnvironmentGate, GateFuture, GateRequest, Grant};
use gantry_engine::{GitInfo, Outcome, RunConfig, RunEvent};
use gantry_executor::FakeExecutor;
use gantry_plan::{Event, EventKind, PlanRequest};
use tokio_util::sync::CancellationToken;

struct Traced {
    result: Outcome,
    /// `job: result` lines, sorted (parallel jobs finish in any order).
    jobs: Vec<String>,
    events: Vec<RunEvent>,
    execs: usize,
}

fn run(yaml: &str) -> Traced {
    run_carrying(yaml, Default::default())
}

/// Runs with the results of some jobs carried over from an earlier attempt.
fn run_carrying(
    yaml: &str,
    carried: indexmap::IndexMap<String, (Outcome, indexmap::IndexMap<String, String>)>,
) -> Traced {
    run_with(yaml, carried, None)
}

/// Runs with carried results and an environment gate.
fn run_with(
    yaml: &str,
    carried: indexmap::IndexMap<String, (Outcome, indexmap::IndexMap<String, String>)>,
    gate: Option<Arc<dyn EnvironmentGate>>,
) -> Traced {
    let (workflow, diags) = gantry_syntax::parse_workflow("w.yml", yaml);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let workflow = Arc::new(workflow);
    let event = Event::new(EventKind::Push, "refs/heads/main");
    let vars = serde_json::Map::new();
    let plan = gantry_plan::plan(&PlanRequest {
        event: &event,
        workflows: std::slice::from_ref(&workflow),
        job: None,
        vars: &vars,
        resolver: &gantry_plan::plan::NoResolver,
    })
    .expect("plans");
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeExecutor::new());
    let config = Arc::new(RunConfig {
        executor: fake.clone(),
        runners: Default::default(),
        repo_dir: dir.path().to_path_buf(),
        run_dir: dir.path().join("run"),
        cache_dir: dir.path().join("cache"),
        actions_dirs: Vec::new(),
        max_parallel: 4,
        secrets: Default::default(),
        vars: Default::default(),
        git: GitInfo {
            sha: "0123456789abcdef".into(),
            repository: "acme/widget".into(),
            actor: "me".into(),
            payload: serde_json::json!({}),
        },
        event,
        host_env: std::env::vars().filter(|(k, _)| k == "PATH").collect(),
        run_id: "1".into(),
        run_number: 1,
        fresh_job_dirs: false,
        scratch_dir: dir.path().join("scratch"),
        carried,
        gate,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (tx, mut rx) = gantry_engine::channel(1 << 20);
    let result = runtime.block_on(gantry_engine::run(
        &plan,
        config,
        tx,
        CancellationToken::new(),
        CancellationToken::new(),
    ));
    let mut events = Vec::new();
    while let Some(e) = rx.try_recv() {
        events.push(e);
    }
    let mut jobs: Vec<String> = result
        .jobs
        .iter()
        .map(|j| format!("{}: {}", j.key, j.result.as_str()))
        .collect();
    jobs.sort();
    Traced {
        result: result.result,
        jobs,
        events,
        execs: fake.execs().len(),
    }
}

fn outputs_of(t: &Traced, job: &str) -> indexmap::IndexMap<String, String> {
    t.events
        .iter()
        .find_map(|e| match e {
            RunEvent::JobFinished {
                job: j, outputs, ..
            } if j == job => Some(outputs.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn carried_jobs_are_not_run_again_and_their_outputs_reach_dependents() {
    let yaml = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs: {version: "${{ steps.v.outputs.version }}"}
    steps:
      - {id: v, run: version}
  test:
    needs: build
    if: needs.build.outputs.version == '1.2.3'
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ needs.build.outputs.version }}
"#;
    let mut carried = indexmap::IndexMap::new();
    carried.insert(
        "build".to_string(),
        (
            Outcome::Success,
            [("version".to_string(), "1.2.3".to_string())]
                .into_iter()
                .collect(),
        ),
    );
    let t = run_carrying(yaml, carried);
    assert_eq!(t.result, Outcome::Success);
    // Only `test` ran (its `if` reads the carried output): one step.
    assert_eq!(t.jobs, ["test: success"]);
    assert_eq!(t.execs, 1);
    let started: Vec<&str> = t
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::JobStarted { job, .. } => Some(job.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(started, ["test"]);

    // A carried failure still fails the run, and skips what needs it.
    let mut carried = indexmap::IndexMap::new();
    carried.insert(
        "build".to_string(),
        (Outcome::Failure, indexmap::IndexMap::new()),
    );
    let t = run_carrying(yaml, carried);
    assert_eq!(t.result, Outcome::Failure);
    assert_eq!(t.jobs, ["test: skipped"]);
    assert_eq!(t.execs, 0);
}

#[test]
fn a_failed_need_skips_dependents_but_not_always_jobs() {
    let t = run(r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: make
        env: {FAKE_EXIT: "2"}
  test:
    needs: build
    runs-on: ubuntu-latest
    steps: [{run: test}]
  deploy:
    needs: test
    runs-on: ubuntu-latest
    steps: [{run: deploy}]
  report:
    needs: [build, deploy]
    if: always()
    runs-on: ubuntu-latest
    steps: [{run: report}]
  on-failure:
    needs: build
    if: failure()
    runs-on: ubuntu-latest
    steps: [{run: alert}]
"#);
    assert_eq!(t.result, Outcome::Failure);
    assert_eq!(
        t.jobs,
        [
            "build: failure",
            "deploy: skipped",
            "on-failure: success",
            "report: success",
            "test: skipped"
        ]
    );
    let reasons: Vec<&str> = t
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::JobSkipped { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "a job it needs failed: build",
            "a job before it failed (skipped needs: test)"
        ]
    );
}

#[test]
fn outputs_flow_through_needs_and_files() {
    let t = run(r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    outputs:
      v: ${{ steps.s.outputs.v }}
      both: ${{ steps.s.outputs.v }}-${{ env.E }}
    env: {E: job-env}
    steps:
      - id: s
        run: produce
        env: {FAKE_APPEND_GITHUB_OUTPUT: "v=42"}
  b:
    needs: a
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.t.outputs.seen }}
    steps:
      - id: t
        run: consume
        env: {FAKE_APPEND_GITHUB_OUTPUT: "seen=${{ needs.a.outputs.v }}/${{ needs.a.result }}"}
"#);
    assert_eq!(t.result, Outcome::Success);
    assert_eq!(
        outputs_of(&t, "a").get("both").map(String::as_str),
        Some("42-job-env")
    );
    assert_eq!(
        outputs_of(&t, "b").get("seen").map(String::as_str),
        Some("42/success")
    );
}

#[test]
fn step_status_functions_and_continue_on_error() {
    let t = run(r#"
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    outputs:
      trace: ${{ steps.last.outputs.trace }}
    steps:
      - id: soft
        run: flaky
        continue-on-error: true
        env: {FAKE_EXIT: "1"}
      - id: hard
        run: broken
        env: {FAKE_EXIT: "1"}
      - run: skipped-by-default
      - if: failure()
        run: on-failure
      - id: last
        if: always()
        run: summary
        env:
          FAKE_APPEND_GITHUB_OUTPUT: trace=${{ steps.soft.outcome }}/${{ steps.soft.conclusion }}/${{ steps.hard.outcome }}
"#);
    assert_eq!(t.result, Outcome::Failure);
    assert_eq!(
        outputs_of(&t, "j").get("trace").map(String::as_str),
        Some("failure/success/failure")
    );
    // flaky, broken, on-failure, summary: the default-if step was skipped.
    assert_eq!(t.execs, 4);
}

#[test]
fn fail_fast_cancels_matrix_siblings_and_can_be_turned_off() {
    let matrix = |fail_fast: bool| {
        format!(
            r#"
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: {fail_fast}
      matrix:
        n: [1, 2, 3]
    steps:
      - run: work
        env:
          FAKE_EXIT: ${{{{ matrix.n == 1 && '1' || '0' }}}}
          FAKE_SLEEP_MS: ${{{{ matrix.n == 1 && '0' || '3000' }}}}
"#
        )
    };
    let started = std::time::Instant::now();
    let t = run(&matrix(true));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "fail-fast did not stop the siblings"
    );
    assert_eq!(
        t.jobs,
        ["m (1): failure", "m (2): cancelled", "m (3): cancelled"]
    );
    let t = run(&matrix(false).replace("3000", "10"));
    assert_eq!(
        t.jobs,
        ["m (1): failure", "m (2): success", "m (3): success"]
    );
}

#[test]
fn job_if_sees_needs_and_github() {
    let t = run(r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    outputs: {go: "${{ steps.s.outputs.go }}"}
    steps:
      - id: s
        run: decide
        env: {FAKE_APPEND_GITHUB_OUTPUT: go=no}
  b:
    needs: a
    if: needs.a.outputs.go == 'yes'
    runs-on: ubuntu-latest
    steps: [{run: never}]
  c:
    needs: a
    if: github.ref == 'refs/heads/main' && github.repository == 'acme/widget'
    runs-on: ubuntu-latest
    steps: [{run: always-on-main}]
  d:
    runs-on: macos-latest
    steps: [{run: nope}]
"#);
    assert_eq!(
        t.jobs,
        ["a: success", "b: skipped", "c: success", "d: skipped"]
    );
    assert_eq!(t.result, Outcome::Success);
}

/// A gate that lets jobs into `production` with a variable and a secret, refuses `locked`, and
/// remembers who asked.
#[derive(Default)]
struct Gatekeeper {
    asked: std::sync::Mutex<Vec<String>>,
}

impl EnvironmentGate for Gatekeeper {
    fn enter<'a>(&'a self, request: &'a GateRequest) -> GateFuture<'a> {
        Box::pin(async move {
            self.asked
                .lock()
                .unwrap()
                .push(format!("{} -> {}", request.job, request.environment));
            match request.environment.as_str() {
                "production" => Ok(Grant {
                    vars: [("REGION".to_string(), serde_json::json!("eu-west"))]
                        .into_iter()
                        .collect(),
                    secrets: [("TOKEN".to_string(), "s3cr3t-token".to_string())]
                        .into_iter()
                        .collect(),
                }),
                other => Err(format!("`{other}` is locked by the test")),
            }
        })
    }
}

#[test]
fn jobs_enter_their_environments_through_the_gate_with_its_variables_and_secrets() {
    let gate = Arc::new(Gatekeeper::default());
    let t = run_with(
        r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: make
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment: ${{ github.ref_name == 'main' && 'production' || 'dev' }}
    outputs:
      seen: ${{ steps.d.outputs.seen }}
    steps:
      - id: d
        run: deploy
        env: {FAKE_APPEND_GITHUB_OUTPUT: "seen=${{ vars.REGION }}/${{ secrets.TOKEN != '' }}"}
  other:
    needs: build
    runs-on: ubuntu-latest
    environment: {name: locked, url: "https://example.com"}
    steps:
      - run: never
  after:
    needs: other
    runs-on: ubuntu-latest
    steps:
      - run: never
"#,
        Default::default(),
        Some(gate.clone()),
    );
    let mut asked = gate.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked, ["deploy -> production", "other -> locked"]);
    assert_eq!(
        t.jobs,
        [
            "after: skipped",
            "build: success",
            "deploy: success",
            "other: failure"
        ]
    );
    assert_eq!(
        outputs_of(&t, "deploy").get("seen").map(String::as_str),
        Some("eu-west/true")
    );
    let refused = t.events.iter().find_map(|e| match e {
        RunEvent::Annotation { job, annotation } if job == "other" => {
            Some(annotation.message.clone())
        }
        _ => None,
    });
    assert_eq!(
        refused.as_deref(),
        Some("cannot deploy to environment `locked`: `locked` is locked by the test")
    );
    // Only build and deploy ran a step.
    assert_eq!(t.execs, 2);
}
