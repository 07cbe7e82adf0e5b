//! Passes the host target triple to the tidy test (for `cargo metadata --filter-platform`).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=TARGET_TRIPLE={target}");
}
