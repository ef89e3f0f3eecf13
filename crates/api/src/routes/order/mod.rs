//! Orders: intake, review, transitions and reads.

pub mod orders;
