//! Every status (and problem type) the black-box suite saw an operation answer with is one the OpenAPI
//! document lists for it. The suite's servers record what they answered
//! (`statuses_seen`); this runs after it (`make test` runs it last, explicitly) and
//! compares. Run alone, with nothing recorded, it has nothing to check and says so,
//! unless `ORDERCRM_STATUS_COVERAGE=required`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};

use ordercrm_tests::statuses_seen;
use serde_json::Value;

#[test]
fn every_status_seen_is_documented() {
    let required = std::env::var("ORDERCRM_STATUS_COVERAGE").is_ok_and(|v| v == "required");
    let dir = statuses_seen::dir();
    let mut seen: BTreeSet<(String, String, String, u16, String)> = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            for line in text.lines() {
                let mut f = line.split('\t');
                let (Some(engine), Some(method), Some(route), Some(status)) =
                    (f.next(), f.next(), f.next(), f.next())
                else {
                    continue;
                };
                seen.insert((
                    engine.to_owned(),
                    method.to_owned(),
                    route.to_owned(),
                    status.parse().unwrap(),
                    f.next().unwrap_or("-").to_owned(),
                ));
            }
        }
    }
    if seen.is_empty() {
        assert!(
            !required,
            "no statuses recorded in {}: the black-box suite must run first",
            dir.display()
        );
        println!(
            "!!! status coverage: nothing recorded in {} yet (the black-box suite runs first; make test runs this after it)",
            dir.display()
        );
        return;
    }

    let doc = serde_json::to_value(ordercrm_api::openapi()).unwrap();
    let mut undocumented = Vec::new();
    // Per engine: the operations seen, and how many (operation, status) pairs.
    type Seen<'a> = (
        BTreeSet<(&'a str, &'a str)>,
        BTreeSet<(&'a str, &'a str, u16)>,
    );
    let mut per_engine: BTreeMap<&str, Seen> = BTreeMap::new();
    for (engine, method, route, status, problem) in &seen {
        let op = &doc["paths"][route][method.to_ascii_lowercase()];
        let entry = per_engine.entry(engine).or_default();
        if !op.is_null() {
            entry.0.insert((method, route));
            entry.1.insert((method, route, *status));
        }
        if op.is_null() {
            // A method the path does not have: the router's 405 (or a CORS preflight).
            if *status != 405 && method != "OPTIONS" && method != "HEAD" {
                undocumented.push(format!(
                    "{engine}: {method} {route} is not in the document but answered {status}"
                ));
            }
            continue;
        }
        let responses = op["responses"].as_object().unwrap();
        let class = format!("{}XX", status / 100);
        let Some(documented) = [status.to_string(), class, "default".to_owned()]
            .iter()
            .find_map(|key| responses.get(key))
        else {
            undocumented.push(format!(
                "{engine}: {method} {route} answered {status}; documented: {}",
                responses.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        // The problem type too: a client switches on `type`, so the document names
        // every one an answer can carry.
        let description = documented["description"].as_str().unwrap_or_default();
        if problem.starts_with("/problems/") && !description.contains(&format!("`{problem}`")) {
            undocumented.push(format!(
                "{engine}: {method} {route} answered {status} {problem}; documented: {description}"
            ));
        }
    }

    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| item.get(**m).is_some_and(Value::is_object))
                .count()
        })
        .sum();
    for (engine, (ops, pairs)) in &per_engine {
        println!(
            "status coverage ({engine}): {} (operation, status) pairs over {} of {operations} operations",
            pairs.len(),
            ops.len()
        );
    }
    let pg_required = std::env::var("ORDERCRM_REQUIRE_PG").is_ok_and(|v| v == "1")
        || std::env::var("DATABASE_URL_PG").is_ok();
    if required && pg_required {
        assert!(
            per_engine.contains_key("postgres"),
            "PostgreSQL is required but no PostgreSQL test recorded a status"
        );
    }
    assert!(
        undocumented.is_empty(),
        "statuses the OpenAPI document does not list:\n{}",
        undocumented.join("\n")
    );
}
