//! `gantry remote`: the runs of a `gantry serve` server from the command line, through its JSON
//! API (`/api/v1`) with an API token — list repositories and runs, show a run, print or follow
//! its logs, dispatch a workflow, cancel and re-run.
//!
//! The server's answers are read as JSON values (the wire types live in `gantry-server`); tables
//! are printed by default and the JSON as the server sent it with `--json`. Errors say what to do:
//! an unreachable server, a token the server refuses, and the server's own message otherwise.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{RemoteArgs, RemoteCommand, UserError, key_value};

/// How often a followed run is asked for news.
const POLL: Duration = Duration::from_millis(300);
/// Runs asked for per page when filtering.
const PAGE: u32 = 200;

/// Prints a line to stdout (no panic when stdout is a closed pipe).
macro_rules! say {
    ($($arg:tt)*) => {
        exit_on_closed_pipe(writeln!(std::io::stdout().lock(), $($arg)*))
    };
}

pub fn run(args: RemoteArgs) -> Result<ExitCode, UserError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let client = Client::new(&args.server, args.token.as_deref())?;
        let json = args.json;
        match args.command {
            RemoteCommand::Repos => repos(&client, json).await,
            RemoteCommand::Runs {
                repo,
                branch,
                workflow,
                limit,
            } => {
                let filter = RunFilter { branch, workflow };
                runs(&client, repo.as_deref(), &filter, limit, json).await
            }
            RemoteCommand::Show { repo, number } => show(&client, &repo, number, json).await,
            RemoteCommand::Logs {
                repo,
                number,
                job,
                follow,
            } => logs(&client, &repo, number, job.as_deref(), follow, json).await,
            RemoteCommand::Dispatch {
                repo,
                workflow,
                git_ref,
                inputs,
                wait,
            } => dispatch(&client, &repo, &workflow, git_ref, &inputs, wait, json).await,
            RemoteCommand::Cancel { repo, number } => {
                let path = format!("{}/runs/{number}/cancel", repo_path(&repo)?);
                let run = client.send("POST", &path, None).await?;
                print_run_action(&run, json, "");
                Ok(ExitCode::SUCCESS)
            }
            RemoteCommand::Rerun {
                repo,
                number,
                failed,
            } => {
                let path = format!("{}/runs/{number}/rerun", repo_path(&repo)?);
                let body = json!({ "failed_only": failed });
                let run = client.send("POST", &path, Some(body)).await?;
                print_run_action(&run, json, &format!(" (re-run of #{number})"));
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// The server's address and the caller's token.
struct Client {
    http: reqwest::Client,
    /// Without a trailing `/`.
    base: String,
    token: String,
}

impl Client {
    fn new(server: &str, token: Option<&str>) -> Result<Client, UserError> {
        let base = server.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(UserError(format!(
                "--server `{server}` must be a URL like http://127.0.0.1:8080"
            )));
        }
        let token = match token.map(str::trim) {
            Some(token) if !token.is_empty() => token.to_string(),
            _ => {
                return Err(UserError(
                    "no API token: pass --token or set GANTRY_TOKEN (create one on the account \
                     page or with POST /api/v1/tokens)"
                        .into(),
                ));
            }
        };
        Ok(Client {
            http: gantry_server::commit_status::http_client(),
            base,
            token,
        })
    }

    /// One request; the body of a 2xx answer.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Vec<u8>, UserError> {
        let url = format!("{}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| UserError(format!("bad HTTP method {method}: {e}")))?;
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
        Err(UserError(match (status.as_u16(), message) {
            (401, _) => "the token is not valid: create one on the account page or with POST \
                         /api/v1/tokens"
                .to_string(),
            (404, Some(message)) => format!("{message} ({path})"),
            (404, None) => format!(
                "the server at {} has no {path}: check --server (is it a Gantry server?)",
                self.base
            ),
            (_, Some(message)) => message,
            (status, None) => format!(
                "the server at {} answered {status} to {path}: {}",
                self.base,
                String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
            ),
        }))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, UserError> {
        let body = self.raw(method, path, body).await?;
        serde_json::from_slice(&body).map_err(|e| {
            UserError(format!(
                "the server at {} answered {path} with something that is not JSON ({e}): check --server",
                self.base
            ))
        })
    }

    async fn get(&self, path: &str) -> Result<Value, UserError> {
        self.send("GET", path, None).await
    }

    fn unreachable(&self, error: &reqwest::Error) -> UserError {
        if error.is_connect() || error.is_timeout() {
            UserError(format!(
                "cannot reach {}: start `gantry serve` or check --server",
                self.base
            ))
        } else {
            UserError(format!("talking to {}: {error}", self.base))
        }
    }
}

/// `owner/name` → `/api/v1/repositories/owner/name`.
fn repo_path(repo: &str) -> Result<String, UserError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) => {
            Ok(format!("/api/v1/repositories/{owner}/{name}"))
        }
        _ => Err(UserError(format!(
            "the repository `{repo}` must be written OWNER/NAME (see `gantry remote repos`)"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

async fn repos(client: &Client, json: bool) -> Result<ExitCode, UserError> {
    let repositories = client.get("/api/v1/repositories").await?;
    if json {
        print_json(&repositories);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = array(&repositories)
        .iter()
        .map(|r| {
            vec![
                text(&r["name"]),
                text(&r["kind"]),
                text(&r["default_branch"]),
                text(&r["role"]),
            ]
        })
        .collect();
    if rows.is_empty() {
        say!("no repositories: a site admin registers them (POST /api/v1/repositories)");
    } else {
        print_table(
            &["REPOSITORY", "KIND", "DEFAULT BRANCH", "YOUR ROLE"],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Which runs `gantry remote runs` keeps.
struct RunFilter {
    branch: Option<String>,
    workflow: Option<String>,
}

impl RunFilter {
    fn keeps(&self, run: &Value) -> bool {
        let branch_ok = self.branch.as_deref().is_none_or(|b| {
            run["branch"].as_str() == Some(b) || run["git_ref"].as_str() == Some(b)
        });
        let workflow_ok = self.workflow.as_deref().is_none_or(|w| {
            let file = run["workflow_file"].as_str().unwrap_or("");
            file == w
                || file.rsplit('/').next() == Some(w)
                || run["workflow_name"].as_str() == Some(w)
        });
        branch_ok && workflow_ok
    }

    fn is_empty(&self) -> bool {
        self.branch.is_none() && self.workflow.is_none()
    }
}

/// Up to `limit` runs of one repository that `filter` keeps, newest first.
async fn runs_of(
    client: &Client,
    repo: &str,
    filter: &RunFilter,
    limit: u32,
) -> Result<Vec<Value>, UserError> {
    let base = format!("{}/runs", repo_path(repo)?);
    let per_page = if filter.is_empty() {
        limit.min(PAGE)
    } else {
        PAGE
    };
    let mut kept = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut path = format!("{base}?limit={per_page}");
        if let Some(before) = before {
            path.push_str(&format!("&before={before}"));
        }
        let page = client.get(&path).await?;
        for run in array(&page["runs"]) {
            if kept.len() < limit as usize && filter.keeps(run) {
                kept.push(run.clone());
            }
        }
        before = page["next_before"].as_i64();
        if before.is_none() || kept.len() >= limit as usize {
            return Ok(kept);
        }
    }
}

async fn runs(
    client: &Client,
    repo: Option<&str>,
    filter: &RunFilter,
    limit: u32,
    json: bool,
) -> Result<ExitCode, UserError> {
    if limit == 0 {
        return Err(UserError("--limit must be at least 1".into()));
    }
    let names: Vec<String> = match repo {
        Some(repo) => vec![repo.to_string()],
        None => array(&client.get("/api/v1/repositories").await?)
            .iter()
            .map(|r| text(&r["name"]))
            .collect(),
    };
    let mut all = Vec::new();
    for name in &names {
        for mut run in runs_of(client, name, filter, limit).await? {
            run["repository"] = Value::String(name.clone());
            all.push(run);
        }
    }
    // Newest first across repositories (RFC 3339 UTC times sort as text).
    all.sort_by(|a, b| text(&b["created_at"]).cmp(&text(&a["created_at"])));
    all.truncate(limit as usize);
    if json {
        print_json(&Value::Array(all));
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        say!("no runs");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|run| {
            let mut row = Vec::new();
            if repo.is_none() {
                row.push(text(&run["repository"]));
            }
            row.extend([
                format!("#{}", run["number"]),
                run_state(run),
                workflow_label(run),
                text(&run["branch"]),
                text(&run["event"]),
                when(&run["created_at"]),
                text(&run["title"]),
            ]);
            row
        })
        .collect();
    let mut header = Vec::new();
    if repo.is_none() {
        header.push("REPOSITORY");
    }
    header.extend([
        "RUN", "STATE", "WORKFLOW", "BRANCH", "EVENT", "CREATED", "TITLE",
    ]);
    print_table(&header, &rows);
    Ok(ExitCode::SUCCESS)
}

async fn show(client: &Client, repo: &str, number: i64, json: bool) -> Result<ExitCode, UserError> {
    let run = client
        .get(&format!("{}/runs/{number}", repo_path(repo)?))
        .await?;
    if json {
        print_json(&run);
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "{repo} run #{}: {} — {}",
        run["number"],
        workflow_label(&run),
        text(&run["title"])
    );
    say!("state:    {}", run_state(&run));
    if let Some(reason) = run["status_reason"].as_str() {
        say!("reason:   {reason}");
    }
    say!(
        "event:    {} on {} ({})",
        text(&run["event"]),
        text(&run["git_ref"]),
        short_sha(&run["sha"])
    );
    if let Some(actor) = run["actor"].as_str().filter(|a| !a.is_empty()) {
        say!("actor:    {actor}");
    }
    say!("attempt:  {}", run["attempt"]);
    say!("created:  {}", when(&run["created_at"]));
    if !run["finished_at"].is_null() {
        say!("finished: {}", when(&run["finished_at"]));
    }
    let rows: Vec<Vec<String>> = array(&run["jobs"])
        .iter()
        .map(|job| {
            vec![
                text(&job["key"]),
                text(&job["state"]),
                job["duration_ms"]
                    .as_i64()
                    .map(duration)
                    .unwrap_or_default(),
                text(&job["runner"]),
            ]
        })
        .collect();
    if !rows.is_empty() {
        say!();
        print_table(&["JOB", "STATE", "DURATION", "RUNNER"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a run's logs (the jobs', or one job's); with `follow`, keeps printing what arrives
/// until the run ends, then exits 0 if it succeeded and 1 if not.
async fn logs(
    client: &Client,
    repo: &str,
    number: i64,
    job: Option<&str>,
    follow: bool,
    json: bool,
) -> Result<ExitCode, UserError> {
    let run_path = format!("{}/runs/{number}", repo_path(repo)?);
    let mut printer = LogPrinter::new(json);
    loop {
        // The run's state first: when it says completed, the logs read after it are whole.
        let run = client.get(&run_path).await?;
        let completed = run["status"] == "completed";
        let jobs = array(&run["jobs"]);
        if let Some(wanted) = job
            && !jobs.iter().any(|j| job_matches(j, wanted))
            && (completed || !follow)
        {
            let known: Vec<String> = jobs.iter().map(|j| text(&j["key"])).collect();
            return Err(UserError(format!(
                "run #{number} has no job `{wanted}`: its jobs are {}",
                if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        for j in jobs {
            if job.is_some_and(|wanted| !job_matches(j, wanted)) || j["status"] == "queued" {
                continue;
            }
            let id = j["id"].as_i64().unwrap_or_default();
            let log = client
                .raw("GET", &format!("{run_path}/jobs/{id}/log"), None)
                .await?;
            // A finished job's log is whole: its last line is printed even without a newline.
            let whole = !follow || j["status"] == "completed";
            printer.show(&text(&j["key"]), id, &log, whole);
        }
        if !follow || completed {
            printer.finish();
            if !follow {
                return Ok(ExitCode::SUCCESS);
            }
            return Ok(conclude(&run, repo, json));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A job given on the command line: its key (`build (linux)`) or its id in the workflow (`build`).
fn job_matches(job: &Value, wanted: &str) -> bool {
    let key = job["key"].as_str().unwrap_or("");
    key == wanted || key.split(" (").next() == Some(wanted)
}

/// The last line of a followed run; the exit code by its conclusion.
fn conclude(run: &Value, repo: &str, json: bool) -> ExitCode {
    let conclusion = text(&run["conclusion"]);
    if json {
        say!(
            "{}",
            json!({"run": run["number"], "repository": repo, "conclusion": run["conclusion"]})
        );
    } else {
        let mut line = format!("{repo} run #{}: {conclusion}", run["number"]);
        if let Some(reason) = run["status_reason"].as_str() {
            line.push_str(&format!(" ({reason})"));
        }
        say!("{line}");
    }
    if conclusion == "success" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints each job's new log bytes as whole lines prefixed by the job's key (`[build] …`), or
/// as JSON lines `{"job": …, "line": …}`.
struct LogPrinter {
    json: bool,
    /// Per job id: bytes of its log printed or held so far, and the unfinished last line.
    seen: HashMap<i64, (usize, Vec<u8>)>,
    /// Keys in the order their jobs were first shown, for flushing.
    order: Vec<(i64, String)>,
}

impl LogPrinter {
    fn new(json: bool) -> Self {
        LogPrinter {
            json,
            seen: HashMap::new(),
            order: Vec::new(),
        }
    }

    /// Shows what `log` holds beyond what was shown of it; `whole` when nothing will be added
    /// to it (its last line is then shown even without a newline).
    fn show(&mut self, key: &str, id: i64, log: &[u8], whole: bool) {
        if !self.seen.contains_key(&id) {
            self.order.push((id, key.to_string()));
        }
        let (offset, partial) = self.seen.entry(id).or_default();
        if log.len() > *offset {
            partial.extend_from_slice(&log[*offset..]);
            *offset = log.len();
        }
        let complete = if whole {
            partial.len()
        } else {
            partial
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        if complete == 0 {
            return;
        }
        let mut lines: Vec<u8> = partial.drain(..complete).collect();
        if lines.last() == Some(&b'\n') {
            lines.pop();
        }
        let mut out = anstream::stdout().lock();
        for line in lines.split(|&b| b == b'\n') {
            write_line(&mut out, self.json, key, line);
        }
        let _ = out.flush();
    }

    /// Prints the unfinished last lines (the run has ended or this is a one-time print).
    fn finish(&mut self) {
        let mut out = anstream::stdout().lock();
        for (id, key) in &self.order {
            if let Some((_, partial)) = self.seen.get_mut(id)
                && !partial.is_empty()
            {
                write_line(&mut out, self.json, key, partial);
                partial.clear();
            }
        }
        let _ = out.flush();
    }
}

fn write_line(out: &mut impl Write, json: bool, key: &str, line: &[u8]) {
    let line = String::from_utf8_lossy(line);
    let line = line.strip_suffix('\r').unwrap_or(&line);
    let written = if json {
        writeln!(out, "{}", json!({"job": key, "line": line}))
    } else if let Some(line) = readable(line) {
        // Bold on a terminal; anstream drops the style elsewhere.
        let bold = anstyle::Style::new().bold();
        writeln!(out, "{bold}[{key}]{bold:#} {line}")
    } else {
        Ok(())
    };
    exit_on_closed_pipe(written);
}

/// A stored log line as `gantry run` shows it: Gantry's `##[…]` markers become words; `None`
/// for a line that shows nothing (the end of a group).
fn readable(line: &str) -> Option<String> {
    let Some(rest) = line.strip_prefix("##[") else {
        return Some(line.to_string());
    };
    let Some((marker, text)) = rest.split_once(']') else {
        return Some(line.to_string());
    };
    Some(match marker {
        // `##[step]N Name`: N is the step's index.
        "step" => format!("▸ {}", text.split_once(' ').map_or(text, |(_, name)| name)),
        "group" => format!("▾ {text}"),
        "endgroup" => return None,
        "error" | "warning" | "notice" | "debug" => format!("{marker}: {text}"),
        _ => line.to_string(),
    })
}

/// Output goes to a pipe that was closed (`| head`): stop quietly, as other tools do.
fn exit_on_closed_pipe(written: std::io::Result<()>) {
    if let Err(err) = written
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

async fn dispatch(
    client: &Client,
    repo: &str,
    workflow: &str,
    git_ref: Option<String>,
    inputs: &[String],
    wait: bool,
    json: bool,
) -> Result<ExitCode, UserError> {
    let mut values = serde_json::Map::new();
    for raw in inputs {
        let (name, value) = key_value(raw, "--input")?;
        values.insert(name, Value::String(value));
    }
    let mut body = json!({ "workflow": workflow, "inputs": values });
    if let Some(git_ref) = git_ref {
        body["ref"] = Value::String(git_ref);
    }
    let path = format!("{}/dispatches", repo_path(repo)?);
    let queued = client.send("POST", &path, Some(body)).await?;
    let runs = array(&queued["runs"]);
    if runs.is_empty() {
        let why: Vec<String> = array(&queued["skipped"])
            .iter()
            .map(|s| format!("{}: {}", text(&s["workflow"]), text(&s["reason"])))
            .collect();
        return Err(UserError(format!(
            "the dispatch started no run: {}",
            if why.is_empty() {
                "the server gave no reason".to_string()
            } else {
                why.join("; ")
            }
        )));
    }
    if json && !wait {
        print_json(&queued);
    }
    if !json {
        for run in runs {
            say!(
                "{repo} run #{} of {} {}: {}{}",
                run["number"],
                text(&run["workflow"]),
                text(&run["status"]),
                client.base,
                text(&run["path"])
            );
        }
    }
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    for run in runs {
        let number = run["number"].as_i64().unwrap_or_default();
        if logs(client, repo, number, None, true, json).await? != ExitCode::SUCCESS {
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

fn print_run_action(run: &Value, json: bool, note: &str) {
    if json {
        print_json(run);
    } else {
        say!(
            "run #{}{note}: {} — {}",
            run["number"],
            run_state(run),
            workflow_label(run)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn print_json(value: &Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A string field, or what it holds; empty for null.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The conclusion once completed, else the status.
fn run_state(run: &Value) -> String {
    match run["conclusion"].as_str() {
        Some(conclusion) => conclusion.to_string(),
        None => text(&run["status"]),
    }
}

fn workflow_label(run: &Value) -> String {
    let file = text(&run["workflow_file"]);
    let file = file.rsplit('/').next().unwrap_or(&file).to_string();
    match run["workflow_name"].as_str() {
        Some(name) if !name.is_empty() && name != file => format!("{name} ({file})"),
        _ => file,
    }
}

fn short_sha(sha: &Value) -> String {
    text(sha).chars().take(12).collect()
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` UTC.
fn when(time: &Value) -> String {
    let raw = text(time);
    match raw.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => raw,
    }
}

fn duration(ms: i64) -> String {
    let seconds = ms / 1000;
    if seconds < 60 {
        format!("{}.{}s", seconds, (ms % 1000) / 100)
    } else if seconds < 3600 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60)
    }
}

/// Columns padded to their widest cell, two spaces apart; the last column unpadded.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut out = std::io::stdout().lock();
    exit_on_closed_pipe(out.write_all(table(header, rows).as_bytes()));
    let _ = out.flush();
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_every_column_but_the_last() {
        let rows = vec![
            vec![
                "#12".to_string(),
                "success".to_string(),
                "a title".to_string(),
            ],
            vec!["#9".to_string(), "".to_string(), "x".to_string()],
        ];
        assert_eq!(
            table(&["RUN", "STATE", "TITLE"], &rows),
            "RUN  STATE    TITLE\n#12  success  a title\n#9            x\n"
        );
    }

    #[test]
    fn repositories_are_owner_slash_name() {
        assert_eq!(
            repo_path("acme/web").ok().as_deref(),
            Some("/api/v1/repositories/acme/web")
        );
        for bad in ["acme", "acme/", "/web", "a/b/c", "a b/c", "acme/we?b"] {
            match repo_path(bad) {
                Err(err) => assert!(err.0.contains("OWNER/NAME"), "{bad}: {}", err.0),
                Ok(path) => panic!("{bad} was taken as {path}"),
            }
        }
    }

    #[test]
    fn filters_match_branch_and_workflow_by_file_path_or_name() {
        let run = json!({
            "branch": "main", "git_ref": "refs/heads/main",
            "workflow_file": ".github/workflows/ci.yml", "workflow_name": "CI"
        });
        let filter = |branch: Option<&str>, workflow: Option<&str>| RunFilter {
            branch: branch.map(str::to_string),
            workflow: workflow.map(str::to_string),
        };
        assert!(filter(None, None).keeps(&run));
        assert!(filter(Some("main"), Some("ci.yml")).keeps(&run));
        assert!(filter(None, Some(".github/workflows/ci.yml")).keeps(&run));
        assert!(filter(None, Some("CI")).keeps(&run));
        assert!(!filter(Some("dev"), None).keeps(&run));
        assert!(!filter(None, Some("deploy.yml")).keeps(&run));
    }

    #[test]
    fn jobs_are_chosen_by_key_or_by_their_workflow_id() {
        let job = json!({"key": "build (linux, 1)"});
        assert!(job_matches(&job, "build (linux, 1)"));
        assert!(job_matches(&job, "build"));
        assert!(!job_matches(&job, "buil"));
    }

    #[test]
    fn markers_read_as_gantry_run_shows_them() {
        let shown = |line: &str| readable(line);
        assert_eq!(shown("##[step]0 Run make").as_deref(), Some("▸ Run make"));
        assert_eq!(shown("##[group]Details").as_deref(), Some("▾ Details"));
        assert_eq!(shown("##[endgroup]"), None);
        assert_eq!(shown("##[error]boom").as_deref(), Some("error: boom"));
        assert_eq!(shown("##[other]x").as_deref(), Some("##[other]x"));
        assert_eq!(shown("plain ##[step]").as_deref(), Some("plain ##[step]"));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(1_234), "1.2s");
        assert_eq!(duration(75_000), "1m15s");
        assert_eq!(duration(3_720_000), "1h02m");
    }
}
