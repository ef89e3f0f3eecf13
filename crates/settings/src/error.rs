use ordercrm_kernel::Error;
use ordercrm_kernel::error::problems;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("setting '{0}' was not found")]
    NotFound(String),
    #[error("setting '{0}' already exists")]
    AlreadyExists(String),
}

impl From<SettingsError> for Error {
    fn from(err: SettingsError) -> Self {
        match err {
            SettingsError::NotFound(key) => Error::not_found("setting", key),
            SettingsError::AlreadyExists(ref key) => {
                let key = key.clone();
                Error::new(problems::ALREADY_EXISTS, err.to_string()).with_extension(
                    "existing",
                    serde_json::json!({ "key": key, "href": format!("/v1/settings/{key}") }),
                )
            }
        }
    }
}
