//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;

/// OrderCRM: a headless customer and order management backend.
///
/// Every setting can be given as a flag, as the environment variable named in
/// brackets, or in a TOML file (--config) with the flag's name in snake_case.
/// Flags and environment win over the file; the file wins over defaults.
#[derive(Debug, Parser)]
#[command(name = "ordercrm", version, about, long_about)]
pub struct Cli {
    /// A TOML file with settings, e.g. `listen = "0.0.0.0:8080"`
    #[arg(long, env = "ORDERCRM_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default): migrates the database first
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Print the OpenAPI document and exit
    Openapi,
    /// Print the version and exit
    Version,
    /// Manage users from the command line (the first admin, a lost password)
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Inventory maintenance
    Inventory {
        #[command(subcommand)]
        action: InventoryCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Check that every stock level equals the sum of its ledger and its open
    /// reservations; prints the report as JSON, exits 1 on any mismatch
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; asks for the password, or reads it from standard input
    Create {
        /// Email address, used to sign in
        #[arg(long)]
        email: String,
        /// admin, manager, sales, warehouse, finance, support or auditor
        #[arg(long)]
        role: String,
        /// Name shown to others [default: the part of the email before @]
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input (for scripts)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (a forgotten admin password); their sessions end
    SetPassword {
        /// The user's email address
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input (for scripts)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Let every address try a user's password again at once
    Unlock {
        /// The user's email address
        #[arg(long)]
        email: String,
    },
}
