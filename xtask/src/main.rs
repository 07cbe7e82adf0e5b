//! Project chores: the tidy test (run by `cargo test`), benchmark helpers.

fn main() {}
