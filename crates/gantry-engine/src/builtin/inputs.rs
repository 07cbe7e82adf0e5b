//! Reading the `with:` inputs of a built-in action: names are
//! case-insensitive, values trimmed, lists one item a line.

use indexmap::IndexMap;

/// An input's value, trimmed; `None` when absent or empty. Input names are
/// case-insensitive, as on GitHub.
pub(crate) fn input<'a>(inputs: &'a IndexMap<String, String>, name: &str) -> Option<&'a str> {
    inputs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A required input.
pub(crate) fn required<'a>(
    inputs: &'a IndexMap<String, String>,
    name: &str,
    action: &str,
) -> Result<&'a str, String> {
    input(inputs, name)
        .ok_or_else(|| format!("input `{name}` is required by `{action}`: add it under `with:`"))
}

/// A `true`/`false` input.
pub(crate) fn bool_input(
    inputs: &IndexMap<String, String>,
    name: &str,
    default: bool,
) -> Result<bool, String> {
    match input(inputs, name) {
        None => Ok(default),
        Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
        Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
        Some(value) => Err(format!(
            "input `{name}` must be `true` or `false`, not `{value}`: fix it under `with:`"
        )),
    }
}

/// A multi-line input: one item a line, trimmed, empty lines dropped.
pub(crate) fn list_input(inputs: &IndexMap<String, String>, name: &str) -> Vec<String> {
    input(inputs, name).map(split_lines).unwrap_or_default()
}

pub(crate) fn split_lines(value: &str) -> Vec<String> {
    value
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect()
}

/// A comma- or newline-separated input (`components: clippy, rustfmt`).
pub(crate) fn comma_list(inputs: &IndexMap<String, String>, name: &str) -> Vec<String> {
    input(inputs, name)
        .map(|value| {
            value
                .split([',', '\n', ' '])
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Warnings for inputs the real action does not declare (as the runner
/// gives: a typo in `with:` otherwise goes unnoticed).
pub(crate) fn unexpected_inputs(
    inputs: &IndexMap<String, String>,
    known: &[&str],
    action: &str,
) -> Vec<String> {
    inputs
        .keys()
        .filter(|key| !known.iter().any(|k| k.eq_ignore_ascii_case(key)))
        .map(|key| {
            format!(
                "warning: unexpected input `{key}` for `{action}`: valid inputs are {}",
                known.join(", ")
            )
        })
        .collect()
}
