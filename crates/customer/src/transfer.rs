//! CSV export and import. One documented header set both ways, so an export
//! re-imports unchanged. Import is all or nothing: every row is applied inside the
//! caller's transaction and the caller commits only when no row failed (a dry run
//! rolls back always, after running every check, database checks included).

use std::io::Read;

use chrono::NaiveDate;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::csv_import::{Import, Row, RowErrors, money_cells, refs_cell, row_errors};
pub use ordercrm_kernel::csv_import::{ImportReport, RowError};
use ordercrm_kernel::{Ctx, Result};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};

use crate::commands;
use crate::dto::{CreateCustomer, CustomerView, UpdateCustomer};
use crate::entity::{customer, external_ref};

/// The columns, in order. `tags` are `;`-separated; `external_refs` are
/// `channel:external_id` pairs, `;`-separated. Empty cells are absent values.
pub const HEADERS: &[&str] = &[
    "number",
    "kind",
    "name",
    "email",
    "phone",
    "legal_name",
    "industry",
    "size_band",
    "tax_id",
    "birthday",
    "preferred_language",
    "preferred_currency",
    "tags",
    "source_channel",
    "owner_id",
    "credit_limit_amount",
    "credit_limit_currency",
    "payment_terms_days",
    "marketing_consent",
    "external_refs",
];

pub fn header_row() -> Vec<String> {
    HEADERS.iter().map(|h| (*h).to_owned()).collect()
}

pub fn row(c: &CustomerView) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let [limit_amount, limit_currency] = money_cells(c.credit_limit);
    vec![
        c.number.clone(),
        c.kind.clone(),
        c.name.clone(),
        opt(&c.email),
        opt(&c.phone),
        opt(&c.legal_name),
        opt(&c.industry),
        opt(&c.size_band),
        opt(&c.tax_id),
        c.birthday.map(|d| d.to_string()).unwrap_or_default(),
        opt(&c.preferred_language),
        opt(&c.preferred_currency),
        c.tags.join(";"),
        opt(&c.source_channel),
        c.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        limit_amount,
        limit_currency,
        c.payment_terms_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        c.marketing_consent.to_string(),
        refs_cell(&c.external_refs),
    ]
}

/// Run every row of `input` in `txn`. The caller commits only if `report.applied`.
pub async fn import<R: Read>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    input: R,
    dry_run: bool,
    allow_duplicates: bool,
) -> Result<ImportReport> {
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CustomersWrite)?;
    let mut import = Import::open(input, dry_run, HEADERS, &["name", "number"])?;
    while let Some(row) = import.next_row() {
        let outcome = apply_row(txn, ctx, cipher, &row, allow_duplicates).await;
        import.record(&row, outcome);
    }
    Ok(import.finish())
}

/// Upsert one row: by `number`, else by an external reference, else create.
/// `Ok(true)` created, `Ok(false)` updated.
async fn apply_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    row: &Row,
    allow_duplicates: bool,
) -> std::result::Result<bool, RowErrors> {
    let cell = |name: &str| row.get(name);
    let mut errors = RowErrors::new();
    // A column the file does not have leaves its field alone (None); an empty cell
    // in a column it has clears the field (Some(None)).
    let tags: Option<Vec<String>> = row.cell("tags").map(|t| {
        t.unwrap_or_default()
            .split(';')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let refs = row.external_refs("external_refs", &mut errors);
    let birthday: Option<Option<NaiveDate>> = row.parse_cell("birthday", &mut errors);
    let owner_id: Option<Option<uuid::Uuid>> = row.parse_cell("owner_id", &mut errors);
    let terms: Option<Option<i32>> = row.parse_cell("payment_terms_days", &mut errors);
    let consent: Option<bool> = row.parse("marketing_consent", &mut errors);
    let credit_limit = row.money_cell("credit_limit_amount", "credit_limit_currency", &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }

    // Which customer is this row about? Only customers the importer may see count:
    // an error must never name, or hint at, one they may not.
    let mut target = None;
    if let Some(number) = cell("number") {
        match crate::queries::visible(&ctx.actor)
            .filter(customer::COLUMN.number.eq(&number))
            .one(txn)
            .await
        {
            Ok(Some(found)) => target = Some(found.id),
            Ok(None) => {
                return Err(vec![(
                    "number".into(),
                    format!("no customer {number}; leave it empty to create one"),
                )]);
            }
            Err(e) => return Err(vec![("row".into(), e.to_string())]),
        }
    }
    if target.is_none() {
        for r in &refs {
            if let Ok(Some(found)) =
                external_ref::Entity::find_by_id((r.channel.clone(), r.external_id.clone()))
                    .one(txn)
                    .await
                && crate::queries::find_visible(txn, &ctx.actor, found.customer_id)
                    .await
                    .is_ok()
            {
                target = Some(found.customer_id);
                break;
            }
        }
    }
    let to_errors = row_errors;
    match target {
        Some(id) => {
            let patch = UpdateCustomer {
                name: cell("name"),
                email: row.cell("email"),
                phone: row.cell("phone"),
                legal_name: row.cell("legal_name"),
                industry: row.cell("industry"),
                size_band: row.cell("size_band"),
                // A masked export cell cannot be the real value: keep what is stored.
                tax_id: row
                    .cell("tax_id")
                    .filter(|t| !t.as_deref().is_some_and(|t| t.contains('•'))),
                birthday,
                preferred_language: row.cell("preferred_language"),
                preferred_currency: row.cell("preferred_currency"),
                tags,
                // An empty owner cell keeps the owner (nobody may unown by import).
                owner_id: owner_id.flatten().map(Some),
                credit_limit,
                payment_terms_days: terms,
                marketing_consent: consent,
                attributes: None,
            };
            commands::update(txn, ctx, cipher, id, None, patch)
                .await
                .map_err(to_errors)?;
            Ok(false)
        }
        None => {
            let input = CreateCustomer {
                kind: cell("kind").unwrap_or_default(),
                name: cell("name").unwrap_or_default(),
                email: cell("email"),
                phone: cell("phone"),
                legal_name: cell("legal_name"),
                industry: cell("industry"),
                size_band: cell("size_band"),
                tax_id: cell("tax_id").filter(|t| !t.contains('•')),
                birthday: birthday.flatten(),
                preferred_language: cell("preferred_language"),
                preferred_currency: cell("preferred_currency"),
                tags: tags.unwrap_or_default(),
                source_channel: cell("source_channel"),
                owner_id: owner_id.flatten(),
                credit_limit: credit_limit.flatten(),
                payment_terms_days: terms.flatten(),
                marketing_consent: consent.unwrap_or(false),
                attributes: None,
                external_refs: refs,
            };
            commands::create(txn, ctx, cipher, input, allow_duplicates)
                .await
                .map_err(to_errors)?;
            Ok(true)
        }
    }
}
