pub mod api_key;
pub mod refresh_token;
pub mod sign_in_failure;
pub mod user;
