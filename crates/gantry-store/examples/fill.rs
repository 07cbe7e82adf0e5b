//! Fills a server's SQLite store with finished runs for the server benchmark
//! (`scripts/bench-server`): each run has 2 or 3 jobs with one or two steps and a short log,
//! written through the store's own API exactly as the agent records a real run.
//!
//! Usage: `cargo run --release -p gantry-store --example fill -- DATA_DIR OWNER/REPO COUNT`
//! (the repository must be registered already; stop the server while this runs).

use std::process::ExitCode;
use std::time::Instant;

use gantry_store::{Conclusion, NewJob, NewRun, Store};

/// Tasks writing at once: SQLite serialises the writes, but the statements' preparation and the
/// log compression overlap.
const WRITERS: usize = 4;

const BRANCHES: [&str; 4] = ["main", "develop", "feature/login", "fix/cache"];

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, repository, count] = args.as_slice() else {
        eprintln!("usage: fill DATA_DIR OWNER/REPO COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("fill: COUNT must be a number of runs, not `{count}`");
        return ExitCode::from(2);
    };
    match fill(data_dir, repository, count).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fill: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn fill(data_dir: &str, repository: &str, count: usize) -> Result<(), String> {
    let store = Store::open_sqlite(std::path::Path::new(data_dir))
        .await
        .map_err(|e| format!("cannot open the store in {data_dir}: {e}"))?;
    let repository_id = store
        .repository_by_name(repository)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no repository `{repository}`: register it with the server first"))?
        .id;
    let begun = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.spawn(async move {
            let mut index = writer;
            while index < count {
                one_run(&store, repository_id, index).await?;
                index += WRITERS;
            }
            Ok::<(), gantry_store::Error>(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done.map_err(|e| e.to_string())?
            .map_err(|e| format!("writing a run: {e}"))?;
    }
    store.close().await;
    eprintln!(
        "fill: {count} runs written in {:.1} s",
        begun.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One finished run: 2 or 3 jobs (test and lint, and every third run a deploy that needs test),
/// each with a checkout step and a build step and a log of a dozen lines; one run in seven fails.
async fn one_run(store: &Store, repository_id: i64, index: usize) -> gantry_store::Result<()> {
    let branch = BRANCHES[index % BRANCHES.len()];
    let git_ref = format!("refs/heads/{branch}");
    let sha = format!("{:040x}", 0x5eed_0000_u64 + index as u64);
    let title = format!("Change number {index} on {branch}");
    let run = store
        .create_run(&NewRun {
            repository_id,
            workflow_file: ".github/workflows/ci.yml",
            workflow_name: "CI",
            event: "push",
            git_ref: &git_ref,
            branch: Some(branch),
            sha: &sha,
            actor: "admin",
            title: &title,
            payload: "{}",
            concurrency_group: None,
        })
        .await?;
    store.start_run(run.id).await?;
    let failing = index % 7 == 3;
    let mut jobs = vec![("test", "[]"), ("lint", "[]")];
    if index.is_multiple_of(3) {
        jobs.push(("deploy", r#"["test"]"#));
    }
    for (key, needs) in jobs {
        let job = store
            .create_job(
                run.id,
                &NewJob {
                    key,
                    name: key,
                    labels: r#"["ubuntu-latest"]"#,
                    needs,
                },
            )
            .await?;
        store.start_job(job.id, "bench-agent").await?;
        let conclusion = if failing && key == "test" {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        let mut log = String::new();
        for (idx, name) in ["Checkout", "Build and test"].into_iter().enumerate() {
            store.start_step(job.id, idx as i64, name).await?;
            log.push_str(&format!("##[step]{idx} {name}\n"));
            for line in 0..6 {
                log.push_str(&format!(
                    "{key}: step {idx} line {line} of run {index}, commit {sha}\n"
                ));
            }
            let step_conclusion = if idx == 1 {
                conclusion
            } else {
                Conclusion::Success
            };
            store
                .finish_step(job.id, idx as i64, step_conclusion)
                .await?;
        }
        store.append_log(job.id, 0, log.as_bytes()).await?;
        store.finish_job(job.id, conclusion, "{}").await?;
    }
    let conclusion = if failing {
        Conclusion::Failure
    } else {
        Conclusion::Success
    };
    store.finish_run(run.id, conclusion).await?;
    Ok(())
}
