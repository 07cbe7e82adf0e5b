//! Containers end to end: the real binary against the real Docker engine,
//! with the local images `scripts/images` builds (`gantry-test/busybox:1`,
//! `gantry-test/postgres:15`): job containers, services by name and by port,
//! health checks, `docker://` steps, Dockerfile actions, and that nothing
//! gantry created survives a run, a failure or a Ctrl-C (`gantry gc` for
//! what a killed run left).

mod fixture;

use std::process::Command;
use std::time::{Duration, Instant};

use fixture::{Repo, marker};

const BUSYBOX: &str = "gantry-test/busybox:1";
const POSTGRES: &str = "gantry-test/postgres:15";
const HTTPD: &str = "gantry-test/httpd:1";

/// A long-running service image (service containers take no command, so
/// the image's own must keep running): busybox httpd in the foreground.
/// Built from the busybox image on first use; instant when it exists.
fn httpd_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let dockerfile = format!(
            "FROM {BUSYBOX}\nRUN mkdir -p /www && echo served > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
        );
        let mut child = Command::new("docker")
            .args(["build", "-q", "-t", HTTPD, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("docker build");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), dockerfile.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "cannot build {HTTPD}");
    });
    HTTPD
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Containers, networks and volumes labelled with one of the job keys
/// given (each test uses job ids of its own).
fn leftovers(jobs: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for job in jobs {
        let filter = format!("label=org.gantry.job={job}");
        for line in docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]).lines() {
            found.push(format!("container {line}"));
        }
        for line in docker(&[
            "network",
            "ls",
            "--filter",
            &filter,
            "--format",
            "{{.Name}}",
        ])
        .lines()
        {
            found.push(format!("network {line}"));
        }
    }
    found
}

#[test]
fn container_jobs_services_and_step_containers_work_and_leave_nothing() {
    let tag = marker("c");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  inside_TAG:
    runs-on: ubuntu-latest
    container:
      image: @BB@
      env:
        GREETING: hello
      volumes:
        - shared_TAG:/shared
    services:
      web:
        image: @HTTPD@
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/" --health-interval 1s
        volumes:
          - shared_TAG:/www/shared
    steps:
      - id: s
        run: |
          echo "greeting=$GREETING"
          # busybox has no bash: the default shell is sh
          echo "bash=${BASH_VERSION:-none}"
          echo "value=42" >> "$GITHUB_OUTPUT"
      - run: |
          echo "output=${{ steps.s.outputs.value }}"
          echo "has-id=${{ job.container.id != '' }}"
          # the service answers by its name on the job's network
          wget -q -O - http://web/ | sed 's/^/web-says-/'
          # a named volume shared by the job and its service
          echo from-the-job > /shared/note.txt
          wget -q -O - http://web/shared/note.txt | sed 's/^/volume-says-/'
  host_TAG:
    runs-on: ubuntu-latest
    services:
      pg:
        image: @PG@
        env:
          POSTGRES_PASSWORD: pw
        ports: ["5432"]
        options: --health-cmd "pg_isready -U postgres" --health-interval 1s --health-timeout 5s --health-retries 30
    steps:
      - run: |
          echo "port-set=${{ job.services.pg.ports['5432'] != '' }}"
          docker ps --filter label=org.gantry.job=host_TAG --format '{{.Names}}' | wc -l | sed 's/^/running=/'
          PGPASSWORD=pw psql -h 127.0.0.1 -p ${{ job.services.pg.ports['5432'] }} -U postgres -tAc 'select 40 + 2' | sed 's/^/answer=/'
      - uses: docker://@BB@
        with:
          entrypoint: sh
          args: -c "echo step-container-ran; test -d $GITHUB_WORKSPACE && echo workspace-mounted"
"#
        .replace("TAG", &tag)
        .replace("@BB@", BUSYBOX)
        .replace("@HTTPD@", httpd_image())
        .replace("@PG@", POSTGRES),
    );
    let out = repo.run_json(&[]);
    out.code(0);
    let inside = out.text(&format!("inside_{tag}"));
    for needle in [
        "greeting=hello",
        "bash=none",
        "output=42",
        "has-id=true",
        "web-says-served",
        "volume-says-from-the-job",
    ] {
        assert!(inside.contains(needle), "{needle} in:\n{inside}");
    }
    let host = out.text(&format!("host_{tag}"));
    for needle in [
        "port-set=true",
        "running=1",
        "answer=42",
        "step-container-ran",
        "workspace-mounted",
    ] {
        assert!(host.contains(needle), "{needle} in:\n{host}");
    }
    let jobs = [format!("inside_{tag}"), format!("host_{tag}")];
    let jobs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    assert_eq!(leftovers(&jobs), Vec::<String>::new());
}

#[test]
fn a_service_that_never_gets_healthy_fails_the_job_clearly_and_leaves_nothing() {
    let tag = marker("sick");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  sick_TAG:
    runs-on: ubuntu-latest
    services:
      db:
        image: BUSYBOX
        options: --entrypoint sleep --health-cmd false --health-interval 1s --health-retries 2
        env:
          MARK: never-ready
    steps:
      - run: echo never-runs
"#
        .replace("TAG", &tag)
        .replace("BUSYBOX", BUSYBOX),
    );
    // `sleep` with no argument exits at once: an exited service is reported too.
    let out = repo.run_json(&[]);
    out.code(1);
    let key = format!("sick_{tag}");
    assert_eq!(out.result(&key), "failure");
    let all = out.all();
    assert!(
        all.contains("service `db` exited") || all.contains("service `db` is unhealthy"),
        "{all}"
    );
    assert!(all.contains("its last log lines"), "{all}");
    assert!(!out.text(&key).contains("never-runs"));
    assert_eq!(leftovers(&[&key]), Vec::<String>::new());

    // A service that runs but fails its health check: unhealthy.
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  unhealthy_TAG:
    runs-on: ubuntu-latest
    services:
      db:
        image: HTTPD
        options: --health-cmd false --health-interval 1s --health-retries 2
    steps:
      - run: echo never-runs
"#
        .replace("TAG", &tag)
        .replace("HTTPD", httpd_image()),
    );
    let started = Instant::now();
    let out = repo.run_json(&[]);
    out.code(1).has("service `db` is unhealthy");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        leftovers(&[&format!("unhealthy_{tag}")]),
        Vec::<String>::new()
    );
}

#[test]
fn a_dockerfile_action_is_built_and_run_with_its_inputs() {
    let tag = marker("dact");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  act_TAG:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: greet
        uses: ./greeter
        with:
          who: docker
      - run: echo "said=${{ steps.greet.outputs.said }}"
      - uses: ./echoer
        with:
          word: prebuilt
"#
        .replace("TAG", &tag),
    );
    repo.write(
        "echoer/action.yml",
        &format!(
            "name: Echoer\ninputs:\n  word:\n    required: true\nruns:\n  using: docker\n  image: docker://{BUSYBOX}\n  entrypoint: sh\n  args:\n    - -c\n    - echo \"image action says $INPUT_WORD\"\n"
        ),
    );
    repo.write(
        "greeter/action.yml",
        "name: Greeter\ninputs:\n  who:\n    required: true\noutputs:\n  said:\n    description: what\nruns:\n  using: docker\n  image: Dockerfile\n  args:\n    - ${{ inputs.who }}\n",
    );
    repo.write(
        "greeter/Dockerfile",
        &format!("FROM {BUSYBOX}\nCOPY greet.sh /greet.sh\nENTRYPOINT [\"sh\", \"/greet.sh\"]\n"),
    );
    repo.write(
        "greeter/greet.sh",
        "echo \"hello $1 (input $INPUT_WHO)\"\necho \"said=hello $1\" >> \"$GITHUB_OUTPUT\"\n",
    );
    repo.commit("action");
    let out = repo.run_json(&[]);
    out.code(0);
    let text = out.text(&format!("act_{tag}"));
    assert!(text.contains("hello docker (input docker)"), "{text}");
    assert!(text.contains("said=hello docker"), "{text}");
    assert!(text.contains("image action says prebuilt"), "{text}");
}

#[test]
fn ctrl_c_in_a_container_job_removes_its_containers() {
    let tag = marker("intr");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  long_TAG:
    runs-on: ubuntu-latest
    container: BUSYBOX
    services:
      side:
        image: HTTPD
    steps:
      - run: |
          echo started
          sleep 300
"#
        .replace("TAG", &tag)
        .replace("HTTPD", httpd_image())
        .replace("BUSYBOX", BUSYBOX),
    );
    let mut child = repo
        .command(&["run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gantry");
    let key = format!("long_{tag}");
    // Wait until the step runs (its containers exist).
    let started = Instant::now();
    let filter = format!("label=org.gantry.job={key}");
    while docker(&["ps", "-q", "--filter", &filter]).lines().count() < 2 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
            panic!("gantry ended ({status}) before its containers ran:\n{out}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let interrupted = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        interrupted.elapsed() < Duration::from_secs(20),
        "stopping took {:?}",
        interrupted.elapsed()
    );
    assert_eq!(leftovers(&[&key]), Vec::<String>::new());
}

#[test]
fn gc_removes_what_a_dead_run_left_and_keeps_what_a_live_one_owns() {
    let tag = marker("gc");
    let dead = format!("gantry-test-gc-dead-{tag}");
    let live = format!("gantry-test-gc-live-{tag}");
    // A pid that cannot exist owns the first; this test process the second.
    let me = std::process::id();
    let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let started = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let job = format!("gc_{tag}");
    for (name, owner) in [
        (&dead, "4194304999-1".to_string()),
        (&live, format!("{me}-{started}")),
    ] {
        docker(&[
            "create",
            "--name",
            name,
            "--label",
            &format!("org.gantry.owner={owner}"),
            "--label",
            &format!("org.gantry.job={job}"),
            BUSYBOX,
            "true",
        ]);
    }
    let dead_volume = format!("gantry-test-gc-volume-{tag}");
    docker(&[
        "volume",
        "create",
        "--label",
        "org.gantry.owner=4194304999-1",
        "--label",
        &format!("org.gantry.job={job}"),
        &dead_volume,
    ]);
    let repo = Repo::empty();
    let out = repo.gantry(&["gc"]);
    out.code(0)
        .has(&format!("removed container {dead}"))
        .has(&format!("removed volume {dead_volume}"));
    assert_eq!(leftovers(&[&job]), vec![format!("container {live}")]);
    // `gc --all` would also remove the containers of the other tests that
    // run at the same time, so it is not run here; the live one goes by hand.
    docker(&["rm", "-f", &live]);
    assert_eq!(leftovers(&[&job]), Vec::<String>::new());
}

#[test]
fn the_postgres_integration_example_runs_sql_against_its_service() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/postgres-integration");
    let repo = Repo::empty();
    for rel in [
        ".github/workflows/integration.yml",
        "db/schema.sql",
        "db/test.sql",
    ] {
        let text = std::fs::read_to_string(example.join(rel)).expect("example file");
        repo.write(rel, &text);
    }
    repo.commit("example");
    let out = repo.run_json(&[]);
    out.code(0);
    let text = out.text("integration");
    assert!(text.contains("CREATE TABLE"), "{text}");
    assert!(text.contains("amount check works"), "{text}");
    assert!(text.contains("(2 rows)"), "{text}");
}

/// Debian's registry on a free loopback port, stopped when dropped.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog: {{disabled: true}}\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start docker-registry (scripts/images installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn images_are_built_tagged_cached_pushed_and_pulled_back_by_digest() {
    let tag = marker("img");
    let registry = Registry::start();
    let image = format!("127.0.0.1:{}/gantry-test-app", registry.port);
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      digest: ${{ steps.push.outputs.digest }}
      first: ${{ steps.push.outputs.metadata }}
      tags: ${{ steps.meta.outputs.tags }}
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
      - uses: docker/login-action@v3
        with:
          registry: 127.0.0.1:PORT
          username: ci
          password: not-a-real-password
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: IMAGE
          tags: |
            type=ref,event=branch
            type=sha
      - id: push
        uses: docker/build-push-action@v6
        with:
          context: app
          target: final
          build-args: MARK=TAG
          tags: ${{ steps.meta.outputs.tags }}
          labels: ${{ steps.meta.outputs.labels }}
          push: true
      - id: again
        uses: docker/build-push-action@v6
        with:
          context: app
          target: final
          build-args: MARK=TAG
          labels: ${{ steps.meta.outputs.labels }}
          tags: IMAGE:again
      - run: |
          echo "tags=${{ steps.meta.outputs.tags }}" | tr '\n' ' '; echo
          echo "same-image=${{ steps.push.outputs.imageid == steps.again.outputs.imageid }}"
          echo "first-cached=${{ fromJSON(steps.push.outputs.metadata)['gantry.cached-steps'] }}"
          echo "again-cached=${{ fromJSON(steps.again.outputs.metadata)['gantry.cached-steps'] }}"
          echo "again-total=${{ fromJSON(steps.again.outputs.metadata)['gantry.total-steps'] }}"
  rebuild:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # No local copy of the image any more: only the registry has its layers.
      - env:
          TAGS: ${{ needs.build.outputs.tags }}
        run: |
          for t in $TAGS IMAGE:again; do docker image rm -f "$t" >/dev/null; done
      - id: again
        uses: docker/build-push-action@v6
        with:
          context: app
          target: final
          build-args: MARK=TAG
          cache-from: type=registry,ref=IMAGE:main
          tags: IMAGE:rebuilt
      - run: echo "rebuilt-cached=${{ fromJSON(steps.again.outputs.metadata)['gantry.cached-steps'] }}"
  pull:
    needs: [build, rebuild]
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker pull -q "IMAGE@${{ needs.build.outputs.digest }}" >/dev/null
          docker run --rm "IMAGE@${{ needs.build.outputs.digest }}" cat /greeting
          docker image rm -f "IMAGE@${{ needs.build.outputs.digest }}" >/dev/null
"#
        .replace("TAG", &tag)
        .replace("IMAGE", &image)
        .replace("PORT", &registry.port.to_string()),
    );
    repo.write(
        "app/Dockerfile",
        &format!(
            "FROM {BUSYBOX} AS base\nARG MARK\nRUN echo \"built for $MARK\" > /greeting\nFROM base AS final\nLABEL org.example.stage=final\nRUN cat /greeting > /dev/null\n"
        ),
    );
    repo.commit("app");
    let out = repo.run_json(&[]);
    out.code(0);
    let build = out.text("build");
    assert!(build.contains(&format!("{image}:main")), "{build}");
    assert!(build.contains(&format!("{image}:sha-")), "{build}");
    assert!(build.contains("same-image=true"), "{build}");
    // The first build ran its RUN steps; the second took every step from the cache.
    let number = |key: &str| -> usize {
        build
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {build}"))
    };
    assert!(number("first-cached") < number("again-total"), "{build}");
    assert!(number("again-cached") >= 3, "{build}");
    assert!(!build.contains("not-a-real-password"), "{build}");
    // The rebuild found its layers through `cache-from` in the registry.
    let rebuild = out.text("rebuild");
    assert!(rebuild.contains("cache-from: pulled"), "{rebuild}");
    let rebuilt_cached: usize = rebuild
        .lines()
        .find_map(|l| l.strip_prefix("rebuilt-cached="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rebuilt-cached in {rebuild}"));
    assert!(rebuilt_cached >= 3, "{rebuild}");
    let pull = out.text("pull");
    assert!(pull.contains(&format!("built for {tag}")), "{pull}");
    // The pushed tags are in the registry too.
    let reference = format!("{image}:main");
    let _ = Command::new("docker")
        .args(["image", "rm", "-f", &reference])
        .output();
    docker(&["pull", "-q", &reference]);
    docker(&["image", "rm", "-f", &reference]);
    // Leave no images of this test behind.
    let sha_tag = format!("{image}:sha-{}", &repo.head()[..7]);
    for reference in [
        format!("{image}:again"),
        format!("{image}:rebuilt"),
        sha_tag,
    ] {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &reference])
            .output();
    }
}

#[test]
fn a_sigkilled_run_has_its_containers_removed_by_the_watchdog() {
    let tag = marker("kill");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  killed_TAG:
    runs-on: ubuntu-latest
    container: BUSYBOX
    services:
      side:
        image: HTTPD
    steps:
      - run: sleep 300
"#
        .replace("TAG", &tag)
        .replace("HTTPD", httpd_image())
        .replace("BUSYBOX", BUSYBOX),
    );
    let mut child = repo
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gantry");
    let key = format!("killed_{tag}");
    let filter = format!("label=org.gantry.job={key}");
    let started = Instant::now();
    while docker(&["ps", "-q", "--filter", &filter]).lines().count() < 2 {
        assert!(child.try_wait().unwrap().is_none(), "gantry ended early");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGKILL: gantry cannot clean up; its watchdog runs `gantry gc --owner`.
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    while !leftovers(&[&key]).is_empty() {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "left behind: {:?}",
            leftovers(&[&key])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_step_timeout_in_a_container_stops_it_and_the_job_removes_everything() {
    let tag = marker("tmo");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  slow_TAG:
    runs-on: ubuntu-latest
    container: BUSYBOX
    steps:
      - timeout-minutes: 0.02
        run: |
          echo started
          sleep 300
      - if: always()
        run: echo "cleanup-step-ran"
"#
        .replace("TAG", &tag)
        .replace("BUSYBOX", BUSYBOX),
    );
    let started = Instant::now();
    let out = repo.run_json(&[]);
    out.code(1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let key = format!("slow_{tag}");
    assert_eq!(out.result(&key), "failure");
    let text = out.text(&key);
    assert!(
        text.contains("started") && text.contains("cleanup-step-ran"),
        "{text}"
    );
    out.has("timeout-minutes");
    assert_eq!(leftovers(&[&key]), Vec::<String>::new());
}

#[test]
fn a_runs_on_label_mapped_to_an_image_runs_the_job_in_it() {
    let tag = marker("label");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  boxed_TAG:
    runs-on: tiny
    steps:
      - run: echo "bash=${BASH_VERSION:-none} in-container=${{ job.container.id != '' }}"
"#
        .replace("TAG", &tag),
    );
    let out = repo.run_json(&["--runner", &format!("tiny={BUSYBOX}")]);
    out.code(0);
    let key = format!("boxed_{tag}");
    assert!(
        out.text(&key).contains("bash=none in-container=true"),
        "{}",
        out.text(&key)
    );
    assert_eq!(leftovers(&[&key]), Vec::<String>::new());
}

#[test]
fn a_failed_job_shows_its_services_logs() {
    let tag = marker("logs");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  failing_TAG:
    runs-on: ubuntu-latest
    services:
      db:
        image: @PG@
        env:
          POSTGRES_PASSWORD: pw
        options: --health-cmd "pg_isready -U postgres" --health-interval 1s --health-retries 30
    steps:
      - run: exit 3
"#
        .replace("TAG", &tag)
        .replace("@PG@", POSTGRES),
    );
    let out = repo.run_json(&[]);
    out.code(1);
    let key = format!("failing_{tag}");
    let text = out.text(&key);
    assert!(
        text.contains("--- log of service `db` (last lines) ---"),
        "{text}"
    );
    assert!(text.contains("ready to accept connections"), "{text}");
    assert_eq!(leftovers(&[&key]), Vec::<String>::new());
}
