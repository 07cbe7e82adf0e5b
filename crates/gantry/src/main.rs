//! The `gantry` binary: command line, wiring, output rendering, exit codes.

fn main() {}
