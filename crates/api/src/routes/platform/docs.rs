//! The OpenAPI document and its interactive rendering. The renderer's script ships
//! inside the binary: the page works with no internet access.

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{HttpResponse, get};

use crate::openapi::Document;

/// This document.
#[utoipa::path(
    operation_id = "getOpenApi",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
#[get("/openapi.json")]
pub async fn openapi_json(doc: Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json.to_string())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>OrderCRM API</title>
</head>
<body>
  <div id="app"></div>
  <script src="/docs/scalar.js"></script>
  <script>
    Scalar.createApiReference('#app', {
      url: '/openapi.json',
      withDefaultFonts: false,
      hideClientButton: true,
      telemetry: false,
      showDeveloperTools: 'never',
      agent: { disabled: true },
      mcp: { disabled: true },
    })
  </script>
</body>
</html>
"#;

/// Interactive API reference.
#[utoipa::path(
    operation_id = "getDocs",
    tag = "meta",
    security(()),
    responses((status = 200, description = "An HTML page rendering this document", content_type = "text/html", body = String)),
)]
#[get("/docs")]
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'",
        ))
        .body(PAGE)
}

/// The renderer's script, embedded in the binary.
#[utoipa::path(
    operation_id = "getDocsScript",
    tag = "meta",
    security(()),
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)),
)]
#[get("/docs/scalar.js")]
pub async fn docs_asset() -> HttpResponse {
    match scalar_api_reference::get_asset("scalar.js") {
        Some(js) => HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(js),
        None => HttpResponse::NotFound().finish(),
    }
}
