//! Taking an order: check everything, snapshot the products, price and total it,
//! and, with `submit`, review it at once. A resend of a channel's order returns the
//! order it made.

use std::collections::HashMap;

use ordercrm_customer::queries::{OrderingCustomer, ordering_customer};
use ordercrm_inventory::queries::for_orders::{self, ProductFacts, WarehouseFacts};
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::money::MoneyIn;
use ordercrm_kernel::{Ctx, Currency, Error, FieldError, Money, Result, id::new_id, numbers};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{actions, warehouses};
use crate::dto::{CreateOrder, CreateOrderLine, OrderView, PrepaymentInput};
use crate::entity::{order, order_line};
use crate::error::OrderError;
use crate::model::{
    self, Channel, FulfillmentStatus, LineMoney, OrderStatus, PaymentMethod, PaymentTerms,
    TotalsError,
};
use crate::{events, queries};

pub const NUMBERS: numbers::Kind = numbers::Kind::sequence("order");
const DEFAULT_PREFIX: &str = "SO-";

/// What intake did: made an order, or found the one a resend names.
#[derive(Debug)]
pub enum Intake {
    Created(OrderView),
    Existing(OrderView),
}

/// A line after its checks: what to store, before the money is computed.
pub(crate) struct Line {
    pub product: ProductFacts,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub warehouse: Option<WarehouseFacts>,
}

/// The hash that tells a resend (same body) from a different order under the same
/// external id: SHA-256 of the body as parsed, so spacing and key order do not count.
fn intake_hash(input: &CreateOrder) -> String {
    let canonical =
        serde_json::to_vec(&serde_json::to_value(input).unwrap_or_default()).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An amount in the order's currency, within the bounds.
pub(crate) fn amount<const MIN: i64>(
    errors: &mut Vec<FieldError>,
    field: &str,
    money: Option<MoneyIn<MIN, { crate::model::MAX_AMOUNT }>>,
    currency: Option<Currency>,
) -> i64 {
    let Some(money) = money else { return 0 };
    let m = money.check(errors, field);
    if currency.is_some_and(|c| c != m.currency) {
        errors.push(FieldError::new(
            format!("{field}.currency"),
            "currency_mismatch",
            "must be the order's currency",
        ));
    }
    m.amount
}

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    input: CreateOrder,
) -> Result<Intake> {
    ctx.actor.require(Action::OrdersWrite)?;
    create_as(txn, ctx, cipher, input, None).await
}

/// Intake, for a caller that checked access itself; `replaces_return`: a
/// replacement for an exchange's goods (exempt from the price rule).
pub(crate) async fn create_as(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    input: CreateOrder,
    replaces_return: Option<Uuid>,
) -> Result<Intake> {
    let hash = intake_hash(&input);
    let mut errors = Vec::new();
    let binding = ctx.actor.channel();
    let channel = match (&input.channel, binding) {
        (Some(c), _) => c.check(&mut errors, "channel"),
        (None, Some(b)) => Some(b.channel),
        (None, None) => Some(Channel::Manual),
    };
    let channel_name = match Text::check(input.channel_name.clone(), &mut errors, "channel_name") {
        Some(name) => name,
        None => binding.map(|b| b.name.clone()).unwrap_or_default(),
    };
    if let (Some(b), Some(c)) = (binding, channel)
        && !b.covers(c.as_str(), &channel_name)
    {
        return Err(Error::new(
            ordercrm_kernel::error::problems::FORBIDDEN,
            format!(
                "this key takes orders of channel {}{} only",
                b.channel,
                if b.name.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", b.name)
                }
            ),
        ));
    }
    let external_id = Text::check(input.external_id.clone(), &mut errors, "external_id");

    // A resend is answered before anything else is looked at: the first one passed.
    if let (Some(channel), Some(external_id), true) = (channel, &external_id, errors.is_empty()) {
        let key = format!("order:{channel}:{channel_name}:{external_id}");
        ordercrm_kernel::db::lock_for_check(txn, &key).await?;
        let existing = queries::visible(&ctx.actor)
            .filter(order::COLUMN.channel.eq(channel.as_str()))
            .filter(order::COLUMN.channel_name.eq(&channel_name))
            .filter(order::COLUMN.external_id.eq(external_id.clone()))
            .one(txn)
            .await?;
        if let Some(row) = existing {
            if row.intake_hash.as_deref() != Some(hash.as_str()) {
                return Err(OrderError::ExternalIdConflict {
                    id: row.id,
                    number: row.number,
                    external_id: external_id.clone(),
                }
                .into());
            }
            let parts = queries::parts_of(txn, row.id).await?;
            return Ok(Intake::Existing(queries::view(
                &ctx.actor,
                &row,
                &parts,
                ctx.now.date_naive(),
            )));
        }
    }

    let currency = Some(input.currency);
    if input.lines.is_empty() || input.lines.len() > model::MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            "length",
            format!("from 1 to {} lines", model::MAX_LINES),
        ));
    }
    let order_discount = amount(
        &mut errors,
        "order_discount",
        input.order_discount,
        currency,
    );
    let shipping = amount(&mut errors, "shipping_fee", input.shipping_fee, currency);
    let shipping_address = input
        .shipping_address
        .clone()
        .map(|a| a.check(&mut errors, "shipping_address"));
    let billing_address = input
        .billing_address
        .clone()
        .map(|a| a.check(&mut errors, "billing_address"));
    let notes = Text::check(input.notes.clone(), &mut errors, "notes");
    let tags = input
        .tags
        .clone()
        .map(|t| t.check(&mut errors, "tags"))
        .unwrap_or_default();
    let metadata = input
        .metadata
        .clone()
        .map(|m| m.check(&mut errors, "metadata"))
        .unwrap_or_default();
    let terms = input
        .payment_terms
        .as_ref()
        .map(|t| t.check(&mut errors, "payment_terms"));
    let terms_days = input
        .payment_terms_days
        .map(|d| d.check_i32(&mut errors, "payment_terms_days"));
    let expected = input
        .expected_grand_total
        .map(|m| m.check(&mut errors, "expected_grand_total"));
    let payment = input
        .payment
        .clone()
        .and_then(|p| check_payment(&mut errors, p, input.currency, ctx.now));

    let customer_id = match (input.customer_id, input.customer.clone()) {
        (Some(id), None) => Some(id),
        (None, Some(intake)) => {
            ordercrm_customer::commands::intake::find_or_create(
                txn,
                ctx,
                cipher,
                intake,
                &mut errors,
            )
            .await?
        }
        _ => {
            errors.push(FieldError::new(
                "customer_id",
                "required",
                "give customer_id or customer, one of them",
            ));
            None
        }
    };
    let customer = match customer_id {
        Some(id) => {
            // A merge of this customer waits for this order, and this order for a
            // merge under way (it then reads the customer archived).
            ordercrm_kernel::db::share_for_check(txn, &format!("customer:{id}")).await?;
            ordering_customer(txn, &ctx.actor, id).await?
        }
        None => None,
    };
    if customer_id.is_some() && customer.is_none() {
        errors.push(FieldError::new(
            "customer_id",
            "unknown_customer",
            "no such customer, or not one of yours",
        ));
    }
    let lines = check_lines(txn, &input.lines, input.currency, &mut errors).await?;
    // Not even a draft: the review would refuse it, and an erased customer's orders
    // must not grow. Checked after the lines, so their errors are not hidden (and a
    // request wrong in itself is not answered as a conflict).
    if let Some(c) = customer.as_ref().filter(|c| c.erased || c.archived) {
        errors.push(FieldError::state(
            if input.customer.is_some() {
                "customer"
            } else {
                "customer_id"
            },
            if c.erased { "erased" } else { "archived" },
            if c.erased {
                "the customer's data was erased"
            } else {
                "the customer is archived"
            },
        ));
    }
    let (terms, terms_days) = payment_terms(&mut errors, terms, terms_days, customer.as_ref());

    let (Some(channel), Some(customer), Some(lines), true) =
        (channel, customer, lines, errors.is_empty())
    else {
        return Err(Error::validation(errors));
    };
    let prices_include_tax = ordercrm_settings::queries::value(txn, "prices_include_tax")
        .await?
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let money: Vec<LineMoney> = lines
        .iter()
        .map(|l| LineMoney {
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount: l.discount,
            tax_rate_bps: l.product.tax_rate_bps,
        })
        .collect();
    let totals = model::totals(&money, order_discount, shipping, prices_include_tax)
        .map_err(|e| totals_error(e, |i| format!("lines[{i}].discount")))?;
    let grand_total = Money::new(totals.grand_total, input.currency);
    if let Some(expected) = expected
        && expected != grand_total
    {
        return Err(OrderError::GrandTotalMismatch {
            expected,
            computed: grand_total,
        }
        .into());
    }
    let prepaid = payment.as_ref().map_or(0, |p| p.amount);
    if prepaid > totals.grand_total {
        return Err(Error::invalid_field(
            "payment.amount.amount",
            "range",
            format!("must not be more than the grand total, {grand_total}"),
        ));
    }

    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "order_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let id = new_id();
    let row = order::ActiveModel {
        id: Set(id),
        number: Set(number.clone()),
        status: Set(OrderStatus::Draft.as_str().to_owned()),
        fulfillment_status: Set(FulfillmentStatus::Unfulfilled.as_str().to_owned()),
        payment_status: Set(model::payment_status(prepaid, totals.grand_total)
            .as_str()
            .to_owned()),
        channel: Set(channel.as_str().to_owned()),
        channel_name: Set(channel_name),
        external_id: Set(external_id.clone()),
        intake_hash: Set(external_id.as_ref().map(|_| hash)),
        customer_id: Set(customer.id),
        customer_name: Set(customer.name.clone()),
        currency: Set(input.currency.code().to_owned()),
        prices_include_tax: Set(prices_include_tax),
        subtotal_amount: Set(totals.subtotal),
        discount_amount: Set(totals.discount),
        order_discount_amount: Set(order_discount),
        tax_amount: Set(totals.tax),
        shipping_amount: Set(shipping),
        grand_total_amount: Set(totals.grand_total),
        base_currency: Set(None),
        base_rate: Set(None),
        grand_total_base_amount: Set(None),
        shipping_address: Set(shipping_address.map(|a| json!(a))),
        billing_address: Set(billing_address.map(|a| json!(a))),
        requested_delivery_on: Set(input.requested_delivery_on.map(|d| d.0)),
        payment_terms: Set(terms.as_str().to_owned()),
        payment_terms_days: Set(terms_days),
        notes: Set(notes),
        tags: Set(json!(tags)),
        metadata: Set(json!(metadata)),
        review: Set(None),
        status_reason: Set(None),
        reservation_id: Set(None),
        search_text: Set(model::search_text(
            &number,
            external_id.as_deref(),
            &customer.name,
        )),
        created_by: Set(ctx.actor.principal()),
        creator_role: Set(match &ctx.actor {
            Actor::User(u) => Some(u.role.as_str().to_owned()),
            Actor::ApiKey(_) => Some("api_key".to_owned()),
            _ => None,
        }),
        prepaid_amount: Set(prepaid),
        paid_amount: Set(prepaid),
        credited_amount: Set(0),
        shipping_invoiced: Set(false),
        submitted_at: Set(None),
        approved_at: Set(None),
        first_shipped_at: Set(None),
        delivered_at: Set(None),
        completed_at: Set(None),
        delay_announced_at: Set(None),
        replaces_return_id: Set(replaces_return),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let line_rows: Vec<order_line::Model> = lines
        .into_iter()
        .zip(totals.lines)
        .zip(1..)
        .map(|((l, t), line_no)| order_line::Model {
            id: new_id(),
            order_id: id,
            line_no,
            product_id: l.product.id,
            sku: l.product.sku,
            name: l.product.name,
            unit: l.product.unit,
            tax_rate_bps: l.product.tax_rate_bps,
            tracks_inventory: l.product.tracks_inventory,
            quantity: l.quantity,
            unit_price_amount: l.unit_price,
            discount_amount: l.discount,
            order_discount_share: t.order_discount_share,
            tax_amount: t.tax,
            total_amount: t.total,
            warehouse_id: l.warehouse.as_ref().map(|w| w.id),
            warehouse_code: l.warehouse.map(|w| w.code),
            shipped_quantity: 0,
            delivered_quantity: 0,
            return_claimed_quantity: 0,
            returned_quantity: 0,
            credited_quantity: 0,
            credited_amount: 0,
            invoiced_quantity: 0,
            invoiced_amount: 0,
            invoiced_tax_amount: 0,
        })
        .collect();
    order_line::Entity::insert_many(
        line_rows
            .iter()
            .map(|l| order_line::ActiveModel::from(l.clone())),
    )
    .exec_without_returning(txn)
    .await?;
    let row = if let Some(p) = payment {
        let order = crate::settlement::Invoiceable::of(&row, &line_rows);
        let payment = crate::settlement::IntakePayment {
            amount: p.amount,
            currency: input.currency,
            method: p.method,
            provider: p.provider,
            reference: p.reference,
            paid_at: p.paid_at,
        };
        crate::settlement::intake(txn, ctx, &order, payment).await?;
        // Payments may have found the prepayment already used in part (paid less).
        queries::order_row(txn, id).await?
    } else {
        row
    };
    let parts = queries::Parts {
        prepayments: queries::parts_of(txn, id).await?.prepayments,
        lines: line_rows,
    };
    let data = queries::data(&row, &parts);
    events::record(txn, ctx, &events::CREATED, &data).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("order.create", "order", id).changes(json!({
            "number": data.number, "customer_id": data.customer.id, "channel": data.channel,
            "external_id": data.external_id, "grand_total": data.grand_total,
            "lines": data.lines.len(),
        })),
    )
    .await?;
    if input.submit {
        let view = actions::submit_claimed(txn, ctx, row, parts.lines).await?;
        return Ok(Intake::Created(view));
    }
    Ok(Intake::Created(queries::view(
        &ctx.actor,
        &row,
        &parts,
        ctx.now.date_naive(),
    )))
}

/// The totals rule's refusal as a field error; `discount_field` names the field of
/// the line at an index.
pub(crate) fn totals_error(e: TotalsError, discount_field: impl Fn(usize) -> String) -> Error {
    match e {
        TotalsError::LineDiscount(i) => Error::invalid_field(
            discount_field(i),
            "range",
            "must not be more than quantity × unit price",
        ),
        TotalsError::OrderDiscount => Error::invalid_field(
            "order_discount",
            "range",
            "must not be more than the lines after their discounts",
        ),
        TotalsError::Overflow => {
            Error::invalid_field("lines", "range", "the order's total is too large to count")
        }
    }
}

/// A prepayment after its checks.
struct Payment {
    amount: i64,
    method: PaymentMethod,
    provider: String,
    reference: String,
    paid_at: chrono::DateTime<chrono::Utc>,
}

fn check_payment(
    errors: &mut Vec<FieldError>,
    p: PrepaymentInput,
    currency: Currency,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Payment> {
    let before = errors.len();
    let amount = amount(errors, "payment.amount", Some(p.amount), Some(currency));
    let method = p.method.check(errors, "payment.method");
    // `Alipay` and `alipay` are one provider: a reference is unique per provider.
    let provider = p.provider.check(errors, "payment.provider").to_lowercase();
    let reference = p.reference.check(errors, "payment.reference");
    // A few minutes of clock skew between the provider and us is not the future.
    if p.paid_at.0 > now + chrono::Duration::minutes(5) {
        errors.push(FieldError::new(
            "payment.paid_at",
            "in_future",
            "must not be in the future",
        ));
    }
    let method = method?;
    (errors.len() == before).then_some(Payment {
        amount,
        method,
        provider,
        reference,
        paid_at: p.paid_at.0,
    })
}

/// Terms as sent, or the customer's: `net` with their days, else `prepaid`. Days go
/// with `net` and `eom` only.
fn payment_terms(
    errors: &mut Vec<FieldError>,
    terms: Option<Option<PaymentTerms>>,
    days: Option<i32>,
    customer: Option<&OrderingCustomer>,
) -> (PaymentTerms, Option<i32>) {
    let Some(terms) = terms else {
        if days.is_some() {
            errors.push(FieldError::new(
                "payment_terms_days",
                "unexpected",
                "send payment_terms with it",
            ));
        }
        return match customer.and_then(|c| c.payment_terms_days) {
            Some(d) => (PaymentTerms::Net, Some(d)),
            None => (PaymentTerms::Prepaid, None),
        };
    };
    let terms = terms.unwrap_or(PaymentTerms::Prepaid);
    let wants_days = matches!(terms, PaymentTerms::Net | PaymentTerms::Eom);
    match (wants_days, days) {
        (true, None) => errors.push(FieldError::new(
            "payment_terms_days",
            "required",
            format!("required with {terms}"),
        )),
        (false, Some(_)) => errors.push(FieldError::new(
            "payment_terms_days",
            "unexpected",
            format!("only with net or eom, not {terms}"),
        )),
        _ => {}
    }
    (terms, if wants_days { days } else { None })
}

/// Each line's product, price and warehouse; `None` when any line is wrong (the
/// errors say which).
pub(crate) async fn check_lines(
    txn: &DatabaseTransaction,
    input: &[CreateOrderLine],
    currency: Currency,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Vec<Line>>> {
    let ids: Vec<Uuid> = input.iter().filter_map(|l| l.product_id).collect();
    let found_before = errors.len();
    let mut checked_skus = Vec::with_capacity(input.len());
    let mut checked_codes = Vec::with_capacity(input.len());
    for (i, l) in input.iter().enumerate() {
        checked_skus.push(
            l.sku
                .as_ref()
                .map(|s| s.check(errors, &format!("lines[{i}].sku"))),
        );
        checked_codes.push(
            l.warehouse_code
                .as_ref()
                .map(|c| c.check(errors, &format!("lines[{i}].warehouse_code"))),
        );
    }
    if errors.len() > found_before {
        // Malformed names are not looked up (nor echoed back at length).
        return Ok(None);
    }
    let skus: Vec<&str> = checked_skus.iter().flatten().map(String::as_str).collect();
    let (products, by_sku) = for_orders::products(txn, &ids, &skus).await?;
    let all_warehouses = for_orders::warehouses(txn).await?;
    let before = errors.len();
    let mut lines = Vec::with_capacity(input.len());
    let mut to_place = Vec::new();
    for (i, l) in input.iter().enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        let quantity = l.quantity.check(errors, &f("quantity"));
        let sku = checked_skus.get(i).cloned().flatten();
        let code = checked_codes.get(i).cloned().flatten();
        let product = match (l.product_id, &sku) {
            (Some(id), None) => products
                .get(&id)
                .ok_or(("product_id", format!("no product {id}"))),
            (None, Some(sku)) => by_sku
                .get(&for_orders::normalize_sku(sku))
                .and_then(|id| products.get(id))
                .ok_or(("sku", format!("no product with SKU '{sku}'"))),
            _ => {
                errors.push(FieldError::new(
                    format!("lines[{i}]"),
                    "product",
                    "name the product by product_id or by sku, one of them",
                ));
                continue;
            }
        };
        let product = match product {
            Ok(p) => p.clone(),
            Err((field, message)) => {
                errors.push(FieldError::new(f(field), "unknown_product", message));
                continue;
            }
        };
        if !product.active {
            errors.push(FieldError::state(
                f(if l.product_id.is_some() {
                    "product_id"
                } else {
                    "sku"
                }),
                "inactive",
                format!("'{}' is inactive", product.sku),
            ));
        }
        let unit_price = match (l.unit_price, product.list_price) {
            (Some(price), _) => amount(errors, &f("unit_price"), Some(price), Some(currency)),
            (None, Some(list)) if list.currency == currency => list.amount,
            (None, list) => {
                errors.push(FieldError::new(
                    f("unit_price"),
                    "required",
                    format!(
                        "'{}' is listed in {}, not {currency}: send the price",
                        product.sku,
                        list.map_or("no currency".to_owned(), |m| m.currency.to_string())
                    ),
                ));
                0
            }
        };
        let discount = amount(errors, &f("discount"), l.discount, Some(currency));
        let warehouse = match (&code, product.tracks_inventory) {
            (Some(code), true) => match all_warehouses.get(&for_orders::normalize_code(code)) {
                None => {
                    errors.push(FieldError::new(
                        f("warehouse_code"),
                        "unknown_warehouse",
                        format!("no warehouse with code '{code}'"),
                    ));
                    None
                }
                Some(w) if !w.active => {
                    errors.push(FieldError::state(
                        f("warehouse_code"),
                        "inactive",
                        format!("warehouse '{}' is inactive", w.code),
                    ));
                    None
                }
                Some(w) => Some(w.clone()),
            },
            (Some(_), false) => {
                errors.push(FieldError::new(
                    f("warehouse_code"),
                    "not_stocked",
                    format!(
                        "'{}' tracks no inventory: it ships from no warehouse",
                        product.sku
                    ),
                ));
                None
            }
            (None, true) => {
                to_place.push((lines.len(), product.id, quantity));
                None
            }
            (None, false) => None,
        };
        lines.push(Line {
            product,
            quantity,
            unit_price,
            discount,
            warehouse,
        });
    }
    if errors.len() > before {
        return Ok(None);
    }
    if !to_place.is_empty() {
        let products: Vec<Uuid> = to_place.iter().map(|(_, p, _)| *p).collect();
        let mut available = for_orders::available(txn, &products).await?;
        // What lines that name their warehouse take is not there for the others.
        for line in &lines {
            if let Some(w) = &line.warehouse
                && let Some(a) = available.get_mut(&(line.product.id, w.id))
            {
                *a = (*a - line.quantity).max(0);
            }
        }
        let candidates: Vec<WarehouseFacts> = all_warehouses.into_values().collect();
        let mut chosen: HashMap<usize, WarehouseFacts> =
            warehouses::choose(&to_place, &candidates, &available);
        for (i, line) in lines.iter_mut().enumerate() {
            if line.product.tracks_inventory && line.warehouse.is_none() {
                match chosen.remove(&i) {
                    Some(w) => line.warehouse = Some(w),
                    None => errors.push(FieldError::state(
                        "lines",
                        "no_warehouse",
                        "no active warehouse to ship from",
                    )),
                }
            }
        }
        if errors.len() > before {
            return Ok(None);
        }
    }
    Ok(Some(lines))
}
