//! `gantry serve` end to end: the real binary on a loopback port chosen by the system, logged in
//! over HTTP with the admin password it prints on first start, stopped with SIGTERM.
//!
//! The HTTP client is a few lines over `TcpStream` (one request per connection), so the test needs
//! no TLS stack.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server, killed if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The value of the `Set-Cookie` named `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, value)| {
                let pair = value.split(';').next()?;
                let (key, value) = pair.split_once('=')?;
                (key == name).then(|| value.to_string())
            })
    }
}

/// One HTTP/1.1 request with `Connection: close`.
fn http(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
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
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn hidden_csrf(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf input") + 19;
    page[start..].split('"').next().unwrap().to_string()
}

#[test]
fn serve_prints_its_url_and_admin_password_lets_the_admin_in_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());

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
    let password = password.expect("the first start prints the admin password");
    let address = url.strip_prefix("http://").unwrap().to_string();
    assert!(address.starts_with("127.0.0.1:"));
    assert!(!address.ends_with(":0"), "the bound port, not 0: {address}");

    assert_eq!(http(&address, "GET", "/healthz", &[], "").body, "ok");
    let anonymous = http(&address, "GET", "/", &[], "");
    assert_eq!(anonymous.status, 303);

    let form = http(&address, "GET", "/login", &[], "");
    assert_eq!(form.status, 200);
    let csrf = form.cookie("gantry_login_csrf").unwrap();
    assert_eq!(hidden_csrf(&form.body), csrf);
    let body = format!("username=admin&password={password}&csrf={csrf}&next=%2F");
    let cookie = format!("gantry_login_csrf={csrf}");
    let login = http(
        &address,
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body,
    );
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some("/"));
    let session = login.cookie("gantry_session").unwrap();

    let cookie = format!("gantry_session={session}");
    let dashboard = http(&address, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("Repositories"));
    assert!(dashboard.body.contains("admin"));
    assert_eq!(dashboard.header("x-frame-options"), Some("DENY"));

    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "gantry serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));

    // A second start finds the admin and prints no password.
    let output = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["serve", "--listen", "256.0.0.1:0", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("password"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen on 256.0.0.1:0"));
}
