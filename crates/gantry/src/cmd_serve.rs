//! `gantry serve`: the web UI and JSON API over the server's database (`gantry-server`).
//! Prints the URL it listens on (and, on first start, the admin's password, once); stops
//! gracefully on SIGINT or SIGTERM.

use std::process::ExitCode;

use gantry_server::{Config, Started};

use crate::{ServeArgs, UserError};

pub fn run(args: ServeArgs) -> Result<ExitCode, UserError> {
    gantry_server::init_logging();
    let config = Config {
        data_dir: args
            .data
            .unwrap_or_else(|| crate::store::home().join("server")),
        listen: args.listen,
        database: args.database,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError(format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(gantry_server::serve(config, announce, shutdown_signal()))
        .map_err(|e| UserError(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

fn announce(started: &Started) {
    if let Some(password) = &started.first_admin_password {
        println!(
            "first start: log in as {} with password {password}; change it",
            gantry_server::FIRST_ADMIN
        );
    }
    println!("listening on {}", started.url);
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers, Ctrl-C still ends the process the default way.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
