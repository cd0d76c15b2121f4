//! The `arena-crawler` binary.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, process::ExitCode, time::Duration};

use arena_crawler::{
    coordinator, open_database, run_local,
    settings::{CONFIG_ENV_VAR, CrawlerSettings},
    simulator::{self, SimulatorConfig},
    token, worker, worker_config,
};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// Arena's World of Tanks console battle-stats crawler.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file (TOML); environment variables override it.
    #[arg(long, global = true, env = CONFIG_ENV_VAR)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Own a crawl run: hand batches to workers, write results, grow ranges, export.
    Coordinator,
    /// Fetch batches for a coordinator.
    Worker,
    /// A coordinator and N workers in this process.
    Run {
        /// Workers to start.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Serve a local stand-in for the WG API.
    SimulateApi {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8100")]
        bind: SocketAddr,
        /// Players are a pure function of this seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The simulated day; stats grow with it.
        #[arg(long, default_value_t = 0)]
        day: u32,
        /// Requests per second allowed per application id (none when absent).
        #[arg(long)]
        rate_limit: Option<NonZeroU32>,
        /// Share of requests answered with a fault (504, HTTP 500, truncated JSON, slow).
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match &cli.command {
        Command::SimulateApi { .. } => None,
        _ => match CrawlerSettings::load(cli.config.as_deref()) {
            Ok(settings) => Some(settings),
            Err(err) => {
                eprintln!("arena-crawler: {err}");
                return ExitCode::from(2);
            }
        },
    };
    let filter = settings
        .as_ref()
        .map_or_else(|| "info".to_owned(), |s| s.log.clone());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("arena-crawler: {err}");
            return ExitCode::FAILURE;
        }
    };
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    runtime.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        signal_stop.cancel();
    });
    let result = runtime.block_on(async {
        match (cli.command, settings) {
            (Command::SimulateApi { bind, seed, day, rate_limit, fault_rate }, _) => {
                if !(0.0..=1.0).contains(&fault_rate) {
                    anyhow::bail!("--fault-rate is a share from 0 to 1");
                }
                let config = SimulatorConfig { seed, day, rate_limit, fault_rate, slow_for: Duration::from_secs(3) };
                let listener = tokio::net::TcpListener::bind(bind).await?;
                tracing::info!(addr = %listener.local_addr()?, seed, day, "simulating the WG API");
                tokio::select! {
                    served = simulator::serve(listener, config) => served.map_err(anyhow::Error::from),
                    () = stop.cancelled() => Ok(()),
                }
            }
            (Command::Coordinator, Some(settings)) => {
                let Some(token) = token(&settings) else {
                    anyhow::bail!("ARENA_CRAWLER_TOKEN must be set: workers authenticate with it");
                };
                let db = open_database(&settings).await?;
                let listener = tokio::net::TcpListener::bind(settings.bind).await?;
                let summary = coordinator::coordinate(settings, db, listener, token, stop).await?;
                println!("{summary}");
                Ok(())
            }
            (Command::Worker, Some(settings)) => {
                let Some(token) = token(&settings) else {
                    anyhow::bail!("ARENA_CRAWLER_TOKEN must be set: the coordinator requires it");
                };
                worker::work(worker_config(&settings, token), stop).await?;
                Ok(())
            }
            (Command::Run { workers }, Some(settings)) => {
                let summary = run_local(settings, workers, stop).await?;
                println!("{summary}");
                Ok(())
            }
            (_, None) => anyhow::bail!("settings were not loaded"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("arena-crawler: {err:#}");
            ExitCode::FAILURE
        }
    }
}
