//! The `export` command's job (its range, filter, record format and destination) and the one
//! path every Kafka client of the binary takes to its librdkafka properties (ingest and
//! `export --to-kafka` alike).

use super::{Job, Resolver};
use crate::cli::KafkaConnectArgs;
use crate::kafka_properties;
use anyhow::{Context as _, bail};

impl Resolver {
    /// The export's job: its range, filter and destination (a file, standard output, or a
    /// Kafka topic reached with ingest's connection settings).
    pub(super) fn export(&mut self, args: crate::cli::ExportArgs) -> anyhow::Result<Job> {
        use idledger_query::export::{ExportFilter, ExportOptions};
        let to_kafka = self.export_target(args.to_kafka, &args.kafka)?;
        Ok(Job::Export {
            data: self.data(args.data)?,
            out: args.out,
            to_kafka,
            times: (args.since, args.until),
            follow: args
                .follow
                .then(|| std::time::Duration::from_millis(args.interval_ms.max(10))),
            options: ExportOptions {
                from: args.from,
                to: args.to,
                checkpoint_every: args.checkpoint_every.max(1),
                proofs: args.proofs,
                format: args.format,
                filter: ExportFilter {
                    types: args.types,
                    sources: args.sources,
                    subjects: args.subjects,
                    human: args.kind.map(|k| k == "human"),
                    quarantined: match (args.quarantined, args.no_quarantined) {
                        (true, _) => Some(true),
                        (_, true) => Some(false),
                        _ => None,
                    },
                },
            },
        })
    }

    /// `--to-kafka TOPIC` with its connection flags; the connection flags alone are refused, as
    /// they would go unused (`--brokers` aside: it may come from `IDLEDGER_BROKERS`).
    fn export_target(
        &mut self,
        topic: Option<String>,
        kafka: &KafkaConnectArgs,
    ) -> anyhow::Result<Option<idledger_ingest::export_producer::ExportTarget>> {
        let Some(topic) = topic else {
            if !(kafka.properties.is_empty()
                && kafka.kafka_env.is_empty()
                && kafka.kafka_file.is_empty())
            {
                bail!("-X, --kafka-env and --kafka-file go with --to-kafka TOPIC");
            }
            return Ok(None);
        };
        if topic.trim().is_empty() {
            bail!("--to-kafka: the topic name is empty");
        }
        let brokers = kafka.brokers.clone().context(
            "--to-kafka needs brokers: pass --brokers HOST:PORT or set IDLEDGER_BROKERS",
        )?;
        let properties = self.kafka_properties(Vec::new(), kafka)?;
        Ok(Some(idledger_ingest::export_producer::ExportTarget::new(
            &brokers, &topic, properties,
        )))
    }

    /// The librdkafka properties from the configuration file's `sources`, then the command
    /// line's, resolved (variables and files read) and checked: the one path every Kafka client
    /// of the binary takes, so each refuses and warns alike.
    pub(super) fn kafka_properties(
        &mut self,
        mut sources: Vec<kafka_properties::Sourced>,
        flags: &KafkaConnectArgs,
    ) -> anyhow::Result<Vec<(String, String)>> {
        sources.extend(kafka_properties::from_flags(
            &flags.properties,
            &flags.kafka_env,
            &flags.kafka_file,
        )?);
        let resolved = kafka_properties::resolve(&sources, |var| std::env::var(var).ok())?;
        kafka_properties::check_sasl(&resolved.properties)?;
        self.warnings.extend(resolved.warnings);
        Ok(resolved.properties)
    }
}
