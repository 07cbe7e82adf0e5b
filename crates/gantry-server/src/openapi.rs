//! `/api/openapi.json`: the OpenAPI 3.1 document of the JSON API, written by hand in
//! `crates/gantry-server/openapi.json` and served as is, without authentication.
//!
//! The document must describe every `/api/` route the router has: the test below reads the
//! `.route(…)` calls of this crate's sources and compares their paths and methods with the
//! document's, both ways.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as written.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// `GET /api/openapi.json`.
pub async fn document() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The methods axum's routing functions stand for.
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    /// `(path, method)` of every `.route("/api/…", …)` in `source`; the catch-all (`{*rest}`) is
    /// left out, and so is `any(…)` (it answers every method the same way).
    fn routes_in(source: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut rest = source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a `.route(` call is closed");
            let arguments = &rest[..end];
            let Some(open) = arguments.find('"') else {
                continue;
            };
            let close = arguments[open + 1..].find('"').expect("a closed string") + open + 1;
            let path = &arguments[open + 1..close];
            if !path.starts_with("/api/") || path.contains("{*") {
                continue;
            }
            // The handler chain: `get(a).post(b)`; only names at depth 0 are methods.
            let chain = &arguments[close + 1..];
            let mut depth = 0;
            let mut word = String::new();
            for c in chain.chars() {
                match c {
                    '(' => {
                        if depth == 0 && METHODS.contains(&word.as_str()) {
                            found.push((path.to_string(), word.clone()));
                        }
                        depth += 1;
                        word.clear();
                    }
                    ')' => {
                        depth -= 1;
                        word.clear();
                    }
                    c if c.is_alphanumeric() || c == '_' => word.push(c),
                    _ => word.clear(),
                }
            }
        }
        found
    }

    fn router_routes() -> BTreeSet<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                // This file's tests quote `.route(` in examples; only real calls count.
                let source = source.split("#[cfg(test)]").next().unwrap();
                all.extend(routes_in(source));
            }
        }
        all
    }

    fn documented_routes() -> BTreeSet<(String, String)> {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut all = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if METHODS.contains(&method.as_str()) {
                    all.insert((path.clone(), method.clone()));
                }
            }
        }
        all
    }

    #[test]
    fn route_calls_are_read_with_their_methods() {
        let source = r#"
            .route("/api/v1/a", get(list).post(create))
            .route(
                "/api/v1/a/{id}",
                get(one)
                    .put(replace)
                    .delete(remove),
            )
            .route("/api/{*rest}", any(not_found))
            .route("/page", get(page))
            .route("/api/v1/b", patch(with_args(get_thing(1))))
        "#;
        let found: Vec<String> = routes_in(source)
            .into_iter()
            .map(|(path, method)| format!("{method} {path}"))
            .collect();
        assert_eq!(
            found,
            [
                "get /api/v1/a",
                "post /api/v1/a",
                "get /api/v1/a/{id}",
                "put /api/v1/a/{id}",
                "delete /api/v1/a/{id}",
                "patch /api/v1/b",
            ]
        );
    }

    #[test]
    fn every_api_route_is_documented_and_nothing_else() {
        let routes = router_routes();
        assert!(
            routes.contains(&("/api/v1/repositories".into(), "get".into())),
            "the route scan found nothing: {routes:?}"
        );
        let documented = documented_routes();
        let missing: Vec<_> = routes.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routes).collect();
        assert!(
            missing.is_empty(),
            "routes missing from openapi.json (document them): {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "openapi.json documents routes the router lacks: {extra:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_error_shape_and_bearer_auth() {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let error = &document["components"]["schemas"]["Error"]["properties"]["error"];
        assert_eq!(error["required"], serde_json::json!(["code", "message"]));
        // Every reference points at something the document defines.
        let mut references = Vec::new();
        collect_references(&document, &mut references);
        assert!(references.len() > 20);
        for reference in references {
            let pointer = reference.strip_prefix('#').unwrap();
            assert!(
                document.pointer(pointer).is_some(),
                "{reference} is not defined"
            );
        }
        // Every path parameter is declared by each of its operations.
        for (path, item) in document["paths"].as_object().unwrap() {
            let names: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|part| part.split('}').next())
                .collect();
            for (method, operation) in item.as_object().unwrap() {
                let declared: BTreeSet<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| resolve(&document, p))
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                assert_eq!(declared, names, "{method} {path}");
            }
        }
    }

    fn resolve<'a>(
        document: &'a serde_json::Value,
        value: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        match value["$ref"].as_str() {
            Some(reference) => document
                .pointer(reference.strip_prefix('#').unwrap())
                .unwrap(),
            None => value,
        }
    }

    fn collect_references(value: &serde_json::Value, into: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value.as_str()) {
                        ("$ref", Some(reference)) => into.push(reference.to_string()),
                        _ => collect_references(value, into),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|item| collect_references(item, into))
            }
            _ => {}
        }
    }

    #[tokio::test]
    async fn the_document_is_served_without_authentication() {
        let response = document().await.into_response();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
