//! The run page (job graph, buttons by role, the selected job's log and annotations, log search),
//! the repository page's workflows (badges, "Run workflow" forms from typed inputs, filters),
//! badges and `/metrics`.

use axum::http::StatusCode;
use gantry_store::{Conclusion, Forge, NewJob, NewRepository, RepositoryKind, Role};

use crate::world::{Auth, World, git};

const FAILING_LOG: &str = "##[step]0 Run tests\nrunning 3 tests\n##[warning]slow test: 12 s\n\
                           ##[error]assertion failed: 1 == 2\ndone\n";

/// A repository with a failed run (`build` succeeded; `test`, which needs it, failed) and users
/// with each role.
async fn world_with_failed_run() -> (World, gantry_store::Repository, gantry_store::Run) {
    let world = World::new().await;
    let repository = world.repository("acme/app").await;
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("developer", Role::Developer),
        ("maintainer", Role::Maintainer),
    ] {
        let user = world.user(name, false).await;
        world.grant(&repository, &user, role).await;
    }
    world.user("outsider", false).await;
    let run = world
        .finished_run(
            &repository,
            "main",
            &[
                ("build", Conclusion::Success, "compiled\n"),
                ("test", Conclusion::Failure, FAILING_LOG),
            ],
            Conclusion::Failure,
        )
        .await;
    (world, repository, run)
}

fn buttons(body: &str) -> Vec<&'static str> {
    [
        "Cancel run",
        "Re-run all jobs",
        "Re-run failed jobs",
        "Approve and run",
    ]
    .into_iter()
    .filter(|label| body.contains(&format!(">{label}</button>")))
    .collect()
}

#[tokio::test]
async fn the_run_page_shows_the_graph_the_failed_job_its_annotations_and_its_log() {
    let (world, _repository, run) = world_with_failed_run().await;
    let session = world.login("viewer").await;
    let page = world.get("/acme/app/runs/1", &session).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    let jobs = world.store.jobs(run.id).await.unwrap();
    let test = jobs.iter().find(|job| job.key == "test").unwrap();
    // The graph links to each job.
    assert!(body.contains("<svg"), "{body}");
    assert!(body.contains(&format!("href=\"/acme/app/runs/1?job={}#job\"", test.id)));
    // The failed job is the one shown, its log rendered as lines, not in a <pre>.
    assert!(
        body.contains(&format!("id=\"job\" data-job=\"{}\"", test.id)),
        "{body}"
    );
    assert!(body.contains("<div class=\"log\" id=\"log\">"));
    assert!(!body.contains("<pre"));
    assert!(body.contains("id=\"L2\""), "{body}");
    assert!(body.contains("running 3 tests"));
    assert!(!body.contains("compiled"), "only the shown job's log");
    // Its annotations, linked to their lines.
    assert!(
        body.contains(
            "<li class=\"annotation error\"><a href=\"#L4\">error · line 4</a>: assertion failed: 1 == 2</li>"
        ),
        "{body}"
    );
    assert!(body.contains("<a href=\"#L3\">warning · line 3</a>: slow test: 12 s"));
    // The script is a static file; a completed run says so to it.
    assert!(body.contains("<script src=\"/static/run.js\" defer></script>"));
    assert!(body.contains("data-completed=\"true\""));
    // No live log for a finished job.
    assert!(!body.contains("data-live="));

    // Another job, by its id.
    let build = jobs.iter().find(|job| job.key == "build").unwrap();
    let page = world
        .get(&format!("/acme/app/runs/1?job={}", build.id), &session)
        .await;
    assert!(page.body.contains("compiled"));
    assert!(!page.body.contains("class=\"annotation"));
    // A job of no run of this page is not found.
    let page = world.get("/acme/app/runs/1?job=999999", &session).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_run_page_searches_the_run_logs_without_javascript() {
    let (world, _repository, _run) = world_with_failed_run().await;
    let session = world.login("viewer").await;
    let page = world.get("/acme/app/runs/1?q=assertion", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("test line 4</a>"), "{}", page.body);
    assert!(
        page.body
            .contains("<code>##[error]assertion failed: 1 == 2</code>")
    );
    let page = world.get("/acme/app/runs/1?q=nowhere", &session).await;
    assert!(page.body.contains("No line of this run"));
}

#[tokio::test]
async fn the_run_page_buttons_follow_the_role_and_the_run_state() {
    let (world, repository, _run) = world_with_failed_run().await;
    let viewer = world.login("viewer").await;
    let developer = world.login("developer").await;
    let maintainer = world.login("maintainer").await;
    let page = world.get("/acme/app/runs/1", &viewer).await;
    assert!(buttons(&page.body).is_empty(), "{:?}", buttons(&page.body));
    let page = world.get("/acme/app/runs/1", &developer).await;
    assert_eq!(
        buttons(&page.body),
        ["Re-run all jobs", "Re-run failed jobs"]
    );
    assert!(page.body.contains("action=\"/acme/app/runs/1/rerun\""));
    assert!(page.body.contains("name=\"failed_only\" value=\"1\""));

    // A successful run has nothing failed to re-run.
    world
        .finished_run(&repository, "main", &[], Conclusion::Success)
        .await;
    let page = world.get("/acme/app/runs/2", &developer).await;
    assert_eq!(buttons(&page.body), ["Re-run all jobs"]);

    // A running run can be cancelled; a waiting one approved by a maintainer.
    let running = world.run(&repository, "main", "Running").await;
    assert!(world.store.start_run(running.id).await.unwrap());
    let page = world.get("/acme/app/runs/3", &developer).await;
    assert_eq!(buttons(&page.body), ["Cancel run"]);
    assert!(page.body.contains("data-completed=\"false\""));
    assert!(
        page.body
            .contains("data-events=\"/acme/app/runs/3/events\"")
    );
    let waiting = world.run(&repository, "feature", "From a fork").await;
    assert!(
        world
            .store
            .hold_run(waiting.id, "waiting for approval")
            .await
            .unwrap()
    );
    let page = world.get("/acme/app/runs/4", &developer).await;
    assert_eq!(buttons(&page.body), ["Cancel run"]);
    let page = world.get("/acme/app/runs/4", &maintainer).await;
    assert_eq!(buttons(&page.body), ["Cancel run", "Approve and run"]);
    assert!(page.body.contains("waiting for approval"));

    // The re-run button works as a form and the new run links back.
    let answer = world
        .post_form("/acme/app/runs/1/rerun", &developer, &[], true)
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), "/acme/app/runs/5");
    let page = world.get("/acme/app/runs/5", &developer).await;
    assert!(page.body.contains("attempt 2"), "{}", page.body);
    assert!(
        page.body
            .contains("re-run of <a href=\"/acme/app/runs/1\">#1</a>")
    );
}

#[tokio::test]
async fn a_running_job_is_followed_live() {
    let (world, repository, _run) = world_with_failed_run().await;
    let session = world.login("viewer").await;
    let run = world.run(&repository, "main", "Going").await;
    assert!(world.store.start_run(run.id).await.unwrap());
    let job = world
        .store
        .create_job(
            run.id,
            &NewJob {
                key: "build",
                name: "build",
                labels: "[]",
                needs: "[]",
            },
        )
        .await
        .unwrap();
    assert!(world.store.start_job(job.id, "local").await.unwrap());
    world.store.add_step(job.id, 0, "Compile").await.unwrap();
    world.store.start_step(job.id, 0, "Compile").await.unwrap();
    let page = world.get("/acme/app/runs/2", &session).await;
    assert!(
        page.body.contains(&format!(
            "data-live=\"/acme/app/runs/2/jobs/{}/live\"",
            job.id
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<a href=\"#step-0\">Compile</a> <span class=\"state running\">")
    );
}

#[tokio::test]
async fn the_script_and_the_log_styles_are_served() {
    let world = World::new().await;
    let script = world.get("/static/run.js", &Auth::Anonymous).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.body.contains("EventSource"));
    let style = world.get("/static/style.css", &Auth::Anonymous).await;
    assert!(
        style.body.contains(".log .a-fg-1"),
        "render.css is included"
    );
}

#[tokio::test]
async fn badges_show_the_latest_started_run_of_a_workflow_on_a_branch() {
    let (world, repository, _run) = world_with_failed_run().await;
    let viewer = world.login("viewer").await;
    let badge = world.get("/badge/acme/app/ci.yml.svg", &viewer).await;
    assert_eq!(badge.status, StatusCode::OK, "{}", badge.body);
    assert_eq!(badge.headers["content-type"], "image/svg+xml");
    assert_eq!(badge.headers["cache-control"], "no-cache");
    assert!(badge.body.starts_with("<svg"));
    assert!(badge.body.contains("CI: failing"), "{}", badge.body);
    // A queued run does not count yet; a newer success does. The stem names it too.
    world
        .finished_run(&repository, "main", &[], Conclusion::Success)
        .await;
    world.run(&repository, "main", "Queued").await;
    let badge = world.get("/badge/acme/app/ci.svg", &viewer).await;
    assert!(badge.body.contains("CI: passing"), "{}", badge.body);
    // Another branch, another workflow.
    let badge = world
        .get("/badge/acme/app/ci.svg?branch=dev", &viewer)
        .await;
    assert!(badge.body.contains("no runs"), "{}", badge.body);
    let badge = world.get("/badge/acme/app/deploy.yml.svg", &viewer).await;
    assert!(badge.body.contains("deploy.yml: no runs"), "{}", badge.body);
    // Not an SVG name; and a repository the caller cannot see.
    let badge = world.get("/badge/acme/app/ci.yml", &viewer).await;
    assert_eq!(badge.status, StatusCode::NOT_FOUND);
    let outsider = world.login("outsider").await;
    let badge = world.get("/badge/acme/app/ci.svg", &outsider).await;
    assert_eq!(badge.status, StatusCode::NOT_FOUND);
    let badge = world.get("/badge/acme/app/ci.svg", &Auth::Anonymous).await;
    assert_eq!(badge.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_are_for_site_admins_and_count_responses() {
    let (world, _repository, _run) = world_with_failed_run().await;
    world.user("root", true).await;
    let anonymous = world.get("/metrics", &Auth::Anonymous).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let viewer = world.login("viewer").await;
    let refused = world.get("/metrics", &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("only site admins"),
        "{}",
        refused.body
    );

    // Prometheus comes with an admin's API token.
    let admin = world.login("root").await;
    let token = world.create_token(&admin, "prometheus").await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let metrics = world.get("/metrics", &Auth::Bearer(token)).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.body);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let line = |class: &str| {
        metrics
            .body
            .lines()
            .find(|line| {
                line.starts_with(&format!("gantry_http_requests_total{{class=\"{class}\"}}"))
            })
            .unwrap_or_else(|| panic!("no {class} line in {}", metrics.body))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    // The logins (login form, redirects, dashboards) and the refusals were counted.
    assert!(line("2xx") >= 4, "{}", metrics.body);
    assert!(line("3xx") >= 2);
    assert!(line("4xx") >= 2);
    assert!(
        metrics.body.contains("gantry_queue_length"),
        "{}",
        metrics.body
    );
}

const DEPLOY: &str = r#"
name: Deploy
on:
  workflow_dispatch:
    inputs:
      target:
        description: Where to deploy
        type: choice
        required: true
        options: [staging, production]
        default: staging
      dry_run:
        type: boolean
        default: true
      replicas:
        type: number
        default: 3
      note:
        type: string
      region:
        type: environment
        default: eu
jobs:
  go:
    runs-on: ubuntu-latest
    steps:
      - run: echo go
"#;

const CI: &str =
    "name: CI\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n";

#[tokio::test]
async fn the_repository_page_lists_workflows_with_badges_and_dispatch_forms() {
    let world = World::new().await;
    let work = tempfile::TempDir::new().unwrap();
    git(work.path(), &["init", "--quiet", "-b", "main"]);
    std::fs::create_dir_all(work.path().join(".github/workflows")).unwrap();
    std::fs::write(work.path().join(".github/workflows/deploy.yml"), DEPLOY).unwrap();
    std::fs::write(work.path().join(".github/workflows/ci.yml"), CI).unwrap();
    git(work.path(), &["add", "-A"]);
    git(work.path(), &["commit", "--quiet", "-m", "Workflows"]);
    let location = work.path().to_str().unwrap();
    let repository = world
        .store
        .create_repository(&NewRepository {
            name: "acme/app",
            kind: RepositoryKind::Local,
            location,
            default_branch: "main",
            forge: Forge::None,
            webhook_secret: None,
        })
        .await
        .unwrap();
    for (name, role) in [("viewer", Role::Viewer), ("developer", Role::Developer)] {
        let user = world.user(name, false).await;
        world.grant(&repository, &user, role).await;
    }
    let developer = world.login("developer").await;
    let page = world.get("/acme/app", &developer).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(
        body.contains("<img src=\"/badge/acme/app/ci.yml.svg\""),
        "{body}"
    );
    assert!(body.contains("<img src=\"/badge/acme/app/deploy.yml.svg\""));
    // One form, for the workflow with workflow_dispatch.
    assert_eq!(body.matches("<summary>Run workflow</summary>").count(), 1);
    assert!(body.contains("name=\"workflow\" value=\".github/workflows/deploy.yml\""));
    assert!(body.contains("name=\"ref\" value=\"main\" required"));
    assert!(
        body.contains("<select name=\"input.target\" required>"),
        "{body}"
    );
    assert!(body.contains("<option selected>staging</option>"));
    assert!(body.contains("<option>production</option>"));
    assert!(body.contains("Where to deploy"));
    assert!(body.contains("(required)"));
    assert!(
        body.contains("<input type=\"checkbox\" name=\"input.dry_run\" value=\"true\" checked>")
    );
    assert!(
        body.contains("<input type=\"number\" step=\"any\" name=\"input.replicas\" value=\"3\">")
    );
    assert!(body.contains("<input type=\"text\" name=\"input.note\" value=\"\">"));
    assert!(body.contains("<input type=\"text\" name=\"input.region\" value=\"eu\">"));
    assert!(body.contains("name=\"booleans\" value=\"dry_run,\""));

    // Viewers see the workflows but cannot run them.
    let viewer = world.login("viewer").await;
    let page = world.get("/acme/app", &viewer).await;
    assert!(page.body.contains("/badge/acme/app/ci.yml.svg"));
    assert!(!page.body.contains("Run workflow"));
}

#[tokio::test]
async fn the_runs_list_filters_by_branch_workflow_and_status() {
    let (world, repository, _run) = world_with_failed_run().await;
    world.run(&repository, "feature", "Feature work").await;
    let session = world.login("viewer").await;
    let page = world.get("/acme/app?branch=feature", &session).await;
    assert!(page.body.contains("Feature work"), "{}", page.body);
    assert!(!page.body.contains("Fix the build"));
    let page = world.get("/acme/app?status=completed", &session).await;
    assert!(page.body.contains("Fix the build"));
    assert!(!page.body.contains("Feature work"));
    let page = world
        .get("/acme/app?workflow=.github/workflows/other.yml", &session)
        .await;
    assert!(page.body.contains("No runs match these filters"));
    let page = world.get("/acme/app?status=exploded", &session).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body
            .contains("use queued, waiting, running or completed")
    );
    // Without a git directory, the page says why there are no workflows.
    let page = world.get("/acme/app", &session).await;
    assert_eq!(page.status, StatusCode::OK);
}
