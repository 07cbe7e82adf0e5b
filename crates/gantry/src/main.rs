//! The `gantry` binary: command line, wiring, output rendering, exit codes.
//!
//! `run` wires the engine straight to the host executor; `plan` and
//! `validate` use only the pure front half; `logs` reads stored runs; `remote` talks to a
//! server's JSON API.
//! Exit codes: 0 success, 1 the run failed (or `validate` found errors),
//! 2 Gantry could not do what was asked (bad arguments, invalid workflow).

mod cmd_gc;
mod cmd_hook;
mod cmd_logs;
mod cmd_plan;
mod cmd_remote;
mod cmd_run;
mod cmd_serve;
mod cmd_validate;
mod environments;
mod git;
mod memory;
mod render;
mod secrets;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "gantry", version, about = "Run GitHub Actions workflows on this machine", long_about = None)]
struct Cli {
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the workflows an event triggers (default: a push of the current branch)
    Run(RunArgs),
    /// Show which workflows and jobs an event would run, and why others are skipped
    Plan(EventArgs),
    /// Check workflow files and report every problem with file:line:col
    Validate(ValidateArgs),
    /// Show the stored logs of earlier local runs
    Logs(LogsArgs),
    /// Remove Docker containers, networks and volumes left behind by runs that died
    Gc(GcArgs),
    /// Serve the web UI and the JSON API, and run the workflows pushes trigger
    Serve(ServeArgs),
    /// Work with the runs of a `gantry serve` server: list, show, logs, dispatch, cancel, re-run
    Remote(RemoteArgs),
    /// Report a push to the server (run by the hook `gantry serve` installs in local repositories)
    #[command(hide = true)]
    Hook(HookArgs),
}

#[derive(Args)]
pub struct RemoteArgs {
    /// The server's URL
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "GANTRY_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// An API token (create one on the account page or with POST /api/v1/tokens)
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "GANTRY_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Print the server's JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: RemoteCommand,
}

#[derive(Subcommand)]
pub enum RemoteCommand {
    /// List the repositories you can see, with your role
    Repos,
    /// List runs, newest first: a repository's, or those of every repository you can see
    Runs {
        /// OWNER/NAME (default: every repository)
        repo: Option<String>,
        /// Only runs of this branch
        #[arg(long, value_name = "BRANCH")]
        branch: Option<String>,
        /// Only runs of this workflow (file name, path or name)
        #[arg(long, value_name = "WORKFLOW")]
        workflow: Option<String>,
        /// At most this many runs
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: u32,
    },
    /// Show a run and its jobs
    Show {
        /// OWNER/NAME
        repo: String,
        /// The run's number
        number: i64,
    },
    /// Print a run's logs, each line prefixed by its job
    Logs {
        /// OWNER/NAME
        repo: String,
        /// The run's number
        number: i64,
        /// Only this job's log (its key, or its id in the workflow)
        #[arg(long, short = 'j', value_name = "JOB")]
        job: Option<String>,
        /// Keep printing until the run ends; exit 1 if it did not succeed
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Run a workflow that has `on: workflow_dispatch`
    Dispatch {
        /// OWNER/NAME
        repo: String,
        /// The workflow's file name (`deploy.yml`) or path
        workflow: String,
        /// The branch or tag (default: the repository's default branch)
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// An input, NAME=VALUE (repeatable)
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Follow the run's logs until it ends; exit 1 if it did not succeed
        #[arg(long)]
        wait: bool,
    },
    /// Cancel a queued or running run
    Cancel {
        /// OWNER/NAME
        repo: String,
        /// The run's number
        number: i64,
    },
    /// Run a finished run again, as a new run
    Rerun {
        /// OWNER/NAME
        repo: String,
        /// The run's number
        number: i64,
        /// Only the failed and cancelled jobs (and those that need them); the others keep
        /// their results
        #[arg(long)]
        failed: bool,
    },
}

#[derive(Args)]
pub struct HookArgs {
    /// A file holding the server's URL (the server writes it when it starts)
    #[arg(long, value_name = "FILE")]
    pub url_file: PathBuf,
    /// The repository's name on the server
    #[arg(long)]
    pub repository: String,
    /// The repository's hook token
    #[arg(long)]
    pub token: String,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The data directory (default: `$GANTRY_HOME/server`, else `~/.local/share/gantry/server`)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The address to listen on (port 0 picks a free port; the address bound is printed)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A PostgreSQL URL (`postgres://…`); default: SQLite in the data directory
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Runs executing at once (default: the number of CPUs)
    #[arg(long, value_name = "N")]
    pub max_runs: Option<usize>,
    /// Seconds running steps get to finish when the server stops; then they are killed and
    /// their runs resume at the next start
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub grace: u64,
    /// Delete completed runs (with their logs) older than this many days (0: keep them all)
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<u32>,
    /// Keep at most this many runs per repository (0: no limit)
    #[arg(long, value_name = "N")]
    pub keep_runs: Option<u32>,
}

#[derive(Args)]
pub struct GcArgs {
    /// Also remove those of runs that are still going
    #[arg(long)]
    pub all: bool,
    /// Only those of this owner (PID-STARTTIME); used by a run's watchdog
    #[arg(long, hide = true, conflicts_with = "all")]
    pub owner: Option<String>,
}

#[derive(Args, Clone)]
pub struct EventArgs {
    /// Workflow files, file names or workflow names (default: all)
    #[arg(value_name = "WORKFLOW")]
    pub workflows: Vec<String>,
    /// The event: push, pull_request, tag, schedule or workflow_dispatch
    #[arg(long, short = 'e', default_value = "push")]
    pub event: String,
    /// The branch, tag or full ref the event is for (default: the current branch)
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// Pull requests: the base branch (default: the default branch)
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// Run only this job (and the jobs it needs)
    #[arg(long, short = 'j', value_name = "JOB")]
    pub job: Option<String>,
    /// A workflow_dispatch input, NAME=VALUE (repeatable)
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// A configuration variable for the `vars` context, NAME=VALUE (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Schedule events: the cron line that fired (default: any)
    #[arg(long, value_name = "CRON")]
    pub schedule: Option<String>,
    /// Emit one JSON object per line instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub event: EventArgs,
    /// A secret, NAME=VALUE, or NAME to read it from the environment (repeatable)
    #[arg(long = "secret", short = 's', value_name = "NAME[=VALUE]")]
    pub secrets: Vec<String>,
    /// A dotenv file of secrets (NAME=VALUE lines)
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_files: Vec<PathBuf>,
    /// How many jobs run at once (default: the number of CPUs)
    #[arg(long, short = 'p', value_name = "N")]
    pub parallel: Option<usize>,
    /// A directory of vendored actions laid out as OWNER/REPO@REF (repeatable)
    #[arg(long = "actions-dir", value_name = "DIR")]
    pub actions_dirs: Vec<PathBuf>,
    /// Keep the job workspaces after the run (they are removed by default)
    #[arg(long)]
    pub keep_workspace: bool,
    /// Fold `::group::` output to one line per group; a failed step still shows it
    #[arg(long)]
    pub fold_groups: bool,
    /// Where jobs with a `runs-on` label run, LABEL=host or LABEL=IMAGE
    /// (repeatable; adds to `.gantry/runners.yml`)
    #[arg(long = "runner", value_name = "LABEL=host|IMAGE")]
    pub runners: Vec<String>,
    /// Approve deployments to this environment yourself, standing in for the reviewers its
    /// protection requires in `.gantry/environments.yml` (repeatable)
    #[arg(long = "approve", value_name = "ENVIRONMENT")]
    pub approve: Vec<String>,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// Files to check (default: every workflow of the repository)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Emit the diagnostics as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct LogsArgs {
    /// The run number (default: the latest run)
    #[arg(value_name = "RUN")]
    pub run: Option<u64>,
    /// Only this job's log
    #[arg(long, short = 'j', value_name = "JOB")]
    pub job: Option<String>,
    /// List the stored runs instead
    #[arg(long)]
    pub list: bool,
}

/// An error for the user: printed as `error: …`, exit code 2.
pub struct UserError(pub String);

impl<T: Into<String>> From<T> for UserError {
    fn from(message: T) -> Self {
        UserError(message.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        memory::limit_arenas();
    }
    // The run's process watchdog must be forked while this process has a
    // single thread: now, before git and the async runtime start threads.
    let watchdog = matches!(cli.command, Command::Run(_) | Command::Serve(_)).then(start_watchdog);
    // `-C DIR` works like git's: relative paths (workflow files,
    // `--secret-file`, `--actions-dir`) are then relative to DIR.
    if let Some(d) = &cli.dir
        && let Err(e) = std::env::set_current_dir(d)
    {
        return fail(UserError(format!(
            "cannot change to `{}` (-C): {e}",
            d.display()
        )));
    }
    let dir = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return fail(UserError(format!("cannot read the current directory: {e}"))),
    };
    let result = match cli.command {
        Command::Run(args) => cmd_run::run(&dir, args, watchdog.unwrap_or_else(start_watchdog)),
        Command::Plan(args) => cmd_plan::run(&dir, args),
        Command::Validate(args) => cmd_validate::run(&dir, args),
        Command::Logs(args) => cmd_logs::run(args),
        Command::Gc(args) => cmd_gc::run(args),
        Command::Serve(args) => cmd_serve::run(args, watchdog.unwrap_or_else(start_watchdog)),
        Command::Hook(args) => cmd_hook::run(args),
        Command::Remote(args) => cmd_remote::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// The watchdog of a run: it kills the steps' processes if gantry dies, and
/// then removes its Docker containers and networks (`gantry gc --owner`).
fn start_watchdog() -> std::io::Result<gantry_executor::Watchdog> {
    let cleanup = std::env::current_exe().ok().map(|exe| {
        vec![
            exe.to_string_lossy().into_owned(),
            "gc".into(),
            "--owner".into(),
            gantry_docker::cleanup::this_owner(),
        ]
    });
    gantry_executor::Watchdog::start(cleanup)
}

fn fail(e: UserError) -> ExitCode {
    let style = anstyle::Style::new()
        .fg_color(Some(anstyle::AnsiColor::Red.into()))
        .bold();
    let mut err = anstream::stderr();
    let _ = std::io::Write::write_fmt(&mut err, format_args!("{style}error{style:#}: {}\n", e.0));
    ExitCode::from(2)
}

/// Splits `NAME=VALUE`.
pub fn key_value(raw: &str, what: &str) -> Result<(String, String), UserError> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(UserError(format!(
            "{what} `{raw}` must look like NAME=VALUE"
        ))),
    }
}
