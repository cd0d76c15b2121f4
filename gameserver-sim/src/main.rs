//! `arena-gameserver-sim`: registers a game server with Arena (or uses one registered
//! before), pings it on time, and reads commands on standard input:
//!
//! - `validate <session token>`: validates a player's token and prints what Arena answers;
//! - `end <session id>`: ends a session;
//! - `quit`: stops (the server goes silent; Arena ends its sessions after three pings).

use std::time::Duration;

use arena_gameserver_sim::{Arena, Auth, GameServer, Spec};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(about = "A reference game server for Arena's server protocol")]
struct Args {
    /// Arena's GraphQL endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000/graphql")]
    url: String,
    /// Register with a player's or admin's access token.
    #[arg(long, env = "ARENA_ACCESS_TOKEN", conflicts_with_all = ["host_token", "server_token"])]
    access_token: Option<String>,
    /// Register as a provisioning host with its token.
    #[arg(long, env = "ARENA_HOST_TOKEN", conflicts_with = "server_token")]
    host_token: Option<String>,
    /// Skip registration: the token of a server registered before (with --server-id).
    #[arg(long, env = "ARENA_SERVER_TOKEN", requires = "server_id")]
    server_token: Option<String>,
    /// The id of the server registered before.
    #[arg(long)]
    server_id: Option<String>,
    /// The games it runs (ids), the first now.
    #[arg(long = "game", required_unless_present = "server_token")]
    games: Vec<String>,
    /// Where players connect.
    #[arg(long, default_value = "127.0.0.1")]
    socket_host: String,
    /// Its port.
    #[arg(long, default_value_t = 7777)]
    socket_port: u16,
    /// Its country (two letters).
    #[arg(long)]
    country: Option<String>,
    /// Most players at once.
    #[arg(long)]
    slots: Option<i32>,
    /// Seconds between pings (Arena's `ARENA_SERVER_PING_SECONDS`).
    #[arg(long, default_value_t = 5)]
    ping_seconds: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let arena = Arena::new(&args.url);
    let server = match (&args.server_token, &args.server_id) {
        (Some(token), Some(id)) => GameServer::with_token(&arena, id, token),
        _ => {
            let registrar = match (&args.access_token, &args.host_token) {
                (Some(token), _) => Auth::User(token.clone()),
                (_, Some(token)) => Auth::Host(token.clone()),
                _ => anyhow::bail!("give --access-token, --host-token or --server-token"),
            };
            let spec = Spec {
                game_ids: args.games.clone(),
                socket_host: args.socket_host.clone(),
                socket_port: args.socket_port,
                country: args.country.clone(),
                slots: args.slots,
            };
            let server = GameServer::register(&arena, &registrar, &spec).await?;
            if let Auth::Server(token) = server.auth() {
                println!("registered server {} (token {token})", server.id);
            }
            server
        }
    };
    let mut sessions: Vec<String> = Vec::new();
    println!("ping: {}", server.ping(0, &sessions).await?);
    let mut ticker = tokio::time::interval(Duration::from_secs(args.ping_seconds.max(1)));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let players = i32::try_from(sessions.len()).unwrap_or(i32::MAX);
                if let Err(err) = server.ping(players, &sessions).await {
                    eprintln!("ping failed: {err}");
                }
            }
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("validate"), Some(token)) => match server.validate(token).await {
                        Ok(validated) => {
                            if let Some(id) = validated["session"]["id"].as_str() {
                                sessions.push(id.to_owned());
                            }
                            println!("validated: {validated}");
                        }
                        Err(err) => println!("refused: {err}"),
                    },
                    (Some("end"), Some(id)) => match server.end_session(id).await {
                        Ok(ended) => {
                            sessions.retain(|s| s != id);
                            println!("ended: {ended}");
                        }
                        Err(err) => println!("refused: {err}"),
                    },
                    (Some("quit"), _) => break,
                    _ => println!("commands: validate <token> | end <session id> | quit"),
                }
            }
        }
    }
    Ok(())
}
