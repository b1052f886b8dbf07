//! The Prometheus text exposition format (version 0.0.4), rendered from figures a service already
//! holds: HELP and TYPE lines, samples with escaped label values, and histograms. No I/O and no
//! registry: each service keeps its own counters and renders them here, so every `/metrics`
//! answer follows one set of escaping and number rules.

use std::fmt::{self, Write as _};

/// The type a family is declared with on its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// A sample's value as the format writes it: integers in decimal, finite floats in Rust's
/// shortest form that reads back as the same float (`2.5`, `1`, `0.001`), and the non-finite
/// values as the format spells them: `NaN`, `+Inf`, `-Inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Unsigned(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Signed(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Unsigned(v) => write!(f, "{v}"),
            Value::Signed(v) => write!(f, "{v}"),
            // Rust writes these `NaN`, `inf` and `-inf`; the format reads `NaN`, `+Inf`, `-Inf`.
            Value::Float(v) if v.is_nan() => f.write_str("NaN"),
            Value::Float(v) if v == f64::INFINITY => f.write_str("+Inf"),
            Value::Float(v) if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            Value::Float(v) => write!(f, "{v}"),
        }
    }
}

/// A histogram's figures, as its family's samples state them.
#[derive(Clone, Copy, Debug)]
pub struct Histogram<'a> {
    /// Each bucket's upper bound and how many observations were at most that bound (cumulative,
    /// as the format counts them). The `+Inf` bucket is not listed: it is `count`.
    pub buckets: &'a [(f64, u64)],
    pub sum: f64,
    pub count: u64,
}

/// One text exposition, written family by family: declare a family (`family`), then give its
/// samples (`sample`); `counter`, `gauge` and `histogram` do both for the common shapes.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Declares a family: its `# HELP` line (the text escaped as the format asks) and its
    /// `# TYPE` line.
    pub fn family(&mut self, name: &str, kind: MetricType, help: &str) -> &mut Exposition {
        debug_assert!(is_metric_name(name), "`{name}` is not a metric name");
        self.text.push_str("# HELP ");
        self.text.push_str(name);
        self.text.push(' ');
        escape_into(&mut self.text, help, false);
        self.text.push_str("\n# TYPE ");
        self.text.push_str(name);
        self.text.push(' ');
        self.text.push_str(kind.as_str());
        self.text.push('\n');
        self
    }

    /// One sample line: `name{label="value",…} value`, without braces when there are no labels.
    /// Label values may be any text; they are escaped as the format asks.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) -> &mut Exposition {
        debug_assert!(is_metric_name(name), "`{name}` is not a metric name");
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                debug_assert!(is_label_name(label), "`{label}` is not a label name");
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(label);
                self.text.push_str("=\"");
                escape_into(&mut self.text, v, true);
                self.text.push('"');
            }
            self.text.push('}');
        }
        // Writing to a `String` cannot fail.
        let _ = writeln!(self.text, " {}", value.into());
        self
    }

    /// A counter family with its one unlabelled sample.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> &mut Exposition {
        self.family(name, MetricType::Counter, help)
            .sample(name, &[], value)
    }

    /// A gauge family with its one unlabelled sample.
    pub fn gauge(&mut self, name: &str, help: &str, value: impl Into<Value>) -> &mut Exposition {
        self.family(name, MetricType::Gauge, help)
            .sample(name, &[], value)
    }

    /// A histogram family: a `_bucket` sample per bound (`le`), the `+Inf` bucket, `_sum` and
    /// `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram<'_>) -> &mut Exposition {
        self.family(name, MetricType::Histogram, help);
        let bucket = format!("{name}_bucket");
        for &(bound, n) in h.buckets {
            let le = Value::Float(bound).to_string();
            self.sample(&bucket, &[("le", &le)], n);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.count)
            .sample(&format!("{name}_sum"), &[], h.sum)
            .sample(&format!("{name}_count"), &[], h.count)
    }

    /// The exposition's text: every line ends with a newline, as the format requires.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Appends `text` escaped as the format asks: a backslash and a newline always, a double quote
/// only in a label value (a HELP text keeps its quotes).
fn escape_into(out: &mut String, text: &str, label_value: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label_value => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counters_and_gauges_are_a_help_line_a_type_line_and_a_sample() {
        let mut out = Exposition::new();
        out.counter("app_reads_total", "Reads served.", 7)
            .gauge("app_tree_size", "Entries in the ledger.", 12u64)
            .gauge("app_age_seconds", "Age, or NaN before the first.", f64::NAN);
        assert_eq!(
            out.finish(),
            "# HELP app_reads_total Reads served.\n# TYPE app_reads_total counter\napp_reads_total 7\n\
             # HELP app_tree_size Entries in the ledger.\n# TYPE app_tree_size gauge\napp_tree_size 12\n\
             # HELP app_age_seconds Age, or NaN before the first.\n# TYPE app_age_seconds gauge\napp_age_seconds NaN\n"
        );
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut out = Exposition::new();
        out.family("app_lag", MetricType::Gauge, "Lag.")
            .sample(
                "app_lag",
                &[("topic", "a\\b\"c\nd"), ("partition", "2")],
                -3i64,
            )
            .sample("app_lag", &[("topic", "plain")], 0i64);
        assert_eq!(
            out.finish(),
            "# HELP app_lag Lag.\n# TYPE app_lag gauge\n\
             app_lag{topic=\"a\\\\b\\\"c\\nd\",partition=\"2\"} -3\n\
             app_lag{topic=\"plain\"} 0\n"
        );
    }

    #[test]
    fn help_text_escapes_backslash_and_newline_but_keeps_quotes() {
        let mut out = Exposition::new();
        out.family(
            "app_x",
            MetricType::Counter,
            "a \"quoted\" C:\\path\nsecond line",
        );
        assert_eq!(
            out.finish(),
            "# HELP app_x a \"quoted\" C:\\\\path\\nsecond line\n# TYPE app_x counter\n"
        );
    }

    #[test]
    fn histograms_give_each_bucket_then_inf_sum_and_count() {
        let mut out = Exposition::new();
        out.histogram(
            "app_latency_seconds",
            "Latency.",
            &Histogram {
                buckets: &[(0.0025, 0), (0.005, 1), (1.0, 2)],
                sum: 0.504,
                count: 3,
            },
        );
        assert_eq!(
            out.finish(),
            "# HELP app_latency_seconds Latency.\n# TYPE app_latency_seconds histogram\n\
             app_latency_seconds_bucket{le=\"0.0025\"} 0\n\
             app_latency_seconds_bucket{le=\"0.005\"} 1\n\
             app_latency_seconds_bucket{le=\"1\"} 2\n\
             app_latency_seconds_bucket{le=\"+Inf\"} 3\n\
             app_latency_seconds_sum 0.504\n\
             app_latency_seconds_count 3\n"
        );
    }

    #[test]
    fn values_are_written_as_the_format_reads_them() {
        for (value, text) in [
            (Value::Unsigned(u64::MAX), "18446744073709551615"),
            (Value::Signed(i64::MIN), "-9223372036854775808"),
            (Value::Float(2.5), "2.5"),
            (Value::Float(1.0), "1"),
            (Value::Float(0.001), "0.001"),
            (Value::Float(f64::NAN), "NaN"),
            (Value::Float(f64::INFINITY), "+Inf"),
            (Value::Float(f64::NEG_INFINITY), "-Inf"),
        ] {
            assert_eq!(value.to_string(), text, "{value:?}");
        }
    }

    #[test]
    fn names_are_checked_against_the_formats_patterns() {
        for (name, metric, label) in [
            ("idledger_tree_size", true, true),
            ("_x", true, true),
            ("ns:sub_total", true, false),
            ("1abc", false, false),
            ("", false, false),
            ("has space", false, false),
            ("naïve", false, false),
        ] {
            assert_eq!(
                (is_metric_name(name), is_label_name(name)),
                (metric, label),
                "{name}"
            );
        }
    }

    /// The reading the format specifies for an escaped label value: `\\`, `\"` and `\n` stand
    /// for a backslash, a quote and a newline; the value ends at the first unescaped quote.
    fn read_label_value(escaped: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = escaped.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                '"' | '\n' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    proptest! {
        /// Any text given as a label value reads back as itself, and stays on its line.
        #[test]
        fn any_label_value_reads_back_as_itself(value in "[a-z\\\\\"\n é]{0,24}|\\PC{0,12}") {
            let mut out = Exposition::new();
            out.sample("m", &[("l", &value)], 1u64);
            let text = out.finish();
            let escaped = text
                .strip_prefix("m{l=\"")
                .and_then(|t| t.strip_suffix("\"} 1\n"))
                .expect("one sample line");
            prop_assert_eq!(text.matches('\n').count(), 1);
            prop_assert_eq!(read_label_value(escaped), Some(value));
        }
    }
}
