//! Matrix expansion with GitHub's `include` / `exclude` rules.
//!
//! Axes multiply in the order they are written (the first axis varies
//! slowest). An `exclude` entry removes every combination it partially
//! matches. An `include` entry is merged into every combination whose
//! original axis values it does not contradict; added (non-axis) values may
//! be overwritten by later entries. An entry that fits no combination
//! becomes a combination of its own.

use indexmap::IndexMap;
use serde_json::{Map, Value};

/// GitHub's limit on the number of jobs one matrix may generate.
pub const MAX_COMBINATIONS: usize = 256;

/// One job's matrix values.
pub type Combination = IndexMap<String, Value>;

/// Expands an evaluated matrix object. The error says what is wrong.
pub fn expand(matrix: &Value) -> Result<Vec<Combination>, String> {
    let Value::Object(map) = matrix else {
        return Err(format!(
            "a matrix must be a mapping, found {}",
            kind(matrix)
        ));
    };
    let mut axes: Vec<(&str, &Vec<Value>)> = Vec::new();
    let mut include: &[Value] = &[];
    let mut exclude: &[Value] = &[];
    for (key, value) in map {
        match (key.as_str(), value) {
            ("include", Value::Array(items)) => include = items,
            ("exclude", Value::Array(items)) => exclude = items,
            ("include" | "exclude", other) => {
                return Err(format!(
                    "matrix `{key}` must be a list of mappings, found {}",
                    kind(other)
                ));
            }
            (axis, Value::Array(values)) => {
                if values.is_empty() {
                    return Err(format!("matrix axis `{axis}` is an empty list"));
                }
                axes.push((axis, values));
            }
            (axis, other) => {
                return Err(format!(
                    "matrix axis `{axis}` must be a list, found {}",
                    kind(other)
                ));
            }
        }
    }

    let mut combos: Vec<Combination> = Vec::new();
    if !axes.is_empty() {
        let total = axes
            .iter()
            .try_fold(1usize, |acc, (_, values)| acc.checked_mul(values.len()));
        match total {
            Some(total) if total <= MAX_COMBINATIONS * 16 => {}
            _ => return Err(too_many()),
        }
        combos.push(Combination::new());
        for (axis, values) in &axes {
            let mut next = Vec::with_capacity(combos.len() * values.len());
            for combo in &combos {
                for value in values.iter() {
                    let mut extended = combo.clone();
                    extended.insert((*axis).to_string(), value.clone());
                    next.push(extended);
                }
            }
            combos = next;
        }
    }

    for entry in exclude {
        let Value::Object(filter) = entry else {
            return Err(format!(
                "each `exclude` entry must be a mapping, found {}",
                kind(entry)
            ));
        };
        combos.retain(|combo| {
            !filter
                .iter()
                .all(|(key, want)| combo.get(key).is_some_and(|have| partial_eq(have, want)))
        });
    }

    let original_len = combos.len();
    for entry in include {
        let Value::Object(extra) = entry else {
            return Err(format!(
                "each `include` entry must be a mapping, found {}",
                kind(entry)
            ));
        };
        let mut merged_any = false;
        for combo in combos.iter_mut().take(original_len) {
            let fits = extra.iter().all(|(key, value)| {
                let is_axis = axes.iter().any(|(axis, _)| axis == key);
                !is_axis || combo.get(key) == Some(value)
            });
            if fits {
                for (key, value) in extra {
                    combo.insert(key.clone(), value.clone());
                }
                merged_any = true;
            }
        }
        if !merged_any {
            combos.push(extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
    }

    if combos.len() > MAX_COMBINATIONS {
        return Err(too_many());
    }
    Ok(combos)
}

fn too_many() -> String {
    format!(
        "the matrix generates more than {MAX_COMBINATIONS} jobs (GitHub's limit): remove axes or values, or use `exclude`"
    )
}

/// `exclude` matches nested objects partially too.
fn partial_eq(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(have), Value::Object(want)) => want
            .iter()
            .all(|(k, w)| have.get(k).is_some_and(|h| partial_eq(h, w))),
        _ => have == want,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The label GitHub shows for a matrix job: `build (ubuntu, 18)`.
pub fn display_name(base: &str, combo: &Combination) -> String {
    if combo.is_empty() {
        return base.to_string();
    }
    let values: Vec<String> = combo.values().map(label).collect();
    format!("{base} ({})", values.join(", "))
}

fn label(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let inner: Vec<String> = map.values().map(label).collect();
            inner.join(", ")
        }
        other => gantry_expr::to_string(other),
    }
}

/// The combination as a JSON object (the `matrix` context).
pub fn to_context(combo: &Combination) -> Value {
    Value::Object(
        combo
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(matrix: Value) -> Vec<String> {
        expand(&matrix)
            .unwrap()
            .iter()
            .map(|c| serde_json::to_string(&to_context(c)).unwrap())
            .collect()
    }

    #[test]
    fn product_in_written_order() {
        assert_eq!(
            names(json!({"os": ["a", "b"], "v": [1, 2]})),
            [
                r#"{"os":"a","v":1}"#,
                r#"{"os":"a","v":2}"#,
                r#"{"os":"b","v":1}"#,
                r#"{"os":"b","v":2}"#
            ]
        );
    }

    #[test]
    fn github_include_example() {
        // The example from GitHub's documentation of `include`.
        let matrix = json!({
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"}
            ]
        });
        assert_eq!(
            names(matrix),
            [
                r#"{"fruit":"apple","animal":"cat","color":"pink","shape":"circle"}"#,
                r#"{"fruit":"apple","animal":"dog","color":"green","shape":"circle"}"#,
                r#"{"fruit":"pear","animal":"cat","color":"pink"}"#,
                r#"{"fruit":"pear","animal":"dog","color":"green"}"#,
                r#"{"fruit":"banana"}"#,
                r#"{"fruit":"banana","animal":"cat"}"#,
            ]
        );
    }

    #[test]
    fn exclude_is_partial() {
        let matrix = json!({
            "os": ["macos", "windows"],
            "version": [12, 14, 16],
            "env": ["staging", "production"],
            "exclude": [{"os": "macos", "version": 12, "env": "production"}, {"os": "windows", "version": 16}]
        });
        assert_eq!(expand(&matrix).unwrap().len(), 12 - 1 - 2);
    }

    #[test]
    fn include_only() {
        assert_eq!(
            names(json!({"include": [{"a": 1}, {"a": 2}]})),
            [r#"{"a":1}"#, r#"{"a":2}"#]
        );
    }

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(
            expand(&json!({"os": "linux"})).unwrap_err(),
            "matrix axis `os` must be a list, found a string"
        );
        assert_eq!(
            expand(&json!({"os": []})).unwrap_err(),
            "matrix axis `os` is an empty list"
        );
        assert!(
            expand(&json!({"a": (0..20).collect::<Vec<_>>(), "b": (0..20).collect::<Vec<_>>()}))
                .unwrap_err()
                .contains("256")
        );
        assert_eq!(
            expand(&json!({"include": {"a": 1}})).unwrap_err(),
            "matrix `include` must be a list of mappings, found a mapping"
        );
    }

    #[test]
    fn display_names() {
        let combos = expand(&json!({"os": ["ubuntu"], "node": [18]})).unwrap();
        assert_eq!(display_name("build", &combos[0]), "build (ubuntu, 18)");
        assert_eq!(display_name("build", &Combination::new()), "build");
    }
}
