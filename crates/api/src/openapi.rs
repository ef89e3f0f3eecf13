//! The OpenAPI document: collected from the handlers' annotations by
//! utoipa-actix-web, then completed with what every operation shares (problem
//! responses, the `Idempotency-Key` header) so no handler can forget them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ordercrm_kernel::error::{ProblemType, problems};
use ordercrm_kernel::input::is_inlined_schema;
use ordercrm_kernel::{FieldError, Problem};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder, Schema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OrderCRM API",
        version = "1",
        description = "OrderCRM",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Sign in, refresh and sign out; your own profile and password."),
        (name = "users", description = "People who use the system, their roles and their managers."),
        (name = "api-keys", description = "Keys for integrations (e-commerce, logistics, ERP), with scopes."),
        (name = "audit", description = "Who did what, when and from where. Read-only."),
        (name = "customers", description = "Customers (people and companies): profiles, search, duplicates. A sales rep sees their own, a manager their team's."),
        (name = "catalog", description = "Products (SKU unique in any case, prices, tax, warranty) and warehouses."),
        (name = "inventory", description = "Stock per product and warehouse, the append-only movement ledger, WMS counts, low-stock alerts. \
            `available = on_hand - reserved` never goes negative through a reservation."),
        (name = "reservations", description = "Holding stock for orders and carts: all lines or none, never oversold, optional expiry."),
        (name = "orders", description = "Orders from every channel: intake (idempotent per channel and external id), \
            review by rules that explain themselves (stock, customer, amount), and the transitions \
            draft → approved | on_hold | rejected; on_hold → approved | rejected | cancelled; approved → on_hold | cancelled. \
            Every order carries `allowed_actions` for the caller."),
        (name = "fulfillment", description = "What happens to an approved order's goods: a dispatch note per warehouse \
            (open → partially_shipped → shipped, or voided; the queue is earliest promise first), shipments that \
            take the goods out of the order's reservation (never more than ordered minus shipped) and can be \
            cancelled before pickup."),
        (name = "returns", description = "Goods a customer sends back (RMA) for a refund, an exchange or a repair: \
            requested → approved → received → closed, or rejected (from requested or approved). A line returns at most \
            what was delivered minus what other returns claim; the warehouse restocks or scraps what arrives; a refund \
            return owes what the customer paid for those units (`refund_due`)."),
        (name = "invoices", description = "Invoices of orders (all of an order, or chosen lines and units): draft → open \
            (issued: a gap-free number, due dates by the payment terms or an instalment schedule, the rate to the base \
            currency) → void | uncollectible. `payment_status` (unpaid, partially_paid, paid) and `overdue` are derived \
            from allocations and due dates when read. The `invoice_policy` setting invoices orders at approval, \
            shipment or delivery; prepaid orders are invoiced at approval."),
        (name = "payments", description = "Money received from customers (bank transfer, gateway, cash on delivery, ...), \
            once per provider and reference, allocated to invoices (never above what one owes), held for an order's \
            invoices to come, or kept as the customer's credit per currency. An order is paid when its invoices and \
            what is held for it cover its grand total, and completed when it is also delivered."),
        (name = "credit-notes", description = "Part of an open invoice taken back (a return's refund due, a price put \
            right): issued → void. It first lowers what the invoice owes; what it credits beyond that was paid, is \
            released from the invoice's payments and split exactly into refunds, the customer's credit and settlements \
            outside. For every invoice, total = paid + credited + outstanding; for every credit note, amount = applied + \
            refund + credit + outside. Voiding one restores the invoice as it was."),
        (name = "refunds", description = "Money going back to a customer from one payment: pending_approval (at or above \
            `refund_approval_threshold`) → pending → succeeded | failed. A refund takes its money off the payment at \
            once; a failed one gives it back as credit."),
        (name = "receivables", description = "What customers owe over time: aging as of any day (current, 1–30, 31–60, \
            61–90, 91+ days past due, per instalment row, in the base currency) and customer statements (opening balance, \
            every document, running and closing balance). JSON or CSV."),
        (name = "purchasing", description = "Suppliers, purchase orders (draft → ordered → partially_received → received) and replenishment suggestions."),
        (name = "settings", description = "Company settings: company name, default currency, document-number prefixes, and any small JSON a front end wants to keep."),
        (name = "exchange-rates", description = "Exchange rates per currency pair and effective date, exact decimals published by finance. \
            Orders store the rate to the base currency (setting `base_currency`) they were submitted with."),
        (name = "operations", description = "Health, readiness and metrics for operators and orchestrators."),
        (name = "webhook-endpoints", description = "Where events are pushed: endpoints with their event types or patterns, \
            signing secrets (shown once; rotation keeps the old one valid for 24 hours) and an address guard. \
            Admins manage every endpoint; a key with `webhooks:write` its own, which receive only what the key may read."),
        (name = "webhook-deliveries", description = "The delivery log: what the dispatcher owes each endpoint for each event, \
            every attempt (time, status code, duration, the first 4 KiB of the answer, why it failed), and sending one again."),
        (name = "events", description = "The pull feed: the outbox in delivery order with no gaps, as webhooks carry it, \
            for integrators who poll or reconcile after an outage."),
        (name = "webhooks", description = "Events, as the pull feed and webhook deliveries carry them: \
            `{\"id\", \"type\", \"created_at\", \"data\"}`, `data` being the resource as a full-access reader sees it \
            (tax ids masked). Deliveries are signed per Standard Webhooks. One entry per event type."),
        (name = "meta", description = "This document and its interactive rendering."),
    ),
    // Path parameters' types are not collected by themselves.
    components(schemas(Problem, FieldError, ordercrm_settings::model::SettingKey)),
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "userToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A person's access token from `POST /v1/auth/token` (15 minutes).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ocrm_live_…")
                    .description(Some(
                        "An integration's API key from `POST /v1/api-keys`, limited to its scopes.",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Problem types the domains add to the kernel's. Each new domain appends its own.
fn all_problem_types() -> Vec<ProblemType> {
    [
        problems::ALL,
        ordercrm_identity::error::ALL,
        ordercrm_customer::error::ALL,
        ordercrm_inventory::error::ALL,
        ordercrm_order::error::ALL,
        ordercrm_order::fulfillment::error::ALL,
        ordercrm_order::returns::error::ALL,
        ordercrm_payment::error::ALL,
        ordercrm_webhook::feed::ALL,
        &[crate::routes::csv_transfer::IMPORT_FAILED],
    ]
    .concat()
}

const INTRO: &str = "\
A headless customer and order management backend.

**Conventions.** JSON in and out, `snake_case` fields, RFC 3339 UTC timestamps. Money is \
`{\"amount\": 1999, \"currency\": \"CNY\"}`: an integer in the currency's minor unit. Lists \
page with `limit` (1..200, default 50) and the opaque `cursor` from the previous page's \
`next_cursor`. Unknown fields and unknown query parameters are rejected with 400.

**Retries.** Every `POST` accepts an `Idempotency-Key` header: the first response is kept \
for 24 hours and replayed (with `Idempotent-Replayed: true`) for a retry with the same body; \
the same key with a different body is 422; a retry while the first is still running is 409.

**Concurrency.** Editable resources return an `ETag`; send it back as `If-Match` on `PATCH` \
or `DELETE` and you get 412 instead of overwriting someone else's change.

**Errors** are RFC 9457 `application/problem+json` with a stable `type`, the request's \
`request_id` (also in the `X-Request-Id` header), and per-field `errors` on 400. A body \
that names something that does not exist (a SKU, a warehouse, a supplier, a user) is 404 \
as a URL naming nothing would be, since no other fix makes it succeed; `errors` lists \
every field that is wrong, those and any others.
";

/// Complete the collected document.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut description = String::from(INTRO);
    description.push_str(
        "\n### Problem types\n\n| type | status | title | meaning |\n|---|---|---|---|\n",
    );
    for p in all_problem_types() {
        description.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            p.type_uri(),
            p.status,
            p.title,
            p.description
        ));
    }
    description.push_str("\n### Permissions\n\nWhat each role may do, and the scope an API key needs. \
        Objects a caller may not see answer 404, never 403: a `sales` user sees the records they own, \
        a `manager` their team's.\n\n");
    description.push_str(&ordercrm_kernel::authz::permission_table());
    doc.info.description = Some(description);
    crate::webhooks_doc::add(&mut doc);
    inline_value_types(&mut doc);

    let naming = schemas_that_name_things(&doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        let health = path == "/healthz" || path == "/readyz";
        let ops = [
            (&mut item.get, "GET"),
            (&mut item.post, "POST"),
            (&mut item.put, "PUT"),
            (&mut item.patch, "PATCH"),
            (&mut item.delete, "DELETE"),
        ];
        for (op, method) in ops {
            if let Some(op) = op.as_mut() {
                complete_operation(op, method, health, &naming);
            }
        }
    }
    doc
}

/// Request-body schemas that name other objects (an id, a SKU, a warehouse code, a
/// line number): a request naming one that does not exist is 404.
fn schemas_that_name_things(doc: &utoipa::openapi::OpenApi) -> Vec<String> {
    let schemas = doc
        .components
        .as_ref()
        .map(|c| serde_json::to_value(&c.schemas).unwrap_or_default())
        .unwrap_or_default();
    let Some(schemas) = schemas.as_object() else {
        return Vec::new();
    };
    fn names_things(
        v: &serde_json::Value,
        schemas: &serde_json::Map<String, serde_json::Value>,
        depth: usize,
    ) -> bool {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("format").and_then(|f| f.as_str()) == Some("uuid") {
                    return true;
                }
                if let Some(r) = o.get("$ref").and_then(|r| r.as_str()) {
                    let name = r.trim_start_matches("#/components/schemas/");
                    return depth < 4
                        && schemas
                            .get(name)
                            .is_some_and(|s| names_things(s, schemas, depth + 1));
                }
                // A SKU or warehouse code names a product or warehouse wherever it is
                // not the object's own (a product's `sku`, a warehouse's `code`).
                let names_other = |k: &str| {
                    k == "line_no" || k.ends_with("warehouse_code") || (k == "sku" && depth > 0)
                };
                o.iter()
                    .any(|(k, v)| names_other(k) || names_things(v, schemas, depth))
            }
            serde_json::Value::Array(a) => a.iter().any(|v| names_things(v, schemas, depth)),
            _ => false,
        }
    }
    schemas
        .iter()
        .filter(|(_, s)| names_things(s, schemas, 0))
        .map(|(name, _)| name.clone())
        .collect()
}

fn complete_operation(op: &mut Operation, method: &str, health: bool, naming: &[String]) {
    let has_body = op.request_body.is_some();
    let body_names_things = op.request_body.as_ref().is_some_and(|b| {
        let text = serde_json::to_string(b).unwrap_or_default();
        naming
            .iter()
            .any(|n| text.contains(&format!("\"#/components/schemas/{n}\"")))
    });
    let in_params = |place: ParameterIn| {
        op.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    // The extractors refuse what these parameters cannot hold (a `limit` out of
    // range, a cursor that is not one, an id that is not a UUID, a malformed
    // `If-Match`), and a path names a thing that may not exist.
    let has_query = in_params(ParameterIn::Query);
    let has_path = in_params(ParameterIn::Path);
    let has_header = in_params(ParameterIn::Header);
    let secured = op.security.as_ref().is_some_and(|reqs| {
        reqs.iter().any(|r| {
            serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        })
    });
    let bad_parameter = "A parameter is invalid (`/problems/validation`): out of range, not a \
        cursor this list gave, not a UUID, or a malformed `If-Match` (see `errors`).";
    let bad_body = "Malformed JSON or an unknown field (`/problems/malformed-request`), or \
        invalid values (`/problems/validation`, see `errors`).";
    match (has_body, has_query || has_path || has_header) {
        (true, true) => add(op, 400, &format!("{bad_body} Or: {bad_parameter}")),
        (true, false) => add(op, 400, bad_body),
        (false, true) => add(op, 400, bad_parameter),
        (false, false) => {}
    }
    // An operation's own 400 keeps its words; any body can still be malformed.
    if has_body
        && let Some(RefOr::T(own)) = op.responses.responses.get_mut("400")
        && !own.description.contains("/problems/malformed-request")
    {
        own.description = format!("{} Or: {bad_body}", own.description);
    }
    let header_named = |name: &str| {
        op.parameters.iter().flatten().any(|p| {
            matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Header
                && p.name.eq_ignore_ascii_case(name))
        })
    };
    let (if_match, if_none_match) = (header_named("If-Match"), header_named("If-None-Match"));
    for param in op.parameters.iter_mut().flatten() {
        if let RefOr::T(param) = param
            && param.parameter_in == ParameterIn::Header
            && param.name.eq_ignore_ascii_case("If-Match")
        {
            param.schema = Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(crate::extract::IfMatch::PATTERN))
                    // `*` (any version) too, so a generated example can succeed.
                    .examples([serde_json::json!("\"3\""), serde_json::json!("*")])
                    .into(),
            );
        }
    }
    if if_match {
        add(
            op,
            412,
            "Changed since the ETag in `If-Match` (`/problems/precondition-failed`).",
        );
    }
    if if_none_match {
        op.responses
            .responses
            .entry("304".to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description("Not modified since the ETag in `If-None-Match`.")
                        .build(),
                )
            });
    }
    if has_path {
        add(
            op,
            404,
            "No such object, or none you may see (`/problems/not-found`).",
        );
    }
    if body_names_things {
        let text = "An object the body names (an id, a SKU, a warehouse, a line) does not \
            exist, or is not one you may see (`/problems/not-found`; `errors` names the field).";
        match op.responses.responses.get_mut("404") {
            Some(RefOr::T(own)) if !own.description.contains("the body names") => {
                own.description = format!("{} Or: {text}", own.description);
            }
            Some(_) => {}
            None => add(op, 404, text),
        }
    }
    // What a request names may exist yet refuse it in its present state (a
    // deactivated warehouse, a product that does not track stock, a deactivated user).
    let path_names_stock = op.parameters.iter().flatten().any(|p| {
        matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path && p.name == "warehouse_code")
    });
    if body_names_things || path_names_stock {
        let text = "What the request names is in a state that refuses it, such as deactivated \
            (`/problems/conflict`; `errors` names the field and says why).";
        match op.responses.responses.get_mut("409") {
            Some(RefOr::T(own)) if !own.description.contains("in a state that refuses") => {
                own.description = format!("{} Or: {text}", own.description);
            }
            Some(_) => {}
            None => add(op, 409, text),
        }
    }
    if has_body {
        add(
            op,
            413,
            "The body is larger than the configured limit (`/problems/payload-too-large`).",
        );
        add(
            op,
            415,
            "The body is not `application/json` (`/problems/unsupported-media-type`).",
        );
    }
    if secured {
        add(
            op,
            401,
            "No credentials, or an invalid, expired or revoked token or key \
             (`/problems/unauthenticated`).",
        );
        add(
            op,
            403,
            "Your role, or your API key's scopes, do not allow this (`/problems/forbidden`).",
        );
        add(
            op,
            429,
            "Too many requests for this user or key (`/problems/rate-limited`); see \
             `Retry-After` and `RateLimit-*`.",
        );
    }
    if !secured && !health {
        add(
            op,
            429,
            "Too many requests without credentials from this address (`/problems/rate-limited`); \
             see `Retry-After` and `RateLimit-*`.",
        );
    }
    // Every POST honours a key for a caller who authenticated (even one whose
    // operation needs no credentials); requests without credentials keep nothing.
    let idempotent = method == "POST";
    if idempotent {
        let in_progress = "A request with this `Idempotency-Key` is still in progress \
             (`/problems/idempotency-in-flight`), or it succeeded but its answer carried a \
             secret and was not kept (`/problems/idempotency-response-withheld`).";
        // An operation's own 409 keeps its words and gains the idempotency ones.
        if let Some(RefOr::T(own)) = op.responses.responses.get_mut("409")
            && !own.description.contains("Idempotency-Key")
        {
            own.description = format!("{} Or: {in_progress}", own.description);
        }
        add(op, 409, in_progress);
        add(
            op,
            422,
            "This `Idempotency-Key` was used with a different request \
             (`/problems/idempotency-key-reused`).",
        );
    }
    add(
        op,
        500,
        "Internal error (`/problems/internal`); quote `request_id` when reporting it.",
    );
    if !health {
        add(
            op,
            503,
            "The database stayed busy for longer than the server waits for it (a large import \
             being applied, say: nothing was changed), or the connection to it was lost (a \
             database restart; a change may have been made just before: retry with the same \
             `Idempotency-Key`) (`/problems/unavailable`); try again after `Retry-After`.",
        );
    }

    // An answer an operation documents in its own words still names its problem type:
    // clients switch on `type`. (The status-coverage test checks every type it sees.)
    for (status, response) in &mut op.responses.responses {
        if let RefOr::T(response) = response
            && !response.description.contains("/problems/")
            && let Some(kind) = usual_problem(status)
        {
            response.description = format!("{} (`{}`)", response.description, kind.type_uri());
        }
    }

    if idempotent {
        let param = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Any unique string (a UUID is ideal), 1-255 visible ASCII characters. \
                 Retrying with the same key and request replays the first answer for 24 h \
                 (kept per authenticated caller; requests without credentials keep nothing, \
                 nor do 400, 404 and 429 answers, and an answer that carried a secret is never kept).",
            ))
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(crate::middleware::idempotency::KEY_PATTERN)),
            ))
            .build();
        let params = op.parameters.get_or_insert_with(Vec::new);
        if !params
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.name == "Idempotency-Key"))
        {
            params.push(RefOr::T(param));
        }
    }
}

/// Value types (`NonBlank200`, `Text100`, `Email`, ...; see `ordercrm_kernel::input`)
/// are written where they are used, not as components: a client generator should
/// see `string, maxLength 200` on the field, not a type per length.
fn inline_value_types(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let table: BTreeMap<String, RefOr<Schema>> = components
        .schemas
        .iter()
        .filter(|(name, _)| is_inlined_schema(name))
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    // Query parameters refer to their types without adding them to the components.
    let mut table = table;
    for (name, schema) in ordercrm_kernel::input::parameter_schemas() {
        table.entry(name).or_insert(schema);
    }
    components
        .schemas
        .retain(|name, _| !is_inlined_schema(name));
    for schema in components.schemas.values_mut() {
        inline(schema, &table);
    }
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(param) = param
                    && let Some(schema) = param.schema.as_mut()
                {
                    inline(schema, &table);
                }
            }
        }
    }
}

fn inline(schema: &mut RefOr<Schema>, table: &BTreeMap<String, RefOr<Schema>>) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems};
    match schema {
        RefOr::Ref(r) => {
            let found = r
                .ref_location
                .strip_prefix("#/components/schemas/")
                .and_then(|name| table.get(name));
            if let Some(found) = found {
                let mut found = found.clone();
                if let RefOr::T(Schema::Object(o)) = &mut found
                    && !r.description.is_empty()
                {
                    o.description = Some(r.description.clone());
                }
                *schema = found;
            }
        }
        RefOr::T(Schema::Object(o)) => {
            for p in o.properties.values_mut() {
                inline(p, table);
            }
            if let Some(extra) = o.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(extra) = extra
            {
                inline(extra, table);
            }
        }
        RefOr::T(Schema::Array(a)) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                inline(items, table);
            }
        }
        RefOr::T(Schema::OneOf(o)) => o.items.iter_mut().for_each(|i| inline(i, table)),
        RefOr::T(Schema::AllOf(o)) => o.items.iter_mut().for_each(|i| inline(i, table)),
        RefOr::T(Schema::AnyOf(o)) => o.items.iter_mut().for_each(|i| inline(i, table)),
        RefOr::T(_) => {}
    }
}

/// The problem type an error status usually carries.
fn usual_problem(status: &str) -> Option<ProblemType> {
    Some(match status {
        "400" => problems::VALIDATION,
        "401" => problems::UNAUTHENTICATED,
        "403" => problems::FORBIDDEN,
        "404" => problems::NOT_FOUND,
        "409" => problems::CONFLICT,
        "412" => problems::PRECONDITION_FAILED,
        "428" => problems::PRECONDITION_REQUIRED,
        "413" => problems::PAYLOAD_TOO_LARGE,
        "415" => problems::UNSUPPORTED_MEDIA_TYPE,
        "429" => problems::RATE_LIMITED,
        "500" => problems::INTERNAL,
        "503" => problems::UNAVAILABLE,
        _ => return None,
    })
}

/// Document `status` as a problem answer unless the operation documents it itself.
fn add(op: &mut Operation, status: u16, text: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::T(problem(text)));
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::<Schema>::Ref(Ref::from_schema_name("Problem"))))
                .build(),
        )
        .build()
}

/// The finished document as served, and which methods each path template allows
/// (for the `Allow` header of a 405).
#[derive(Debug, Clone)]
pub struct Document {
    pub json: Arc<str>,
    methods: Arc<BTreeMap<String, Vec<&'static str>>>,
    /// `(method, path)` of the operations that take no credential (`security: [{}]`).
    public: Arc<BTreeSet<(&'static str, String)>>,
}

impl Document {
    pub fn new(doc: utoipa::openapi::OpenApi) -> Self {
        let json = to_json(&doc);
        let mut public = BTreeSet::new();
        let methods = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut m = Vec::new();
                for (op, name) in [
                    (&item.get, "GET"),
                    (&item.post, "POST"),
                    (&item.put, "PUT"),
                    (&item.patch, "PATCH"),
                    (&item.delete, "DELETE"),
                ] {
                    if let Some(op) = op {
                        m.push(name);
                        if takes_no_credential(op) {
                            public.insert((name, path.clone()));
                        }
                    }
                }
                (path.clone(), m)
            })
            .collect();
        Self {
            json: json.into(),
            methods: Arc::new(methods),
            public: Arc::new(public),
        }
    }

    /// Whether the operation at this method and (literal) path takes no credential, as
    /// the document says. Such paths have no path parameters.
    pub fn is_public(&self, method: &str, path: &str) -> bool {
        self.public.contains(&(method, path.to_owned()))
    }

    pub fn methods_of(&self, pattern: &str) -> Vec<&'static str> {
        self.methods.get(pattern).cloned().unwrap_or_default()
    }
}

/// `security: [{}]`: the operation is for anonymous callers.
fn takes_no_credential(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|requirements| {
        requirements
            .iter()
            .any(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
    })
}

/// The canonical serialization, shared by `/openapi.json`, `ordercrm openapi` and the
/// committed `openapi/openapi.json`.
pub fn to_json(doc: &utoipa::openapi::OpenApi) -> String {
    let mut s = doc.to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
