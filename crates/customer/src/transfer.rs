//! CSV export and import. One documented header set both ways, so an export
//! re-imports unchanged. Import is all or nothing, and staged
//! (`ordercrm_kernel::staging`): rows are checked in batches by the same commands a
//! single request runs, then applied at once in the caller's transaction.

use std::io::Read;

use ordercrm_kernel::crypto::FieldCipher;
use std::collections::{HashMap, HashSet};

use ordercrm_kernel::csv_import::{
    Checked, Import, ImportLimits, Row, RowErrors, money_cells, refs_cell, row_errors,
};
pub use ordercrm_kernel::csv_import::{ImportReport, RowError};
use ordercrm_kernel::staging::{self, Batch, SeenRefs, Staged, Staging};
use ordercrm_kernel::{Ctx, Result, numbers};
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::commands;
use crate::dto::{CreateCustomer, CustomerView, UpdateCustomer};
use crate::entity::{customer, external_ref};
use crate::model;
use crate::model::Tags;

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

/// An import of customers, as `ordercrm_kernel::staging` runs it.
pub struct CustomerImport<'a> {
    ctx: &'a Ctx,
    cipher: &'a FieldCipher,
    allow_duplicates: bool,
    /// What earlier rows claimed: later batches cannot see them in the database.
    seen_customers: HashSet<Uuid>,
    seen_contacts: HashSet<String>,
    seen_refs: SeenRefs,
}

/// Check every row of `input` in batches, keeping what they would write; nothing is
/// changed yet. Apply a `ready()` result with [`apply`] in one transaction.
pub async fn stage<R: Read>(
    db: &ordercrm_kernel::Db,
    ctx: &Ctx,
    cipher: &FieldCipher,
    input: R,
    dry_run: bool,
    allow_duplicates: bool,
    limits: ImportLimits,
) -> Result<Staged> {
    ctx.actor
        .require(ordercrm_kernel::authz::Action::CustomersWrite)?;
    let import = Import::open(input, dry_run, HEADERS, &["name", "number"], limits)?;
    let checking = staging::checking(ctx);
    let mut domain = CustomerImport {
        ctx: &checking,
        cipher,
        allow_duplicates,
        seen_customers: HashSet::new(),
        seen_contacts: HashSet::new(),
        seen_refs: SeenRefs::default(),
    };
    staging::check(db, &checking, import, &mut domain).await
}

/// Write a staged import in `txn`; the report of what was written.
pub async fn apply(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    staged: Staged,
    allow_duplicates: bool,
) -> Result<ImportReport> {
    let domain = CustomerImport {
        ctx,
        cipher,
        allow_duplicates,
        seen_customers: HashSet::new(),
        seen_contacts: HashSet::new(),
        seen_refs: SeenRefs::default(),
    };
    staging::apply(txn, ctx, &staged, &domain).await?;
    Ok(staged.report)
}

impl Staging for CustomerImport<'_> {
    type Rows = (Vec<customer::Model>, Vec<external_ref::Model>);

    fn merge(&self, into: &mut Self::Rows, more: Self::Rows) {
        into.0.extend(more.0);
        into.1.extend(more.1);
    }

    async fn check_row(
        &mut self,
        txn: &DatabaseTransaction,
        row: &Row,
    ) -> std::result::Result<Checked, RowErrors> {
        let checked = apply_row(txn, self.ctx, self.cipher, row, self.allow_duplicates).await?;
        if !self.seen_customers.insert(checked.id()) {
            return Err(vec![(
                "row".into(),
                "an earlier row of this file is about the same customer".into(),
            )]);
        }
        if matches!(checked, Checked::Created(_)) && !self.allow_duplicates {
            let email = row.get("email").map(|e| model::normalize_email(&e));
            let phone = row.get("phone").map(|p| model::normalize_phone(&p));
            for (field, value) in [("email", email), ("phone", phone)] {
                if let Some(v) = value
                    && !self.seen_contacts.insert(format!("{field}:{v}"))
                {
                    return Err(vec![(
                        field.into(),
                        format!("an earlier row of this file has the same {field}"),
                    )]);
                }
            }
        }
        self.seen_refs.claim(row, "external_refs")?;
        Ok(checked)
    }

    async fn capture(
        &self,
        txn: &DatabaseTransaction,
        ids: &[Uuid],
    ) -> std::result::Result<Self::Rows, sea_orm::DbErr> {
        let customers = customer::Entity::find()
            .filter(customer::COLUMN.id.is_in(ids.iter().copied()))
            .all(txn)
            .await?;
        let refs = external_ref::Entity::find()
            .filter(external_ref::COLUMN.customer_id.is_in(ids.iter().copied()))
            .all(txn)
            .await?;
        Ok((customers, refs))
    }

    async fn keep(
        &self,
        txn: &DatabaseTransaction,
        import_id: Uuid,
        first_ord: i64,
        batch: &mut Batch<Self::Rows>,
    ) -> Result<usize> {
        let updated: Vec<(Uuid, i64)> = batch
            .rows
            .0
            .iter()
            .filter(|c| c.version > 1)
            .map(|c| (c.id, c.version))
            .collect();
        staging::refuse_moved::<customer::Entity>(
            txn,
            customer::Column::Id,
            customer::Column::Version,
            &updated,
        )
        .await?;
        give_numbers(txn, batch).await?;
        let (customers, refs) = &batch.rows;
        staging::keep::<customer::Entity>(txn, import_id, first_ord, customers).await?;
        staging::keep::<external_ref::Entity>(txn, import_id, first_ord, refs).await?;
        Ok(customers.len() + refs.len())
    }

    async fn write(&self, txn: &DatabaseTransaction, _ctx: &Ctx, import_id: Uuid) -> Result<u64> {
        if !self.allow_duplicates {
            refuse_duplicates_since(txn, import_id).await?;
        }
        let customers = staging::write_versioned::<customer::Entity>(
            txn,
            import_id,
            customer::Column::Id,
            customer::Column::Version,
            CUSTOMER_COLUMNS,
        )
        .await?
        .ok_or_else(|| {
            ordercrm_kernel::Error::new(
                ordercrm_kernel::error::problems::CONFLICT,
                "customers in this file were changed by someone else while it was checked; \
                 nothing was imported: send it again",
            )
        })?;
        let refs = staging::replace_kept_children::<external_ref::Entity, customer::Entity>(
            txn,
            import_id,
            external_ref::Column::CustomerId,
            customer::Column::Id,
        )
        .await?;
        Ok(customers + refs)
    }
}

/// New customers get their numbers again when their batch is kept if the ones they
/// had while being checked were given back with the check's rollback (SQLite).
/// Numbers an import takes and then does not apply (a refused or abandoned import)
/// stay unused.
async fn give_numbers(
    txn: &DatabaseTransaction,
    batch: &mut Batch<<CustomerImport<'_> as Staging>::Rows>,
) -> Result<()> {
    let new = i64::try_from(batch.created.len()).unwrap_or(i64::MAX);
    // From a sequence, the number a check took is used up, so it is still theirs.
    if new == 0 || !numbers::given_back_on_rollback(txn.get_database_backend(), commands::NUMBERS) {
        return Ok(());
    }
    let prefix = ordercrm_settings::queries::number_prefix(
        txn,
        "customer_number_prefix",
        commands::DEFAULT_PREFIX,
    )
    .await?;
    let mut next = numbers::next_n(txn, commands::NUMBERS, new)
        .await?
        .into_iter();
    // Each new customer's events and audit rows, found by id once (a batch holds
    // hundreds of each).
    let created: HashSet<Uuid> = batch.created.iter().copied().collect();
    let mut events_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in batch.events.iter().enumerate() {
        events_of.entry(e.resource_id.clone()).or_default().push(i);
    }
    let mut audit_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, a) in batch.audit.iter().enumerate() {
        if let Some(id) = &a.entity_id {
            audit_of.entry(id.clone()).or_default().push(i);
        }
    }
    for c in batch.rows.0.iter_mut().filter(|c| created.contains(&c.id)) {
        let number = numbers::format(
            &prefix,
            next.next().ok_or_else(|| {
                sea_orm::DbErr::Custom("fewer customer numbers than asked for".into())
            })?,
        );
        // Only where the number is: a name or tag may read like one.
        c.search_text = model::renumber_search_text(&c.search_text, &c.name, &c.number, &number);
        let id = c.id.to_string();
        for &i in events_of.get(&id).into_iter().flatten() {
            if let Some(logged) = batch.events.get_mut(i).map(|e| &mut e.payload)
                && let Some(old) = logged.pointer_mut("/number")
                && old == c.number.as_str()
            {
                *old = number.clone().into();
            }
        }
        for &i in audit_of.get(&id).into_iter().flatten() {
            if let Some(old) = batch
                .audit
                .get_mut(i)
                .and_then(|a| a.changes.as_mut())
                .and_then(|changes| changes.pointer_mut("/number/to"))
                && old == c.number.as_str()
            {
                *old = number.clone().into();
            }
        }
        c.number = number;
    }
    Ok(())
}

/// Someone may have created a customer with a new row's email or phone while the
/// file was checked: the rule a single create follows holds for the file too. New
/// rows are the kept ones at version 1. Driven from the kept rows, by the contact
/// indexes: a `NOT IN` over a 100k-row import would outgrow PostgreSQL's hash and
/// compare every customer with every kept id.
async fn refuse_duplicates_since(txn: &DatabaseTransaction, import_id: Uuid) -> Result<()> {
    use sea_orm::ConnectionTrait;
    let backend = txn.get_database_backend();
    let param = match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?",
    };
    let mirror = staging::mirror_of("customers");
    for (field, column) in [("email", "email_normalized"), ("phone", "phone_normalized")] {
        let clash = txn
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT 1 FROM \"{mirror}\" AS m \
                     JOIN customers AS c ON c.{column} = m.{column} \
                     WHERE m.import_id = {param} AND m.version = 1 AND NOT c.archived \
                     AND NOT EXISTS (SELECT 1 FROM \"{mirror}\" AS k \
                         WHERE k.import_id = m.import_id AND k.id = c.id) \
                     LIMIT 1"
                ),
                [import_id.into()],
            ))
            .await?;
        if clash.is_some() {
            return Err(ordercrm_kernel::Error::new(
                ordercrm_kernel::error::problems::CONFLICT,
                format!(
                    "a customer with the {field} of a row in this file was created while it was \
                     checked; nothing was imported: send it again (or allow duplicates)"
                ),
            ));
        }
    }
    Ok(())
}

/// Every column a checked row may have changed (all but the id and its birth).
const CUSTOMER_COLUMNS: &[customer::Column] = &[
    customer::Column::Number,
    customer::Column::Kind,
    customer::Column::Name,
    customer::Column::Email,
    customer::Column::EmailNormalized,
    customer::Column::Phone,
    customer::Column::PhoneNormalized,
    customer::Column::LegalName,
    customer::Column::Industry,
    customer::Column::SizeBand,
    customer::Column::TaxIdEncrypted,
    customer::Column::Birthday,
    customer::Column::PreferredLanguage,
    customer::Column::PreferredCurrency,
    customer::Column::Tags,
    customer::Column::SourceChannel,
    customer::Column::OwnerId,
    customer::Column::CreditLimitAmount,
    customer::Column::CreditLimitCurrency,
    customer::Column::PaymentTermsDays,
    customer::Column::MarketingConsent,
    customer::Column::MarketingConsentAt,
    customer::Column::Attributes,
    customer::Column::SearchText,
    customer::Column::Archived,
    customer::Column::ArchivedAt,
    customer::Column::MergedIntoId,
    customer::Column::ErasedAt,
    customer::Column::Version,
    customer::Column::UpdatedAt,
];

/// Upsert one row: by `number`, else by an external reference, else create.
async fn apply_row(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    row: &Row,
    allow_duplicates: bool,
) -> std::result::Result<Checked, RowErrors> {
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
    let birthday: Option<Option<ordercrm_kernel::input::Day>> =
        row.parse_cell("birthday", &mut errors);
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
                external_ref::Entity::find_by_id((r.channel.0.clone(), r.external_id.0.clone()))
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
                name: cell("name").map(Into::into),
                email: row.cell_as("email"),
                phone: row.cell_as("phone"),
                legal_name: row.cell_as("legal_name"),
                industry: row.cell_as("industry"),
                size_band: row.cell_as("size_band"),
                // A masked export cell cannot be the real value: keep what is stored.
                tax_id: row
                    .cell("tax_id")
                    .filter(|t| !t.as_deref().is_some_and(|t| t.contains('•')))
                    .map(|t| t.map(Into::into)),
                birthday,
                preferred_language: row.cell_as("preferred_language"),
                preferred_currency: row.cell_as("preferred_currency"),
                tags: tags.map(Tags::from),
                // An empty owner cell keeps the owner (nobody may unown by import).
                owner_id: owner_id.flatten().map(Some),
                credit_limit: credit_limit.map(|m| m.map(Into::into)),
                payment_terms_days: terms.map(|d| d.map(|d| i64::from(d).into())),
                marketing_consent: consent,
                attributes: None,
            };
            let was = customer::Entity::find_by_id(id)
                .one(txn)
                .await
                .map_err(|e| vec![("row".to_owned(), e.to_string())])?
                .map(|c| c.version);
            let view = commands::update(txn, ctx, cipher, id, None, patch)
                .await
                .map_err(to_errors)?;
            Ok(if Some(view.version) == was {
                Checked::Unchanged(id)
            } else {
                Checked::Updated(id)
            })
        }
        None => {
            let input = CreateCustomer {
                kind: cell("kind").unwrap_or_default().into(),
                name: cell("name").unwrap_or_default().into(),
                email: cell("email").map(Into::into),
                phone: cell("phone").map(Into::into),
                legal_name: cell("legal_name").map(Into::into),
                industry: cell("industry").map(Into::into),
                size_band: cell("size_band").map(Into::into),
                tax_id: cell("tax_id").filter(|t| !t.contains('•')).map(Into::into),
                birthday: birthday.flatten(),
                preferred_language: cell("preferred_language").map(Into::into),
                preferred_currency: cell("preferred_currency").map(Into::into),
                tags: tags.map(Tags::from).unwrap_or_default(),
                source_channel: cell("source_channel").map(Into::into),
                owner_id: owner_id.flatten(),
                credit_limit: credit_limit.flatten().map(Into::into),
                payment_terms_days: terms.flatten().map(|d| i64::from(d).into()),
                marketing_consent: consent.unwrap_or(false),
                attributes: None,
                external_refs: refs,
            };
            let view = commands::create(txn, ctx, cipher, input, allow_duplicates)
                .await
                .map_err(to_errors)?;
            Ok(Checked::Created(view.id))
        }
    }
}
