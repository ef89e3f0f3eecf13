//! The route table. Every route is registered through `utoipa_actix_web`'s
//! `service`, so the OpenAPI document lists exactly the routes that exist.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod csv_transfer;
pub mod customer_activity;
pub mod customer_details;
pub mod customer_transfer;
pub mod customers;
pub mod docs;
pub mod inventory;
pub mod ops;
pub mod product_transfer;
pub mod products;
pub mod purchasing;
pub mod reservations;
pub mod settings;
pub mod users;
pub mod warehouses;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::Data;
use ordercrm_kernel::error::problems;

use crate::openapi::Document;
use ordercrm_kernel::Error;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(docs::openapi_json)
        .service(docs::docs_page)
        .service(docs::docs_asset)
        .service(
            scope::scope("/v1")
                .service(settings::list)
                .service(settings::create)
                .service(settings::get)
                .service(settings::update)
                .service(settings::delete)
                .service(auth::token)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::me)
                .service(auth::change_password)
                .service(users::list)
                .service(users::create)
                .service(users::get)
                .service(users::update)
                .service(api_keys::list)
                .service(api_keys::create)
                .service(api_keys::revoke)
                .service(audit::list)
                .service(customers::list)
                .service(customers::create)
                .service(customer_transfer::import)
                // Before `/customers/{id}`, which would try to read "birthdays" as an id.
                .service(customer_activity::birthdays)
                .service(customers::get)
                .service(customers::update)
                .service(customers::archive)
                .service(customers::possible_duplicates)
                .service(customers::merge)
                .service(customers::erase)
                .service(customer_details::list_contacts)
                .service(customer_details::create_contact)
                .service(customer_details::update_contact)
                .service(customer_details::delete_contact)
                .service(customer_details::list_addresses)
                .service(customer_details::create_address)
                .service(customer_details::update_address)
                .service(customer_details::delete_address)
                .service(customer_activity::list_notes)
                .service(customer_activity::create_note)
                .service(customer_activity::create_follow_up)
                .service(customer_activity::list_follow_ups)
                .service(customer_activity::update_follow_up)
                .service(products::list)
                .service(products::create)
                .service(product_transfer::import)
                .service(products::get)
                .service(products::update)
                .service(products::delete)
                .service(warehouses::list_warehouses)
                .service(warehouses::create_warehouse)
                .service(warehouses::get_warehouse)
                .service(warehouses::update_warehouse)
                .service(warehouses::list_suppliers)
                .service(warehouses::create_supplier)
                .service(warehouses::get_supplier)
                .service(warehouses::update_supplier)
                .service(inventory::list_levels)
                .service(inventory::get_level)
                .service(inventory::put_count)
                .service(inventory::update_level)
                .service(inventory::receive)
                .service(inventory::adjust)
                .service(inventory::transfer)
                .service(inventory::return_goods)
                .service(inventory::list_movements)
                .service(inventory::list_alerts)
                .service(reservations::create)
                .service(reservations::list)
                .service(reservations::get)
                .service(reservations::release)
                .service(reservations::consume)
                .service(purchasing::list)
                .service(purchasing::create)
                .service(purchasing::get)
                .service(purchasing::place)
                .service(purchasing::cancel)
                .service(purchasing::receive)
                .service(purchasing::suggestions)
                .service(purchasing::from_suggestions),
        );
}

/// No route matched: 405 with `Allow` when the path exists under other methods
/// (route guards send a wrong method here), 404 otherwise.
pub async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    let allowed = match (req.match_pattern(), req.app_data::<Data<Document>>()) {
        (Some(pattern), Some(doc)) => doc.methods_of(&pattern),
        _ => Vec::new(),
    };
    if allowed.is_empty() {
        return Err(ApiError(Error::new(
            problems::NOT_FOUND,
            format!("no resource at {} {}", req.method(), req.path()),
        )));
    }
    let err = Error::new(
        problems::METHOD_NOT_ALLOWED,
        format!(
            "{} is not supported on {}; use {}",
            req.method(),
            req.path(),
            allowed.join(", ")
        ),
    );
    let mut res = actix_web::ResponseError::error_response(&ApiError(err));
    if let Ok(v) = header::HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    Ok(res)
}
