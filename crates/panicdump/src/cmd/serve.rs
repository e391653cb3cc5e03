//! `panicdump serve` (the crash server) and `panicdump server ...` (its
//! administration: tokens, retention, export). Glue over the `server` crate.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use server::config::{DEFAULT_BLOBS, DEFAULT_DB, DEFAULT_MAX_UPLOAD, DEFAULT_TOKEN_PER_MINUTE};

/// `panicdump serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database: sqlite://PATH (created when missing) or postgres://USER@HOST/DB.
    #[arg(long, default_value = DEFAULT_DB)]
    db: String,
    /// Where bundles are kept: a directory, or s3://BUCKET/PREFIX (AWS_* environment variables).
    #[arg(long, default_value = DEFAULT_BLOBS)]
    blobs: String,
    /// Largest accepted upload in bytes (compressed); larger ones get 413.
    #[arg(long, default_value_t = DEFAULT_MAX_UPLOAD)]
    max_upload: u64,
    /// Uploads accepted per client token and minute (0: no limit); above it
    /// the server answers 429 with Retry-After, which `panicdump submit` honours.
    #[arg(long, default_value_t = DEFAULT_TOKEN_PER_MINUTE)]
    token_per_minute: u32,
}

/// `panicdump server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    #[command(subcommand)]
    command: ServerCommand,
    /// Database of the server (as for `panicdump serve --db`).
    #[arg(long, global = true, default_value = DEFAULT_DB)]
    db: String,
    /// Bundle storage of the server (as for `panicdump serve --blobs`).
    #[arg(long, global = true, default_value = DEFAULT_BLOBS)]
    blobs: String,
}

#[derive(Subcommand, Debug)]
enum ServerCommand {
    /// Client tokens for uploads.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Remove raw bundles (and stored logs) older than N days; bucket statistics stay.
    Prune {
        /// Keep bundles received in the last N days.
        #[arg(long)]
        keep_days: u32,
    },
    /// Write every bucket and report as JSON lines.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExportFormat {
    /// JSON lines: {"type": "bucket", ...} then {"type": "report", ...}.
    Json,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a token; it is printed once (the server keeps only its hash).
    Add {
        /// A name for the client or fleet that will use it.
        name: String,
    },
    /// List tokens (names and dates; tokens themselves are never stored).
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: uploads with it get 401 from now on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Run the server until SIGINT or SIGTERM.
pub fn run_serve(a: ServeArgs) -> Result<ExitCode> {
    let config = server::Config {
        listen: a.listen,
        db: a.db.clone(),
        blobs: a.blobs.clone(),
        max_upload: a.max_upload,
        token_per_minute: a.token_per_minute,
        ..server::Config::default()
    };
    server::serve_until_signal(config, |addr| {
        eprintln!(
            "panicdump serve: listening on http://{addr}/ (database {}, bundles {})",
            a.db, a.blobs
        );
    })
    .with_context(|| format!("serving on {}", a.listen))?;
    Ok(ExitCode::SUCCESS)
}

/// Administration of a server's database and storage.
pub fn run_server(a: ServerArgs) -> Result<ExitCode> {
    let db = a.db.clone();
    let result: Result<ExitCode> = server::block_on(async move {
        let store = server::Store::open(&a.db)
            .await
            .with_context(|| format!("opening {}", a.db))?;
        let r = admin(&store, &a).await;
        store.close().await;
        r
    })?;
    result.with_context(|| format!("server database {db}"))
}

async fn admin(store: &server::Store, a: &ServerArgs) -> Result<ExitCode> {
    match &a.command {
        ServerCommand::Token(TokenCommand::Add { name }) => {
            let token = server::admin::add_token(store, name).await?;
            eprintln!("token {name:?} added; it is shown only now:");
            println!("{token}");
        }
        ServerCommand::Token(TokenCommand::List { json }) => {
            let tokens = server::admin::list_tokens(store).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else if tokens.is_empty() {
                println!("no tokens (add one with `panicdump server token add NAME`)");
            } else {
                println!("{:<24} {:<22} REVOKED", "NAME", "CREATED");
                for t in tokens {
                    println!(
                        "{:<24} {:<22} {}",
                        t.name,
                        crashdb::time::rfc3339(t.created_at),
                        t.revoked_at
                            .map(crashdb::time::rfc3339)
                            .unwrap_or_else(|| "-".into())
                    );
                }
            }
        }
        ServerCommand::Token(TokenCommand::Revoke { name }) => {
            server::admin::revoke_token(store, name).await?;
            eprintln!("token {name:?} revoked");
        }
        ServerCommand::Prune { keep_days } => {
            let blobs = server::Blobs::open(&a.blobs)
                .with_context(|| format!("opening bundle storage {}", a.blobs))?;
            let s = server::admin::prune(store, &blobs, *keep_days, server::api::now()).await?;
            eprintln!(
                "removed the bundles of {} report(s) older than {keep_days} days; bucket statistics kept",
                s.reports
            );
        }
        ServerCommand::Export {
            format: ExportFormat::Json,
            output,
        } => {
            let (b, r) = match output {
                Some(p) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(p)
                            .with_context(|| format!("creating {}", p.display()))?,
                    );
                    let n = server::admin::export(store, &mut f).await?;
                    f.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    server::admin::export(store, &mut lock).await?
                }
            };
            eprintln!("exported {b} bucket(s) and {r} report(s)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
