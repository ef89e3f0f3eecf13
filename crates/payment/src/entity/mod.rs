pub mod allocation;
pub mod credit_note;
pub mod instalment;
pub mod invoice;
pub mod invoice_line;
pub mod notice;
pub mod payment;
pub mod refund;
