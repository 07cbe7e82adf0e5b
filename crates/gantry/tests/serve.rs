//! `gantry serve` end to end: the real binary on a loopback port chosen by the system, logged in
//! over HTTP with the admin password it prints on first start, stopped with SIGTERM.

use std::process::Command;

#[path = "support/server.rs"]
mod support;

use support::{Server, hidden_csrf, http};

#[test]
fn serve_prints_its_url_and_admin_password_lets_the_admin_in_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(data.path(), &[]);
    let password = server
        .password
        .clone()
        .expect("the first start prints the admin password");
    let address = server.address.clone();
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

    assert_eq!(server.stop("-TERM"), Some(0));

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
