//! `gantry logs`: the stored, masked logs of earlier local runs.

use std::process::ExitCode;

use crate::{LogsArgs, UserError, store};

pub fn run(args: LogsArgs) -> Result<ExitCode, UserError> {
    let runs = store::list();
    if args.list {
        let mut out = anstream::stdout();
        for run in &runs {
            let m = &run.meta;
            let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let _ = std::io::Write::write_fmt(
                &mut out,
                format_args!(
                    "{:>5}  {:<10} {:<9} {:<14} {}  {}\n",
                    run.number,
                    s("result"),
                    s("event"),
                    s("ref").trim_start_matches("refs/heads/"),
                    &s("sha")[..s("sha").len().min(10)],
                    s("started_at")
                ),
            );
        }
        if runs.is_empty() {
            let _ =
                std::io::Write::write_all(&mut out, b"no runs yet: start one with `gantry run`\n");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let run = match args.run {
        Some(n) => runs.iter().find(|r| r.number == n).ok_or_else(|| {
            UserError(format!(
                "no run {n}: `gantry logs --list` shows the stored runs"
            ))
        })?,
        None => runs
            .last()
            .ok_or_else(|| UserError("no runs yet: start one with `gantry run`".into()))?,
    };
    let log = store::StoredLog::open(&run.dir).map_err(|e| {
        UserError(format!(
            "run {} has no readable log ({e}): it may have been removed",
            run.number
        ))
    })?;
    let mut names: Vec<&String> = log.jobs.keys().collect();
    if let Some(job) = &args.job {
        let found = names
            .iter()
            .find(|n| **n == job || store::log_name(n) == store::log_name(job))
            .copied();
        let Some(found) = found else {
            let jobs: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
            return Err(UserError(format!(
                "run {} has no job `{job}` (jobs: {})",
                run.number,
                jobs.join(", ")
            )));
        };
        names = vec![found];
    }
    let mut out = anstream::stdout();
    let bold = anstyle::Style::new().bold();
    for name in &names {
        if names.len() > 1 {
            let _ =
                std::io::Write::write_fmt(&mut out, format_args!("{bold}=== {name} ==={bold:#}\n"));
        }
        if let Err(e) = log.copy_job(name, &mut out) {
            return Err(UserError(format!(
                "cannot read the log of run {}: {e}",
                run.number
            )));
        }
    }
    Ok(ExitCode::SUCCESS)
}
