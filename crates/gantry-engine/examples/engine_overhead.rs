//! The engine's own cost per job: runs a workflow of N independent one-step
//! (`run: "true"`) jobs over the fake executor (no process started), or with
//! `--host` over the host executor (bash really runs), and prints the wall
//! time and this process's own CPU per job (children excluded). No renderer,
//! no store: together with `gantry run` it splits the cost between engine,
//! executor and command line. A diagnostic for `scripts/bench` findings
//! (see BENCHMARKS.md), not a test:
//! `cargo run --release -p gantry-engine --example engine_overhead -- 500 [--host]`.

use std::sync::Arc;
use std::time::Instant;

use gantry_engine::{GitInfo, RunConfig};
use gantry_executor::FakeExecutor;
use gantry_plan::{Event, EventKind, PlanRequest};
use tokio_util::sync::CancellationToken;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc/self/stat (in clock ticks of 1/100 s).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<f64>() / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = args.iter().any(|a| a == "--host");
    let jobs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(500);
    let mut yaml = String::from("on: push\njobs:\n");
    for i in 0..jobs {
        yaml.push_str(&format!(
            "  j{i}:\n    runs-on: ubuntu-latest\n    steps:\n      - run: \"true\"\n"
        ));
    }
    let (workflow, _) = gantry_syntax::parse_workflow("w.yml", &yaml);
    let workflow = Arc::new(workflow);
    let event = Event::new(EventKind::Push, "refs/heads/main");
    let vars = serde_json::Map::new();
    let plan = match gantry_plan::plan(&PlanRequest {
        event: &event,
        workflows: std::slice::from_ref(&workflow),
        job: None,
        vars: &vars,
        resolver: &gantry_plan::plan::NoResolver,
    }) {
        Ok(plan) => plan,
        Err(errors) => {
            eprintln!("cannot plan: {errors:?}");
            std::process::exit(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("gantry-overhead-{}", std::process::id()));
    let scratch =
        std::path::Path::new("/dev/shm").join(format!("gantry-overhead-{}", std::process::id()));
    let config = Arc::new(RunConfig {
        executor: if host {
            Arc::new(gantry_executor::HostExecutor::new())
        } else {
            Arc::new(FakeExecutor::new())
        },
        runners: Default::default(),
        repo_dir: dir.clone(),
        run_dir: dir.join("run"),
        cache_dir: dir.join("cache"),
        actions_dirs: Vec::new(),
        max_parallel: 2,
        secrets: Default::default(),
        vars: Default::default(),
        git: GitInfo {
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            repository: "acme/widget".into(),
            actor: "me".into(),
            payload: serde_json::json!({}),
        },
        event,
        host_env: std::env::vars().collect(),
        run_id: "1".into(),
        run_number: 1,
        fresh_job_dirs: false,
        scratch_dir: scratch.clone(),
        carried: Default::default(),
        gate: None,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, mut rx) = gantry_engine::channel(16 << 20);
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let result = runtime.block_on(async move {
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let result = gantry_engine::run(
            &plan,
            config,
            tx,
            CancellationToken::new(),
            CancellationToken::new(),
        )
        .await;
        let _ = drain.await;
        result
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "{jobs} jobs on the {} executor ({}): {:.1} ms wall, {:.3} ms/job; own CPU {:.0} ms, {:.3} ms/job",
        if host { "host" } else { "fake" },
        result.result.as_str(),
        wall * 1e3,
        wall * 1e3 / jobs as f64,
        cpu * 1e3,
        cpu * 1e3 / jobs as f64
    );
}
