//! `ordercrm user …`: how a fresh install gets its first admin, and how an admin
//! who forgot their password (or whose address was made to wait) gets back in.

use anyhow::{Context, bail};
use ordercrm_identity::commands::users;
use ordercrm_identity::dto::{CreateUser, UserView};
use ordercrm_kernel::authz::Role;
use ordercrm_kernel::{Clock, Ctx};

use crate::config::Config;
use crate::database;

pub fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
    let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
    if first != again {
        bail!("the passwords differ");
    }
    Ok(first)
}

pub async fn create(
    config: &Config,
    clock: &dyn Clock,
    email: String,
    role: &str,
    display_name: Option<String>,
    password: String,
) -> anyhow::Result<UserView> {
    let Some(role) = Role::parse(role) else {
        bail!("--role must be one of admin, manager, sales, warehouse, finance, support, auditor");
    };
    let db = database::connect(config).await?;
    database::migrate(&db).await?;
    let display_name =
        display_name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
    let ctx = cli_ctx(clock);
    #[allow(clippy::disallowed_methods)] // no HTTP request here
    let txn = db.begin().await?;
    let created = users::create(
        &txn,
        &ctx,
        CreateUser {
            email: email.into(),
            display_name: display_name.into(),
            role,
            manager_id: None,
            password: ordercrm_identity::model::NewPassword(password),
        },
    )
    .await;
    let view = created.map_err(explain)?;
    txn.commit().await?;
    db.close().await?;
    Ok(view)
}

fn cli_ctx(clock: &dyn Clock) -> Ctx {
    Ctx {
        request_id: "cli".to_owned(),
        ..Ctx::system(clock.now())
    }
}

/// A domain error as one line: the fields that failed, or the detail.
fn explain(err: ordercrm_kernel::Error) -> anyhow::Error {
    let fields: Vec<String> = err
        .errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect();
    if fields.is_empty() {
        anyhow::anyhow!("{}", err.detail)
    } else {
        anyhow::anyhow!("{}", fields.join("; "))
    }
}

/// `ordercrm user set-password`.
pub async fn set_password(
    config: &Config,
    clock: &dyn Clock,
    email: &str,
    password: String,
) -> anyhow::Result<UserView> {
    let db = database::connect(config).await?;
    database::migrate(&db).await?;
    #[allow(clippy::disallowed_methods)] // no HTTP request here
    let txn = db.begin().await?;
    let view = users::set_password(&txn, &cli_ctx(clock), email, password)
        .await
        .map_err(explain)?;
    txn.commit().await?;
    db.close().await?;
    Ok(view)
}

/// `ordercrm user unlock`.
pub async fn unlock(config: &Config, clock: &dyn Clock, email: &str) -> anyhow::Result<UserView> {
    let db = database::connect(config).await?;
    database::migrate(&db).await?;
    #[allow(clippy::disallowed_methods)] // no HTTP request here
    let txn = db.begin().await?;
    let view = users::unlock(&txn, &cli_ctx(clock), users::Unlock::Email(email))
        .await
        .map_err(explain)?;
    txn.commit().await?;
    db.close().await?;
    Ok(view)
}
