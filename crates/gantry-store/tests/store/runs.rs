//! Runs, jobs and steps: numbering, state changes, queries, crash recovery and retention.

use std::collections::BTreeSet;

use gantry_store::{Conclusion, Error, NewJob, NewRun, Run, RunFilter, Status, Store};
use jiff::{SignedDuration, Timestamp};

use crate::fixture;
use crate::on_both_backends;

/// Which runs a filter should return.
type Matches = Box<dyn Fn(&Run) -> bool>;

fn job(key: &'static str) -> NewJob<'static> {
    NewJob {
        key,
        name: key,
        labels: r#"["ubuntu-latest"]"#,
        needs: "[]",
    }
}

fn ids(runs: &[Run]) -> Vec<i64> {
    runs.iter().map(|r| r.id).collect()
}

/// A run that is running, with a running job (two steps, a log) and a queued one.
async fn interrupted(store: &Store, repository_id: i64) -> (Run, i64, i64) {
    let run = store
        .create_run(&fixture::push(repository_id, "main"))
        .await
        .unwrap();
    let build = store.create_job(run.id, &job("build")).await.unwrap();
    let test = store.create_job(run.id, &job("test")).await.unwrap();
    assert!(store.start_run(run.id).await.unwrap());
    assert!(store.start_job(build.id, "runner-1").await.unwrap());
    store.start_step(build.id, 0, "checkout").await.unwrap();
    store
        .finish_step(build.id, 0, Conclusion::Success)
        .await
        .unwrap();
    store.start_step(build.id, 1, "make").await.unwrap();
    store.append_log(build.id, 0, b"building\n").await.unwrap();
    (run, build.id, test.id)
}

on_both_backends! {
    async fn run_numbers_are_unique_and_gap_free_under_concurrency(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let api = fixture::repository(&store, "acme/api").await;
        let mut tasks = Vec::new();
        for n in 0..60 {
            let store = store.clone();
            let repository_id = if n % 2 == 0 { web.id } else { api.id };
            tasks.push(tokio::spawn(async move {
                store.create_run(&fixture::push(repository_id, "main")).await.unwrap()
            }));
        }
        let mut numbers = std::collections::BTreeMap::<i64, Vec<i64>>::new();
        for task in tasks {
            let run = task.await.unwrap();
            numbers.entry(run.repository_id).or_default().push(run.number);
        }
        for repository_id in [web.id, api.id] {
            let mut got = numbers.remove(&repository_id).unwrap();
            got.sort();
            assert_eq!(got, (1..=30).collect::<Vec<i64>>());
        }
        assert!(matches!(store.create_run(&fixture::push(9999, "main")).await, Err(Error::NotFound)));
        // A number is never reused, even after its run is deleted.
        let run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        assert_eq!(run.number, 31);
        store.finish_run(run.id, Conclusion::Success).await.unwrap();
        store.delete_runs_before(Timestamp::now() + SignedDuration::from_hours(1)).await.unwrap();
        assert_eq!(store.create_run(&fixture::push(web.id, "main")).await.unwrap().number, 32);
    }

    async fn run_lifecycle(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let new = NewRun { concurrency_group: Some("deploy"), ..fixture::push(web.id, "main") };
        let run = store.create_run(&new).await.unwrap();
        assert_eq!((run.number, run.status, run.conclusion, run.attempt, run.rerun_of), (1, Status::Queued, None, 1, None));
        assert_eq!((run.workflow_file.as_str(), run.event.as_str(), run.branch.as_deref()), (".github/workflows/ci.yml", "push", Some("main")));
        assert_eq!(store.run(run.id).await.unwrap(), Some(run.clone()));
        assert_eq!(store.run_by_number(web.id, 1).await.unwrap(), Some(run.clone()));
        assert_eq!(store.run_by_number(web.id, 2).await.unwrap(), None);
        assert_eq!(store.run_payload(run.id).await.unwrap().as_deref(), Some(r#"{"ref":"refs/heads/main"}"#));
        assert_eq!(store.run(9999).await.unwrap(), None);

        assert!(store.hold_run(run.id, "awaiting approval").await.unwrap());
        assert!(!store.hold_run(run.id, "again").await.unwrap());
        let held = store.run(run.id).await.unwrap().unwrap();
        assert_eq!((held.status, held.status_reason.as_deref()), (Status::Waiting, Some("awaiting approval")));
        assert!(!store.start_run(run.id).await.unwrap(), "a waiting run does not start");
        assert!(store.release_run(run.id).await.unwrap());
        assert!(!store.release_run(run.id).await.unwrap());
        assert_eq!(ids(&store.active_runs_in_group("deploy").await.unwrap()), [run.id]);

        assert!(store.start_run(run.id).await.unwrap());
        assert!(!store.start_run(run.id).await.unwrap());
        let started = store.run(run.id).await.unwrap().unwrap();
        assert_eq!((started.status, started.status_reason.clone()), (Status::Running, None));
        assert!(started.started_at.is_some());

        assert!(store.finish_run(run.id, Conclusion::Failure).await.unwrap());
        assert!(!store.finish_run(run.id, Conclusion::Success).await.unwrap());
        let done = store.run(run.id).await.unwrap().unwrap();
        assert_eq!((done.status, done.conclusion), (Status::Completed, Some(Conclusion::Failure)));
        assert!(done.finished_at.unwrap() >= done.started_at.unwrap());
        assert!(store.active_runs_in_group("deploy").await.unwrap().is_empty());

        let rerun = store.create_rerun(run.id, "bob").await.unwrap();
        assert_eq!((rerun.number, rerun.attempt, rerun.rerun_of, rerun.actor.as_str()), (2, 2, Some(run.id), "bob"));
        assert_eq!((rerun.sha.as_str(), rerun.status), (run.sha.as_str(), Status::Queued));
        assert_eq!(store.run_payload(rerun.id).await.unwrap(), store.run_payload(run.id).await.unwrap());
        assert_eq!(store.create_rerun(rerun.id, "bob").await.unwrap().attempt, 3);
        assert!(matches!(store.create_rerun(9999, "bob").await, Err(Error::NotFound)));
    }

    async fn list_runs_with_filters_and_keyset_pagination(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let api = fixture::repository(&store, "acme/api").await;
        let mut all = Vec::new();
        for n in 0..45 {
            let repository_id = if n % 3 == 0 { api.id } else { web.id };
            let branch = if n % 2 == 0 { "main" } else { "feature" };
            let workflow_file = if n % 5 == 0 { ".github/workflows/release.yml" } else { ".github/workflows/ci.yml" };
            let run = store
                .create_run(&NewRun { workflow_file, ..fixture::push(repository_id, branch) })
                .await
                .unwrap();
            if n % 4 == 0 {
                store.start_run(run.id).await.unwrap();
            }
            all.push(store.run(run.id).await.unwrap().unwrap());
        }
        all.reverse(); // Newest first.

        let filters: Vec<(RunFilter<'_>, Matches)> = vec![
            (RunFilter::default(), Box::new(|_| true)),
            (RunFilter { repository_id: Some(web.id), ..RunFilter::default() }, Box::new(move |r| r.repository_id == web.id)),
            (
                RunFilter { repository_id: Some(web.id), branch: Some("main"), ..RunFilter::default() },
                Box::new(move |r| r.repository_id == web.id && r.branch.as_deref() == Some("main")),
            ),
            (
                RunFilter { workflow_file: Some(".github/workflows/release.yml"), ..RunFilter::default() },
                Box::new(|r| r.workflow_file.ends_with("release.yml")),
            ),
            (
                RunFilter { repository_id: Some(api.id), status: Some(Status::Running), ..RunFilter::default() },
                Box::new(move |r| r.repository_id == api.id && r.status == Status::Running),
            ),
        ];
        for (filter, matches) in filters {
            let expected: Vec<i64> = all.iter().filter(|r| matches(r)).map(|r| r.id).collect();
            assert!(!expected.is_empty());
            let mut got = Vec::new();
            let mut before_id = None;
            loop {
                let page = store.list_runs(&RunFilter { before_id, limit: 4, ..filter.clone() }).await.unwrap();
                assert!(page.len() <= 4);
                got.extend(ids(&page));
                match page.last() {
                    Some(last) if page.len() == 4 => before_id = Some(last.id),
                    _ => break,
                }
            }
            assert_eq!(got, expected, "{filter:?}");
        }
        let page = store.list_runs(&RunFilter { limit: 3, ..RunFilter::default() }).await.unwrap();
        assert_eq!(page, all[..3].to_vec(), "list_runs returns whole rows");
    }

    async fn latest_runs_per_branch(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let api = fixture::repository(&store, "acme/api").await;
        let other = fixture::repository(&store, "acme/other").await;
        let mut latest = std::collections::BTreeMap::new();
        for (repository_id, branch) in [(web.id, "main"), (web.id, "dev"), (api.id, "main"), (web.id, "main"), (api.id, "main"), (other.id, "main")] {
            let run = store.create_run(&fixture::push(repository_id, branch)).await.unwrap();
            latest.insert((repository_id, branch), run.id);
        }
        store.create_run(&NewRun { branch: None, git_ref: "refs/tags/v1", ..fixture::push(web.id, "x") }).await.unwrap();
        let got: Vec<(i64, Option<String>, i64)> = store
            .latest_runs_per_branch(&[web.id, api.id])
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.repository_id, r.branch, r.id))
            .collect();
        let mut expected = vec![
            (web.id, Some("dev".to_string()), latest[&(web.id, "dev")]),
            (web.id, Some("main".to_string()), latest[&(web.id, "main")]),
            (api.id, Some("main".to_string()), latest[&(api.id, "main")]),
        ];
        expected.sort();
        assert_eq!(got, expected);
        assert!(store.latest_runs_per_branch(&[]).await.unwrap().is_empty());
    }

    async fn queued_runs_in_order(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let mut created = Vec::new();
        for _ in 0..4 {
            created.push(store.create_run(&fixture::push(web.id, "main")).await.unwrap().id);
        }
        store.start_run(created[1]).await.unwrap();
        store.hold_run(created[2], "fork").await.unwrap();
        assert_eq!(ids(&store.queued_runs().await.unwrap()), [created[0], created[3]]);
        assert_eq!(ids(&store.runs_in_progress().await.unwrap()), [created[1]]);
    }

    async fn kept_and_placeholder_jobs(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        let kept = store
            .create_finished_job(run.id, &job("build"), Conclusion::Success, r#"{"v":"1"}"#, "kept from run #1")
            .await
            .unwrap();
        assert_eq!(
            (kept.status, kept.conclusion, kept.outputs.as_str(), kept.status_reason.as_deref()),
            (Status::Completed, Some(Conclusion::Success), r#"{"v":"1"}"#, Some("kept from run #1"))
        );
        assert!(kept.finished_at.is_some());
        assert!(matches!(
            store.create_finished_job(run.id, &job("build"), Conclusion::Success, "{}", "x").await,
            Err(Error::AlreadyExists)
        ));
        // Only a job that never started can be removed.
        let matrix = store.create_job(run.id, &job("test")).await.unwrap();
        assert!(!store.delete_queued_job(kept.id).await.unwrap());
        assert!(store.delete_queued_job(matrix.id).await.unwrap());
        assert!(!store.delete_queued_job(matrix.id).await.unwrap());
        assert_eq!(ids_of_jobs(&store.jobs(run.id).await.unwrap()), [kept.id]);
    }

    async fn jobs_and_steps(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        let build = store.create_job(run.id, &job("build")).await.unwrap();
        let test = store
            .create_job(run.id, &NewJob { needs: r#"["build"]"#, ..job("test (ubuntu, 18)") })
            .await
            .unwrap();
        assert_eq!((build.key.as_str(), build.status, build.outputs.as_str(), build.runner.clone()), ("build", Status::Queued, "{}", None));
        assert_eq!(test.needs, r#"["build"]"#);
        assert!(matches!(store.create_job(run.id, &job("build")).await, Err(Error::AlreadyExists)));
        assert!(matches!(store.create_job(9999, &job("x")).await, Err(Error::NotFound)));
        assert_eq!(store.job(build.id).await.unwrap(), Some(build.clone()));
        assert_eq!(ids_of_jobs(&store.jobs(run.id).await.unwrap()), [build.id, test.id]);
        assert_eq!(ids_of_jobs(&store.queued_jobs().await.unwrap()), [build.id, test.id]);

        // Two runners race for the job: exactly one gets it.
        let (a, b) = tokio::join!(store.start_job(build.id, "runner-a"), store.start_job(build.id, "runner-b"));
        assert!(a.unwrap() ^ b.unwrap());
        let started = store.job(build.id).await.unwrap().unwrap();
        assert_eq!(started.status, Status::Running);
        assert!(started.runner.is_some() && started.started_at.is_some());
        assert_eq!(ids_of_jobs(&store.queued_jobs().await.unwrap()), [test.id]);

        store.add_step(build.id, 0, "Set up").await.unwrap();
        store.add_step(build.id, 1, "Run make").await.unwrap();
        store.add_step(build.id, 2, "Upload").await.unwrap();
        store.start_step(build.id, 0, "Set up job").await.unwrap();
        assert!(store.finish_step(build.id, 0, Conclusion::Success).await.unwrap());
        assert!(!store.finish_step(build.id, 0, Conclusion::Failure).await.unwrap());
        store.start_step(build.id, 1, "Run make").await.unwrap();
        assert!(store.finish_step(build.id, 1, Conclusion::Failure).await.unwrap());
        assert!(store.finish_step(build.id, 2, Conclusion::Skipped).await.unwrap());
        assert!(!store.finish_step(build.id, 7, Conclusion::Skipped).await.unwrap());
        assert!(matches!(store.add_step(9999, 0, "x").await, Err(Error::NotFound)));
        let steps = store.steps(build.id).await.unwrap();
        let summary: Vec<(i64, &str, Status, Option<Conclusion>, bool)> = steps
            .iter()
            .map(|s| (s.index, s.name.as_str(), s.status, s.conclusion, s.started_at.is_some()))
            .collect();
        assert_eq!(
            summary,
            [
                (0, "Set up job", Status::Completed, Some(Conclusion::Success), true),
                (1, "Run make", Status::Completed, Some(Conclusion::Failure), true),
                (2, "Upload", Status::Completed, Some(Conclusion::Skipped), false),
            ]
        );

        assert!(store.finish_job(build.id, Conclusion::Failure, r#"{"version":"1.2"}"#).await.unwrap());
        assert!(!store.finish_job(build.id, Conclusion::Success, "{}").await.unwrap());
        let finished = store.job(build.id).await.unwrap().unwrap();
        assert_eq!((finished.status, finished.conclusion, finished.outputs.as_str()), (Status::Completed, Some(Conclusion::Failure), r#"{"version":"1.2"}"#));
        assert!(finished.finished_at.is_some());
        assert!(store.finish_job(test.id, Conclusion::Skipped, "{}").await.unwrap(), "a job that never started");
    }

    async fn cancel_run_cancels_what_is_unfinished(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let (run, build, test) = interrupted(&store, web.id).await;
        assert!(store.cancel_run(run.id, "cancelled by alice").await.unwrap());
        assert!(!store.cancel_run(run.id, "again").await.unwrap());
        let run = store.run(run.id).await.unwrap().unwrap();
        assert_eq!((run.status, run.conclusion, run.status_reason.as_deref()), (Status::Completed, Some(Conclusion::Cancelled), Some("cancelled by alice")));
        for id in [build, test] {
            let job = store.job(id).await.unwrap().unwrap();
            assert_eq!((job.status, job.conclusion, job.status_reason.as_deref()), (Status::Completed, Some(Conclusion::Cancelled), Some("cancelled by alice")));
        }
        let steps: Vec<Option<Conclusion>> = store.steps(build).await.unwrap().into_iter().map(|s| s.conclusion).collect();
        assert_eq!(steps, [Some(Conclusion::Success), Some(Conclusion::Cancelled)]);
    }

    async fn crash_recovery_requeues(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let finished = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        store.finish_run(finished.id, Conclusion::Success).await.unwrap();
        let queued = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        let (run, build, test) = interrupted(&store, web.id).await;
        assert_eq!(ids(&store.runs_in_progress().await.unwrap()), [run.id]);

        let recovered = store.requeue_interrupted("server restarted").await.unwrap();
        assert_eq!(ids(&recovered), [run.id]);
        assert_eq!((recovered[0].status, recovered[0].status_reason.as_deref()), (Status::Queued, Some("server restarted")));
        let build = store.job(build).await.unwrap().unwrap();
        assert_eq!((build.status, build.status_reason.as_deref(), build.runner, build.started_at), (Status::Queued, Some("server restarted"), None, None));
        assert!(store.steps(build.id).await.unwrap().is_empty(), "the job starts over");
        assert!(store.log(build.id).await.unwrap().is_empty());
        let test = store.job(test).await.unwrap().unwrap();
        assert_eq!((test.status, test.status_reason), (Status::Queued, None));
        assert_eq!(ids(&store.queued_runs().await.unwrap()), [queued.id, run.id]);
        assert_eq!(store.run(finished.id).await.unwrap().unwrap().status, Status::Completed);
        assert!(store.runs_in_progress().await.unwrap().is_empty());
        assert!(store.requeue_interrupted("again").await.unwrap().is_empty());
    }

    async fn crash_recovery_fails(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let (run, build, test) = interrupted(&store, web.id).await;
        let recovered = store.fail_interrupted("server was killed").await.unwrap();
        assert_eq!(ids(&recovered), [run.id]);
        assert_eq!(
            (recovered[0].status, recovered[0].conclusion, recovered[0].status_reason.as_deref()),
            (Status::Completed, Some(Conclusion::Failure), Some("server was killed"))
        );
        assert!(recovered[0].finished_at.is_some());
        let build = store.job(build).await.unwrap().unwrap();
        assert_eq!((build.status, build.conclusion, build.status_reason.as_deref()), (Status::Completed, Some(Conclusion::Failure), Some("server was killed")));
        let test = store.job(test).await.unwrap().unwrap();
        assert_eq!((test.status, test.conclusion), (Status::Completed, Some(Conclusion::Cancelled)));
        let steps: Vec<Option<Conclusion>> = store.steps(build.id).await.unwrap().into_iter().map(|s| s.conclusion).collect();
        assert_eq!(steps, [Some(Conclusion::Success), Some(Conclusion::Failure)]);
        assert_eq!(store.log(build.id).await.unwrap(), b"building\n", "the log is kept");
    }

    async fn retention(store: Store) {
        let web = fixture::repository(&store, "acme/web").await;
        let api = fixture::repository(&store, "acme/api").await;
        let mut old = Vec::new();
        for _ in 0..3 {
            let run = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
            let job = store.create_job(run.id, &job("build")).await.unwrap();
            store.start_step(job.id, 0, "make").await.unwrap();
            store.append_log(job.id, 0, b"old log\n").await.unwrap();
            store.finish_run(run.id, Conclusion::Success).await.unwrap();
            old.push((run.id, job.id));
        }
        let running_old = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        store.start_run(running_old.id).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let cutoff = Timestamp::now();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let recent = store.create_run(&fixture::push(web.id, "main")).await.unwrap();
        store.finish_run(recent.id, Conclusion::Success).await.unwrap();

        assert_eq!(store.delete_runs_before(cutoff).await.unwrap(), 3);
        for (run_id, job_id) in &old {
            assert_eq!(store.run(*run_id).await.unwrap(), None);
            assert_eq!(store.job(*job_id).await.unwrap(), None);
            assert!(store.steps(*job_id).await.unwrap().is_empty());
            assert_eq!(store.log_size(*job_id).await.unwrap().chunks, 0);
        }
        assert!(store.run(running_old.id).await.unwrap().is_some(), "a run in progress is kept");
        assert!(store.run(recent.id).await.unwrap().is_some());

        // By count: keep the 3 most recent runs of each repository.
        let mut web_runs = vec![running_old.id, recent.id];
        let mut api_runs = Vec::new();
        for n in 0..8 {
            let repository_id = if n % 2 == 0 { web.id } else { api.id };
            let run = store.create_run(&fixture::push(repository_id, "main")).await.unwrap();
            store.finish_run(run.id, Conclusion::Success).await.unwrap();
            if repository_id == web.id { web_runs.push(run.id) } else { api_runs.push(run.id) }
        }
        // web: 6 runs (1 running, the oldest), api: 4.
        assert_eq!(store.keep_latest_runs(3).await.unwrap(), 2 + 1);
        let left: BTreeSet<i64> = ids(&store.list_runs(&RunFilter { limit: 100, ..RunFilter::default() }).await.unwrap()).into_iter().collect();
        let expected: BTreeSet<i64> = web_runs[3..].iter().chain(&api_runs[1..]).copied().chain([running_old.id]).collect();
        assert_eq!(left, expected);
        // Retention never reuses or renumbers.
        assert_eq!(store.create_run(&fixture::push(api.id, "main")).await.unwrap().number, 5);
        // Deleting a repository deletes its runs.
        store.delete_repository(api.id).await.unwrap();
        assert!(store.list_runs(&RunFilter { repository_id: Some(api.id), ..RunFilter::default() }).await.unwrap().is_empty());
    }
}

fn ids_of_jobs(jobs: &[gantry_store::Job]) -> Vec<i64> {
    jobs.iter().map(|j| j.id).collect()
}
