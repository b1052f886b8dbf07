//! idledger's ingest: consumes identity events from Kafka and appends each exactly once to the
//! ledger, with offsets stored in the ledger atomically with the entries. Bad input is
//! quarantined as evidence; nothing stalls on it.

pub mod check;
pub mod config;
pub mod devbroker;
pub mod export_producer;
pub mod metrics;
pub mod oauth;
pub mod pipeline;
pub mod secrets;
pub mod witnessing;

pub use config::IngestConfig;
pub use devbroker::{DevBroker, DevMessage, messages_held_whole, produce};
pub use metrics::Metrics;
pub use pipeline::{IngestError, IngestSummary, Shutdown, client_config, run};
