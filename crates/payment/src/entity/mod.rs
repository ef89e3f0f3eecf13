pub mod allocation;
pub mod instalment;
pub mod invoice;
pub mod invoice_line;
pub mod payment;
