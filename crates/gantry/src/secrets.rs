//! Secrets for a local run: `--secret NAME=VALUE`, `--secret NAME` (from the
//! environment), `--secret-file` (dotenv) and `GANTRY_SECRET_<NAME>`
//! variables; and warnings for secrets a workflow reads but nobody gave.

use gantry_syntax::ast::{SValue, Workflow};
use indexmap::IndexMap;
use serde_json::Value;

use crate::UserError;

/// Parses a dotenv file: `NAME=VALUE`, optional `export `, `#` comments,
/// single or double quotes (double quotes understand `\n`).
pub fn parse_dotenv(text: &str, file: &str) -> Result<Vec<(String, String)>, UserError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(UserError(format!(
                "{file}:{}: expected NAME=VALUE",
                idx + 1
            )));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UserError(format!(
                "{file}:{}: `{name}` is not a valid secret name (letters, digits, _)",
                idx + 1
            )));
        }
        let value = value.trim();
        let value = if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            value[1..value.len() - 1]
                .replace("\\n", "\n")
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
            value[1..value.len() - 1].to_string()
        } else {
            value
                .split(" #")
                .next()
                .unwrap_or(value)
                .trim_end()
                .to_string()
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// Gathers the secrets of a run; later sources override earlier ones.
pub fn gather(
    flags: &[String],
    files: &[std::path::PathBuf],
) -> Result<IndexMap<String, String>, UserError> {
    let mut secrets = IndexMap::new();
    for (key, value) in std::env::vars() {
        if let Some(name) = key.strip_prefix("GANTRY_SECRET_")
            && !name.is_empty()
        {
            secrets.insert(name.to_string(), value);
        }
    }
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| UserError(format!("cannot read secret file `{}`: {e}", file.display())))?;
        secrets.extend(parse_dotenv(&text, &file.display().to_string())?);
    }
    for flag in flags {
        match flag.split_once('=') {
            Some((name, value)) => {
                let name = name.trim();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    // Never echo the flag: its value is a secret.
                    return Err(UserError(format!(
                        "--secret: `{name}` is not a valid secret name (letters, digits, _): it must look like NAME=VALUE"
                    )));
                }
                secrets.insert(name.to_string(), value.to_string());
            }
            None => {
                let name = flag.trim();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    // Not a name, so maybe a value given without `NAME=`: do not echo it.
                    return Err(UserError(
                        "--secret takes NAME=VALUE, or NAME to read the variable NAME from the environment (letters, digits, _)".into(),
                    ));
                }
                let value = std::env::var(name).map_err(|_| {
                    UserError(format!("--secret {name}: the environment has no `{name}`; pass --secret {name}=VALUE"))
                })?;
                secrets.insert(name.to_string(), value);
            }
        }
    }
    Ok(secrets)
}

/// Every `secrets.NAME` a workflow reads that is not given, with where.
pub fn missing(workflow: &Workflow, source: &str, given: &IndexMap<String, String>) -> Vec<String> {
    let mut found: IndexMap<String, (u32, u32)> = IndexMap::new();
    let mut visit = |value: &SValue| {
        let mut texts = Vec::new();
        strings(&value.value, &mut texts);
        for text in texts {
            let lower = text.to_ascii_lowercase();
            let mut at = 0;
            while let Some(i) = lower[at..].find("secrets.") {
                let start = at + i + "secrets.".len();
                let name: String = text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                at = start;
                if !name.is_empty()
                    && name != "GITHUB_TOKEN"
                    && !given.keys().any(|k| k.eq_ignore_ascii_case(&name))
                {
                    let at = locate(source, value.span.start, &format!("secrets.{name}"))
                        .unwrap_or((value.span.start.line, value.span.start.col));
                    found.entry(name).or_insert(at);
                }
            }
        }
    };
    for (_, v) in workflow.env.values() {
        visit(v);
    }
    for (_, job) in workflow.jobs.values() {
        for (_, v) in job.env.values().chain(job.with.values()) {
            visit(v);
        }
        if let Some(gantry_syntax::ast::CallSecrets::Map(map)) = &job.secrets {
            for (_, v) in map.values() {
                visit(v);
            }
        }
        for step in &job.steps {
            for (_, v) in step.env.values().chain(step.with.values()) {
                visit(v);
            }
            if let Some(run) = &step.run {
                visit(&SValue {
                    value: Value::String(run.value.clone()),
                    span: run.span,
                });
            }
            if let Some(cond) = &step.if_ {
                visit(cond);
            }
        }
    }
    found
        .into_iter()
        .map(|(name, (line, col))| {
            format!(
                "{}:{line}:{col}: secret `{name}` is not set, so it reads as an empty string: pass --secret {name}=VALUE, --secret-file FILE or set GANTRY_SECRET_{name}",
                workflow.file
            )
        })
        .collect()
}

/// Where `needle` (ASCII, any case) is first written at or after `from`:
/// the exact line and column of a reference inside a longer value, e.g. a
/// multi-line `run:` block.
fn locate(source: &str, from: gantry_syntax::Pos, needle: &str) -> Option<(u32, u32)> {
    if from.line == 0 || from.offset > source.len() || !source.is_char_boundary(from.offset) {
        return None;
    }
    let rest = &source[from.offset..];
    let lower = rest.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let index = lower.match_indices(&needle).map(|(i, _)| i).find(|&i| {
        !lower
            .as_bytes()
            .get(i + needle.len())
            .copied()
            .is_some_and(is_name)
    })?;
    let before = &rest[..index];
    let lines = before.matches('\n').count() as u32;
    let col = match before.rfind('\n') {
        Some(nl) => before[nl + 1..].chars().count() as u32 + 1,
        None => from.col + before.chars().count() as u32,
    };
    Some((from.line + lines, col))
}

fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv() {
        let parsed = parse_dotenv(
            "# c\nA=1\nexport B = two \nC=\"x\\ny\"\nD='q # r'\nE=v # note\n",
            "f",
        )
        .unwrap_or_default();
        assert_eq!(
            parsed,
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two".to_string()),
                ("C".to_string(), "x\ny".to_string()),
                ("D".to_string(), "q # r".to_string()),
                ("E".to_string(), "v".to_string()),
            ]
        );
        assert!(parse_dotenv("nope\n", "f").is_err());
        assert!(parse_dotenv("A-B=1\n", "f").is_err());
    }
}
