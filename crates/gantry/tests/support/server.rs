//! A real `gantry serve` for end-to-end tests: started on a loopback port chosen by the system,
//! logged into with the admin password it prints on first start, spoken to with a few lines of
//! HTTP/1.1 over `TcpStream` (one request per connection, no TLS stack), killed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The server, killed if the test ends before stopping it.
pub struct Server {
    pub child: Child,
    pub address: String,
    pub url: String,
    /// On first start.
    pub password: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The value of the `Set-Cookie` named `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, value)| {
                let pair = value.split(';').next()?;
                let (key, value) = pair.split_once('=')?;
                (key == name).then(|| value.to_string())
            })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn hidden_csrf(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf input") + 19;
    page[start..].split('"').next().unwrap().to_string()
}

impl Server {
    /// Starts `gantry serve` on `data` and waits for it to listen.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut password = None;
        let url = loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "gantry serve ended before printing its URL"
            );
            if let Some(rest) = line.strip_prefix("first start: log in as admin with password ") {
                password = Some(rest.split(';').next().unwrap().to_string());
            }
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                break url.to_string();
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stdout.read_to_string(&mut sink);
        });
        let address = url.strip_prefix("http://").unwrap().to_string();
        Server {
            child,
            address,
            url,
            password,
        }
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        http(&self.address, "GET", path, headers, "")
    }

    /// Logs in with the password form; returns the session cookie's value.
    pub fn login(&self, user: &str, password: &str) -> String {
        let form = self.get("/login", &[]);
        let csrf = form.cookie("gantry_login_csrf").unwrap();
        let body = format!("username={user}&password={password}&csrf={csrf}&next=%2F");
        let cookie = format!("gantry_login_csrf={csrf}");
        let login = http(
            &self.address,
            "POST",
            "/login",
            &[
                ("Cookie", &cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &body,
        );
        assert_eq!(login.status, 303, "{}", login.body);
        login.cookie("gantry_session").unwrap()
    }

    /// An API token of the logged-in user.
    pub fn token(&self, session: &str) -> String {
        let cookie = format!("gantry_session={session}");
        let account = self.get("/account", &[("Cookie", &cookie)]);
        let csrf = hidden_csrf(&account.body);
        let answer = http(
            &self.address,
            "POST",
            "/api/v1/tokens",
            &[
                ("Cookie", &cookie),
                ("X-CSRF-Token", &csrf),
                ("Content-Type", "application/json"),
            ],
            r#"{"name": "tests"}"#,
        );
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.json()["token"].as_str().unwrap().to_string()
    }

    /// A JSON API call with a bearer token.
    pub fn api(&self, method: &str, path: &str, token: &str, body: &str) -> Answer {
        let auth = format!("Bearer {token}");
        http(
            &self.address,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    }

    /// Polls a run until it is completed; returns its detail.
    pub fn wait_run(&self, token: &str, repo: &str, number: i64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self.api(
                "GET",
                &format!("/api/v1/repositories/{repo}/runs/{number}"),
                token,
                "",
            );
            if answer.status == 200 {
                let run = answer.json();
                if run["status"] == "completed" {
                    return run;
                }
            }
            assert!(
                Instant::now() < deadline,
                "run #{number} did not end: {}",
                answer.body
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal and waits for the process to end; its exit code.
    pub fn stop(&mut self, signal: &str) -> Option<i32> {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "gantry serve did not stop on {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs git in `dir` as Ada (author, committer and pusher); fails the test if git fails.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GANTRY_PUSHER", "ada")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes `files` in the work tree and commits them.
pub fn commit(work: &Path, files: &[(&str, &str)], message: &str) {
    for (path, text) in files {
        let path = work.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(work, &["add", "-A"]);
    git(work, &["commit", "--quiet", "-m", message]);
}

/// A bare repository at `origin` (branch `main`) and a work tree at `work` that pushes to it.
pub fn bare_repository(origin: &Path, work: &Path) {
    std::fs::create_dir_all(work).unwrap();
    let parent = origin.parent().unwrap();
    git(
        parent,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    git(work, &["init", "--quiet", "-b", "main"]);
    git(work, &["remote", "add", "origin", origin.to_str().unwrap()]);
}
