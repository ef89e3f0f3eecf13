//! The route table: one list, registered for the OpenAPI document and for serving.

pub mod csv_transfer;
pub mod customer;
pub mod identity;
pub mod inventory;
pub mod order;
pub mod payment;
pub mod platform;
pub mod webhook;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::Data;
use ordercrm_kernel::error::problems;

use crate::openapi::Document;
use customer::{
    activity as customer_activity, customers, details as customer_details,
    transfer as customer_transfer,
};
use identity::{api_keys, audit, auth, users};
use inventory::{levels, product_transfer, products, purchasing, reservations, warehouses};
use order::{fulfillment, orders, returns};
use ordercrm_kernel::Error;
use payment::{credit_notes, invoices, payments, receivables, refunds};
use platform::{docs, exchange_rates, ops, settings};
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;
use webhook::deliveries as webhook_deliveries;
use webhook::endpoints as webhook_endpoints;
use webhook::feed as event_feed;

use crate::error::ApiError;

/// One list of routes, two registrations: `configure` through `utoipa_actix_web`, so
/// the OpenAPI document lists exactly the routes that exist, and `configure_plain`
/// straight into actix-web for the workers, which then do not rebuild the document's
/// paths and schemas each (that cost ~10 MiB per worker, kept for the process's life).
macro_rules! route_table {
    (top: [$($top:path),* $(,)?], v1: [$($v1:path),* $(,)?] $(,)?) => {
        pub fn configure(cfg: &mut ServiceConfig) {
            cfg$(.service($top))*
                .service(scope::scope("/v1")$(.service($v1))*);
        }

        pub fn configure_plain(cfg: &mut actix_web::web::ServiceConfig) {
            cfg$(.service($top))*
                .service(actix_web::web::scope("/v1")$(.service($v1))*);
        }
    };
}

route_table! {
    top: [
        ops::healthz,
        ops::readyz,
        ops::metrics,
        docs::openapi_json,
        docs::docs_page,
        docs::docs_asset,
    ],
    v1: [
        settings::list,
        settings::create,
        settings::get,
        settings::update,
        settings::delete,
        exchange_rates::list,
        exchange_rates::create,
        // Before `/exchange-rates/{id}`, which would try to read "effective" as an id.
        exchange_rates::effective,
        exchange_rates::get,
        exchange_rates::delete,
        auth::token,
        auth::refresh,
        auth::logout,
        auth::me,
        auth::change_password,
        users::list,
        users::create,
        users::get,
        users::update,
        users::unlock,
        api_keys::list,
        api_keys::create,
        api_keys::revoke,
        audit::list,
        customers::list,
        customers::create,
        customer_transfer::import,
        // Before `/customers/{id}`, which would try to read "birthdays" as an id.
        customer_activity::birthdays,
        customers::get,
        customers::update,
        customers::archive,
        customers::possible_duplicates,
        customers::merge,
        customers::erase,
        customer_details::list_contacts,
        customer_details::create_contact,
        customer_details::update_contact,
        customer_details::delete_contact,
        customer_details::list_addresses,
        customer_details::create_address,
        customer_details::update_address,
        customer_details::delete_address,
        customer_activity::list_notes,
        customer_activity::create_note,
        customer_activity::create_follow_up,
        customer_activity::list_follow_ups,
        customer_activity::update_follow_up,
        products::list,
        products::create,
        product_transfer::import,
        products::get,
        products::update,
        products::delete,
        warehouses::list_warehouses,
        warehouses::create_warehouse,
        warehouses::get_warehouse,
        warehouses::update_warehouse,
        warehouses::list_suppliers,
        warehouses::create_supplier,
        warehouses::get_supplier,
        warehouses::update_supplier,
        levels::list_levels,
        levels::get_level,
        levels::put_count,
        levels::update_level,
        levels::receive,
        levels::adjust,
        levels::transfer,
        levels::return_goods,
        levels::list_movements,
        levels::list_alerts,
        reservations::create,
        reservations::list,
        reservations::get,
        reservations::release,
        reservations::consume,
        purchasing::list,
        purchasing::create,
        purchasing::get,
        purchasing::place,
        purchasing::cancel,
        purchasing::receive,
        purchasing::suggestions,
        purchasing::from_suggestions,
        orders::list,
        orders::create,
        orders::get,
        orders::timeline,
        orders::submit,
        orders::hold,
        orders::release,
        orders::approve,
        orders::reject,
        orders::cancel,
        orders::preview_edit,
        orders::edit_order,
        orders::list_edits,
        fulfillment::list_dispatch_notes,
        fulfillment::get_dispatch_note,
        fulfillment::create_shipment,
        fulfillment::list_order_shipments,
        fulfillment::get_shipment,
        fulfillment::cancel_shipment,
        fulfillment::deliver_shipment,
        fulfillment::list_tracking_events,
        fulfillment::record_tracking,
        returns::create,
        returns::list_for_order,
        returns::list,
        returns::get,
        returns::approve,
        returns::reject,
        returns::receive,
        returns::ship_back,
        returns::close,
        invoices::create,
        invoices::list_for_order,
        invoices::list,
        invoices::get,
        invoices::update,
        invoices::issue,
        invoices::void,
        invoices::mark_uncollectible,
        payments::create,
        payments::list,
        payments::get,
        payments::allocate,
        payments::balance,
        payments::reverse,
        credit_notes::create,
        credit_notes::list,
        credit_notes::get,
        credit_notes::void,
        refunds::create,
        refunds::list,
        refunds::get,
        refunds::approve,
        refunds::succeed,
        refunds::fail,
        receivables::aging,
        receivables::statement,
        webhook_endpoints::list,
        webhook_endpoints::create,
        webhook_endpoints::get,
        webhook_endpoints::update,
        webhook_endpoints::delete,
        webhook_endpoints::rotate_secret,
        webhook_endpoints::recover,
        webhook_endpoints::test,
        webhook_deliveries::list,
        webhook_deliveries::get,
        webhook_deliveries::attempts,
        webhook_deliveries::redeliver,
        event_feed::read,
    ],
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
