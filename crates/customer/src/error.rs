use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, ProblemType};
use uuid::Uuid;

/// A new customer whose email or phone matches an existing one.
pub const DUPLICATE: ProblemType = ProblemType {
    slug: "duplicate-customer",
    title: "Possible duplicate customer",
    status: 409,
    description: "A customer with the same email or phone exists (`existing.id` when you may see it). \
        Send `allow_duplicate=true` to create it anyway.",
};

/// A write to a customer whose personal data was erased.
pub const ERASED: ProblemType = ProblemType {
    slug: "erased",
    title: "Customer erased",
    status: 409,
    description: "This customer's personal data was erased for good. It cannot be changed, \
        merged, given new contacts or details, or brought back by an import; create a new customer instead.",
};

pub const ALL: &[ProblemType] = &[DUPLICATE, ERASED];

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("customer '{0}' was not found")]
    NotFound(String),
    #[error("a customer with the same {field} exists")]
    Duplicate {
        field: &'static str,
        existing: Option<Uuid>,
    },
    #[error("{channel} reference {external_id} belongs to another customer")]
    ExternalRefTaken {
        channel: String,
        external_id: String,
        existing: Option<Uuid>,
    },
    #[error("customer {0} was erased and cannot be changed")]
    Erased(String),
}

fn existing(id: Option<Uuid>) -> serde_json::Value {
    match id {
        Some(id) => serde_json::json!({"id": id, "href": format!("/v1/customers/{id}")}),
        None => {
            serde_json::json!({"id": null, "note": "owned by someone whose customers you cannot see"})
        }
    }
}

impl From<CustomerError> for Error {
    fn from(err: CustomerError) -> Self {
        let detail = err.to_string();
        match err {
            CustomerError::NotFound(id) => Error::not_found("customer", id),
            CustomerError::Duplicate { existing: id, .. } => {
                Error::new(DUPLICATE, detail).with_extension("existing", existing(id))
            }
            CustomerError::ExternalRefTaken { existing: id, .. } => {
                Error::new(problems::ALREADY_EXISTS, detail)
                    .with_extension("existing", existing(id))
            }
            CustomerError::Erased(_) => Error::new(ERASED, detail),
        }
    }
}
