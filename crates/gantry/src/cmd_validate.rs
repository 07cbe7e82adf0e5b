//! `gantry validate`: every problem in every workflow file, with
//! file:line:col, a source excerpt and a hint.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::{UserError, ValidateArgs};

/// Colours a rendered diagnostic for a terminal (`error:` red, `warning:` yellow, `help:` cyan).
pub fn colour(rendered: &str) -> String {
    use anstyle::{AnsiColor, Style};
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let yellow = Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold();
    let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into())).bold();
    let blue = Style::new().fg_color(Some(AnsiColor::Blue.into())).bold();
    let mut out = String::with_capacity(rendered.len() + 64);
    for line in rendered.lines() {
        if let Some(rest) = line.strip_prefix("error:") {
            out.push_str(&format!("{red}error{red:#}:{rest}"));
        } else if let Some(rest) = line.strip_prefix("warning:") {
            out.push_str(&format!("{yellow}warning{yellow:#}:{rest}"));
        } else if let Some(idx) = line.find("= help:") {
            out.push_str(&format!("{}{cyan}= help{cyan:#}:{}", &line[..idx], &line[idx + 7..]));
        } else if line.trim_start().starts_with('|') || line.trim_start().starts_with("-->") || line.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(&format!("{blue}{line}{blue:#}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

pub fn run(dir: &Path, args: ValidateArgs) -> Result<ExitCode, UserError> {
    let root = crate::git::root(dir).unwrap_or_else(|_| dir.to_path_buf());
    let files = if args.files.is_empty() {
        let found = crate::workflows::discover(&root);
        if found.is_empty() {
            return Err(UserError(format!(
                "no workflows in `{}`: add one under .github/workflows/ or .gantry/workflows/, or name files to check",
                root.display()
            )));
        }
        found
    } else {
        args.files.clone()
    };
    let mut n_errors = 0;
    let mut n_warnings = 0;
    let mut out = anstream::stdout();
    let mut json_out = Vec::new();
    for file in &files {
        let loaded = crate::workflows::load(&root, file)?;
        for d in &loaded.diagnostics {
            if d.is_error() {
                n_errors += 1;
            } else {
                n_warnings += 1;
            }
            if args.json {
                json_out.push(json!({
                    "file": d.file,
                    "line": d.span.start.line,
                    "col": d.span.start.col,
                    "end_line": d.span.end.line,
                    "end_col": d.span.end.col,
                    "severity": if d.is_error() { "error" } else { "warning" },
                    "message": d.message,
                    "hint": d.hint,
                }));
            } else {
                let _ = std::io::Write::write_all(&mut out, colour(&gantry_syntax::render(d, &loaded.source)).as_bytes());
                let _ = std::io::Write::write_all(&mut out, b"\n");
            }
        }
    }
    if args.json {
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!("{}\n", json!({"files": files.len(), "errors": n_errors, "warnings": n_warnings, "diagnostics": json_out})),
        );
    } else {
        let plural = |n: usize, w: &str| if n == 1 { format!("{n} {w}") } else { format!("{n} {w}s") };
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!("{}, {} in {}\n", plural(n_errors, "error"), plural(n_warnings, "warning"), plural(files.len(), "file")),
        );
    }
    Ok(if n_errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
