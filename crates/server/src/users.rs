//! `ordercrm user create`: how a fresh install gets its first admin.

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
    let ctx = Ctx {
        request_id: "cli".to_owned(),
        ..Ctx::system(clock.now())
    };
    let txn = db.begin().await?;
    let created = users::create(
        &txn,
        &ctx,
        CreateUser {
            email,
            display_name,
            role,
            manager_id: None,
            password,
        },
    )
    .await;
    let view = match created {
        Ok(view) => view,
        Err(err) => {
            let fields: Vec<String> = err
                .errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect();
            if fields.is_empty() {
                bail!("{}", err.detail);
            }
            bail!("{}", fields.join("; "));
        }
    };
    txn.commit().await?;
    db.close().await?;
    Ok(view)
}
