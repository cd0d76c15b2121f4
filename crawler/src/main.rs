//! The `arena-crawler` binary.

use std::{net::SocketAddr, num::NonZeroU32, process::ExitCode, time::Duration};

use arena_crawler::simulator::{self, SimulatorConfig};
use clap::{Parser, Subcommand};

/// Arena's World of Tanks console battle-stats crawler.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
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
    let result = runtime.block_on(async {
        match cli.command {
            Command::SimulateApi { bind, seed, day, rate_limit, fault_rate } => {
                if !(0.0..=1.0).contains(&fault_rate) {
                    return Err(anyhow::anyhow!("--fault-rate is a share from 0 to 1"));
                }
                let config = SimulatorConfig { seed, day, rate_limit, fault_rate, slow_for: Duration::from_secs(3) };
                let listener = tokio::net::TcpListener::bind(bind).await?;
                tracing::info!(addr = %listener.local_addr()?, seed, day, "simulating the WG API");
                tokio::select! {
                    served = simulator::serve(listener, config) => served.map_err(anyhow::Error::from),
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            }
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
