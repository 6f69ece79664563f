//! Progress and the end of a run: the progress bar, the stderr reports, and the summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::read::ReadCounts;
use crate::cli::common::grade_name;

/// Prints one report line on stderr, above the progress bar if there is one.
pub(super) fn report(bar: Option<&ProgressBar>, text: &str) {
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// Counts the data rows of `path` for the progress bar (a quick first pass); `None` if the file
/// cannot be read that way.
fn count_rows(path: &Path) -> Option<u64> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .ok()?;
    let mut record = ::csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record).ok()? {
        n += 1;
    }
    Some(n)
}

/// A progress bar on stderr if it is a terminal (with the row count if known), else none.
pub(super) fn progress(path: &Path) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let (bar, template) = match count_rows(path) {
        Some(n) => (
            ProgressBar::new(n),
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({rate}, eta {eta})",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} [{elapsed_precise}] {pos} rows ({rate})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate_text(state.per_sec()));
            },
        ));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// A progress rate as whole rows per second (`1234 rows/s`); indicatif's own `{per_sec}`
/// prints four decimals.
fn rate_text(per_sec: f64) -> String {
    if per_sec.is_finite() && per_sec >= 0.0 {
        format!("{per_sec:.0} rows/s")
    } else {
        "- rows/s".to_owned()
    }
}

/// What the run did, for the summary.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Answers by grade value.
    pub(super) grades: BTreeMap<i32, u64>,
    /// Rows refused locally.
    pub(super) local: u64,
    /// Rows rejected by the gateway.
    pub(super) gateway: u64,
    /// Rows read and checked but whose result was never written (the run broke off).
    pub(super) unwritten: u64,
}

/// The summary printed on stderr at the end; `counts` is `None` if the reader failed.
pub(super) fn summary(input: &Path, counts: Option<&ReadCounts>, tally: &Tally) -> String {
    let answered: u64 = tally.grades.values().sum();
    let grades: Vec<String> = tally
        .grades
        .iter()
        .rev()
        .map(|(g, n)| format!("{} {n}", grade_name(*g)))
        .collect();
    let mut text = format!("vet --csv {}: ", input.display());
    match counts {
        Some(c) => text.push_str(&format!(
            "{} rows read\n  skipped: {} (already in the output)\n",
            c.rows, c.skipped
        )),
        None => text.push_str("reading stopped by an error\n"),
    }
    text.push_str(&format!("  answered: {answered}"));
    if !grades.is_empty() {
        text.push_str(&format!(" ({})", grades.join(", ")));
    }
    text.push_str(&format!(
        "\n  errors: {} (local {}, gateway {})",
        tally.local + tally.gateway,
        tally.local,
        tally.gateway
    ));
    if tally.unwritten > 0 {
        text.push_str(&format!(
            "\n  not written: {} (the run broke off; run again with the same --out to resume)",
            tally.unwritten
        ));
    }
    if counts.is_some_and(|c| c.interrupted) {
        text.push_str(
            "\n  interrupted (Ctrl-C): the rest of the file was not read; run again with the same --out to resume",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_rate_is_whole_rows_per_second() {
        assert_eq!(rate_text(1234.5678), "1235 rows/s");
        assert_eq!(rate_text(0.0), "0 rows/s");
        assert_eq!(rate_text(f64::NAN), "- rows/s");
    }
}
