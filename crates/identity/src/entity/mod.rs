pub mod api_key;
pub mod refresh_token;
pub mod user;
