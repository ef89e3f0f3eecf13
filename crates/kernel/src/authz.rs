//! Who may do what: roles, actions, API-key scopes and object visibility, in one
//! place. Domains ask `actor.require(Action::…)` and filter their finders with
//! `actor.visibility()`, so no handler decides access and no query forgets it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, problems};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Sales,
    Warehouse,
    Finance,
    Support,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Manager,
        Role::Sales,
        Role::Warehouse,
        Role::Finance,
        Role::Support,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Sales => "sales",
            Role::Warehouse => "warehouse",
            Role::Finance => "finance",
            Role::Support => "support",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Something a caller can attempt. Each domain adds its own as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    SettingsRead,
    SettingsWrite,
    UsersRead,
    UsersWrite,
    ApiKeysManage,
    AuditRead,
    CustomersRead,
    CustomersWrite,
    /// See tax ids and bank accounts unmasked.
    CustomersReadSensitive,
    /// Irreversibly anonymise a customer's personal data.
    CustomersErase,
    /// Products, warehouses and suppliers.
    CatalogRead,
    CatalogWrite,
    /// Stock levels, movements, reservations, alerts, replenishment suggestions.
    InventoryRead,
    /// Receive, adjust, transfer, count, reserve, ship and return stock.
    InventoryWrite,
    PurchasingRead,
    PurchasingWrite,
    /// Exchange rates: every signed-in reader; orders and reports convert with them.
    ExchangeRatesRead,
    /// Publish and withdraw exchange rates: finance's job.
    ExchangeRatesWrite,
    /// Orders of the customers one sees (the warehouse: approved orders only).
    OrdersRead,
    /// Take orders and move them: submit, hold, release, reject, cancel.
    OrdersWrite,
    /// Approve an order over a credit, price or amount hold: a manager's override.
    OrdersApprove,
    /// Webhook endpoints: admins all, a key the ones it made.
    WebhooksRead,
    /// Register, change, rotate and remove webhook endpoints (a key: its own).
    WebhooksWrite,
    /// Dispatch notes and shipments of the orders one sees.
    FulfillmentRead,
    /// Ship an order's goods and cancel a shipment before pickup: the warehouse's job.
    FulfillmentWrite,
    /// Report what carriers say about shipments, and sign for deliveries.
    TrackingWrite,
    /// The event feed (`GET /v1/events`): a key reads what its other scopes let it.
    EventsRead,
    /// Returns of the orders one sees.
    ReturnsRead,
    /// Request a return for delivered goods (support, sales, a channel's key).
    ReturnsWrite,
    /// Approve, reject and close returns: a manager's decision.
    ReturnsApprove,
    /// Record what came back and restock or scrap it: the warehouse's job.
    ReturnsReceive,
    /// Invoices and payments of the customers one sees.
    PaymentsRead,
    /// Invoice orders, issue, void and write off invoices, record and allocate
    /// payments: finance's job (and a gateway's or an ERP's key).
    PaymentsWrite,
    /// Approve a refund at or above the `refund_approval_threshold`: a manager's
    /// decision, never on one's own request.
    RefundsApprove,
}

impl Action {
    pub const ALL: [Action; 34] = [
        Action::SettingsRead,
        Action::SettingsWrite,
        Action::UsersRead,
        Action::UsersWrite,
        Action::ApiKeysManage,
        Action::AuditRead,
        Action::CustomersRead,
        Action::CustomersWrite,
        Action::CustomersReadSensitive,
        Action::CustomersErase,
        Action::CatalogRead,
        Action::CatalogWrite,
        Action::InventoryRead,
        Action::InventoryWrite,
        Action::PurchasingRead,
        Action::PurchasingWrite,
        Action::ExchangeRatesRead,
        Action::ExchangeRatesWrite,
        Action::OrdersRead,
        Action::OrdersWrite,
        Action::OrdersApprove,
        Action::WebhooksRead,
        Action::WebhooksWrite,
        Action::FulfillmentRead,
        Action::FulfillmentWrite,
        Action::TrackingWrite,
        Action::EventsRead,
        Action::ReturnsRead,
        Action::ReturnsWrite,
        Action::ReturnsApprove,
        Action::ReturnsReceive,
        Action::PaymentsRead,
        Action::PaymentsWrite,
        Action::RefundsApprove,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::SettingsRead => "settings.read",
            Action::SettingsWrite => "settings.write",
            Action::UsersRead => "users.read",
            Action::UsersWrite => "users.write",
            Action::ApiKeysManage => "api_keys.manage",
            Action::AuditRead => "audit.read",
            Action::CustomersRead => "customers.read",
            Action::CustomersWrite => "customers.write",
            Action::CustomersReadSensitive => "customers.read_sensitive",
            Action::CustomersErase => "customers.erase",
            Action::CatalogRead => "catalog.read",
            Action::CatalogWrite => "catalog.write",
            Action::InventoryRead => "inventory.read",
            Action::InventoryWrite => "inventory.write",
            Action::PurchasingRead => "purchasing.read",
            Action::PurchasingWrite => "purchasing.write",
            Action::ExchangeRatesRead => "exchange_rates.read",
            Action::ExchangeRatesWrite => "exchange_rates.write",
            Action::OrdersRead => "orders.read",
            Action::OrdersWrite => "orders.write",
            Action::OrdersApprove => "orders.approve",
            Action::WebhooksRead => "webhooks.read",
            Action::WebhooksWrite => "webhooks.write",
            Action::FulfillmentRead => "fulfillment.read",
            Action::FulfillmentWrite => "fulfillment.write",
            Action::ReturnsRead => "returns.read",
            Action::ReturnsWrite => "returns.write",
            Action::ReturnsApprove => "returns.approve",
            Action::ReturnsReceive => "returns.receive",
            Action::PaymentsRead => "payments.read",
            Action::PaymentsWrite => "payments.write",
            Action::RefundsApprove => "refunds.approve",
            Action::TrackingWrite => "tracking.write",
            Action::EventsRead => "events.read",
        }
    }

    pub fn is_read(self) -> bool {
        matches!(
            self,
            Action::SettingsRead
                | Action::UsersRead
                | Action::AuditRead
                | Action::CustomersRead
                | Action::CatalogRead
                | Action::InventoryRead
                | Action::PurchasingRead
                | Action::ExchangeRatesRead
                | Action::OrdersRead
                | Action::WebhooksRead
                | Action::FulfillmentRead
                | Action::EventsRead
                | Action::ReturnsRead
                | Action::PaymentsRead
        )
    }

    /// The API-key scope that grants this action; `None`: people only.
    pub fn scope(self) -> Option<&'static str> {
        match self {
            Action::SettingsRead | Action::ExchangeRatesRead => Some("settings:read"),
            Action::SettingsWrite | Action::ExchangeRatesWrite => Some("settings:write"),
            Action::OrdersRead => Some("orders:read"),
            Action::OrdersWrite => Some("orders:write"),
            Action::CustomersRead => Some("customers:read"),
            Action::CustomersWrite => Some("customers:write"),
            Action::CatalogRead | Action::InventoryRead | Action::PurchasingRead => {
                Some("inventory:read")
            }
            Action::CatalogWrite | Action::InventoryWrite | Action::PurchasingWrite => {
                Some("inventory:write")
            }
            // A key that registers endpoints reads them back.
            Action::WebhooksRead | Action::WebhooksWrite => Some("webhooks:write"),
            Action::FulfillmentRead => Some("fulfillment:read"),
            Action::FulfillmentWrite => Some("fulfillment:write"),
            Action::TrackingWrite => Some("tracking:write"),
            Action::EventsRead => Some("events:read"),
            Action::ReturnsRead => Some("returns:read"),
            Action::ReturnsWrite => Some("returns:write"),
            // A WMS key that ships also receives what comes back.
            Action::ReturnsReceive => Some("fulfillment:write"),
            Action::PaymentsRead => Some("payments:read"),
            Action::PaymentsWrite => Some("payments:write"),
            Action::UsersRead
            | Action::UsersWrite
            | Action::ApiKeysManage
            | Action::AuditRead
            | Action::CustomersReadSensitive
            | Action::CustomersErase
            | Action::OrdersApprove
            | Action::ReturnsApprove
            | Action::RefundsApprove => None,
        }
    }
}

/// The permission table. Auditors get every read and nothing else; admins get all.
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        // Everything readable, except unmasked sensitive fields.
        Role::Auditor => action.is_read() && action != CustomersReadSensitive,
        // Everyone signed in reads company settings (currency, prefixes) and the
        // users they can see; the visibility rule narrows which users and customers.
        // Managers run the business: everything but people, keys and erasure.
        Role::Manager => matches!(
            action,
            SettingsRead
                | ExchangeRatesRead
                | UsersRead
                | CustomersRead
                | CustomersWrite
                | CatalogRead
                | CatalogWrite
                | InventoryRead
                | InventoryWrite
                | PurchasingRead
                | PurchasingWrite
                | OrdersRead
                | OrdersWrite
                | OrdersApprove
                | FulfillmentRead
                | FulfillmentWrite
                | TrackingWrite
                | ReturnsRead
                | ReturnsWrite
                | ReturnsApprove
                | ReturnsReceive
                | PaymentsRead
                | RefundsApprove
        ),
        // Sales sells from what is available; it does not move stock.
        Role::Sales => matches!(
            action,
            SettingsRead
                | ExchangeRatesRead
                | UsersRead
                | CustomersRead
                | CustomersWrite
                | CatalogRead
                | InventoryRead
                | OrdersRead
                | OrdersWrite
                | FulfillmentRead
                | ReturnsRead
                | ReturnsWrite
                | PaymentsRead
        ),
        Role::Finance => matches!(
            action,
            SettingsRead
                | ExchangeRatesRead
                | ExchangeRatesWrite
                | UsersRead
                | CustomersRead
                | CustomersReadSensitive
                | CatalogRead
                | InventoryRead
                | PurchasingRead
                | OrdersRead
                | FulfillmentRead
                | ReturnsRead
                | PaymentsRead
                | PaymentsWrite
        ),
        Role::Support => matches!(
            action,
            SettingsRead
                | ExchangeRatesRead
                | UsersRead
                | CustomersRead
                | CatalogRead
                | InventoryRead
                | OrdersRead
                | FulfillmentRead
                | ReturnsRead
                | ReturnsWrite
        ),
        Role::Warehouse => matches!(
            action,
            SettingsRead
                | ExchangeRatesRead
                | UsersRead
                | CatalogRead
                | InventoryRead
                | InventoryWrite
                | PurchasingRead
                | PurchasingWrite
                | OrdersRead
                | FulfillmentRead
                | FulfillmentWrite
                | TrackingWrite
                | ReturnsRead
                | ReturnsReceive
        ),
    }
}

/// Every scope an API key may carry. Scopes of domains still to come are accepted
/// now so integrations can be provisioned once.
pub const SCOPES: &[&str] = &[
    "settings:read",
    "settings:write",
    "customers:read",
    "customers:write",
    "inventory:read",
    "inventory:write",
    "orders:read",
    "orders:write",
    "fulfillment:read",
    "fulfillment:write",
    "tracking:write",
    "returns:read",
    "returns:write",
    "payments:read",
    "payments:write",
    "events:read",
    "webhooks:write",
];

/// One of [`SCOPES`], as an API key request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope(&'static str);

impl Scope {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl crate::input::Choices for Scope {
    fn choose(name: &str) -> Option<Self> {
        SCOPES.iter().find(|s| **s == name).map(|s| Scope(s))
    }

    fn expected() -> String {
        format!("one of {}", SCOPES.join(", "))
    }
}

impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(SCOPES.iter().copied()))
            .description(Some("What an API key may do."))
            .into()
    }
}

impl utoipa::ToSchema for Scope {}

/// Which rows of owner-scoped resources an actor may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Rows owned by one of these users.
    OwnedBy(Vec<Uuid>),
    Nothing,
}

impl Visibility {
    /// The rows whose `owner` column this visibility admits, for a finder's WHERE.
    pub fn condition<C: sea_orm::ColumnTrait>(&self, owner: C) -> sea_orm::Condition {
        use sea_orm::sea_query::Expr;
        match self {
            Visibility::All => sea_orm::Condition::all(),
            Visibility::OwnedBy(ids) => sea_orm::Condition::all().add(owner.is_in(ids.clone())),
            Visibility::Nothing => sea_orm::Condition::all().add(Expr::value(false)),
        }
    }

    pub fn allows(&self, owner: Option<Uuid>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::OwnedBy(ids) => owner.is_some_and(|o| ids.contains(&o)),
            Visibility::Nothing => false,
        }
    }
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserActor {
    pub id: Uuid,
    pub role: Role,
    /// Direct reports, for managers; empty otherwise.
    pub team: Vec<Uuid>,
}

crate::string_enum! {
    /// Where an order came from.
    pub Channel {
        Web = "web",
        Phone = "phone",
        Store = "store",
        Marketplace = "marketplace",
        Api = "api",
        Manual = "manual",
    }
}

/// The channel (and shop within it; empty: any) an e-commerce key serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    pub channel: Channel,
    pub name: String,
}

impl ChannelBinding {
    /// Whether an order of `channel` and `name` is this key's.
    pub fn covers(&self, channel: &str, name: &str) -> bool {
        self.channel.as_str() == channel && (self.name.is_empty() || self.name == name)
    }
}

/// An integration's API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyActor {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    /// Who owns what the key creates when the request names no owner.
    pub default_owner: Option<Uuid>,
    /// Bound to one channel: it creates, sees and changes only that channel's orders.
    pub channel: Option<ChannelBinding>,
    /// A logistics key bound to carrier codes (lower case): it sees and reports only
    /// those carriers' shipments. Empty: not bound.
    pub carriers: Vec<String>,
}

impl Actor {
    /// The channel this caller is bound to, if it is a bound key.
    pub fn channel(&self) -> Option<&ChannelBinding> {
        match self {
            Actor::ApiKey(k) => k.channel.as_ref(),
            _ => None,
        }
    }

    /// The carriers this caller is bound to, if it is a logistics key bound to some.
    pub fn carriers(&self) -> Option<&[String]> {
        match self {
            Actor::ApiKey(k) if !k.carriers.is_empty() => Some(&k.carriers),
            _ => None,
        }
    }

    /// Whether this caller may see and report shipments of `carrier`.
    pub fn serves_carrier(&self, carrier: &str) -> bool {
        self.carriers()
            .is_none_or(|carriers| carriers.iter().any(|c| c == carrier))
    }

    /// Whether an event about `resource_type` with `data` is one this caller's
    /// carrier binding lets it see: a bound key sees its carriers' shipments
    /// (`data.carrier`, or `data.shipment.carrier` for tracking updates) and no
    /// dispatch notes; everything else is for its scopes to decide. The one rule the
    /// order timeline and the webhook fan-out share.
    pub fn carrier_allows(&self, resource_type: &str, data: &serde_json::Value) -> bool {
        if self.carriers().is_none() {
            return true;
        }
        match resource_type {
            // Picking and what customers send back are not a carrier's business.
            "dispatch_note" | "return" | "invoice" | "payment" => false,
            "shipment" => data
                .get("carrier")
                .or_else(|| data.get("shipment").and_then(|s| s.get("carrier")))
                .and_then(serde_json::Value::as_str)
                .is_some_and(|c| self.serves_carrier(c)),
            _ => true,
        }
    }
}

/// A carrier code as stored: trimmed, lower case (`SF` and `sf` are one carrier);
/// letters, digits, `_ - .`, starting with a letter or digit, up to 50.
pub fn carrier_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_lowercase();
    let ok = (1..=50).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && code
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    ok.then_some(code)
}

/// A carrier's code as a request sends it (`sf`, `ups`, `kuaidi100.zto`); see
/// [`carrier_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CarrierCode(pub String);

impl CarrierCode {
    /// The stored form; a field error when it is not a carrier code.
    pub fn check(&self, errors: &mut Vec<crate::error::FieldError>, field: &str) -> Option<String> {
        let code = carrier_code(&self.0);
        if code.is_none() {
            errors.push(crate::error::FieldError::new(
                field,
                "invalid_carrier",
                "must be 1 to 50 letters, digits, '_', '-' or '.', starting with a letter or digit",
            ));
        }
        code
    }
}

impl utoipa::PartialSchema for CarrierCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(50))
            .pattern(Some(r"^\s*[A-Za-z0-9][A-Za-z0-9_.-]*\s*$"))
            .examples([serde_json::json!("sf")])
            .into()
    }
}

impl utoipa::ToSchema for CarrierCode {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("CarrierCode")
    }
}

/// The acting principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    System,
    User(UserActor),
    ApiKey(KeyActor),
}

impl Actor {
    /// A stable string naming the principal: `user:<id>`, `key:<id>`, `system`.
    pub fn principal(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::System => "system".to_owned(),
            Actor::User(u) => format!("user:{}", u.id),
            Actor::ApiKey(k) => format!("key:{}", k.id),
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Actor::User(u) => Some(u.id),
            _ => None,
        }
    }

    pub fn may(&self, action: Action) -> bool {
        match self {
            Actor::Anonymous => false,
            Actor::System => true,
            Actor::User(u) => role_allows(u.role, action),
            Actor::ApiKey(k) => action
                .scope()
                .is_some_and(|s| k.scopes.iter().any(|have| have == s)),
        }
    }

    /// 401 for nobody, 403 for somebody not allowed.
    pub fn require(&self, action: Action) -> Result<(), Error> {
        if self.may(action) {
            return Ok(());
        }
        Err(match self {
            Actor::Anonymous => Error::new(problems::UNAUTHENTICATED, "sign in or send an API key"),
            Actor::ApiKey(_) => Error::new(
                problems::FORBIDDEN,
                match action.scope() {
                    Some(scope) => format!("this API key lacks the scope {scope}"),
                    None => format!("API keys may not {}", action.name()),
                },
            ),
            _ => Error::new(
                problems::FORBIDDEN,
                format!("your role may not {}", action.name()),
            ),
        })
    }

    /// Owner-scoped rows this actor may see: a sales rep their own, a manager their
    /// team's and their own, every other role (and keys, within their scopes) all.
    pub fn visibility(&self) -> Visibility {
        match self {
            Actor::Anonymous => Visibility::Nothing,
            Actor::System | Actor::ApiKey(_) => Visibility::All,
            Actor::User(u) => match u.role {
                Role::Sales => Visibility::OwnedBy(vec![u.id]),
                Role::Manager => {
                    let mut ids = u.team.clone();
                    ids.push(u.id);
                    Visibility::OwnedBy(ids)
                }
                _ => Visibility::All,
            },
        }
    }

    /// Users (rows keyed by user id) this actor may see: admins and auditors all; a
    /// manager their reports and themselves; every other person themselves; keys none.
    /// Stricter than [`Actor::visibility`]: finance may read every customer, not every
    /// colleague's profile.
    pub fn user_visibility(&self) -> Visibility {
        match self {
            Actor::System => Visibility::All,
            Actor::User(u) => match u.role {
                Role::Admin | Role::Auditor => Visibility::All,
                Role::Manager => self.visibility(),
                _ => Visibility::OwnedBy(vec![u.id]),
            },
            Actor::Anonymous | Actor::ApiKey(_) => Visibility::Nothing,
        }
    }

    /// Whom this actor may make the owner (or assignee) of a row: only someone whose
    /// rows it could then still see. So a rep assigns themselves, a manager themselves
    /// or a report, and neither may leave a row unowned (only roles that see
    /// everything would see it then). Keys and the system assign anyone.
    pub fn may_assign(&self, owner: Option<Uuid>) -> bool {
        match self {
            Actor::User(_) => self.visibility().allows(owner),
            Actor::System | Actor::ApiKey(_) => true,
            Actor::Anonymous => false,
        }
    }
}

/// The one check for a field naming the person who will own or work a row (a
/// customer's owner, a follow-up's assignee; orders and tickets later): the actor
/// may assign them ([`Actor::may_assign`], else `invalid_<what>`), and they are a user
/// who exists (`unknown_user`, a 404 when nothing else is wrong) and is active
/// (`inactive_user`: work given to someone who can no longer sign in is lost).
pub async fn check_assignable(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    field: &'static str,
    user: Option<Uuid>,
    errors: &mut Vec<crate::FieldError>,
) -> Result<(), Error> {
    use crate::FieldError;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    if !actor.may_assign(user) {
        let what = field.strip_suffix("_id").unwrap_or(field);
        errors.push(FieldError::new(
            field,
            format!("invalid_{what}"),
            if user.is_none() {
                "you may assign only yourself or your team, and not leave it empty"
            } else {
                "you may assign only yourself or your team"
            },
        ));
        return Ok(());
    }
    let Some(id) = user else { return Ok(()) };
    let mut select = Query::select();
    select
        .column(Alias::new("active"))
        .from(Alias::new("users"))
        .and_where(Expr::col(Alias::new("id")).eq(id));
    let active = conn
        .query_one(&select)
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?;
    match active {
        None => errors.push(FieldError::new(
            field,
            "unknown_user",
            format!("no user {id}"),
        )),
        Some(false) => errors.push(FieldError::state(
            field,
            "inactive_user",
            format!("user {id} is deactivated"),
        )),
        Some(true) => {}
    }
    Ok(())
}

/// The permission table as Markdown, for the OpenAPI description.
pub fn permission_table() -> String {
    let mut out = String::from("| action | ");
    out.push_str(&Role::ALL.map(Role::as_str).join(" | "));
    out.push_str(" | API key scope |\n|---|");
    out.push_str(&"---|".repeat(Role::ALL.len() + 1));
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| `{}` |", action.name()));
        for role in Role::ALL {
            out.push_str(if role_allows(role, action) {
                " ✓ |"
            } else {
                " |"
            });
        }
        out.push_str(&format!(
            " {} |\n",
            action.scope().map_or("—".to_owned(), |s| format!("`{s}`"))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Actor {
        Actor::User(UserActor {
            id: Uuid::nil(),
            role,
            team: vec![],
        })
    }

    #[test]
    fn auditor_reads_everything_and_writes_nothing() {
        for action in Action::ALL {
            assert_eq!(
                user(Role::Auditor).may(action),
                action.is_read(),
                "{action:?}"
            );
        }
    }

    #[test]
    fn keys_need_the_scope() {
        let key = Actor::ApiKey(KeyActor {
            id: Uuid::nil(),
            name: "k".into(),
            scopes: vec!["settings:read".into()],
            default_owner: None,
            channel: None,
            carriers: Vec::new(),
        });
        assert!(key.may(Action::SettingsRead));
        assert!(!key.may(Action::SettingsWrite));
        assert!(!key.may(Action::UsersRead));
        assert_eq!(
            key.require(Action::SettingsWrite).unwrap_err().status(),
            403
        );
        assert_eq!(
            Actor::Anonymous
                .require(Action::SettingsRead)
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn visibility_by_role() {
        let me = Uuid::now_v7();
        let rep = Uuid::now_v7();
        let sales = Actor::User(UserActor {
            id: me,
            role: Role::Sales,
            team: vec![],
        });
        assert!(sales.visibility().allows(Some(me)));
        assert!(!sales.visibility().allows(Some(rep)));
        let manager = Actor::User(UserActor {
            id: me,
            role: Role::Manager,
            team: vec![rep],
        });
        assert!(manager.visibility().allows(Some(rep)));
        assert!(user(Role::Finance).visibility().allows(Some(rep)));
    }

    #[test]
    fn assigning_keeps_the_row_visible() {
        let me = Uuid::now_v7();
        let rep = Uuid::now_v7();
        let stranger = Uuid::now_v7();
        let sales = Actor::User(UserActor {
            id: me,
            role: Role::Sales,
            team: vec![],
        });
        assert!(sales.may_assign(Some(me)));
        assert!(!sales.may_assign(Some(rep)));
        assert!(!sales.may_assign(None));
        let manager = Actor::User(UserActor {
            id: me,
            role: Role::Manager,
            team: vec![rep],
        });
        assert!(manager.may_assign(Some(rep)));
        assert!(!manager.may_assign(Some(stranger)));
        assert!(!manager.may_assign(None));
        assert!(user(Role::Admin).may_assign(None));
        assert!(user(Role::Finance).may_assign(Some(stranger)));
        assert!(!user(Role::Finance).user_visibility().allows(Some(stranger)));
        assert!(user(Role::Auditor).user_visibility().allows(Some(stranger)));
    }
}
