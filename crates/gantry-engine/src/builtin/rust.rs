//! The Rust toolchain actions (`dtolnay/rust-toolchain`,
//! `actions-rs/toolchain`, `actions-rust-lang/setup-rust-toolchain`):
//! nothing is installed; the step checks that the requested toolchain,
//! targets and components are already there (through rustup when it is
//! installed) and selects a non-default toolchain with `RUSTUP_TOOLCHAIN`.

use std::path::{Path, PathBuf};

use super::inputs::{self, comma_list, input};
use super::process;
use super::setup::{Probe, is_executable};
use super::version;
use super::{BuiltinCtx, BuiltinOutcome};

const DTOLNAY_INPUTS: &[&str] = &["toolchain", "targets", "target", "components"];
const ACTIONS_RS_INPUTS: &[&str] = &[
    "toolchain",
    "target",
    "default",
    "override",
    "profile",
    "components",
];
const SETUP_RUST_INPUTS: &[&str] = &[
    "toolchain",
    "target",
    "components",
    "cache",
    "cache-directories",
    "cache-workspaces",
    "cache-on-failure",
    "cache-key",
    "cache-shared-key",
    "cache-bin",
    "cache-provider",
    "cache-all-crates",
    "cache-workspace-crates",
    "matcher",
    "rustflags",
    "override",
    "rust-src-dir",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Dtolnay,
    ActionsRs,
    SetupRust,
}

/// `rustc -vV` of one toolchain.
#[derive(Debug, Clone, Default)]
struct Rustc {
    release: String,
    commit_hash: String,
    commit_date: String,
    host: String,
    version_line: String,
    /// rustup's name, when the toolchain was found through rustup.
    name: Option<String>,
}

fn parse_rustc(text: &str) -> Option<Rustc> {
    let mut rustc = Rustc::default();
    for line in text.lines() {
        if line.starts_with("rustc ") && rustc.version_line.is_empty() {
            rustc.version_line = line.trim().to_string();
        } else if let Some((key, value)) = line.split_once(": ") {
            let value = value.trim().to_string();
            match key.trim() {
                "release" => rustc.release = value,
                "commit-hash" => rustc.commit_hash = value,
                "commit-date" => rustc.commit_date = value,
                "host" => rustc.host = value,
                _ => {}
            }
        }
    }
    (!rustc.release.is_empty()).then_some(rustc)
}

/// The toolchain channel of a `rust-toolchain(.toml)` file, with its
/// components and targets.
fn toolchain_file(workspace: &Path) -> Option<(String, Vec<String>, Vec<String>)> {
    for name in ["rust-toolchain.toml", "rust-toolchain"] {
        let Ok(text) = std::fs::read_to_string(workspace.join(name)) else {
            continue;
        };
        if !text.contains('=') {
            let channel = text.lines().map(str::trim).find(|l| !l.is_empty())?;
            return Some((channel.to_string(), Vec::new(), Vec::new()));
        }
        let mut channel = None;
        let mut components = Vec::new();
        let mut targets = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let list = || {
                value
                    .trim()
                    .trim_matches(['[', ']'])
                    .split(',')
                    .map(|s| s.trim().trim_matches(['"', '\'']).to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            };
            match key.trim() {
                "channel" => channel = Some(value.trim().trim_matches(['"', '\'']).to_string()),
                "components" => components = list(),
                "targets" => targets = list(),
                _ => {}
            }
        }
        return channel.map(|c| (c, components, targets));
    }
    None
}

/// A toolchain name the `dtolnay/rust-toolchain@<ref>` form stands for.
fn toolchain_from_ref(reference: &str) -> Option<String> {
    let looks_like_toolchain = matches!(reference, "stable" | "beta" | "nightly")
        || reference.starts_with("nightly-")
        || reference.starts_with("beta-")
        || reference
            .split('.')
            .next()
            .is_some_and(|major| major == "1")
            && reference.split('.').count() >= 2;
    looks_like_toolchain.then(|| reference.to_string())
}

pub(super) async fn run(uses: &str, ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    let (name, reference) = uses.split_once('@').unwrap_or((uses, ""));
    let flavor = match name.to_ascii_lowercase().as_str() {
        "dtolnay/rust-toolchain" => Flavor::Dtolnay,
        "actions-rs/toolchain" => Flavor::ActionsRs,
        _ => Flavor::SetupRust,
    };
    let action = name.to_string();
    let known = match flavor {
        Flavor::Dtolnay => DTOLNAY_INPUTS,
        Flavor::ActionsRs => ACTIONS_RS_INPUTS,
        Flavor::SetupRust => SETUP_RUST_INPUTS,
    };
    for warning in inputs::unexpected_inputs(ctx.inputs, known, &action) {
        (ctx.log)(warning);
    }
    let mut targets = comma_list(ctx.inputs, "targets");
    targets.extend(comma_list(ctx.inputs, "target"));
    let mut components = comma_list(ctx.inputs, "components");

    // What to check: the toolchains asked for; the last is the default.
    let file = toolchain_file(ctx.workspace);
    let requested: Vec<String> = match (comma_list(ctx.inputs, "toolchain"), flavor) {
        (list, _) if !list.is_empty() => list,
        (_, Flavor::Dtolnay) => vec![toolchain_from_ref(reference).ok_or_else(|| {
            format!("`{uses}` needs the `toolchain` input: add `with: toolchain: stable`, or use `{name}@stable`")
        })?],
        _ => match &file {
            Some((channel, file_components, file_targets)) => {
                components.extend(file_components.iter().cloned());
                targets.extend(file_targets.iter().cloned());
                vec![channel.clone()]
            }
            None if flavor == Flavor::SetupRust => vec!["stable".to_string()],
            None => Vec::new(),
        },
    };
    if flavor == Flavor::SetupRust
        && let Some(cache) = input(ctx.inputs, "cache")
        && cache.eq_ignore_ascii_case("true")
    {
        (ctx.log)("`cache: true` is ignored: dependency caching via setup-* is not supported; use actions/cache".to_string());
    }

    let probe = Probe::new(ctx);
    let mut out = BuiltinOutcome::default();
    let mut rustc_bin = probe.on_path("rustc").into_iter().next();
    let cargo_home = ctx
        .env
        .get("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| ctx.env.get("HOME").map(|h| Path::new(h).join(".cargo")));
    if rustc_bin.is_none()
        && let Some(bin) = cargo_home.map(|h| h.join("bin"))
        && is_executable(&bin.join("rustc"))
    {
        rustc_bin = Some(bin.join("rustc"));
        out.add_path.push(bin);
    }
    let Some(rustc_bin) = rustc_bin else {
        let wanted = requested.last().map(String::as_str).unwrap_or("stable");
        return Err(format!(
            "rust toolchain `{wanted}` requested but rustc is not installed (not found on PATH): install Rust (rustup) on this machine or remove the `{name}` step"
        ));
    };
    let bin_dir = rustc_bin
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let rustup = Some(bin_dir.join("rustup"))
        .filter(|p| is_executable(p))
        .or_else(|| probe.on_path("rustup").into_iter().next());

    // Never let rustup download a toolchain named by a toolchain file.
    let no_install = [("RUSTUP_AUTO_INSTALL", "0")];
    let default = probe
        .run(&rustc_bin, &["-vV"], &no_install)
        .await
        .and_then(|t| parse_rustc(&t))
        .ok_or_else(|| {
            format!(
                "`{} -vV` failed: check the Rust installation (`rustup show`)",
                rustc_bin.display()
            )
        })?;

    let mut toolchains: Option<Vec<String>> = None;
    let mut chosen: Vec<Rustc> = Vec::new();
    for request in &requested {
        if version::rust_matches(request, &default.release, None) {
            chosen.push(default.clone());
            continue;
        }
        let Some(rustup) = &rustup else {
            return Err(rust_error(request, &default, &[], name));
        };
        if toolchains.is_none() {
            let list = probe
                .run(rustup, &["toolchain", "list"], &[])
                .await
                .unwrap_or_default();
            toolchains = Some(
                list.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(String::from)
                    .collect(),
            );
        }
        let installed = toolchains.as_deref().unwrap_or_default();
        let mut found = None;
        // Name matches first (`nightly` → `nightly-<host>`), then any toolchain whose release fits.
        let mut order: Vec<&String> = installed
            .iter()
            .filter(|t| version::strip_host(t) == version::strip_host(request))
            .collect();
        order.extend(
            installed
                .iter()
                .filter(|t| version::strip_host(t) != version::strip_host(request)),
        );
        for toolchain in order {
            let Some(info) = probe
                .run(
                    &rustc_bin,
                    &["-vV"],
                    &[("RUSTUP_TOOLCHAIN", toolchain), no_install[0]],
                )
                .await
                .and_then(|t| parse_rustc(&t))
            else {
                continue;
            };
            if version::rust_matches(request, &info.release, Some(toolchain)) {
                found = Some(Rustc {
                    name: Some(toolchain.clone()),
                    ..info
                });
                break;
            }
        }
        match found {
            Some(info) => chosen.push(info),
            None => return Err(rust_error(request, &default, installed, name)),
        }
    }
    if requested.is_empty() {
        chosen.push(default.clone());
    }
    if ctx.cancel.is_cancelled() {
        return Err(process::CANCELLED.to_string());
    }
    let Some(selected) = chosen.last().cloned() else {
        return Ok(out);
    };
    let toolchain_env: Vec<(&str, &str)> = selected
        .name
        .as_deref()
        .map(|n| vec![("RUSTUP_TOOLCHAIN", n)])
        .unwrap_or_default();
    if let Some(name) = &selected.name {
        out.set_env
            .insert("RUSTUP_TOOLCHAIN".to_string(), name.clone());
    }
    check_targets_and_components(
        &probe,
        &rustc_bin,
        &selected,
        &toolchain_env,
        &targets,
        &components,
    )
    .await?;

    for info in &chosen {
        (ctx.log)(format!(
            "Using {} ({})",
            info.version_line,
            info.name.as_deref().unwrap_or("default toolchain")
        ));
    }
    let date: String = selected
        .commit_date
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let cachekey: String = format!("{date}{}", selected.commit_hash)
        .chars()
        .take(12)
        .collect();
    let cargo_line = match Some(bin_dir.join("cargo")).filter(|p| is_executable(p)) {
        Some(cargo) => probe
            .run(&cargo, &["--version"], &toolchain_env)
            .await
            .map(|t| t.trim().to_string())
            .unwrap_or_default(),
        None => String::new(),
    };
    match flavor {
        Flavor::Dtolnay => {
            out.outputs.insert("cachekey".to_string(), cachekey);
            out.outputs.insert(
                "name".to_string(),
                requested.last().cloned().unwrap_or_default(),
            );
            set_default_env(
                ctx,
                &mut out,
                &[("CARGO_INCREMENTAL", "0"), ("CARGO_TERM_COLOR", "always")],
            );
        }
        Flavor::ActionsRs => {
            let cargo_version = cargo_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            out.outputs
                .insert("rustc".to_string(), selected.release.clone());
            out.outputs.insert(
                "rustc_hash".to_string(),
                selected.commit_hash.chars().take(9).collect(),
            );
            out.outputs.insert("cargo".to_string(), cargo_version);
            if let Some(rustup) = &rustup {
                let text = probe
                    .run(rustup, &["--version"], &[])
                    .await
                    .unwrap_or_default();
                out.outputs.insert(
                    "rustup".to_string(),
                    text.split_whitespace().nth(1).unwrap_or("").to_string(),
                );
            }
        }
        Flavor::SetupRust => {
            out.outputs
                .insert("rustc-version".to_string(), selected.version_line.clone());
            out.outputs.insert("cargo-version".to_string(), cargo_line);
            if let Some(rustup) = &rustup {
                let text = probe
                    .run(rustup, &["--version"], &[])
                    .await
                    .unwrap_or_default();
                out.outputs.insert(
                    "rustup-version".to_string(),
                    text.lines().next().unwrap_or("").trim().to_string(),
                );
            }
            out.outputs.insert("cachekey".to_string(), cachekey);
            let rustflags = ctx
                .inputs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("rustflags"))
                .map(|(_, v)| v.trim().to_string());
            let rustflags = rustflags.unwrap_or_else(|| "-D warnings".to_string());
            let mut defaults = vec![
                ("CARGO_INCREMENTAL", "0"),
                ("CARGO_PROFILE_DEV_DEBUG", "0"),
                ("CARGO_TERM_COLOR", "always"),
                ("RUST_BACKTRACE", "short"),
                ("CARGO_UNSTABLE_SPARSE_REGISTRY", "true"),
                ("CARGO_REGISTRIES_CRATES_IO_PROTOCOL", "sparse"),
            ];
            if !rustflags.is_empty() {
                defaults.push(("RUSTFLAGS", rustflags.as_str()));
            }
            set_default_env(ctx, &mut out, &defaults);
        }
    }
    Ok(out)
}

/// Sets each variable the step's environment does not already have.
fn set_default_env(ctx: &BuiltinCtx<'_>, out: &mut BuiltinOutcome, vars: &[(&str, &str)]) {
    for (key, value) in vars {
        if !ctx.env.contains_key(*key) {
            out.set_env.insert(key.to_string(), value.to_string());
        }
    }
}

fn rust_error(request: &str, default: &Rustc, installed: &[String], action: &str) -> String {
    let also = if installed.is_empty() {
        String::new()
    } else {
        format!(" (rustup toolchains: {})", installed.join(", "))
    };
    format!(
        "rust toolchain `{request}` requested but {} is installed{also}: install it on this machine (`rustup toolchain install {request}`) or change `toolchain` of `{action}`",
        default.version_line
    )
}

async fn check_targets_and_components(
    probe: &Probe<'_>,
    rustc: &Path,
    selected: &Rustc,
    env: &[(&str, &str)],
    targets: &[String],
    components: &[String],
) -> Result<(), String> {
    if targets.is_empty() && components.is_empty() {
        return Ok(());
    }
    let sysroot = probe
        .run(rustc, &["--print", "sysroot"], env)
        .await
        .map(|t| PathBuf::from(t.trim()))
        .ok_or_else(|| {
            "`rustc --print sysroot` failed: check the Rust installation (`rustup show`)"
                .to_string()
        })?;
    let toolchain = selected
        .name
        .clone()
        .unwrap_or_else(|| version::strip_host(&selected.release).to_string());
    for target in targets {
        if target == &selected.host {
            continue;
        }
        if !sysroot
            .join("lib/rustlib")
            .join(target)
            .join("lib")
            .is_dir()
        {
            return Err(format!(
                "target `{target}` is not installed for the Rust toolchain {}: run `rustup target add {target}` on this machine, or remove it from the step's targets",
                selected.release
            ));
        }
    }
    for component in components {
        let base = component.trim_end_matches("-preview");
        let path = match base {
            "clippy" => Some(sysroot.join("bin/cargo-clippy")),
            "rustfmt" => Some(sysroot.join("bin/rustfmt")),
            "rust-src" => Some(sysroot.join("lib/rustlib/src/rust")),
            "rust-analyzer" => Some(sysroot.join("bin/rust-analyzer")),
            "miri" => Some(sysroot.join("bin/miri")),
            "llvm-tools" => Some(sysroot.join("lib/rustlib").join(&selected.host).join("bin")),
            "rust-docs" => Some(sysroot.join("share/doc/rust/html")),
            "rustc-dev" => Some(sysroot.join("lib/rustlib/rustc-src")),
            "cargo" | "rustc" | "rust-std" => None,
            _ => None,
        };
        if let Some(path) = path
            && !path.exists()
        {
            return Err(format!(
                "component `{component}` is not installed for the Rust toolchain {}: run `rustup component add {component} --toolchain {toolchain}` on this machine, or remove it from `components`",
                selected.release
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::super::tests_support::Harness;
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_rustc_verbose_version() {
        let text = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1234\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 20.1.0\n";
        let rustc = parse_rustc(text).unwrap();
        assert_eq!(rustc.release, "1.95.0");
        assert_eq!(rustc.host, "x86_64-unknown-linux-gnu");
        assert_eq!(rustc.version_line, "rustc 1.95.0 (59807616e 2026-04-14)");
        assert_eq!(toolchain_from_ref("stable").as_deref(), Some("stable"));
        assert_eq!(toolchain_from_ref("1.89").as_deref(), Some("1.89"));
        assert_eq!(toolchain_from_ref("master"), None);
        assert_eq!(toolchain_from_ref("v1"), None);
    }

    #[test]
    fn reads_toolchain_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rust-toolchain.toml"),
            "[toolchain]\nchannel = \"1.95\"\ncomponents = [\"clippy\", \"rustfmt\"]\ntargets = [\"wasm32-unknown-unknown\"]\n",
        )
        .unwrap();
        let (channel, components, targets) = toolchain_file(dir.path()).unwrap();
        assert_eq!(channel, "1.95");
        assert_eq!(components, vec!["clippy", "rustfmt"]);
        assert_eq!(targets, vec!["wasm32-unknown-unknown"]);
    }

    #[tokio::test]
    async fn stable_is_accepted_and_nightly_explained() {
        let h = Harness::new();
        let result = h
            .run("dtolnay/rust-toolchain@stable", &IndexMap::new(), "", "")
            .await;
        let Ok(out) = result else {
            let err = result.unwrap_err();
            assert!(err.contains("rust toolchain"), "{err}");
            return;
        };
        assert_eq!(out.outputs["name"], "stable");
        assert_eq!(out.outputs["cachekey"].len(), 12);
        let err = h
            .run("dtolnay/rust-toolchain@master", &IndexMap::new(), "", "")
            .await
            .unwrap_err();
        assert!(err.contains("needs the `toolchain` input"), "{err}");

        let out = h
            .run(
                "actions-rust-lang/setup-rust-toolchain@v1",
                &inputs(&[("components", "clippy")]),
                "",
                "",
            )
            .await;
        match out {
            Ok(out) => {
                assert!(out.outputs["rustc-version"].starts_with("rustc "));
                if !h.env.contains_key("RUSTFLAGS") {
                    assert_eq!(out.set_env["RUSTFLAGS"], "-D warnings");
                }
            }
            Err(e) => assert!(e.contains("component `clippy`"), "{e}"),
        }

        // Nightly: selected through rustup when it is installed, else explained.
        match h
            .run("dtolnay/rust-toolchain@nightly", &IndexMap::new(), "", "")
            .await
        {
            Ok(out) => assert!(
                out.set_env
                    .get("RUSTUP_TOOLCHAIN")
                    .is_some_and(|t| t.starts_with("nightly")),
                "{out:?}"
            ),
            Err(e) => assert!(
                e.contains("rust toolchain `nightly` requested but rustc"),
                "{e}"
            ),
        }
        let err = h
            .run("dtolnay/rust-toolchain@1.2", &IndexMap::new(), "", "")
            .await
            .unwrap_err();
        assert!(err.contains("rust toolchain `1.2` requested"), "{err}");

        let err = h
            .run(
                "dtolnay/rust-toolchain@stable",
                &inputs(&[("targets", "no-such-target-xyz")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(
            err.contains("target `no-such-target-xyz` is not installed"),
            "{err}"
        );
    }
}
