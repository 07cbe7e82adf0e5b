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
    let logs_dir = run.dir.join("logs");
    let mut names: Vec<String> = std::fs::read_dir(&logs_dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Jobs in the order they finished, as recorded, then any others.
    let order: Vec<String> = run
        .meta
        .get("jobs")
        .and_then(|j| j.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|j| j.get("job").and_then(|v| v.as_str()))
                .map(|k| format!("{}.log", store::log_name(k)))
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
    if let Some(job) = &args.job {
        let want = format!("{}.log", store::log_name(job));
        if !names.contains(&want) {
            let jobs: Vec<&str> = names.iter().map(|n| n.trim_end_matches(".log")).collect();
            return Err(UserError(format!(
                "run {} has no job `{job}` (jobs: {})",
                run.number,
                jobs.join(", ")
            )));
        }
        names.retain(|n| *n == want);
    }
    let mut out = anstream::stdout();
    let bold = anstyle::Style::new().bold();
    for name in &names {
        let text = std::fs::read(logs_dir.join(name)).unwrap_or_default();
        if names.len() > 1 {
            let _ = std::io::Write::write_fmt(
                &mut out,
                format_args!("{bold}=== {} ==={bold:#}\n", name.trim_end_matches(".log")),
            );
        }
        let _ = std::io::Write::write_all(&mut out, &text);
    }
    Ok(ExitCode::SUCCESS)
}
