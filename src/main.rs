//! The `idledger` binary: command-line definition plus glue over the proto, ledger, ingest and
//! query crates. Exit codes: 0 success, 1 the data failed verification, 2 usage, configuration
//! or I/O error. A broken pipe is success.

mod cli;
mod commands;
mod config;
mod feeds;
mod input_formats;
mod kafka_properties;
mod output;
mod settings;
mod witnesses;
mod workload;

use clap::Parser as _;
use idledger_proto::printable::printable;
use std::process::ExitCode;

/// jemalloc for every Rust allocation of the binary (RocksDB and librdkafka keep their own
/// allocators). glibc's malloc frees another thread's block under that arena's lock, and ingest
/// hands buffers from thread to thread all the time. Measured side by side against glibc:
/// ingest +10.3% events/s in two pairs, peak RSS 194 MiB with a 5M backlog; a report replaying
/// 5M entries 15-20% faster; replay and history at 10M no worse in two of three pairs (see
/// docs/BENCHMARKS.md, Experiments).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Returned (as an error) when data failed verification: exit code 1.
#[derive(Debug)]
pub struct VerificationFailed(pub String);

impl std::fmt::Display for VerificationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerificationFailed {}

fn init_logging(format: cli::LogFormat) {
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
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.with_ansi(output::stderr_is_terminal()).init(),
    }
}

/// An error and its causes on one line, each cause once: a library error that already quotes
/// its source in its own message (`database: {0}`) also returns it as its source, and anyhow's
/// `{:#}` would print that source's text twice.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let settings = config::Config::load(cli.config.as_deref())
        .and_then(|config| settings::Settings::resolve(cli, config));
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", printable(&error_text(&e)));
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    match commands::run(settings.job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // Errors can quote what they refused (a bundle's field, a key name, a stored
            // value): printed escaped, so no input can forge a line on the terminal.
            if let Some(v) = e.downcast_ref::<VerificationFailed>() {
                eprintln!("verification failed: {}", printable(&v.to_string()));
                return ExitCode::from(1);
            }
            eprintln!("error: {}", printable(&error_text(&e)));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    enum Inner {
        #[error("IO error: no space left")]
        Disk,
    }

    #[derive(Debug, thiserror::Error)]
    enum Quoting {
        #[error("database: {0}")]
        Db(#[from] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    enum Terse {
        #[error("could not write")]
        Write(#[source] Inner),
    }

    #[test]
    fn every_cause_is_printed_once() {
        let cases: [(anyhow::Error, &str); 4] = [
            (
                anyhow::Error::new(Quoting::Db(Inner::Disk)),
                "database: IO error: no space left",
            ),
            (
                anyhow::Error::new(Quoting::Db(Inner::Disk)).context("appending batch 7"),
                "appending batch 7: database: IO error: no space left",
            ),
            (
                anyhow::Error::new(Terse::Write(Inner::Disk)),
                "could not write: IO error: no space left",
            ),
            (
                anyhow::anyhow!("no entries about identity `x`"),
                "no entries about identity `x`",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error_text(&error), want);
        }
    }
}
