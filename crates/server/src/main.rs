use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ordercrm_kernel::SystemClock;
use ordercrm_server::cli::{Cli, Command, InventoryCommand, UserCommand};
use ordercrm_server::{Application, Config, database, telemetry, users};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    let out = |s: &str| {
        use std::io::Write;
        let _ = std::io::stdout().write_all(s.as_bytes());
    };
    match command {
        Command::Version => {
            out(&format!("ordercrm {}\n", env!("CARGO_PKG_VERSION")));
            return ExitCode::SUCCESS;
        }
        Command::Openapi => {
            out(&ordercrm_api::openapi::to_json(&ordercrm_api::openapi()));
            return ExitCode::SUCCESS;
        }
        Command::Serve | Command::Migrate | Command::User { .. } | Command::Inventory { .. } => {}
    }

    let config = match Config::load(cli.settings, cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ordercrm: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, std::io::stderr);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("ordercrm: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Migrate => {
                let db = database::connect(&config).await?;
                let applied = database::migrate(&db).await?;
                if applied.is_empty() {
                    tracing::info!("database is up to date");
                } else {
                    tracing::info!(migrations = ?applied, "database migrated");
                }
                db.close().await?;
                Ok(())
            }
            Command::Inventory {
                action: InventoryCommand::Verify,
            } => {
                let db = database::connect(&config).await?;
                let report = ordercrm_inventory::queries::verify::run(db.reader()).await?;
                db.close().await?;
                out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
                if report.mismatches.is_empty() && report.impossible.is_empty() {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!(
                        "{} of {} stock levels disagree with the ledger; {} rows hold impossible quantities",
                        report.mismatches.len(),
                        report.levels_checked,
                        report.impossible.len()
                    ))
                }
            }
            Command::User {
                action:
                    UserCommand::Create {
                        email,
                        role,
                        display_name,
                        password_stdin,
                    },
            } => {
                let password = users::read_password(password_stdin)?;
                let user =
                    users::create(&config, &SystemClock, email, &role, display_name, password)
                        .await?;
                out(&format!(
                    "created {} {} ({})\n",
                    user.role.as_str(),
                    user.email,
                    user.id
                ));
                Ok(())
            }
            Command::User {
                action:
                    UserCommand::SetPassword {
                        email,
                        password_stdin,
                    },
            } => {
                let password = users::read_password(password_stdin)?;
                let user = users::set_password(&config, &SystemClock, &email, password).await?;
                out(&format!(
                    "password set for {} ({}); their sessions have ended\n",
                    user.email, user.id
                ));
                Ok(())
            }
            Command::User {
                action: UserCommand::Unlock { email },
            } => {
                let user = users::unlock(&config, &SystemClock, &email).await?;
                out(&format!(
                    "{} ({}) may be tried from every address again\n",
                    user.email, user.id
                ));
                Ok(())
            }
            _ => {
                let app = Application::build(&config, Arc::new(SystemClock)).await?;
                app.run_until_stopped().await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("ordercrm: {err:#}");
            ExitCode::FAILURE
        }
    }
}
