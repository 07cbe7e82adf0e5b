//! The web UI in a real browser: headless Chromium driven through Debian's `chromedriver`
//! (installed by `scripts/chromium`) against a real `gantry serve`.
//!
//! Log in through the form, push a workflow whose job prints lines for about two seconds, open
//! the run page and watch it reach `success` by itself (`static/run.js` follows the run's
//! events and the job's live log), re-run it with the button, then run the workflow from the
//! repository page's "Run workflow" form with an input and find the input's value in the log.
//!
//! Without `chromedriver` the test says why and passes, unless `CI=true`: then it fails.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

#[path = "support/server.rs"]
mod support;

use support::{Server, git};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the browser may take to see something happen.
const PATIENCE: Duration = Duration::from_secs(60);

const WORKFLOW: &str = r#"
name: UI
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      greeting:
        type: string
        default: hello
jobs:
  tick:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "greeting=${{ inputs.greeting }}"
          for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.4; done
"#;

/// `chromedriver` on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// The text of the element `css` selects, or empty while it is missing (the page may be
/// loading).
async fn text_of(browser: &Client, css: &str) -> String {
    match browser.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the element `css` selects contains `wanted`, without reloading the page.
async fn wait_for_text(browser: &Client, css: &str, wanted: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = text_of(browser, css).await;
        if text.contains(wanted) {
            return;
        }
        if Instant::now() >= deadline {
            let url = browser.current_url().await.map(|u| u.to_string());
            let page = browser.source().await.unwrap_or_default();
            panic!("{css} never showed {wanted:?} (it shows {text:?}) at {url:?}:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the run page is the server's rendering of a completed run (the script reloads
/// it once the run ends).
async fn wait_for_final_page(browser: &Client) {
    let deadline = Instant::now() + PATIENCE;
    while browser
        .find(Locator::Css("#run[data-completed='true']"))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the run page was not reloaded when the run ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_url(browser: &Client, suffix: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = browser.current_url().await.unwrap();
        if url.path().ends_with(suffix) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser stayed at {url}, not …{suffix}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_page_follows_a_run_live_and_its_buttons_and_forms_work() {
    let chromedriver = Path::new(CHROMEDRIVER);
    if !chromedriver.exists() {
        let why = format!("{CHROMEDRIVER} is missing: run scripts/chromium to install it");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the browser test cannot run in CI: {why}"
        );
        eprintln!("skipping the browser test: {why}");
        return;
    }

    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let origin = root.path().join("web.git");
    let work = root.path().join("work");
    support::bare_repository(&origin, &work);
    let server = Server::start(&data, &[]);
    let password = server.password.clone().unwrap();
    let session = server.login("admin", &password);
    let token = server.token(&session);
    let body = serde_json::json!({"name": "acme/web", "path": origin}).to_string();
    let registered = server.api("POST", "/api/v1/repositories", &token, &body);
    assert_eq!(registered.status, 201, "{}", registered.body);

    let driver = Driver::start(chromedriver);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("chromedriver starts a browser session");

    // Log in through the form.
    browser
        .goto(&format!("{}/login", server.url))
        .await
        .unwrap();
    let form = browser.form(Locator::Css("form.login")).await.unwrap();
    form.set_by_name("username", "admin").await.unwrap();
    form.set_by_name("password", &password).await.unwrap();
    form.submit().await.unwrap();
    wait_for_text(&browser, "main", "acme/web").await;

    // A push runs the workflow; its page follows it to the end by itself.
    std::fs::create_dir_all(work.join(".github/workflows")).unwrap();
    std::fs::write(work.join(".github/workflows/ui.yml"), WORKFLOW).unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "Tick"]);
    let pushed = git(&work, &["push", "--quiet", "origin", "main"]);
    assert!(
        String::from_utf8_lossy(&pushed.stderr).contains("run #1"),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    browser
        .goto(&format!("{}/acme/web/runs/1", server.url))
        .await
        .unwrap();
    let mut first = text_of(&browser, "#run-state").await;
    while first.is_empty() {
        // The script reloads the page when the jobs appear.
        tokio::time::sleep(Duration::from_millis(50)).await;
        first = text_of(&browser, "#run-state").await;
    }
    assert!(
        first == "queued" || first == "running",
        "the run ended before the page could follow it: {first:?}"
    );
    wait_for_text(&browser, "#log", "tick 2").await;
    wait_for_text(&browser, "#run-state", "success").await;
    wait_for_final_page(&browser).await;
    wait_for_text(&browser, "#log", "tick 5").await;

    // Re-run all jobs: run #2 succeeds too.
    browser
        .find(Locator::XPath("//button[text()='Re-run all jobs']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&browser, "/acme/web/runs/2").await;
    wait_for_text(&browser, "#run-state", "success").await;
    wait_for_final_page(&browser).await;
    wait_for_text(&browser, "main", "re-run of #1").await;

    // Run the workflow from the repository page with an input.
    browser
        .goto(&format!("{}/acme/web", server.url))
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//summary[text()='Run workflow']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let greeting = browser
        .find(Locator::Css("input[name='input.greeting']"))
        .await
        .unwrap();
    assert_eq!(
        greeting.prop("value").await.unwrap().as_deref(),
        Some("hello")
    );
    greeting.clear().await.unwrap();
    greeting
        .send_keys("bonjour-from-the-browser")
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//button[text()='Run workflow']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&browser, "/acme/web/runs/3").await;
    wait_for_text(&browser, "#run-state", "success").await;
    wait_for_text(&browser, "#log", "greeting=bonjour-from-the-browser").await;

    browser.close().await.unwrap();
}
