//! Project chores: the tidy test (run by `cargo test`), checking the
//! workspace's conventions — module docs, banned module names, dependency
//! directions, test hygiene and licences.

mod tidy;

fn main() {
    eprintln!("xtask has no commands yet; its tidy checks run with `cargo test -p xtask`");
}
