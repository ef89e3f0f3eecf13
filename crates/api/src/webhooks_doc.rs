//! The event catalogue in the OpenAPI document: the top-level `webhooks` map has
//! one entry per event type, with the envelope, its `data` schema, the Standard
//! Webhooks headers and an example, so generated clients get typed payloads.

use ordercrm_kernel::events::Catalogued;
use serde_json::{Map, Value, json};
use utoipa::openapi::path::PathItem;
use utoipa::openapi::{OpenApi, Paths};

/// Every event type the server writes. Each new domain appends its catalogue.
pub fn all_event_types() -> Vec<Catalogued> {
    [
        ordercrm_settings::events::catalogue(),
        ordercrm_settings::rates::events::catalogue(),
        ordercrm_identity::events::catalogue(),
        ordercrm_customer::events::catalogue(),
        ordercrm_inventory::events::catalogue(),
        ordercrm_order::events::catalogue(),
        ordercrm_order::fulfillment::events::catalogue(),
        ordercrm_order::returns::events::catalogue(),
        ordercrm_payment::events::catalogue(),
        ordercrm_webhook::events::catalogue(),
    ]
    .concat()
}

const HEADERS: &[(&str, &str, &str)] = &[
    (
        "webhook-id",
        "The event id (`evt_…`): the same on every retry and for every endpoint; use it to \
         drop duplicates.",
        "evt_01932c4e5a7b7c3d9e2f1a0b4c5d6e7f",
    ),
    (
        "webhook-timestamp",
        "Unix seconds when this attempt was signed; reject old ones to stop replays.",
        "1764322200",
    ),
    (
        "webhook-signature",
        "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` with the endpoint's secret; \
         during a secret rotation two, space separated. Verify with any Standard Webhooks \
         library.",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
];

/// Add the catalogue's schemas and the `webhooks` map to `doc`.
pub fn add(doc: &mut OpenApi) {
    let catalogue = all_event_types();
    let mut schemas = Vec::new();
    for event in &catalogue {
        (event.schemas)(&mut schemas);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    let known = serde_json::to_value(&components.schemas).unwrap_or_default();

    let mut webhooks = Paths::new();
    for event in catalogue {
        let data_ref = json!({"$ref": format!("#/components/schemas/{}", event.schema_name)});
        let mut data = example_of(&known, &data_ref, 0, None);
        if let Some(patch) = event.example {
            match serde_json::from_str(patch) {
                Ok(patch) => merge(&mut data, patch),
                Err(e) => tracing::error!(event = event.name, error = %e, "example is not JSON"),
            }
        }
        let example = json!({
            "id": "evt_01932c4e5a7b7c3d9e2f1a0b4c5d6e7f",
            "type": event.name,
            "created_at": "2026-11-28T09:30:00Z",
            "data": data,
        });
        let parameters: Vec<Value> = HEADERS
            .iter()
            .map(|(name, description, example)| {
                json!({
                    "name": name, "in": "header", "required": true,
                    "description": description,
                    "schema": {"type": "string"}, "example": example,
                })
            })
            .collect();
        let item = json!({
            "post": {
                "operationId": operation_id(event.name),
                "tags": ["webhooks"],
                "summary": event.name,
                "description": event.summary,
                "parameters": parameters,
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["id", "type", "created_at", "data"],
                            "properties": {
                                "id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$",
                                       "description": "Unique per event; also `webhook-id`."},
                                "type": {"type": "string", "enum": [event.name]},
                                "created_at": {"type": "string", "format": "date-time"},
                                "data": data_ref,
                            },
                        },
                        "example": example,
                    }},
                },
                "responses": {
                    "2XX": {"description": "Received. Any other answer, or none within 15 s, is retried."},
                },
            }
        });
        match serde_json::from_value::<PathItem>(item) {
            Ok(item) => {
                webhooks.paths.insert(event.name.to_owned(), item);
            }
            Err(e) => tracing::error!(event = event.name, error = %e, "webhook entry does not fit"),
        }
    }
    doc.webhooks = Some(webhooks);
}

/// JSON merge patch (RFC 7386): objects merge, anything else replaces.
fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(into), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, patch) => *into = patch,
    }
}

/// `stock_level.low` → `stockLevelLow`.
fn operation_id(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '.' || c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A value that fits `schema`: the schema's own example where it has one, else one
/// made from its types and formats (and the property's name, for a plausible string).
fn example_of(known: &Value, schema: &Value, depth: usize, property: Option<&str>) -> Value {
    if depth > 12 {
        return Value::Null;
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema.get("examples").and_then(|e| e.get(0)) {
        return first.clone();
    }
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return known
            .get(name)
            .map(|s| example_of(known, s, depth + 1, property))
            .unwrap_or(Value::Null);
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let pick = variants
                .iter()
                .find(|v| v.get("type") != Some(&json!("null")))
                .or(variants.first());
            return pick
                .map(|v| example_of(known, v, depth + 1, property))
                .unwrap_or(Value::Null);
        }
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = example_of(known, part, depth + 1, property) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => return json!({}),
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, property) in properties {
                    out.insert(
                        name.clone(),
                        example_of(known, property, depth + 1, Some(name)),
                    );
                }
            }
            Value::Object(out)
        }
        "array" => match schema.get("items") {
            Some(items) => json!([example_of(known, items, depth + 1, property)]),
            None => json!([]),
        },
        "integer" => schema.get("minimum").cloned().unwrap_or(json!(1)),
        "number" => schema.get("minimum").cloned().unwrap_or(json!(1.5)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!(example_string(
            schema.get("format").and_then(Value::as_str),
            property
        )),
    }
}

fn example_string(format: Option<&str>, property: Option<&str>) -> &'static str {
    match format {
        Some("uuid") => return "01932c4e-5a7b-7c3d-9e2f-1a0b4c5d6e7f",
        Some("date-time") => return "2026-11-28T09:30:00Z",
        Some("date") => return "2026-11-28",
        Some("email") => return "ada@example.com",
        _ => {}
    }
    match property.unwrap_or_default() {
        "sku" => "SKU-1001",
        "name" | "product_name" => "Example",
        "email" => "ada@example.com",
        "phone" => "+8613800138000",
        "currency" => "CNY",
        "number" => "C-000123",
        "warehouse_code" | "code" => "SH-01",
        "key" => "company_name",
        "unit" => "pcs",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_objects_and_replaces_the_rest() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(&mut v, json!({"a": {"b": 9}, "d": []}));
        assert_eq!(v, json!({"a": {"b": 9, "c": 2}, "d": []}));
    }

    #[test]
    fn operation_ids_are_camel_case() {
        assert_eq!(operation_id("stock_level.low"), "stockLevelLow");
        assert_eq!(operation_id("customer.created"), "customerCreated");
    }

    #[test]
    fn examples_follow_refs_nullables_and_formats() {
        let known = json!({
            "Money": {"type": "object", "example": {"amount": 1999, "currency": "CNY"}},
            "Thing": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "price": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Money"}]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "count": {"type": ["integer", "null"], "minimum": 0},
                "status": {"type": "string", "enum": ["open", "closed"]},
            }},
        });
        let example = example_of(
            &known,
            &json!({"$ref": "#/components/schemas/Thing"}),
            0,
            None,
        );
        assert_eq!(
            example,
            json!({
                "id": "01932c4e-5a7b-7c3d-9e2f-1a0b4c5d6e7f",
                "price": {"amount": 1999, "currency": "CNY"},
                "tags": ["string"],
                "count": 0,
                "status": "open",
            })
        );
    }
}
