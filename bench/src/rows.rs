//! A benchmark's result row (figure, baseline measured in the same run, target, verdict), the
//! table they are printed as, and the arithmetic they share.

use std::time::Duration;

/// The target of a row that is shown for context and judged against nothing.
pub const NO_TARGET: &str = "(no target)";

#[derive(Debug)]
pub struct Row {
    pub name: &'static str,
    pub measured: String,
    pub baseline: String,
    pub target: String,
    pub pass: bool,
}

impl Row {
    fn result(&self) -> &'static str {
        match (self.target.as_str(), self.pass) {
            (NO_TARGET, _) => "-",
            (_, true) => "PASS",
            (_, false) => "MISS",
        }
    }
}

pub fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-12)
}

/// The 99th percentile of some timings (at least one).
pub fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// The rows as a table, columns padded to their widest cell.
pub fn print(rows: &[Row]) {
    let header = [
        "benchmark",
        "measured",
        "baseline (same run)",
        "target",
        "result",
    ];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.name.to_owned(),
                r.measured.clone(),
                r.baseline.clone(),
                r.target.clone(),
                r.result().to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(&format!("{c:<w$}  ", w = widths[i]));
        }
        println!("{}", s.trim_end());
    };
    line(header);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
}
