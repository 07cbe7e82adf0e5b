//! Typed inputs of `workflow_dispatch` and `workflow_call`.

use gantry_syntax::ast::{InputDef, InputType, SMap};
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// Who passes the inputs: decides what an error tells the user to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource<'a> {
    /// `workflow_dispatch`: the command line's `--input`.
    Dispatch,
    /// `workflow_call`: the `with:` of the calling job (its id).
    Call(&'a str),
}

/// Types the given inputs against their definitions, applies defaults and
/// checks required ones. Every problem is reported, each saying what to do.
pub fn resolve(
    defs: &SMap<InputDef>,
    given: &IndexMap<String, Value>,
    source: InputSource<'_>,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    for name in given.keys() {
        if !defs.contains_key(name) {
            let known: Vec<&str> = defs.keys().map(String::as_str).collect();
            errors.push(if known.is_empty() {
                format!("unknown input `{name}`: the workflow declares no inputs")
            } else {
                format!("unknown input `{name}` (declared: {})", known.join(", "))
            });
        }
    }
    for (name, (_, def)) in defs {
        let value = match given.get(name) {
            Some(value) => value.clone(),
            None => {
                match &def.default {
                    Some(default) => default.value.clone(),
                    None if def.required => {
                        errors.push(match source {
                        InputSource::Dispatch => {
                            format!("input `{name}` is required: pass it with --input {name}=VALUE")
                        }
                        InputSource::Call(job) => {
                            format!("input `{name}` is required: pass it under `with:` in job `{job}`")
                        }
                    });
                        continue;
                    }
                    None => match def.kind {
                        InputType::Boolean => Value::Bool(false),
                        InputType::Number => Value::String(String::new()),
                        _ => Value::String(String::new()),
                    },
                }
            }
        };
        match typed(name, def, value) {
            Ok(value) => {
                out.insert(name.clone(), value);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn typed(name: &str, def: &InputDef, value: Value) -> Result<Value, String> {
    match def.kind {
        InputType::Boolean => match &value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(format!(
                "input `{name}` is a boolean: give `true` or `false`, not `{}`",
                gantry_expr::to_string(other)
            )),
        },
        InputType::Number => match &value {
            Value::Number(_) => Ok(value),
            Value::String(s) if s.is_empty() => Ok(value),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| normalise_number(n.as_f64().unwrap_or(0.0)))
                .ok_or_else(|| format!("input `{name}` is a number: `{s}` is not one")),
            other => Err(format!(
                "input `{name}` is a number: `{}` is not one",
                gantry_expr::to_string(other)
            )),
        },
        InputType::Choice => {
            let text = gantry_expr::to_string(&value);
            if def.options.iter().any(|o| o.value == text) {
                Ok(Value::String(text))
            } else {
                let options: Vec<&str> = def.options.iter().map(|o| o.value.as_str()).collect();
                Err(format!(
                    "input `{name}` must be one of: {} (got `{text}`)",
                    options.join(", ")
                ))
            }
        }
        InputType::String | InputType::Environment => Ok(match value {
            Value::String(_) => value,
            other => Value::String(gantry_expr::to_string(&other)),
        }),
    }
}

fn normalise_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}
