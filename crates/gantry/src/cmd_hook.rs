//! `gantry hook`: what the `post-receive` hook of a local repository runs. It reads git's
//! `OLD NEW REF` lines, reports them to the server and prints the runs they queued. It never
//! fails the push: a server that cannot be reached is reported, with what to do.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{HookArgs, UserError};

pub fn run(args: HookArgs) -> Result<ExitCode, UserError> {
    let mut updates = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| UserError(format!("cannot read the pushed refs: {e}")))?;
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [before, after, git_ref] = parts[..] {
            updates.push(json!({"before": before, "after": after, "ref": git_ref}));
        }
    }
    if updates.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let pusher = std::env::var("GANTRY_PUSHER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default();
    let body = json!({"repository": args.repository, "pusher": pusher, "updates": updates});
    let url = match std::fs::read_to_string(&args.url_file) {
        Ok(url) => url.trim().to_string(),
        Err(e) => {
            eprintln!(
                "gantry: cannot read the server's address from {} ({e}): start `gantry serve`, then push again",
                args.url_file.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    match post(&url, "/api/v1/hooks/git", &args.token, &body.to_string()) {
        Ok((200, answer)) => {
            let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            for run in answer["runs"].as_array().into_iter().flatten() {
                println!(
                    "gantry: run #{} of {} {}: {url}{}",
                    run["number"],
                    run["workflow"].as_str().unwrap_or(""),
                    run["status"].as_str().unwrap_or("queued"),
                    run["path"].as_str().unwrap_or("")
                );
            }
        }
        Ok((status, answer)) => {
            let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            let message = answer["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(answer.to_string());
            eprintln!("gantry: the server at {url} refused the push ({status}): {message}");
        }
        Err(e) => eprintln!(
            "gantry: the server at {url} cannot be reached ({e}): start `gantry serve`, then push again"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// One HTTP/1.1 POST of JSON to a `http://HOST:PORT` server: `(status, body)`.
fn post(url: &str, path: &str, token: &str, body: &str) -> std::io::Result<(u16, String)> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string());
    let host = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("the hook speaks plain http to a local server"))?
        .trim_end_matches('/');
    let address = std::net::ToSocketAddrs::to_socket_addrs(host)?
        .next()
        .ok_or_else(|| invalid("no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("not an HTTP answer"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
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
