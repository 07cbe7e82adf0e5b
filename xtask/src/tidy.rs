//! The tidy checks, as tests: the rules in ARCHITECTURE.md that a compiler
//! does not enforce.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Every `.rs` file of the workspace's crates (and xtask, fuzz).
    fn rust_files() -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in ["crates", "xtask", "fuzz"] {
            walk(&root().join(dir), &mut out);
        }
        out.sort();
        out
    }

    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && name != "test_data" {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn rel(path: &Path) -> String {
        path.strip_prefix(root())
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn every_module_says_its_role() {
        let missing: Vec<String> = rust_files()
            .into_iter()
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .map(|p| rel(&p))
            .collect();
        assert!(
            missing.is_empty(),
            "these files must start with a `//!` doc comment:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn no_grab_bag_modules() {
        let banned = [
            "utils", "util", "helpers", "helper", "common", "misc", "manager",
        ];
        let bad: Vec<String> = rust_files()
            .into_iter()
            .filter(|p| {
                let stem = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let parent = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                banned.contains(&stem.as_str())
                    || (stem == "mod" && banned.contains(&parent.as_str()))
            })
            .map(|p| rel(&p))
            .collect();
        assert!(
            bad.is_empty(),
            "name modules for their job, not `utils`/`helpers`/…:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn tests_do_not_hide_failures() {
        let mut bad = Vec::new();
        for path in rust_files() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (idx, line) in text.lines().enumerate() {
                let t = line.trim();
                let banned = ["#[should_panic", "#[ignore"]
                    .iter()
                    .any(|b| t.starts_with(b));
                if banned {
                    bad.push(format!("{}:{}: {t}", rel(&path), idx + 1));
                }
                if line.ends_with(' ') || line.ends_with('\t') {
                    bad.push(format!("{}:{}: trailing whitespace", rel(&path), idx + 1));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "no #[should_panic]/#[ignore] (assert today's behaviour with a FIXME instead), no trailing whitespace:\n{}",
            bad.join("\n")
        );
    }

    /// The dependency table of ARCHITECTURE.md: each crate may use only these
    /// workspace crates.
    fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
        BTreeMap::from([
            ("gantry-syntax", &[][..]),
            ("gantry-expr", &[][..]),
            ("gantry-plan", &["gantry-syntax", "gantry-expr"][..]),
            ("gantry-executor", &[][..]),
            ("gantry-docker", &["gantry-executor"][..]),
            ("gantry-store", &["gantry-plan"][..]),
            ("gantry-api", &[][..]),
            ("gantry-deploy", &["gantry-syntax"][..]),
            ("gantry-proxy", &[][..]),
            ("gantry-rollout", &["gantry-deploy", "gantry-proxy"][..]),
            (
                "gantry-agent",
                &[
                    "gantry-api",
                    "gantry-engine",
                    "gantry-executor",
                    "gantry-plan",
                    "gantry-syntax",
                ][..],
            ),
            (
                "gantry-server",
                &[
                    "gantry-store",
                    "gantry-api",
                    "gantry-plan",
                    "gantry-syntax",
                    "gantry-expr",
                ][..],
            ),
            (
                "gantry-engine",
                &[
                    "gantry-plan",
                    "gantry-expr",
                    "gantry-syntax",
                    "gantry-executor",
                ][..],
            ),
            (
                "gantry",
                &[
                    "gantry-syntax",
                    "gantry-expr",
                    "gantry-plan",
                    "gantry-executor",
                    "gantry-engine",
                    "gantry-docker",
                    "gantry-server",
                    "gantry-store",
                    "gantry-api",
                    "gantry-agent",
                    "gantry-deploy",
                ][..],
            ),
            ("xtask", &[][..]),
        ])
    }

    /// The workspace crates named in a manifest's dependency tables.
    fn workspace_deps(manifest: &str) -> Vec<String> {
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in manifest.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t.contains("dependencies");
                continue;
            }
            if in_deps {
                let name = t.split(['=', '.', ' ']).next().unwrap_or("");
                if name.starts_with("gantry") {
                    deps.push(name.to_string());
                }
            }
        }
        deps
    }

    #[test]
    fn dependencies_point_the_right_way() {
        let table = allowed();
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.push(root().join("xtask"));
        for dir in dirs {
            let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
                continue;
            };
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            seen.push(name.clone());
            let Some(allowed) = table.get(name.as_str()) else {
                problems.push(format!("crate `{name}` is not in the dependency table: add it to ARCHITECTURE.md and to this test"));
                continue;
            };
            for dep in workspace_deps(&manifest) {
                if dep != name && !allowed.contains(&dep.as_str()) {
                    problems.push(format!(
                        "`{name}` must not depend on `{dep}` (allowed: {})",
                        allowed.join(", ")
                    ));
                }
            }
        }
        let arch = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap_or_default();
        for name in &seen {
            if !arch.contains(&format!("`{name}`")) {
                problems.push(format!("ARCHITECTURE.md does not describe `{name}`"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn licences_are_permissive() {
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--filter-platform",
                env!("TARGET_TRIPLE"),
                "--manifest-path",
            ])
            .arg(root().join("Cargo.toml"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
        let allowed = [
            "MIT",
            "Apache-2.0",
            "BSD-2-Clause",
            "BSD-3-Clause",
            "ISC",
            "Zlib",
            "Unicode-3.0",
            "Unicode-DFS-2016",
            "CC0-1.0",
            "0BSD",
            "Unlicense",
            "BSL-1.0",
            "CDLA-Permissive-2.0",
            "Apache-2.0 WITH LLVM-exception",
            "MIT-0",
        ];
        // Named exceptions: a crate reached only by dev-dependencies, never shipped. `webdriver`
        // (MPL-2.0, file-level copyleft, unmodified) comes with fantoccini for the browser test.
        let dev_only = [("webdriver", "MPL-2.0")];
        let mut bad = Vec::new();
        for pkg in meta["packages"].as_array().into_iter().flatten() {
            let name = pkg["name"].as_str().unwrap_or("?");
            let licence = pkg["license"].as_str().unwrap_or("");
            if dev_only.contains(&(name, licence)) {
                continue;
            }
            // An SPDX expression is fine when every alternative of some OR
            // branch is allowed; checking that each AND/OR term is allowed or
            // has an allowed alternative is enough for the crates we use.
            let ok = licence.split(" OR ").any(|alt| {
                alt.trim_matches(|c| c == '(' || c == ')')
                    .split(" AND ")
                    .all(|t| {
                        let t = t.trim().trim_matches(|c| c == '(' || c == ')');
                        allowed.contains(&t) || t.split('/').all(|x| allowed.contains(&x.trim()))
                    })
            });
            if !ok {
                bad.push(format!("{name}: `{licence}`"));
            }
        }
        assert!(
            bad.is_empty(),
            "dependencies with licences outside the allow-list:\n{}",
            bad.join("\n")
        );
    }
}
