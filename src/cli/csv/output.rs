//! Writing results: the result of one row and how it is written, as a CSV row or a JSON line.

use std::io::Write;

use super::columns::OUTPUT_COLUMNS;
use super::links;
use crate::cli::common::{grade_name, strength_name, tier_name};
use crate::cli::linked::relation_text;
use crate::cli::vet_answer::response_json;
use crate::proto::v1::VetResponse;

/// The prefix of the `error` column (CSV) for a row refused on this machine.
pub(super) const LOCAL_PREFIX: &str = "local: ";
/// The prefix of the `error` column (CSV) for a row the gateway rejected; the gRPC code follows.
pub(super) const GATEWAY_PREFIX: &str = "gateway ";

/// The result of one row, as written to the output.
#[derive(Debug, Clone)]
pub(super) enum RowResult {
    /// The gateway's answer.
    Answered(VetResponse),
    /// A linked row's part of its group's answer: the matches through it.
    Linked {
        /// The linked row's label.
        label: String,
        /// Its `Relation` value.
        relation: i32,
        /// The answer restricted to matches through it ([`links::through`]).
        answer: VetResponse,
    },
    /// Refused on this machine: the reason.
    Local(String),
    /// Rejected by the gateway (a VetBatch per-item error).
    Gateway {
        /// The gRPC code the item received.
        code: tonic::Code,
        /// The gateway's message.
        message: String,
    },
}

/// One line of text, whatever the message contains.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl RowResult {
    /// The `error` column (CSV) and the stderr report: empty for an answer.
    fn error_text(&self) -> String {
        match self {
            RowResult::Answered(_) | RowResult::Linked { .. } => String::new(),
            RowResult::Local(reason) => format!("{LOCAL_PREFIX}{}", one_line(reason)),
            RowResult::Gateway { code, message } => {
                format!("{GATEWAY_PREFIX}{code:?}: {}", one_line(message))
            }
        }
    }
}

impl RowResult {
    /// The stderr report of an error row (after `line N: `).
    pub(super) fn report_text(&self) -> String {
        match self {
            RowResult::Answered(r) | RowResult::Linked { answer: r, .. } => {
                grade_name(r.grade).to_owned()
            }
            RowResult::Local(reason) => one_line(reason),
            RowResult::Gateway { code, message } => {
                format!("rejected by the gateway ({code:?}): {}", one_line(message))
            }
        }
    }
}

/// Where results go: CSV rows or JSON lines, flushed after each row so that an interrupted run
/// leaves every written row complete.
pub(super) enum Sink {
    /// CSV with the [`OUTPUT_COLUMNS`] header.
    Csv(Box<::csv::Writer<Box<dyn Write + Send>>>),
    /// One JSON object per line.
    Json(Box<dyn Write + Send>),
}

impl Sink {
    /// A sink over `out`; `header` writes the CSV header first.
    pub(super) fn new(
        out: Box<dyn Write + Send>,
        json: bool,
        header: bool,
    ) -> Result<Sink, std::io::Error> {
        if json {
            return Ok(Sink::Json(out));
        }
        let mut w = ::csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        if header {
            w.write_record(OUTPUT_COLUMNS)?;
            w.flush()?;
        }
        Ok(Sink::Csv(Box::new(w)))
    }

    /// Writes and flushes one row's result.
    pub(super) fn write(
        &mut self,
        line: u64,
        request_id: &str,
        result: &RowResult,
    ) -> std::io::Result<()> {
        match self {
            Sink::Csv(w) => {
                let mut row: [String; OUTPUT_COLUMNS.len()] = Default::default();
                row[0] = line.to_string();
                row[1] = request_id.to_owned();
                if let RowResult::Answered(r) = result {
                    row[7] = grade_name(r.subject_grade).to_owned();
                }
                if let RowResult::Linked {
                    label, relation, ..
                } = result
                {
                    row[8] = label.clone();
                    row[9] = relation_text(*relation).to_owned();
                }
                if let RowResult::Answered(r) | RowResult::Linked { answer: r, .. } = result {
                    row[2] = grade_name(r.grade).to_owned();
                    row[3] = r
                        .matches
                        .iter()
                        .filter_map(|m| m.advisory.as_ref().map(|a| a.advisory_id.as_str()))
                        .collect::<Vec<_>>()
                        .join(";");
                    row[4] = r
                        .matches
                        .iter()
                        .map(|m| m.strength)
                        .max()
                        .map(|s| strength_name(s).to_owned())
                        .unwrap_or_default();
                    row[5] = r.audit_index.to_string();
                }
                row[6] = result.error_text();
                if let RowResult::Answered(r) | RowResult::Linked { answer: r, .. } = result {
                    // MatchTier values rise from EXACT (1) to PARTIAL_NAME (4): the smallest
                    // set value is the best tier.
                    row[10] = r
                        .matches
                        .iter()
                        .map(|m| m.tier)
                        .filter(|t| *t > 0)
                        .min()
                        .map(|t| tier_name(t).to_owned())
                        .unwrap_or_default();
                }
                w.write_record(&row)?;
                w.flush()
            }
            Sink::Json(w) => {
                let mut v = match result {
                    RowResult::Answered(r) => response_json(r),
                    RowResult::Linked {
                        label,
                        relation,
                        answer,
                    } => links::link_json(label, *relation, answer),
                    RowResult::Local(reason) => serde_json::json!({
                        "request_id": request_id,
                        "error": {"source": "local", "message": reason},
                    }),
                    RowResult::Gateway { code, message } => serde_json::json!({
                        "request_id": request_id,
                        "error": {"source": "gateway", "code": format!("{code:?}"), "message": message},
                    }),
                };
                if let Some(map) = v.as_object_mut() {
                    map.insert("line".into(), line.into());
                }
                writeln!(w, "{v}")?;
                w.flush()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_are_one_line() {
        let e = RowResult::Gateway {
            code: tonic::Code::AlreadyExists,
            message: "a\nb".into(),
        };
        assert_eq!(e.error_text(), "gateway AlreadyExists: a b");
    }
}
