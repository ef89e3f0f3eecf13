pub mod address;
pub mod contact;
pub mod customer;
pub mod external_ref;
pub mod follow_up;
pub mod note;
pub mod order_fact;
pub mod statistics;
