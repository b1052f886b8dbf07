//! The `idledger` binary: command-line definition plus glue over the proto, ledger, ingest and
//! query crates. Exit codes: 0 success, 1 the data failed verification, 2 usage, configuration
//! or I/O error. A broken pipe is success.

mod cli;
mod commands;
mod config;
mod output;
mod workload;

use clap::Parser as _;
use std::process::ExitCode;

/// Returned (as an error) when data failed verification: exit code 1.
#[derive(Debug)]
pub struct VerificationFailed(pub String);

impl std::fmt::Display for VerificationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerificationFailed {}

fn init_logging(format: Option<cli::LogFormat>) {
    use tracing_subscriber::EnvFilter;
    // rdkafka's consumer, dropped after ingest has closed it (within a deadline, reporting the
    // outcome itself), tries to close it again and logs that second attempt's failure as an
    // error on every clean stop: that one module is silenced.
    let filter = EnvFilter::try_from_env("IDLEDGER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,librdkafka=warn,rdkafka=warn"))
        .add_directive(
            "rdkafka::consumer::base_consumer=off"
                .parse()
                .expect("a valid static directive"),
        );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        Some(cli::LogFormat::Json) => builder.json().init(),
        _ => builder.with_ansi(output::stderr_is_terminal()).init(),
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let format = cli.log_format.or(match config.log_format.as_deref() {
        Some("json") => Some(cli::LogFormat::Json),
        _ => None,
    });
    init_logging(format);
    match commands::run(cli.command, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            if let Some(v) = e.downcast_ref::<VerificationFailed>() {
                eprintln!("verification failed: {v}");
                return ExitCode::from(1);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
