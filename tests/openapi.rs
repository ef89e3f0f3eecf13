//! The OpenAPI document: committed, served and generated are one; it describes
//! exactly the routes the server has.

use std::collections::HashSet;
use std::path::PathBuf;

use ordercrm_tests::{Engine, TestApp};
use reqwest::Method;
use serde_json::Value;

fn committed() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_default()
}

fn generated() -> String {
    ordercrm_api::openapi::to_json(&ordercrm_api::openapi())
}

#[test]
fn committed_document_matches_the_code() {
    assert!(
        committed() == generated(),
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[tokio::test]
async fn served_document_is_the_committed_one() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), generated());
    app.stop().await;
}

/// A documented path with its parameters filled: ids with `id`, other names as text.
pub fn concrete_path(template: &str, id: &str) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name == "id" || name.ends_with("_id") => id.to_owned(),
                Some(name) => name.to_owned(),
                None => seg.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A `$ref` to a component the document lacks breaks every client generator and
/// fuzzer (a path parameter's type is not collected as a component by itself).
#[test]
fn every_reference_resolves() {
    fn walk(v: &Value, doc: &Value, dangling: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let target = r
                        .trim_start_matches("#/")
                        .split('/')
                        .fold(doc, |node, part| &node[part]);
                    if target.is_null() {
                        dangling.push(r.clone());
                    }
                }
                map.values().for_each(|v| walk(v, doc, dangling));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, dangling)),
            _ => {}
        }
    }
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let mut dangling = Vec::new();
    walk(&doc, &doc, &mut dangling);
    dangling.sort();
    dangling.dedup();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[test]
fn document_is_complete_and_consistent() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], "1");
    let description = doc["info"]["description"].as_str().unwrap();
    for p in ordercrm_kernel::error::problems::ALL {
        assert!(
            description.contains(&p.type_uri()),
            "problem type {} undocumented",
            p.slug
        );
    }
    let mut ids = HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(
                id.chars().next().unwrap().is_ascii_lowercase()
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{id} is not verbNoun"
            );
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id}: no tag"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{id} {status}: response without description"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]
                            .get("application/problem+json")
                            .is_some(),
                        "{id} {status}: error without problem+json"
                    );
                }
            }
            assert!(op["responses"].get("500").is_some(), "{id}: no 500");
            // Every POST a caller authenticates for takes a key; anonymous ones keep nothing.
            let anonymous = op["security"].as_array().is_some_and(|reqs| {
                reqs.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if method == "post" && !anonymous {
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params.iter().any(|p| p["name"] == "Idempotency-Key"),
                    "{id}: no Idempotency-Key"
                );
            }
        }
    }
    assert!(ids.contains("listSettings") && ids.contains("createSetting"));

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["userToken"]["scheme"], "bearer");
    assert_eq!(schemes["userToken"]["bearerFormat"], "JWT");
    assert_eq!(schemes["apiKey"]["scheme"], "bearer");
    assert!(
        description.contains("### Permissions") && description.contains("| `settings.write` |")
    );
    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/scalar.js",
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/v1/auth/logout",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security requirement"));
            let open = security
                .iter()
                .all(|s| s.as_object().is_some_and(|o| o.is_empty()));
            assert_eq!(
                open,
                public.contains(&path.as_str()),
                "{method} {path}: security {security:?}"
            );
            if !open {
                assert!(
                    op["responses"].get("401").is_some() && op["responses"].get("403").is_some(),
                    "{method} {path}"
                );
            }
        }
    }
}

/// Every documented operation reaches a handler (never the router's 404/405).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = concrete_path(path, "00000000-0000-0000-0000-000000000000");
        for method in METHODS {
            if item.get(method).is_none() {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = app.request(m, &concrete);
            if method == "post" || method == "patch" {
                req = req.json(&serde_json::json!({}));
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            if status == 404 {
                let body: Value = res.json().await.unwrap();
                assert!(
                    !body["detail"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("no resource at"),
                    "{method} {path} is documented but not routed"
                );
            }
        }
    }
    app.stop().await;
}

/// The reverse: every route the api crate registers is documented. Routes come only
/// from `#[get]`/`#[post]`/... handlers listed once in `route_table!`, which registers
/// that list with utoipa-actix-web (documenting it) and, for the workers, with plain
/// actix-web; a handler without `#[utoipa::path]`, or a route added with
/// `.route()`/`web::resource()`/`web::scope()` anywhere else, would be undocumented,
/// so neither may exist.
#[test]
fn no_undocumented_routes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/api/src");
    let mut files = vec![dir];
    let mut handlers = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // The route table's plain registration mirrors its documented one, from the
        // same list: the only `web::scope(` allowed.
        let text = match text.split_once("macro_rules! route_table") {
            Some((before, after)) => {
                let end = after.find("\n}\n").expect("end of route_table!");
                format!("{before}{}", &after[end..])
            }
            None => text,
        };
        for forbidden in [".route(", "web::resource(", "web::scope(", "Resource::new("] {
            assert!(
                !text.contains(forbidden),
                "{}: routes via {forbidden} bypass the OpenAPI document",
                path.display()
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            if METHODS.iter().any(|m| t.starts_with(&format!("#[{m}(\""))) {
                handlers += 1;
                let before = lines[..i].iter().rev().take_while(|l| {
                    !l.trim().is_empty() && !l.trim_start().starts_with("pub async fn")
                });
                let documented = before
                    .clone()
                    .any(|l| l.trim_start().starts_with("#[utoipa::path("));
                assert!(
                    documented,
                    "{}:{}: handler without #[utoipa::path]",
                    path.display(),
                    i + 1
                );
                // ...and the handler's path is in the document.
                let route = t.split('"').nth(1).unwrap();
                let doc = generated();
                assert!(
                    doc.contains(&format!("\"{route}\""))
                        || doc.contains(&format!("\"/v1{route}\"")),
                    "{route} not in document"
                );
            }
        }
    }
    assert!(
        handlers >= 9,
        "found only {handlers} handlers: is the scan still looking at the right files?"
    );
}
