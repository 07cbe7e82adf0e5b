//! Running a program for a built-in action (git, `node --version`, …):
//! output captured, stopped on cancellation or after a timeout.

use std::process::Output;
use std::time::Duration;

use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// The message of every built-in that stops because the run was cancelled.
pub(crate) const CANCELLED: &str = "cancelled";

/// Runs a command with its output captured; stops it when `cancel` fires or
/// `timeout` passes.
pub(crate) async fn output(
    command: &mut Command,
    cancel: &CancellationToken,
    timeout: Duration,
) -> Result<Output, String> {
    command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let child = command.output();
    tokio::select! {
        result = child => result.map_err(|e| format!("cannot run `{program}`: {e}")),
        () = cancel.cancelled() => Err(CANCELLED.to_string()),
        () = tokio::time::sleep(timeout) => Err(format!("`{program}` did not finish within {} s: check that it does not wait for input", timeout.as_secs())),
    }
}
