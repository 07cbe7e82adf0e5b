//! Evaluating `${{ }}` templates inside JSON trees (matrix, `with`, `env`).

use gantry_expr::{Context, EvalError};
use serde_json::Value;

/// Evaluates every string in the tree as a template. A string that is one
/// whole `${{ expr }}` takes the expression's type (so a matrix axis can be
/// `${{ fromJSON(...) }}`); other strings stay strings. Keys are templates too.
pub fn evaluate_value(value: &Value, ctx: &dyn Context) -> Result<Value, EvalError> {
    Ok(match value {
        Value::String(s) => {
            if !s.contains("${{") {
                return Ok(value.clone());
            }
            let template =
                gantry_expr::parse_template(s).map_err(|e| EvalError { message: e.message })?;
            template.evaluate(ctx)?
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| evaluate_value(v, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                let key = if k.contains("${{") {
                    let template = gantry_expr::parse_template(k)
                        .map_err(|e| EvalError { message: e.message })?;
                    template.evaluate_to_string(ctx)?
                } else {
                    k.clone()
                };
                out.insert(key, evaluate_value(v, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}
