pub mod customer;
pub mod external_ref;
