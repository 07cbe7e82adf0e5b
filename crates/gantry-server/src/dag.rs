//! A run's job graph drawn as SVG on the server, for the run page.
//!
//! The layout is a small layered one: a job's column is its longest `needs` path from a job
//! without needs; within a column, jobs are ordered by the mean row of their neighbours (a few
//! sweeps left to right and back), which untangles most edges. Each job is a box (linked to its
//! page) with a status mark, its name (shortened with `…` to fit) and its duration; each need is
//! a Bézier curve from the right side of one box to the left side of the next.
//!
//! A need names a job id: it matches the job whose key is that id and every matrix instance of
//! it (`build (linux, 1.80)` for `build`). Unknown needs are ignored, and an edge that would close
//! a cycle is left out, so any input draws.

use std::fmt::Write as _;
use std::time::Duration;

/// One job (or matrix instance) of a run, as the graph shows it.
#[derive(Debug, Clone)]
pub struct DagJob {
    /// The instance key: the job id, or `id (a, b)` for a matrix instance.
    pub key: String,
    /// What the box shows.
    pub name: String,
    /// The job ids this job needs.
    pub needs: Vec<String>,
    /// `queued`, `waiting`, `running`, `success`, `failure`, `cancelled` or `skipped`.
    pub status: &'static str,
    pub duration: Option<Duration>,
    /// Where the box links to.
    pub href: String,
}

const BOX_W: u32 = 210;
const BOX_H: u32 = 44;
const COL_GAP: u32 = 56;
const ROW_GAP: u32 = 14;
const MARGIN: u32 = 12;
/// How many characters of a name fit in a box (13 px text beside the status mark).
const NAME_CHARS: usize = 24;

/// Draws the graph of `jobs` as a complete `<svg>` element.
pub fn render_svg(jobs: &[DagJob]) -> String {
    let mut edges = edges(jobs);
    let layer = layers(jobs.len(), &edges);
    // Edges left out of the layering (they close a cycle) are not drawn either.
    edges.retain(|&(from, to)| layer[from] < layer[to]);
    let columns = order(&layer, &edges);
    let cols = columns.len() as u32;
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let width = 2 * MARGIN + cols * BOX_W + cols.saturating_sub(1) * COL_GAP;
    let height = 2 * MARGIN + rows * BOX_H + rows.saturating_sub(1) * ROW_GAP;

    // The top-left corner of every box; shorter columns are centred.
    let mut at = vec![(0u32, 0u32); jobs.len()];
    for (c, column) in columns.iter().enumerate() {
        let offset = (rows - column.len() as u32) * (BOX_H + ROW_GAP) / 2;
        for (r, &job) in column.iter().enumerate() {
            at[job] = (
                MARGIN + c as u32 * (BOX_W + COL_GAP),
                MARGIN + offset + r as u32 * (BOX_H + ROW_GAP),
            );
        }
    }

    let mut out = String::with_capacity(512 + jobs.len() * 700 + edges.len() * 120);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"Job graph: {} {}\" class=\"dag\" font-family=\"system-ui, -apple-system, Segoe UI, sans-serif\">",
        jobs.len(),
        if jobs.len() == 1 { "job" } else { "jobs" }
    );
    out.push_str("<g class=\"dag-edges\" fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1.5\">");
    for &(from, to) in &edges {
        let (x1, y1) = (at[from].0 + BOX_W, at[from].1 + BOX_H / 2);
        let (x2, y2) = (at[to].0, at[to].1 + BOX_H / 2);
        let bend = (x2 - x1) / 2;
        let _ = write!(
            out,
            "<path d=\"M{x1} {y1}C{} {y1} {} {y2} {x2} {y2}\"/>",
            x1 + bend,
            x2 - bend
        );
    }
    out.push_str("</g>");
    for (i, job) in jobs.iter().enumerate() {
        draw_job(job, at[i], &mut out);
    }
    out.push_str("</svg>");
    out
}

fn draw_job(job: &DagJob, (x, y): (u32, u32), out: &mut String) {
    let (status, colour, mark) = status_look(job.status);
    let duration = job.duration.map(format_duration);
    out.push_str("<a href=\"");
    escape_into(&job.href, out);
    let _ = write!(out, "\" class=\"dag-job dag-{status}\"><title>");
    escape_into(&job.name, out);
    let _ = write!(out, " — {status}");
    if let Some(d) = &duration {
        let _ = write!(out, ", {d}");
    }
    let _ = write!(
        out,
        "</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"#ffffff\" stroke=\"{colour}\" stroke-width=\"1.5\"/>\
         <circle cx=\"{}\" cy=\"{}\" r=\"8\" fill=\"{colour}\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" font-weight=\"700\" fill=\"#ffffff\" text-anchor=\"middle\">{mark}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#1f2328\">",
        x + 18,
        y + BOX_H / 2,
        x + 18,
        y + BOX_H / 2 + 4,
        x + 34,
        if duration.is_some() {
            y + 19
        } else {
            y + BOX_H / 2 + 5
        },
    );
    escape_into(&shorten(&job.name, NAME_CHARS), out);
    out.push_str("</text>");
    if let Some(d) = &duration {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#57606a\">{d}</text>",
            x + 34,
            y + 34
        );
    }
    out.push_str("</a>");
}

/// The class suffix, colour and mark of a status (an unknown one looks queued).
fn status_look(status: &str) -> (&'static str, &'static str, &'static str) {
    match status {
        "success" => ("success", "#1a7f37", "✓"),
        "failure" => ("failure", "#cf222e", "✕"),
        "cancelled" => ("cancelled", "#6e7781", "⊘"),
        "skipped" => ("skipped", "#8c959f", "–"),
        "running" => ("running", "#bf8700", "●"),
        "waiting" => ("waiting", "#8c959f", "…"),
        _ => ("queued", "#8c959f", "…"),
    }
}

/// `4s`, `2m 05s`, `1h 02m`; under a second, `0.4s`.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// `name` cut to `max` characters, the last one `…`.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let mut short: String = name.chars().take(max - 1).collect();
    short.push('…');
    short
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The edges `(needed, needing)` as job indices: each need matches the job with that key and
/// every matrix instance of that id. Unknown needs and self-needs give no edge; duplicates are
/// removed.
fn edges(jobs: &[DagJob]) -> Vec<(usize, usize)> {
    let mut by_id: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        let id = match job.key.find(" (") {
            Some(p) if job.key.ends_with(')') => &job.key[..p],
            _ => job.key.as_str(),
        };
        by_id.entry(id).or_default().push(i);
    }
    let mut edges = Vec::new();
    for (to, job) in jobs.iter().enumerate() {
        for need in &job.needs {
            for &from in by_id.get(need.as_str()).map(Vec::as_slice).unwrap_or(&[]) {
                if from != to {
                    edges.push((from, to));
                }
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// The column of every job: the length of its longest path of needs. Edges that close a cycle
/// (back edges of a depth-first walk in input order) are ignored.
fn layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut preds = vec![Vec::new(); n];
    for &(from, to) in edges {
        preds[to].push(from);
    }
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; n];
    let mut layer = vec![0usize; n];
    // An explicit stack of (job, next predecessor to look at): long chains cannot overflow.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != NEW {
            continue;
        }
        state[root] = ON_PATH;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let job = top.0;
            if let Some(&pred) = preds[job].get(top.1) {
                top.1 += 1;
                match state[pred] {
                    NEW => {
                        state[pred] = ON_PATH;
                        stack.push((pred, 0));
                    }
                    DONE => layer[job] = layer[job].max(layer[pred] + 1),
                    _ => {} // a back edge: part of a cycle, ignored
                }
            } else {
                state[job] = DONE;
                stack.pop();
                if let Some(&(parent, _)) = stack.last() {
                    layer[parent] = layer[parent].max(layer[job] + 1);
                }
            }
        }
    }
    layer
}

/// The jobs of each column, top to bottom: input order first, then sorted by the barycentre
/// of their neighbours' rows in two forward and backward sweeps.
fn order(layer: &[usize], edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let columns_count = layer.iter().map(|l| l + 1).max().unwrap_or(0);
    let mut columns = vec![Vec::new(); columns_count];
    for (job, &l) in layer.iter().enumerate() {
        columns[l].push(job);
    }
    // Only forward edges shape the order (the others were dropped from the layering).
    let mut preds = vec![Vec::new(); layer.len()];
    let mut succs = vec![Vec::new(); layer.len()];
    for &(from, to) in edges {
        if layer[from] < layer[to] {
            preds[to].push(from);
            succs[from].push(to);
        }
    }
    let mut row = vec![0f64; layer.len()];
    let set_rows = |columns: &[Vec<usize>], row: &mut [f64]| {
        for column in columns {
            for (r, &job) in column.iter().enumerate() {
                row[job] = r as f64;
            }
        }
    };
    set_rows(&columns, &mut row);
    for _ in 0..2 {
        for column in columns.iter_mut().skip(1) {
            sort_by_barycentre(column, &preds, &mut row);
        }
        let last = columns.len().saturating_sub(1);
        for column in columns[..last].iter_mut().rev() {
            sort_by_barycentre(column, &succs, &mut row);
        }
    }
    columns
}

fn sort_by_barycentre(column: &mut [usize], neighbours: &[Vec<usize>], row: &mut [f64]) {
    let mut keyed: Vec<(f64, usize)> = column
        .iter()
        .map(|&job| {
            let n = &neighbours[job];
            let key = if n.is_empty() {
                row[job]
            } else {
                n.iter().map(|&m| row[m]).sum::<f64>() / n.len() as f64
            };
            (key, job)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (r, (_, job)) in keyed.into_iter().enumerate() {
        column[r] = job;
        row[job] = r as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn job(key: &str, needs: &[&str]) -> DagJob {
        DagJob {
            key: key.to_string(),
            name: key.to_string(),
            needs: needs.iter().map(|n| n.to_string()).collect(),
            status: "success",
            duration: None,
            href: format!("/o/r/runs/1#{key}"),
        }
    }

    fn layered(jobs: &[DagJob]) -> Vec<usize> {
        layers(jobs.len(), &edges(jobs))
    }

    #[test]
    fn a_diamond_has_three_columns() {
        let jobs = [
            job("d", &["b", "c"]),
            job("b", &["a"]),
            job("a", &[]),
            job("c", &["a"]),
        ];
        assert_eq!(layered(&jobs), [2, 1, 0, 1]);
    }

    #[test]
    fn longest_path_decides_the_column() {
        // a → b → c, and a → c directly: c is in column 2.
        let jobs = [job("a", &[]), job("b", &["a"]), job("c", &["a", "b"])];
        assert_eq!(layered(&jobs), [0, 1, 2]);
    }

    #[test]
    fn matrix_needs_fan_in_and_out() {
        let jobs = [
            job("build (linux, 1.80)", &[]),
            job("build (macos, 1.80)", &[]),
            job("builder", &[]),
            job("test (a)", &["build"]),
            job("test (b)", &["build"]),
            job("deploy", &["test", "nothing"]),
        ];
        let e = edges(&jobs);
        assert_eq!(e, [(0, 3), (0, 4), (1, 3), (1, 4), (3, 5), (4, 5)]);
        assert_eq!(layered(&jobs), [0, 0, 0, 1, 1, 2]);
    }

    #[test]
    fn cycles_do_not_loop() {
        let jobs = [
            job("a", &["c"]),
            job("b", &["a"]),
            job("c", &["b"]),
            job("d", &["d", "c"]),
        ];
        let l = layered(&jobs);
        // Some edge of the cycle is dropped; the rest stays layered.
        assert_eq!(l, [2, 0, 1, 2]);
        let svg = render_svg(&jobs);
        assert_eq!(svg.matches("<a href").count(), 4);
    }

    #[test]
    fn barycentre_untangles_crossings() {
        // x needs q, y needs p: in input order the edges would cross.
        let jobs = [
            job("p", &[]),
            job("q", &[]),
            job("x", &["q"]),
            job("y", &["p"]),
        ];
        let e = edges(&jobs);
        let columns = order(&layers(jobs.len(), &e), &e);
        assert_eq!(columns, [vec![0, 1], vec![3, 2]]);
    }

    #[test]
    fn text_is_escaped() {
        let mut evil = job("<x>", &[]);
        evil.name = "<script>alert(\"&\")</script>".to_string();
        evil.href = "/a?b=1&c=\"2\"".to_string();
        let svg = render_svg(&[evil]);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;alert(&quot;&amp;&quot;)"));
        assert!(svg.contains("href=\"/a?b=1&amp;c=&quot;2&quot;\""));
    }

    #[test]
    fn names_are_shortened_and_durations_formatted() {
        assert_eq!(shorten("short", 24), "short");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("ééééé", 4), "ééé…");
        assert_eq!(format_duration(Duration::from_millis(400)), "0.4s");
        assert_eq!(format_duration(Duration::from_secs(4)), "4s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m 05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h 02m");
        let mut long = job("long", &[]);
        long.name = "a very long job name that does not fit in the box".to_string();
        let svg = render_svg(&[long]);
        assert!(svg.contains(">a very long job name th…</text>"));
        // The full name stays in the tooltip.
        assert!(svg.contains(
            "<title>a very long job name that does not fit in the box — success</title>"
        ));
    }

    #[test]
    fn two_hundred_jobs_render_fast() {
        let jobs: Vec<DagJob> = (0..200)
            .map(|i| {
                let needs: Vec<String> = (1..=3)
                    .filter(|k| i >= k * 7)
                    .map(|k| format!("j{}", (i * 31 + k * 13) % i.max(1)))
                    .collect();
                let mut j = job(&format!("j{i}"), &[]);
                j.needs = needs;
                j
            })
            .collect();
        let start = std::time::Instant::now();
        let svg = render_svg(&jobs);
        assert!(start.elapsed().as_secs_f64() < 1.0);
        assert_eq!(svg.matches("<a href").count(), 200);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn empty_graph_is_a_valid_svg() {
        let svg = render_svg(&[]);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert!(svg.contains("width=\"24\" height=\"24\""));
    }

    #[test]
    fn small_graph_snapshot() {
        let mut a = job("lint", &[]);
        a.duration = Some(Duration::from_secs(12));
        let mut b = job("test", &["lint"]);
        b.status = "failure";
        b.duration = Some(Duration::from_secs(75));
        let svg = render_svg(&[a, b]).replace('>', ">\n");
        expect![[r##"
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 500 68" width="500" height="68" role="img" aria-label="Job graph: 2 jobs" class="dag" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
            <g class="dag-edges" fill="none" stroke="#8c959f" stroke-width="1.5">
            <path d="M222 34C250 34 250 34 278 34"/>
            </g>
            <a href="/o/r/runs/1#lint" class="dag-job dag-success">
            <title>
            lint — success, 12s</title>
            <rect x="12" y="12" width="210" height="44" rx="6" fill="#ffffff" stroke="#1a7f37" stroke-width="1.5"/>
            <circle cx="30" cy="34" r="8" fill="#1a7f37"/>
            <text x="30" y="38" font-size="11" font-weight="700" fill="#ffffff" text-anchor="middle">
            ✓</text>
            <text x="46" y="31" font-size="13" fill="#1f2328">
            lint</text>
            <text x="46" y="46" font-size="11" fill="#57606a">
            12s</text>
            </a>
            <a href="/o/r/runs/1#test" class="dag-job dag-failure">
            <title>
            test — failure, 1m 15s</title>
            <rect x="278" y="12" width="210" height="44" rx="6" fill="#ffffff" stroke="#cf222e" stroke-width="1.5"/>
            <circle cx="296" cy="34" r="8" fill="#cf222e"/>
            <text x="296" y="38" font-size="11" font-weight="700" fill="#ffffff" text-anchor="middle">
            ✕</text>
            <text x="312" y="31" font-size="13" fill="#1f2328">
            test</text>
            <text x="312" y="46" font-size="11" fill="#57606a">
            1m 15s</text>
            </a>
            </svg>
        "##]].assert_eq(&svg);
    }
}
