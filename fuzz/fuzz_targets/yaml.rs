//! Fuzz target `yaml`: the whole YAML front end on arbitrary input.
//!
//! The bytes are read as UTF-8 (invalid sequences become U+FFFD, as a file
//! read lossily would) and go through everything a `gantry check` does with
//! a file: `parse_workflow`, then `gantry_plan::validate` on the workflow it
//! built (so expressions, cron lines, globs and matrices found in the YAML
//! reach their parsers too), `parse_action`, and `render` of every
//! diagnostic against the source. None of it may panic, loop without end or
//! blow up in time or memory, whatever the input.
//!
//! Seeds: `fuzz/seeds/yaml/` (real workflows and action files plus tricky
//! YAML) and `fuzz/regressions/yaml/` (inputs that once failed). Run with
//! `scripts/fuzz`.

#![no_main]

use gantry_syntax::{Diagnostic, parse_action, parse_workflow, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);

    let (workflow, mut diagnostics) = parse_workflow(".github/workflows/fuzz.yml", &src);
    diagnostics.extend(gantry_plan::validate(&workflow, &src));
    render_all(&diagnostics, &src);

    let (_action, diagnostics) = parse_action("action.yml", &src);
    render_all(&diagnostics, &src);
});

/// Renders each diagnostic; a rendering always names the problem.
fn render_all(diagnostics: &[Diagnostic], src: &str) {
    for diagnostic in diagnostics {
        let shown = render(diagnostic, src);
        assert!(!shown.is_empty(), "empty rendering of {diagnostic:?}");
    }
}
