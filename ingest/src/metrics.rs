//! Ingest telemetry: counters and gauges that the pipeline updates and `/metrics` renders in the
//! Prometheus text format (written by `idledger_proto::prometheus`).

use idledger_proto::prometheus::{Exposition, Histogram, MetricType};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (seconds) of the batch latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default)]
pub struct Metrics {
    pub polled: AtomicU64,
    pub appended: AtomicU64,
    pub quarantined: AtomicU64,
    pub deduplicated: AtomicU64,
    pub batches: AtomicU64,
    pub batch_entries: AtomicU64,
    pub skipped_below_position: AtomicU64,
    /// Offsets recorded as unavailable: gone from the broker before ingest read them.
    pub offsets_unavailable: AtomicU64,
    /// Records well-formed but outside idledger's scope, counted in system records.
    pub out_of_scope: AtomicU64,
    pub broker_errors: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Kafka message keys kept only as their hash: they carried secret material.
    pub keys_redacted: AtomicU64,
    pub tree_size: AtomicU64,
    pub last_checkpoint_unix_ms: AtomicU64,
    latency_buckets: [AtomicU64; 10],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    quarantined_by_class: Mutex<BTreeMap<&'static str, u64>>,
    lag: Mutex<BTreeMap<(String, i32), i64>>,
    witnesses: Mutex<BTreeMap<String, WitnessFigures>>,
}

/// A per-witness metric family: name, type, help and how its figure is read.
type WitnessFamily = (
    &'static str,
    MetricType,
    &'static str,
    fn(&WitnessFigures) -> u64,
);

/// One witness's figures, by its label (key name and URL).
#[derive(Clone, Copy, Debug, Default)]
struct WitnessFigures {
    cosigned_size: u64,
    lag_entries: u64,
    failures: u64,
}

impl Metrics {
    pub fn observe_batch(&self, entries: u64, seconds: f64) {
        self.batches.fetch_add(1, Relaxed);
        self.batch_entries.fetch_add(entries, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_micros
            .fetch_add((seconds * 1e6) as u64, Relaxed);
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
    }

    pub fn count_quarantine(&self, class: &'static str) {
        self.quarantined.fetch_add(1, Relaxed);
        let mut m = self
            .quarantined_by_class
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(class).or_default() += 1;
    }

    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        let mut m = self.lag.lock().unwrap_or_else(|e| e.into_inner());
        m.insert((topic.to_owned(), partition), lag);
    }

    /// Entries in the latest checkpoint beyond what `witness` last cosigned.
    pub fn set_witness_lag(&self, witness: &str, lag: u64) {
        let mut m = self.witnesses.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(witness.to_owned()).or_default().lag_entries = lag;
    }

    /// `witness` cosigned the latest checkpoint, of `size` entries.
    pub fn witness_cosigned(&self, witness: &str, size: u64) {
        let mut m = self.witnesses.lock().unwrap_or_else(|e| e.into_inner());
        let figures = m.entry(witness.to_owned()).or_default();
        figures.cosigned_size = size;
        figures.lag_entries = 0;
    }

    pub fn count_witness_failure(&self, witness: &str) {
        let mut m = self.witnesses.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(witness.to_owned()).or_default().failures += 1;
    }

    pub fn lag(&self) -> BTreeMap<(String, i32), i64> {
        self.lag.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Prometheus text exposition format.
    pub fn render(&self, now_unix_ms: u64) -> String {
        let mut out = Exposition::new();
        for (name, help, counter) in self.counters() {
            out.counter(name, help, counter.load(Relaxed));
        }
        out.family(
            "idledger_events_quarantined_total",
            MetricType::Counter,
            "Inputs quarantined, by reason class.",
        );
        for (class, v) in self
            .quarantined_by_class
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            out.sample("idledger_events_quarantined_total", &[("class", class)], *v);
        }
        let buckets: [(f64, u64); LATENCY_BUCKETS.len()] =
            std::array::from_fn(|i| (LATENCY_BUCKETS[i], self.latency_buckets[i].load(Relaxed)));
        out.histogram(
            "idledger_batch_latency_seconds",
            "Time to build, write and sync one batch.",
            &Histogram {
                buckets: &buckets,
                sum: self.latency_sum_micros.load(Relaxed) as f64 / 1e6,
                count: self.latency_count.load(Relaxed),
            },
        );
        out.gauge(
            "idledger_tree_size",
            "Entries in the ledger.",
            self.tree_size.load(Relaxed),
        );
        let last = self.last_checkpoint_unix_ms.load(Relaxed);
        let age = if last == 0 {
            f64::NAN
        } else {
            now_unix_ms.saturating_sub(last) as f64 / 1000.0
        };
        out.gauge(
            "idledger_checkpoint_age_seconds",
            "Age of the latest signed checkpoint.",
            age,
        );
        out.family(
            "idledger_consumer_lag",
            MetricType::Gauge,
            "Messages between the stored position and the high watermark.",
        );
        for ((topic, partition), lag) in self.lag() {
            let partition = partition.to_string();
            out.sample(
                "idledger_consumer_lag",
                &[("topic", &topic), ("partition", &partition)],
                lag,
            );
        }
        self.render_witnesses(&mut out);
        out.finish()
    }

    fn render_witnesses(&self, out: &mut Exposition) {
        let witnesses = self
            .witnesses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let families: [WitnessFamily; 3] = [
            (
                "idledger_witness_lag_entries",
                MetricType::Gauge,
                "Entries in the latest checkpoint beyond the one this witness last cosigned.",
                |f| f.lag_entries,
            ),
            (
                "idledger_witness_cosigned_size",
                MetricType::Gauge,
                "Tree size of the latest checkpoint this witness cosigned.",
                |f| f.cosigned_size,
            ),
            (
                "idledger_witness_failures_total",
                MetricType::Counter,
                "Submissions to this witness that got no cosignature.",
                |f| f.failures,
            ),
        ];
        for (name, kind, help, figure) in families {
            if witnesses.is_empty() {
                continue;
            }
            out.family(name, kind, help);
            for (witness, figures) in &witnesses {
                out.sample(name, &[("witness", witness)], figure(figures));
            }
        }
    }

    /// The plain counters, in the order `/metrics` gives them: name, help and the figure.
    fn counters(&self) -> [(&'static str, &'static str, &AtomicU64); 10] {
        [
            (
                "idledger_events_appended_total",
                "Entries appended (events and system records).",
                &self.appended,
            ),
            (
                "idledger_events_deduplicated_total",
                "Identical duplicates skipped.",
                &self.deduplicated,
            ),
            (
                "idledger_batches_total",
                "Ledger batches written.",
                &self.batches,
            ),
            (
                "idledger_batch_entries_total",
                "Submissions in written batches.",
                &self.batch_entries,
            ),
            (
                "idledger_skipped_below_position_total",
                "Messages already in the ledger, skipped.",
                &self.skipped_below_position,
            ),
            (
                "idledger_offsets_unavailable_total",
                "Offsets the broker no longer held when ingest came to them, recorded in the ledger.",
                &self.offsets_unavailable,
            ),
            (
                "idledger_out_of_scope_total",
                "Source-format records outside idledger's scope, counted in the ledger's system records.",
                &self.out_of_scope,
            ),
            (
                "idledger_broker_errors_total",
                "Kafka client errors reported.",
                &self.broker_errors,
            ),
            (
                "idledger_dead_lettered_total",
                "Quarantined messages produced to the dead-letter topic.",
                &self.dead_lettered,
            ),
            (
                "idledger_keys_redacted_total",
                "Kafka message keys kept only as their length and hash: they carried secret material.",
                &self.keys_redacted,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each figure the pipeline records appears in the exposition as the line stated here.
    #[test]
    fn every_recorded_figure_is_rendered_as_its_prometheus_line() {
        let m = Metrics::default();
        m.appended.store(7, Relaxed);
        m.deduplicated.store(2, Relaxed);
        m.offsets_unavailable.store(30, Relaxed);
        m.keys_redacted.store(1, Relaxed);
        m.dead_lettered.store(3, Relaxed);
        m.tree_size.store(12, Relaxed);
        m.count_quarantine("not_json");
        m.count_quarantine("not_json");
        m.count_quarantine("secret_material");
        m.observe_batch(5, 0.004);
        m.set_lag("siem-a", 2, 41);
        m.last_checkpoint_unix_ms.store(1_000, Relaxed);
        let text = m.render(3_500);
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "idledger_events_appended_total 7",
            "idledger_events_deduplicated_total 2",
            "idledger_offsets_unavailable_total 30",
            "idledger_keys_redacted_total 1",
            "idledger_dead_lettered_total 3",
            "idledger_events_quarantined_total{class=\"not_json\"} 2",
            "idledger_events_quarantined_total{class=\"secret_material\"} 1",
            "idledger_batch_latency_seconds_bucket{le=\"0.0025\"} 0",
            "idledger_batch_latency_seconds_bucket{le=\"0.005\"} 1",
            "idledger_batch_latency_seconds_bucket{le=\"+Inf\"} 1",
            "idledger_batch_latency_seconds_count 1",
            "idledger_tree_size 12",
            "idledger_checkpoint_age_seconds 2.5",
            "idledger_consumer_lag{topic=\"siem-a\",partition=\"2\"} 41",
        ] {
            assert!(lines.contains(&want), "no line `{want}` in:\n{text}");
        }
        // Every sample's family is declared with a type.
        for line in lines.iter().filter(|l| !l.starts_with('#')) {
            let family = line.split(['{', ' ']).next().unwrap_or_default();
            let family = family
                .strip_suffix("_bucket")
                .or_else(|| family.strip_suffix("_sum"))
                .or_else(|| family.strip_suffix("_count"))
                .unwrap_or(family);
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{line}: no TYPE line"
            );
        }
    }
}
