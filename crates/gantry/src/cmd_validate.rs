//! `gantry validate`: every problem in every workflow file (and the local actions they use, and
//! `.gantry/environments.yml`), with file:line:col, a source excerpt and a hint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gantry_syntax::ast::Step;
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
            out.push_str(&format!(
                "{}{cyan}= help{cyan:#}:{}",
                &line[..idx],
                &line[idx + 7..]
            ));
        } else if line.trim_start().starts_with('|')
            || line.trim_start().starts_with("-->")
            || line
                .trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        {
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
        let found = gantry_engine::workflows::discover(&root);
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
    let mut checked: Vec<(Vec<gantry_syntax::Diagnostic>, String)> = Vec::new();
    let mut action_dirs: Vec<PathBuf> = Vec::new();
    for file in &files {
        let loaded = gantry_engine::workflows::load(&root, file)?;
        // `./` references are relative to the root of the file's own repository.
        let base = gantry_engine::workflows::repository_of(file).unwrap_or_else(|| root.clone());
        let steps = loaded
            .workflow
            .jobs
            .values()
            .flat_map(|(_, job)| job.steps.iter());
        local_actions(&base, steps, &mut action_dirs);
        checked.push((loaded.diagnostics, loaded.source));
    }
    // Local actions the workflows use (`uses: ./path`), and the local
    // actions they use in turn.
    let mut n_files = files.len();
    let mut next = 0;
    while next < action_dirs.len() {
        let dir = action_dirs[next].clone();
        next += 1;
        let Some(path) = ["action.yml", "action.yaml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let base = dir
            .ancestors()
            .find(|a| a.join(".git").exists())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.clone());
        let Ok(source) = std::fs::read_to_string(&path) else {
            continue;
        };
        let shown = gantry_engine::workflows::display_path(&root, &path);
        let (action, diagnostics) = gantry_syntax::parse_action(&shown, &source);
        if let gantry_syntax::ast::ActionRuns::Composite { steps } = &action.runs {
            local_actions(&base, steps.iter(), &mut action_dirs);
        }
        n_files += 1;
        checked.push((diagnostics, source));
    }
    // The repository's environments, when it declares them.
    if args.files.is_empty()
        && let Some((_, diagnostics, source)) = crate::environments::read(&root)?
    {
        n_files += 1;
        checked.push((diagnostics, source));
    }
    for (diagnostics, source) in &checked {
        for d in diagnostics {
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
                let _ = std::io::Write::write_all(
                    &mut out,
                    colour(&gantry_syntax::render(d, source)).as_bytes(),
                );
                let _ = std::io::Write::write_all(&mut out, b"\n");
            }
        }
    }
    if args.json {
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!(
                "{}\n",
                json!({"files": n_files, "errors": n_errors, "warnings": n_warnings, "diagnostics": json_out})
            ),
        );
    } else {
        let plural = |n: usize, w: &str| {
            if n == 1 {
                format!("{n} {w}")
            } else {
                format!("{n} {w}s")
            }
        };
        let _ = std::io::Write::write_fmt(
            &mut out,
            format_args!(
                "{}, {} in {}\n",
                plural(n_errors, "error"),
                plural(n_warnings, "warning"),
                plural(n_files, "file")
            ),
        );
    }
    Ok(if n_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Adds the directories of local actions (`uses: ./path`) among `steps`,
/// under `base`, skipping ones already listed.
fn local_actions<'a>(base: &Path, steps: impl Iterator<Item = &'a Step>, dirs: &mut Vec<PathBuf>) {
    for step in steps {
        let Some(uses) = &step.uses else { continue };
        let Some(local) = uses.value.strip_prefix("./") else {
            continue;
        };
        let dir = base.join(local.trim_end_matches('/'));
        if !local.contains("${{") && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
}
