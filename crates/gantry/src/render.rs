//! Showing a run: live output with a coloured per-job prefix, groups,
//! annotations, a progress line on terminals, the summary table, and the
//! `--json` event stream. Everything shown is also written to the run's
//! stored logs.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use gantry_engine::{AnnotationLevel, Outcome, RunEvent};
use serde_json::{Value, json};

use crate::store::RunWriter;

const PALETTE: [AnsiColor; 6] = [
    AnsiColor::Cyan,
    AnsiColor::Magenta,
    AnsiColor::Blue,
    AnsiColor::Yellow,
    AnsiColor::Green,
    AnsiColor::BrightCyan,
];

pub struct Renderer {
    json: bool,
    out: Out,
    /// Whether to colour the output (a terminal, and no NO_COLOR).
    color: bool,
    progress: bool,
    store: Option<RunWriter>,
    jobs: HashMap<String, JobView>,
    next_color: usize,
    started: Instant,
    progress_shown: bool,
    last_progress: Instant,
    running: usize,
    finished: usize,
    pub warnings: Vec<String>,
    fold: bool,
}

#[derive(Default)]
struct JobView {
    color: Option<AnsiColor>,
    partial: Vec<u8>,
    depth: usize,
    step: Option<String>,
    /// Folded groups: the titles of the open groups, and the lines hidden in
    /// the current step (shown if the step fails).
    titles: Vec<String>,
    hidden: Vec<u8>,
    hidden_lines: usize,
    hidden_dropped: bool,
}

/// Most bytes of folded output kept per step (the stored log has it all).
const MAX_HIDDEN: usize = 4 << 20;

fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", d.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

impl Renderer {
    /// Fold `::group::` output: show one line per group, and the group's
    /// lines only when its step fails.
    pub fn fold_groups(mut self, fold: bool) -> Renderer {
        self.fold = fold;
        self
    }

    pub fn new(json: bool, store: Option<RunWriter>) -> Renderer {
        // Decide about colour once: stripping escapes from every write would
        // cost more than the rest of the output path.
        let color =
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
        let out = Out::new();
        let progress = !json
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("CI").is_none();
        Renderer {
            json,
            out,
            color,
            progress,
            store,
            jobs: HashMap::new(),
            next_color: 0,
            started: Instant::now(),
            progress_shown: false,
            last_progress: Instant::now(),
            running: 0,
            finished: 0,
            warnings: Vec::new(),
            fold: false,
        }
    }

    pub fn store_mut(&mut self) -> Option<&mut RunWriter> {
        self.store.as_mut()
    }

    /// The style, or no style when colour is off.
    fn st(&self, style: Style) -> Style {
        if self.color { style } else { Style::new() }
    }

    fn view(&mut self, job: &str) -> &mut JobView {
        if !self.jobs.contains_key(job) {
            let color = PALETTE[self.next_color % PALETTE.len()];
            self.next_color += 1;
            self.jobs.insert(
                job.to_string(),
                JobView {
                    color: Some(color),
                    ..JobView::default()
                },
            );
        }
        self.jobs.get_mut(job).expect("inserted above")
    }

    fn prefix(&mut self, job: &str) -> String {
        let color = self.view(job).color.unwrap_or(AnsiColor::Cyan);
        let style = self.st(Style::new().fg_color(Some(color.into())).bold());
        format!("{style}[{job}]{style:#}")
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            let _ = self.out.flush();
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.progress_shown = false;
        }
    }

    /// Redraws the progress line (terminals only), at most every 100 ms.
    pub fn tick(&mut self) {
        if !self.progress {
            // Not a terminal: keep piped output live, at most a tick behind.
            let _ = self.out.flush();
            return;
        }
        if self.last_progress.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last_progress = Instant::now();
        let _ = self.out.flush();
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        let frame = frames[(self.started.elapsed().as_millis() / 100) as usize % frames.len()];
        let elapsed = self.started.elapsed().as_secs();
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[2K{frame} {} running · {} done · {:02}:{:02}",
            self.running,
            self.finished,
            elapsed / 60,
            elapsed % 60
        );
        let _ = std::io::stderr().flush();
        self.progress_shown = true;
    }

    fn emit_json(&mut self, value: Value) {
        let _ = writeln!(self.out, "{value}");
    }

    pub fn event(&mut self, event: RunEvent) {
        // Output is stored after it is shown: the store takes its buffer.
        if !matches!(event, RunEvent::Output { .. }) {
            self.store_event(&event);
        }
        if self.json {
            let value = event_json(&event);
            self.emit_json(value);
            if let RunEvent::Output { job, text } = event {
                self.store_output(&job, text);
            }
            return;
        }
        self.clear_progress();
        match event {
            RunEvent::WorkflowStarted { file, name } => {
                let bold = self.st(Style::new().bold());
                if name == file {
                    let _ = writeln!(self.out, "{bold}▶ {name}{bold:#}");
                } else {
                    let _ = writeln!(self.out, "{bold}▶ {name}{bold:#} ({file})");
                }
            }
            RunEvent::JobStarted { job, .. } => {
                self.running += 1;
                let p = self.prefix(&job);
                let _ = writeln!(self.out, "{p} ▶ job started");
            }
            RunEvent::JobSkipped { job, reason, .. } => {
                self.finished += 1;
                let p = self.prefix(&job);
                let dim = self.st(Style::new().dimmed());
                let _ = writeln!(self.out, "{p} {dim}⊘ skipped: {reason}{dim:#}");
            }
            RunEvent::StepStarted { job, name, .. } => {
                let p = self.prefix(&job);
                let bold = self.st(Style::new().bold());
                let view = self.view(&job);
                view.depth = 0;
                view.step = Some(name.clone());
                let _ = writeln!(self.out, "{p} {bold}▸ {name}{bold:#}");
            }
            RunEvent::Output { job, text } => {
                self.output(&job, &text);
                self.store_output(&job, text);
            }
            RunEvent::GroupStarted { job, title } => {
                self.flush_partial(&job);
                let p = self.prefix(&job);
                let depth = self.view(&job).depth;
                let indent = "  ".repeat(depth + 1);
                if self.fold {
                    let view = self.view(&job);
                    view.titles.push(title);
                    view.hidden_lines = if depth == 0 { 0 } else { view.hidden_lines };
                } else {
                    let _ = writeln!(self.out, "{p} {indent}▾ {title}");
                }
                self.view(&job).depth += 1;
            }
            RunEvent::GroupEnded { job } => {
                self.flush_partial(&job);
                let p = self.prefix(&job);
                let fold = self.fold;
                let view = self.view(&job);
                view.depth = view.depth.saturating_sub(1);
                if fold {
                    let title = view.titles.pop().unwrap_or_default();
                    if view.depth == 0 {
                        let n = view.hidden_lines;
                        let dim = self.st(Style::new().dimmed());
                        let _ =
                            writeln!(self.out, "{p}   ▸ {title} {dim}({n} lines folded){dim:#}");
                    }
                }
            }
            RunEvent::Debug { job, message } => {
                let p = self.prefix(&job);
                let dim = self.st(Style::new().dimmed());
                let _ = writeln!(self.out, "{p}   {dim}debug: {message}{dim:#}");
            }
            RunEvent::Annotation { job, annotation } => {
                self.flush_partial(&job);
                let p = self.prefix(&job);
                let (color, word) = match annotation.level {
                    AnnotationLevel::Error => (AnsiColor::Red, "error"),
                    AnnotationLevel::Warning => (AnsiColor::Yellow, "warning"),
                    AnnotationLevel::Notice => (AnsiColor::Blue, "notice"),
                };
                let style = self.st(Style::new().fg_color(Some(color.into())).bold());
                let location = location(&annotation.file, annotation.line, annotation.col);
                let title = annotation
                    .title
                    .as_deref()
                    .map(|t| format!("{t}: "))
                    .unwrap_or_default();
                let _ = writeln!(
                    self.out,
                    "{p}   {style}{word}{style:#}: {title}{}{location}",
                    annotation.message
                );
            }
            RunEvent::Notice { job, message } => {
                let p = self.prefix(&job);
                let dim = self.st(Style::new().dimmed());
                let _ = writeln!(self.out, "{p}   {dim}{message}{dim:#}");
            }
            RunEvent::StepFinished {
                job,
                name,
                outcome,
                conclusion,
                duration,
                ..
            } => {
                self.flush_partial(&job);
                let p = self.prefix(&job);
                // A failed step shows what its folded groups hid.
                let view = self.view(&job);
                let hidden = std::mem::take(&mut view.hidden);
                let dropped = std::mem::take(&mut view.hidden_dropped);
                view.hidden_lines = 0;
                if outcome == Outcome::Failure && !hidden.is_empty() {
                    let dim = self.st(Style::new().dimmed());
                    let note = if dropped {
                        ", earlier lines in `gantry logs`"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        self.out,
                        "{p}   {dim}▾ folded output of the failed step{note}:{dim:#}"
                    );
                    let _ = self.out.write_all(&hidden);
                }
                let (mark, color) = match (outcome, conclusion) {
                    (Outcome::Success, _) => ("✓", AnsiColor::Green),
                    (Outcome::Failure, Outcome::Success) => ("!", AnsiColor::Yellow),
                    (Outcome::Failure, _) => ("✗", AnsiColor::Red),
                    (Outcome::Cancelled, _) => ("⊘", AnsiColor::Yellow),
                    (Outcome::Skipped, _) => ("-", AnsiColor::BrightBlack),
                };
                let style = self.st(Style::new().fg_color(Some(color.into())));
                let extra = if outcome == Outcome::Failure && conclusion == Outcome::Success {
                    " (continue-on-error)"
                } else {
                    ""
                };
                if outcome == Outcome::Skipped {
                    let _ = writeln!(self.out, "{p} {style}{mark} {name} (skipped){style:#}");
                } else {
                    let _ = writeln!(
                        self.out,
                        "{p} {style}{mark} {name}{extra}{style:#} {}",
                        fmt_duration(duration)
                    );
                }
            }
            RunEvent::JobFinished {
                job,
                result,
                duration,
                ..
            } => {
                self.flush_partial(&job);
                self.running = self.running.saturating_sub(1);
                self.finished += 1;
                let p = self.prefix(&job);
                let (mark, color) = outcome_style(result);
                let style = self.st(Style::new().fg_color(Some(color.into())).bold());
                let _ = writeln!(
                    self.out,
                    "{p} {style}{mark} job {}{style:#} in {}",
                    result.as_str(),
                    fmt_duration(duration)
                );
            }
            RunEvent::Summary { job, markdown } => {
                let p = self.prefix(&job);
                let _ = writeln!(self.out, "{p} summary:");
                for line in markdown.lines() {
                    let _ = writeln!(self.out, "{p}   {line}");
                }
            }
            RunEvent::Warning { message } => {
                let style = self.st(Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold());
                let _ = self.out.flush();
                let mut err = anstream::stderr();
                let _ = writeln!(err, "{style}warning{style:#}: {message}");
                self.warnings.push(message);
            }
        }
        if self.progress {
            self.tick();
        }
    }

    fn output(&mut self, job: &str, text: &[u8]) {
        let prefix = self.prefix(job);
        let fold = self.fold;
        let view = self.view(job);
        let indent = "  ".repeat(view.depth + 1);
        let mut partial = std::mem::take(&mut view.partial);
        if fold && view.depth > 0 {
            // Keep the lines for a failure report instead of printing them.
            for_each_line(&mut partial, text, |line| {
                if view.hidden.len() > MAX_HIDDEN {
                    let cut = memchr_newline(&view.hidden[MAX_HIDDEN / 2..])
                        .map_or(view.hidden.len(), |i| MAX_HIDDEN / 2 + i + 1);
                    view.hidden.drain(..cut);
                    view.hidden_dropped = true;
                }
                view.hidden.extend_from_slice(prefix.as_bytes());
                view.hidden.push(b' ');
                view.hidden.extend_from_slice(indent.as_bytes());
                view.hidden.extend_from_slice(line);
                view.hidden.push(b'\n');
                view.hidden_lines += 1;
            });
            view.partial = partial;
            return;
        }
        // Fast path: each line goes with its prefix straight into the output
        // buffer (one copy, no per-write bookkeeping), and the buffer goes
        // to stdout in one `write` once it is large.
        let mut head = Vec::with_capacity(prefix.len() + 1 + indent.len());
        head.extend_from_slice(prefix.as_bytes());
        head.push(b' ');
        head.extend_from_slice(indent.as_bytes());
        push_prefixed_lines(&mut self.out.buf, &head, &mut partial, text);
        self.out.flush_if_full();
        self.view(job).partial = partial;
    }

    fn flush_partial(&mut self, job: &str) {
        if self.jobs.get(job).is_some_and(|v| !v.partial.is_empty()) {
            self.output(job, b"\n");
        }
    }

    /// Stores a step's output, handing its buffer over (no copy).
    fn store_output(&mut self, job: &str, text: Vec<u8>) {
        match self.store.as_mut() {
            Some(store) => store.write_owned(job, text),
            None => gantry_engine::output::recycle_buffer(text),
        }
    }

    fn store_event(&mut self, event: &RunEvent) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match event {
            RunEvent::JobStarted { job, name } => store.line(job, &format!("##[job] {name}")),
            RunEvent::JobSkipped { job, reason, .. } => {
                store.line(job, &format!("##[skipped] {reason}"))
            }
            RunEvent::StepStarted { job, name, .. } => store.line(job, &format!("##[step] {name}")),
            RunEvent::Output { job, text } => store.write(job, text),
            RunEvent::GroupStarted { job, title } => store.line(job, &format!("##[group]{title}")),
            RunEvent::GroupEnded { job } => store.line(job, "##[endgroup]"),
            RunEvent::Debug { job, message } => store.line(job, &format!("##[debug]{message}")),
            RunEvent::Annotation { job, annotation } => {
                let location = location(&annotation.file, annotation.line, annotation.col);
                store.line(
                    job,
                    &format!(
                        "##[{}]{}{location}",
                        annotation.level.as_str(),
                        annotation.message
                    ),
                );
            }
            RunEvent::Notice { job, message } => store.line(job, &format!("##[notice]{message}")),
            RunEvent::StepFinished {
                job,
                name,
                outcome,
                conclusion,
                duration,
                ..
            } => store.line(
                job,
                &format!(
                    "##[step-end] {name}: {} ({}) in {}",
                    outcome.as_str(),
                    conclusion.as_str(),
                    fmt_duration(*duration)
                ),
            ),
            RunEvent::JobFinished {
                job,
                result,
                duration,
                ..
            } => store.line(
                job,
                &format!(
                    "##[job-end] {} in {}",
                    result.as_str(),
                    fmt_duration(*duration)
                ),
            ),
            RunEvent::Summary { job, markdown } => {
                store.line(job, "##[summary]");
                store.write(job, markdown.as_bytes());
            }
            RunEvent::WorkflowStarted { .. } | RunEvent::Warning { .. } => {}
        }
    }

    /// Prints the summary table (or the final JSON event).
    pub fn finish(
        &mut self,
        result: &gantry_engine::RunResult,
        run_number: u64,
        elapsed: Duration,
    ) {
        self.clear_progress();
        if self.json {
            let jobs: Vec<Value> = result
                .jobs
                .iter()
                .map(|j| json!({"job": j.key, "workflow": j.workflow, "result": j.result.as_str(), "duration_ms": j.duration.as_millis() as u64}))
                .collect();
            self.emit_json(json!({"type": "run_finished", "run": run_number, "result": result.result.as_str(), "duration_ms": elapsed.as_millis() as u64, "jobs": jobs}));
            let _ = self.out.flush();
            return;
        }
        let width = result
            .jobs
            .iter()
            .map(|j| j.key.chars().count())
            .max()
            .unwrap_or(3)
            .max(3);
        let bold = self.st(Style::new().bold());
        let _ = writeln!(self.out);
        let _ = writeln!(
            self.out,
            "{bold}{:<width$}  {:<11}  DURATION{bold:#}",
            "JOB", "RESULT"
        );
        for job in &result.jobs {
            let (mark, color) = outcome_style(job.result);
            let style = self.st(Style::new().fg_color(Some(color.into())));
            let result_text = format!("{mark} {}", job.result.as_str());
            let _ = writeln!(
                self.out,
                "{:<width$}  {style}{:<11}{style:#}  {}",
                job.key,
                result_text,
                fmt_duration(job.duration)
            );
        }
        let (mark, color) = outcome_style(result.result);
        let style = self.st(Style::new().fg_color(Some(color.into())).bold());
        let _ = writeln!(
            self.out,
            "\n{style}{mark} run {} {}{style:#} in {} · logs: gantry logs {run_number}",
            run_number,
            result.result.as_str(),
            fmt_duration(elapsed)
        );
        let _ = self.out.flush();
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

/// Bytes buffered for stdout before they are written.
const OUT_BUFFER: usize = 256 * 1024;

/// Buffered stdout whose buffer the renderer fills directly (a `BufWriter`
/// would copy every line once more and check its room on every write).
struct Out {
    buf: Vec<u8>,
    stdout: std::io::Stdout,
}

impl Out {
    fn new() -> Out {
        Out {
            buf: Vec::new(),
            stdout: std::io::stdout(),
        }
    }

    fn write_buf(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.stdout.lock().write_all(&self.buf);
        self.buf.clear();
        result
    }

    fn flush_if_full(&mut self) {
        if self.buf.len() >= OUT_BUFFER {
            let _ = self.write_buf();
        }
    }
}

impl Drop for Out {
    /// Like `BufWriter`: what is buffered is written when the renderer goes.
    fn drop(&mut self) {
        let _ = self.write_buf();
    }
}

impl Write for Out {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        self.flush_if_full();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_buf()?;
        self.stdout.flush()
    }
}

/// Appends every complete line of `partial` followed by `text` to `buf`,
/// each as `head`, the line (without a trailing `\r`) and `\n`; the
/// unfinished rest stays in `partial`.
fn push_prefixed_lines(buf: &mut Vec<u8>, head: &[u8], partial: &mut Vec<u8>, text: &[u8]) {
    // Room for lines of 8 bytes or more with their heads: one allocation at
    // most for the usual output.
    buf.reserve(text.len() + (text.len() / 8 + 1) * (head.len() + 1));
    for_each_line(partial, text, |line| {
        buf.extend_from_slice(head);
        buf.extend_from_slice(line);
        buf.push(b'\n');
    });
}

/// Calls `f` with every complete line (without `\n` and a trailing `\r`) of
/// `partial` followed by `text`, and leaves the unfinished rest in
/// `partial`. `text` is not copied except for that rest.
fn for_each_line(partial: &mut Vec<u8>, mut text: &[u8], mut f: impl FnMut(&[u8])) {
    let strip = |line: &[u8]| -> usize { line.len() - usize::from(line.ends_with(b"\r")) };
    if !partial.is_empty() {
        match memchr_newline(text) {
            Some(i) => {
                partial.extend_from_slice(&text[..i]);
                f(&partial[..strip(partial)]);
                partial.clear();
                text = &text[i + 1..];
            }
            None => {
                partial.extend_from_slice(text);
                return;
            }
        }
    }
    while let Some(i) = memchr_newline(text) {
        let line = &text[..i];
        f(&line[..strip(line)]);
        text = &text[i + 1..];
    }
    partial.extend_from_slice(text);
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

fn outcome_style(outcome: Outcome) -> (&'static str, AnsiColor) {
    match outcome {
        Outcome::Success => ("✓", AnsiColor::Green),
        Outcome::Failure => ("✗", AnsiColor::Red),
        Outcome::Cancelled => ("⊘", AnsiColor::Yellow),
        Outcome::Skipped => ("-", AnsiColor::BrightBlack),
    }
}

fn location(file: &Option<String>, line: Option<u32>, col: Option<u32>) -> String {
    match (file, line, col) {
        (Some(f), Some(l), Some(c)) => format!(" ({f}:{l}:{c})"),
        (Some(f), Some(l), None) => format!(" ({f}:{l})"),
        (Some(f), None, _) => format!(" ({f})"),
        _ => String::new(),
    }
}

/// The `--json` form of an event: one object per line, `type` first.
pub fn event_json(event: &RunEvent) -> Value {
    match event {
        RunEvent::WorkflowStarted { file, name } => {
            json!({"type": "workflow_started", "file": file, "name": name})
        }
        RunEvent::JobStarted { job, name } => {
            json!({"type": "job_started", "job": job, "name": name})
        }
        RunEvent::JobSkipped { job, name, reason } => {
            json!({"type": "job_skipped", "job": job, "name": name, "reason": reason})
        }
        RunEvent::StepStarted { job, step, name } => {
            json!({"type": "step_started", "job": job, "step": step, "name": name})
        }
        RunEvent::Output { job, text } => {
            json!({"type": "output", "job": job, "text": String::from_utf8_lossy(text)})
        }
        RunEvent::GroupStarted { job, title } => {
            json!({"type": "group_started", "job": job, "title": title})
        }
        RunEvent::GroupEnded { job } => json!({"type": "group_ended", "job": job}),
        RunEvent::Debug { job, message } => {
            json!({"type": "debug", "job": job, "message": message})
        }
        RunEvent::Annotation { job, annotation } => json!({
            "type": "annotation",
            "job": job,
            "level": annotation.level.as_str(),
            "message": annotation.message,
            "title": annotation.title,
            "file": annotation.file,
            "line": annotation.line,
            "col": annotation.col,
        }),
        RunEvent::Notice { job, message } => {
            json!({"type": "notice", "job": job, "message": message})
        }
        RunEvent::StepFinished {
            job,
            step,
            name,
            outcome,
            conclusion,
            duration,
        } => json!({
            "type": "step_finished",
            "job": job,
            "step": step,
            "name": name,
            "outcome": outcome.as_str(),
            "conclusion": conclusion.as_str(),
            "duration_ms": duration.as_millis() as u64,
        }),
        RunEvent::JobFinished {
            job,
            name,
            result,
            duration,
            outputs,
        } => json!({
            "type": "job_finished",
            "job": job,
            "name": name,
            "result": result.as_str(),
            "duration_ms": duration.as_millis() as u64,
            "outputs": outputs,
        }),
        RunEvent::Summary { job, markdown } => {
            json!({"type": "summary", "job": job, "markdown": markdown})
        }
        RunEvent::Warning { message } => json!({"type": "warning", "message": message}),
    }
}

#[cfg(test)]
mod tests {
    use super::{for_each_line, push_prefixed_lines};

    #[test]
    fn prefixed_lines_across_chunks() {
        let mut buf = Vec::new();
        let mut partial = Vec::new();
        for chunk in ["a\nb", "c\r\n\n", "", "d\r", "\ne"] {
            push_prefixed_lines(&mut buf, b"[job]   ", &mut partial, chunk.as_bytes());
        }
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "[job]   a\n[job]   bc\n[job]   \n[job]   d\n"
        );
        assert_eq!(partial, b"e");
    }

    #[test]
    fn lines_are_split_across_chunks_without_losing_a_byte() {
        // (chunks, lines seen, what is left unfinished)
        let cases: &[(&[&str], &[&str], &str)] = &[
            (&["a\nb\n"], &["a", "b"], ""),
            (&["ab", "c\nd"], &["abc"], "d"),
            (&["x\r", "\ny\r\n"], &["x", "y"], ""),
            (&["", "\n", "\n\n"], &["", "", ""], ""),
            (&["no newline", " at all"], &[], "no newline at all"),
            (&["a\r\rb\n"], &["a\r\rb"], ""),
        ];
        for (chunks, lines, rest) in cases {
            let mut partial = Vec::new();
            let mut seen = Vec::new();
            for chunk in *chunks {
                for_each_line(&mut partial, chunk.as_bytes(), |line| {
                    seen.push(String::from_utf8_lossy(line).into_owned())
                });
            }
            assert_eq!(&seen, lines, "{chunks:?}");
            assert_eq!(String::from_utf8_lossy(&partial), *rest, "{chunks:?}");
        }
    }
}
