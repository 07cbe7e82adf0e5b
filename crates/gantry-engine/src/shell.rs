//! How a `run:` step becomes a process: GitHub's shells and `{0}` templates.

use std::path::Path;

/// A resolved shell: the program, its arguments (with the script path put
/// in place of `{0}`), and the script file's extension.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellCommand {
    pub program: String,
    pub args: Vec<String>,
}

/// The script file's extension for a shell.
pub fn extension(shell: Option<&str>) -> &'static str {
    match shell.map(|s| s.split_whitespace().next().unwrap_or("")) {
        Some("python" | "python3") => ".py",
        Some("pwsh" | "powershell") => ".ps1",
        Some("cmd") => ".cmd",
        _ => ".sh",
    }
}

/// Builds the command for `shell` (None: GitHub's default, bash if present
/// else sh). `have` answers whether a program is on PATH.
pub fn command(
    shell: Option<&str>,
    script: &Path,
    have: &dyn Fn(&str) -> bool,
) -> Result<ShellCommand, String> {
    let script = script.to_string_lossy().into_owned();
    let make = |program: &str, args: &[&str]| ShellCommand {
        program: program.to_string(),
        args: args.iter().map(|a| a.replace("{0}", &script)).collect(),
    };
    Ok(match shell.map(str::trim) {
        None | Some("") => {
            if have("bash") {
                make("bash", &["-e", "{0}"])
            } else {
                make("sh", &["-e", "{0}"])
            }
        }
        Some("bash") => make("bash", &["--noprofile", "--norc", "-eo", "pipefail", "{0}"]),
        Some("sh") => make("sh", &["-e", "{0}"]),
        Some("python") => {
            let program = if have("python") { "python" } else { "python3" };
            make(program, &["{0}"])
        }
        Some("pwsh") => {
            if !have("pwsh") {
                return Err("`shell: pwsh` needs PowerShell, which is not installed here: install `pwsh` or use `shell: bash`".into());
            }
            make("pwsh", &["-command", ". '{0}'"])
        }
        Some("powershell") => {
            return Err("`shell: powershell` is Windows PowerShell, which does not run on Linux: use `shell: pwsh` or `shell: bash`".into());
        }
        Some("cmd") => return Err("`shell: cmd` is Windows-only: use `shell: bash`".into()),
        Some(custom) => {
            if !custom.contains("{0}") {
                return Err(format!(
                    "custom shell `{custom}` must contain `{{0}}` where the script path goes, e.g. `shell: perl {{0}}`"
                ));
            }
            let mut parts = custom.split_whitespace();
            let program = parts.next().unwrap_or_default();
            let args: Vec<&str> = parts.collect();
            make(program, &args)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells() {
        let all = |_: &str| true;
        let none = |p: &str| p == "sh" || p == "python3";
        let script = Path::new("/t/s.sh");
        assert_eq!(command(None, script, &all).unwrap().args, ["-e", "/t/s.sh"]);
        assert_eq!(command(None, script, &none).unwrap().program, "sh");
        assert_eq!(
            command(Some("bash"), script, &all).unwrap().args,
            ["--noprofile", "--norc", "-eo", "pipefail", "/t/s.sh"]
        );
        assert_eq!(
            command(Some("python"), script, &none).unwrap().program,
            "python3"
        );
        assert_eq!(
            command(Some("perl -w {0}"), script, &all).unwrap(),
            ShellCommand {
                program: "perl".into(),
                args: vec!["-w".into(), "/t/s.sh".into()]
            }
        );
        assert!(
            command(Some("perl"), script, &all)
                .unwrap_err()
                .contains("{0}")
        );
        assert!(
            command(Some("pwsh"), script, &none)
                .unwrap_err()
                .contains("install `pwsh`")
        );
        assert!(command(Some("cmd"), script, &all).is_err());
        assert_eq!(extension(Some("python")), ".py");
    }
}
