//! The `arena` binary: parses the command line, loads settings, starts logging, and hands
//! over to the library.

use std::{path::PathBuf, process::ExitCode};

use arena_api::{
    db, graphql,
    settings::Settings,
    startup::{Application, stop_signal},
    telemetry,
};
use arena_migration::{Migrator, MigratorTrait};
use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arena game-platform backend.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file (TOML); environment variables override it.
    #[arg(long, global = true, env = arena_api::settings::CONFIG_ENV_VAR)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the GraphQL API (the default).
    Serve,
    /// Apply or revert database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL) to stdout.
    ExportSchema,
    /// Create a verified admin; the password comes from ARENA_ADMIN_PASSWORD or a prompt.
    CreateAdmin {
        /// The admin's username.
        #[arg(long)]
        username: String,
        /// The admin's email address.
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply pending migrations.
    Up,
    /// Revert the latest migrations.
    Down {
        /// How many to revert.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ExportSchema) = cli.command {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => return fail(&err),
    };
    telemetry::init(&settings.log, settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&err),
    };
    let result = runtime.block_on(async {
        match cli.command {
            None | Some(Command::Serve) => serve(settings).await,
            Some(Command::Migrate { action }) => migrate(settings, action).await,
            Some(Command::ExportSchema) => Ok(()),
            Some(Command::CreateAdmin { username, email }) => {
                create_admin(settings, &username, &email).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&*err),
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// One line on stderr naming what went wrong, and a failing exit code.
fn fail(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    eprintln!("arena: {err}");
    ExitCode::FAILURE
}

async fn serve(settings: Settings) -> Result<(), AnyError> {
    let app = Application::build(settings).await?;
    tracing::info!(
        addr = %app.local_addr(),
        "listening; GraphiQL at http://{}/graphiql",
        app.local_addr()
    );
    app.run_until(stop_signal()).await;
    Ok(())
}

async fn migrate(settings: Settings, action: MigrateAction) -> Result<(), AnyError> {
    let db = db::connect(&settings).await?;
    let url = settings.database_url.expose();
    match action {
        MigrateAction::Up => db::migrate_up(&db, url).await?,
        MigrateAction::Down { steps } => {
            let _turn = db::exclusive(url, "arena.migrate").await?;
            Migrator::down(&db, Some(steps)).await?
        }
        MigrateAction::Status => {
            let applied = Migrator::get_applied_migrations(&db).await?;
            let pending = Migrator::get_pending_migrations(&db).await?;
            for migration in &applied {
                println!("applied  {}", migration.name());
            }
            for migration in &pending {
                println!("pending  {}", migration.name());
            }
            println!("{} applied, {} pending", applied.len(), pending.len());
        }
    }
    db.close().await?;
    Ok(())
}

async fn create_admin(settings: Settings, username: &str, email: &str) -> Result<(), AnyError> {
    let password = match std::env::var("ARENA_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let first = rpassword::prompt_password("Password for the new admin: ")?;
            let again = rpassword::prompt_password("Once more: ")?;
            if first != again {
                return Err("the passwords differ".into());
            }
            first
        }
    };
    let db = db::connect(&settings).await?;
    db::migrate_up(&db, settings.database_url.expose()).await?;
    let passwords = arena_api::auth::password::Passwords::for_settings(&settings)?;
    let admin = arena_api::auth::create_admin(&db, &passwords, username, email, &password)
        .await
        .map_err(|err| err.message())?;
    println!("created admin {} ({})", admin.username, admin.id);
    db.close().await?;
    Ok(())
}
