//! Version numbers and the version specs of the `setup-*` actions: partial
//! versions (`18`, `3.12`, `1.21.x`), comparators (`>=3.10 <3.13`), caret
//! and tilde ranges, hyphen ranges, `||`, pip's `~=`/`!=`, and the aliases
//! each tool has (`lts/*`, `stable`, …). Pure functions, no I/O.

use std::cmp::Ordering;

/// A version as a tool prints it: up to three numbers and whether a
/// pre-release suffix (`rc1`, `-nightly`, `-ea`) follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub parts: [u64; 3],
    pub pre: bool,
}

impl Version {
    /// Parses `v20.1.0`, `go1.22.1`, `3.13.0rc1`, `1.80.0-nightly`, `21`.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix("go").unwrap_or(text);
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let numeric_end = text
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len());
        let (numeric, rest) = text.split_at(numeric_end);
        let numeric = numeric.trim_end_matches('.');
        if numeric.is_empty() {
            return None;
        }
        let mut parts = [0u64; 3];
        for (i, piece) in numeric.split('.').take(3).enumerate() {
            parts[i] = piece.parse().ok()?;
        }
        let pre = !rest.is_empty() && !rest.starts_with('+') && !rest.starts_with('_');
        Some(Version { parts, pre })
    }

    pub fn major(&self) -> u64 {
        self.parts[0]
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.parts[0], self.parts[1], self.parts[2])
    }
}

/// A partial version: the numbers given before any wildcard.
fn parse_partial(text: &str, spec: &str) -> Result<Vec<u64>, String> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let text = text.split('+').next().unwrap_or(text);
    let mut parts = Vec::new();
    if text.is_empty() {
        return Ok(parts);
    }
    for piece in text.split('.') {
        if matches!(piece, "x" | "X" | "*") {
            break;
        }
        if parts.len() == 3 {
            return Err(bad_spec(spec));
        }
        // Pre-release suffixes (`3.13-dev`, `21-ea`, `1.22rc1`) compare by their numbers.
        let digits_end = piece
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(piece.len());
        if digits_end == 0 {
            return Err(bad_spec(spec));
        }
        parts.push(piece[..digits_end].parse().map_err(|_| bad_spec(spec))?);
        if digits_end < piece.len() {
            break;
        }
    }
    Ok(parts)
}

fn bad_spec(spec: &str) -> String {
    format!(
        "`{spec}` is not a version or a version range (examples: `18`, `3.12`, `1.22.x`, `>=3.10`, `^1.21`)"
    )
}

fn pad(parts: &[u64]) -> [u64; 3] {
    let mut out = [0; 3];
    out[..parts.len()].copy_from_slice(parts);
    out
}

/// The first version above every version the partial stands for.
fn bump(parts: &[u64]) -> Option<[u64; 3]> {
    let last = parts.len().checked_sub(1)?;
    let mut out = pad(parts);
    out[last] += 1;
    Some(out)
}

fn cmp(a: &[u64; 3], b: &[u64; 3]) -> Ordering {
    a.cmp(b)
}

fn in_range(v: &[u64; 3], lo: [u64; 3], hi: Option<[u64; 3]>) -> bool {
    cmp(v, &lo) != Ordering::Less && hi.is_none_or(|hi| cmp(v, &hi) == Ordering::Less)
}

/// One comparator: `>=3.10`, `^1.2`, `18.x`, `~=3.8`, `!=3.9.0`.
fn comparator(token: &str, v: &[u64; 3], spec: &str) -> Result<bool, String> {
    const OPS: [&str; 10] = [">=", "<=", "==", "!=", "~=", ">", "<", "=", "^", "~"];
    let op = OPS
        .iter()
        .find(|op| token.starts_with(**op))
        .copied()
        .unwrap_or("");
    let parts = parse_partial(&token[op.len()..], spec)?;
    let lo = pad(&parts);
    let hi = bump(&parts);
    Ok(match op {
        "" | "=" | "==" => in_range(v, lo, hi),
        "!=" => !in_range(v, lo, hi),
        ">=" => cmp(v, &lo) != Ordering::Less,
        ">" => hi.is_some_and(|hi| cmp(v, &hi) != Ordering::Less),
        "<" => !parts.is_empty() && cmp(v, &lo) == Ordering::Less,
        "<=" => hi.is_none_or(|hi| cmp(v, &hi) == Ordering::Less),
        "^" => {
            let upper = match parts.as_slice() {
                [] => None,
                [major, ..] if *major > 0 => Some([major + 1, 0, 0]),
                [0] => Some([1, 0, 0]),
                [0, minor] => Some([0, minor + 1, 0]),
                [0, minor, _] if *minor > 0 => Some([0, minor + 1, 0]),
                [0, 0, patch] => Some([0, 0, patch + 1]),
                _ => hi,
            };
            in_range(v, lo, upper)
        }
        "~" => {
            let upper = match parts.as_slice() {
                [] => None,
                [major] => Some([major + 1, 0, 0]),
                [major, minor, ..] => Some([*major, minor + 1, 0]),
            };
            in_range(v, lo, upper)
        }
        "~=" => {
            if parts.len() < 2 {
                return Err(bad_spec(spec));
            }
            in_range(v, lo, bump(&parts[..parts.len() - 1]))
        }
        _ => return Err(bad_spec(spec)),
    })
}

/// Whether `version` satisfies `spec` (a node-semver / pip style range).
pub(crate) fn matches(spec: &str, version: &Version) -> Result<bool, String> {
    let v = &version.parts;
    let trimmed = spec.trim();
    if matches!(trimmed, "" | "*" | "x" | "X") {
        return Ok(true);
    }
    let mut any = false;
    for alternative in trimmed.split("||") {
        let alternative = alternative.trim();
        if alternative.is_empty() {
            return Err(bad_spec(spec));
        }
        if let Some((from, to)) = alternative.split_once(" - ") {
            let lo = pad(&parse_partial(from, spec)?);
            let to = parse_partial(to, spec)?;
            any |= in_range(v, lo, bump(&to));
            continue;
        }
        // Tokens: split on spaces and commas; an operator alone joins the next token.
        let mut tokens: Vec<String> = Vec::new();
        let mut pending = String::new();
        for raw in alternative.split([' ', ',']).filter(|t| !t.is_empty()) {
            if raw.chars().all(|c| "<>=!~^".contains(c)) {
                pending.push_str(raw);
                continue;
            }
            tokens.push(format!("{pending}{raw}"));
            pending.clear();
        }
        if !pending.is_empty() {
            return Err(bad_spec(spec));
        }
        let mut all = true;
        for token in &tokens {
            all &= comparator(token, v, spec)?;
        }
        any |= all;
    }
    Ok(any)
}

/// Node's aliases on top of [`matches`]: `node`/`latest`/`current` (any),
/// `lts/*` and `lts/<codename>`.
pub(crate) fn node_matches(spec: &str, version: &Version) -> Result<bool, String> {
    let spec = spec.trim();
    let lower = spec.to_ascii_lowercase();
    if matches!(lower.as_str(), "node" | "latest" | "current" | "stable") {
        return Ok(true);
    }
    if let Some(lts) = lower.strip_prefix("lts/") {
        const CODENAMES: [(&str, u64); 11] = [
            ("argon", 4),
            ("boron", 6),
            ("carbon", 8),
            ("dubnium", 10),
            ("erbium", 12),
            ("fermium", 14),
            ("gallium", 16),
            ("hydrogen", 18),
            ("iron", 20),
            ("jod", 22),
            ("krypton", 24),
        ];
        if lts == "*" || lts.starts_with('-') {
            return Ok(version.major() >= 4 && version.major().is_multiple_of(2));
        }
        return match CODENAMES.iter().find(|(name, _)| *name == lts) {
            Some((_, major)) => Ok(version.major() == *major),
            None => Err(format!(
                "`{spec}` is not a known Node.js LTS line: use `lts/*` or a major version such as `22`"
            )),
        };
    }
    matches(spec, version)
}

/// The `major.minor` a Python spec names, for looking up `python3.12`.
pub(crate) fn python_minor(spec: &str) -> Option<String> {
    let mut pieces = spec.trim().split('.');
    let major: u64 = pieces.next()?.parse().ok()?;
    let minor_text = pieces.next()?;
    let end = minor_text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(minor_text.len());
    let minor: u64 = minor_text[..end].parse().ok()?;
    Some(format!("{major}.{minor}"))
}

/// Java versions: `1.8` means 8.
pub(crate) fn java_spec(spec: &str) -> String {
    let spec = spec.trim();
    match spec.strip_prefix("1.") {
        Some(rest)
            if rest.starts_with(|c: char| c.is_ascii_digit())
                && !spec.contains(['<', '>', '^', '~']) =>
        {
            rest.to_string()
        }
        _ => spec.to_string(),
    }
}

/// Parses Java's version string (`17.0.10`, `1.8.0_392`, `21`, `25-ea`).
pub(crate) fn java_version(text: &str) -> Option<Version> {
    let text = text.trim();
    match text.strip_prefix("1.") {
        Some(rest) => {
            let rest = rest.replacen('_', ".", 1);
            Version::parse(&rest)
        }
        None => Version::parse(text),
    }
}

/// .NET SDK specs: `8.0.x`, `8.x`, `8`, `8.0`, `8.0.1xx` (a feature band),
/// `8.0.100`.
pub(crate) fn dotnet_matches(spec: &str, version: &Version) -> Result<bool, String> {
    let spec = spec.trim();
    let pieces: Vec<&str> = spec.split('.').collect();
    if pieces.len() == 3
        && let Some(band) = pieces[2].strip_suffix("xx")
        && band.len() == 1
    {
        let major: u64 = pieces[0].parse().map_err(|_| bad_spec(spec))?;
        let minor: u64 = pieces[1].parse().map_err(|_| bad_spec(spec))?;
        let band: u64 = band.parse().map_err(|_| bad_spec(spec))?;
        return Ok(version.parts[0] == major
            && version.parts[1] == minor
            && version.parts[2] / 100 == band);
    }
    matches(spec, version)
}

/// A Rust toolchain request (`stable`, `1.95`, `nightly`,
/// `nightly-2025-01-01`, with or without a host triple) against an
/// installed toolchain: its release (`1.95.0`, `1.97.0-nightly`) and, when
/// known, rustup's name for it (`nightly-2025-01-01-x86_64-unknown-linux-gnu`).
pub(crate) fn rust_matches(request: &str, release: &str, name: Option<&str>) -> bool {
    let request = strip_host(request.trim());
    let channel = if release.contains("-nightly") {
        "nightly"
    } else if release.contains("-beta") {
        "beta"
    } else {
        "stable"
    };
    let name = name.map(strip_host);
    match request {
        "stable" | "beta" | "nightly" => channel == request,
        _ if request.starts_with("nightly-")
            || request.starts_with("beta-")
            || request.starts_with("stable-") =>
        {
            name.is_some_and(|name| name == request)
        }
        _ => {
            let Some(version) = Version::parse(release) else {
                return false;
            };
            let Ok(parts) = parse_partial(request, request) else {
                return false;
            };
            channel == "stable"
                && !parts.is_empty()
                && in_range(&version.parts, pad(&parts), bump(&parts))
        }
    }
}

/// `stable-x86_64-unknown-linux-gnu` → `stable`; `1.95.0-aarch64-apple-darwin` → `1.95.0`.
pub(crate) fn strip_host(name: &str) -> &str {
    const ARCHES: [&str; 12] = [
        "x86_64",
        "aarch64",
        "i686",
        "i586",
        "armv7",
        "arm",
        "riscv64gc",
        "powerpc64le",
        "s390x",
        "loongarch64",
        "powerpc64",
        "mips64",
    ];
    for (index, _) in name.match_indices('-') {
        let rest = &name[index + 1..];
        if ARCHES
            .iter()
            .any(|arch| rest.starts_with(&format!("{arch}-")))
        {
            return &name[..index];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn parses_versions_as_tools_print_them() {
        assert_eq!(v("v20.20.2").parts, [20, 20, 2]);
        assert_eq!(v("go1.22.1").parts, [1, 22, 1]);
        assert_eq!(v("1.20").parts, [1, 20, 0]);
        assert!(v("3.13.0rc1").pre);
        assert!(v("1.97.0-nightly").pre);
        assert!(!v("17.0.2+8").pre);
        assert_eq!(Version::parse("abc"), None);
    }

    #[test]
    fn version_matching_table() {
        let table: &[(&str, &str, bool)] = &[
            ("18", "18.19.0", true),
            ("18", "20.1.0", false),
            ("v18", "18.0.0", true),
            ("18.2", "18.2.7", true),
            ("18.2", "18.3.0", false),
            ("18.x", "18.9.9", true),
            ("3.x", "3.11.7", true),
            ("3.x", "2.7.18", false),
            ("3.12.1", "3.12.1", true),
            ("3.12.1", "3.12.2", false),
            (">=3.10", "3.11.7", true),
            (">=3.10", "3.9.18", false),
            (">= 3.8, <3.12", "3.11.7", true),
            (">=3.8 <3.11", "3.11.7", false),
            (">3.10", "3.10.9", false),
            (">3.10", "3.11.0", true),
            ("<=3.11", "3.11.9", true),
            ("<3.11", "3.11.0", false),
            ("^1.21", "1.22.1", true),
            ("^1.21", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("~1.21.0", "1.21.5", true),
            ("~1.21.0", "1.22.0", false),
            ("~=3.8", "3.12.0", true),
            ("~=3.8.1", "3.9.0", false),
            ("!=3.9", "3.9.1", false),
            ("16 || 18", "18.1.0", true),
            ("16 || 18", "20.1.0", false),
            ("1.20 - 1.22", "1.22.5", true),
            ("1.20 - 1.22", "1.23.0", false),
            ("*", "9.9.9", true),
            ("3.13-dev", "3.13.0", true),
        ];
        for (spec, version, expected) in table {
            assert_eq!(
                matches(spec, &v(version)).unwrap(),
                *expected,
                "{spec} vs {version}"
            );
        }
        assert!(matches("banana", &v("1.0.0")).is_err());
        assert!(matches(">=", &v("1.0.0")).is_err());
    }

    #[test]
    fn node_aliases() {
        assert!(node_matches("lts/*", &v("v20.20.2")).unwrap());
        assert!(!node_matches("lts/*", &v("v21.0.0")).unwrap());
        assert!(node_matches("lts/iron", &v("v20.1.0")).unwrap());
        assert!(!node_matches("lts/hydrogen", &v("v20.1.0")).unwrap());
        assert!(node_matches("latest", &v("v23.0.0")).unwrap());
        assert!(node_matches("node", &v("v23.0.0")).unwrap());
        assert!(node_matches("lts/banana", &v("v20.0.0")).is_err());
    }

    #[test]
    fn python_minor_for_binary_names() {
        assert_eq!(python_minor("3.12").as_deref(), Some("3.12"));
        assert_eq!(python_minor("3.13t").as_deref(), Some("3.13"));
        assert_eq!(python_minor("3.x"), None);
        assert_eq!(python_minor(">=3.10"), None);
    }

    #[test]
    fn java_versions() {
        assert_eq!(java_version("1.8.0_392").unwrap().parts, [8, 0, 392]);
        assert_eq!(java_version("17.0.10").unwrap().parts, [17, 0, 10]);
        assert_eq!(java_version("21").unwrap().parts, [21, 0, 0]);
        assert_eq!(java_spec("1.8"), "8");
        assert!(matches(&java_spec("1.8"), &java_version("1.8.0_392").unwrap()).unwrap());
        assert!(matches(&java_spec("17"), &java_version("17.0.10").unwrap()).unwrap());
        assert!(!matches(&java_spec("21"), &java_version("17.0.10").unwrap()).unwrap());
    }

    #[test]
    fn dotnet_feature_bands() {
        assert!(dotnet_matches("8.0.1xx", &v("8.0.105")).unwrap());
        assert!(!dotnet_matches("8.0.1xx", &v("8.0.204")).unwrap());
        assert!(dotnet_matches("8.0.x", &v("8.0.204")).unwrap());
        assert!(dotnet_matches("8", &v("8.0.204")).unwrap());
        assert!(!dotnet_matches("6.0", &v("8.0.204")).unwrap());
    }

    #[test]
    fn rust_toolchains() {
        assert!(rust_matches("stable", "1.95.0", None));
        assert!(!rust_matches("stable", "1.97.0-nightly", None));
        assert!(rust_matches("nightly", "1.97.0-nightly", None));
        assert!(!rust_matches("nightly", "1.95.0", None));
        assert!(rust_matches("1.95", "1.95.0", None));
        assert!(rust_matches("1.95.0", "1.95.0", None));
        assert!(!rust_matches("1.94", "1.95.0", None));
        assert!(rust_matches(
            "stable-x86_64-unknown-linux-gnu",
            "1.95.0",
            None
        ));
        assert!(rust_matches(
            "nightly-2025-01-01",
            "1.86.0-nightly",
            Some("nightly-2025-01-01-x86_64-unknown-linux-gnu")
        ));
        assert!(!rust_matches(
            "nightly-2025-01-01",
            "1.86.0-nightly",
            Some("nightly-x86_64-unknown-linux-gnu")
        ));
        assert_eq!(strip_host("1.95.0-x86_64-unknown-linux-gnu"), "1.95.0");
        assert_eq!(
            strip_host("nightly-2025-01-01-aarch64-apple-darwin"),
            "nightly-2025-01-01"
        );
    }
}
