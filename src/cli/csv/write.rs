//! The result writer: takes each sent row's answer from the VetBatch response stream, retries
//! rate-limited rows, and writes every row's result in file order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::links;
use super::output::{RowResult, Sink};
use super::pace::{retry_after, Pace, MAX_PAUSE, RATE_RETRIES};
use super::progress::{report, Tally};
use super::read::Item;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{VetRequest, VetResponse};
use crate::Error;

/// The result writer: the output, the tally, and what it needs to retry rate-limited rows.
pub(super) struct Results<'a> {
    /// Where results go.
    pub(super) sink: Sink,
    /// The output's name, for errors.
    pub(super) out_name: PathBuf,
    /// What was written.
    pub(super) tally: Tally,
    /// The progress bar, advanced per row written.
    pub(super) bar: Option<&'a ProgressBar>,
    /// The gateway, for retries with the unary Vet.
    pub(super) client: VettingServiceClient<Channel>,
    /// The pause between sends, set from rate-limit answers.
    pub(super) pace: Arc<Pace>,
}

impl Results<'_> {
    /// Writes one result per queued row, in file order, taking each sent row's answer from the
    /// VetBatch response stream; reports error rows on stderr. Returns when the queue ends (the
    /// reader is done) or at the first broken answer or failed write.
    pub(super) async fn write_all(
        &mut self,
        responses: &mut tonic::Streaming<VetResponse>,
        items: &mut mpsc::Receiver<Item>,
    ) -> Result<(), Error> {
        while let Some(item) = items.recv().await {
            let (line, request_id, result) = match item {
                Item::Local {
                    line,
                    request_id,
                    reason,
                } => (line, request_id, RowResult::Local(reason)),
                Item::Sent {
                    line,
                    request,
                    links,
                } => {
                    let answer = match responses.message().await {
                        Ok(Some(r)) if r.request_id == request.request_id => r,
                        other => {
                            self.tally.unwritten += 1;
                            return Err(broken(other, &request.request_id));
                        }
                    };
                    let result = match answer.error {
                        Some(e) if e.code == tonic::Code::ResourceExhausted as i32 => {
                            self.retry(request.clone(), &e.message).await
                        }
                        Some(e) => RowResult::Gateway {
                            code: tonic::Code::from_i32(e.code),
                            message: e.message,
                        },
                        None => {
                            self.pace.speed_up();
                            RowResult::Answered(answer)
                        }
                    };
                    self.write(line, &request.request_id, &result)?;
                    // Each linked row gets its own result row: its part of the answer, or the
                    // group's error.
                    for (link, link_line) in request.linked.iter().zip(links) {
                        let part = match &result {
                            RowResult::Answered(r) => RowResult::Linked {
                                label: link.label.clone(),
                                relation: link.relation,
                                answer: links::through(r, &link.label),
                            },
                            other => other.clone(),
                        };
                        self.write(link_line, &request.request_id, &part)?;
                    }
                    continue;
                }
            };
            self.write(line, &request_id, &result)?;
        }
        if let Ok(Some(extra)) = responses.message().await {
            return Err(tonic::Status::internal(format!(
                "the gateway sent an answer ({}) for no row",
                extra.request_id
            ))
            .into());
        }
        Ok(())
    }

    /// Tries a row the rate limit turned away again with the unary Vet (the same request id),
    /// after the wait the gateway asked for, at most [`RATE_RETRIES`] times; slows the sends.
    async fn retry(&mut self, request: VetRequest, message: &str) -> RowResult {
        let hint = retry_after(message).unwrap_or(Duration::from_millis(10));
        self.pace.slow_down(hint);
        let mut message = message.to_owned();
        let mut wait = hint;
        for _ in 0..RATE_RETRIES {
            if let Some(hint) = retry_after(&message) {
                wait = wait.max(hint);
            }
            tokio::time::sleep(wait.min(MAX_PAUSE)).await;
            match self.client.vet(request.clone()).await {
                Ok(answer) => return RowResult::Answered(answer.into_inner()),
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    message = status.message().to_owned();
                    wait = (wait * 2).min(MAX_PAUSE);
                }
                Err(status) => {
                    return RowResult::Gateway {
                        code: status.code(),
                        message: status.message().to_owned(),
                    }
                }
            }
        }
        RowResult::Gateway {
            code: tonic::Code::ResourceExhausted,
            message,
        }
    }

    /// Counts, reports (error rows) and writes one row's result.
    fn write(&mut self, line: u64, request_id: &str, result: &RowResult) -> Result<(), Error> {
        match result {
            RowResult::Answered(r) | RowResult::Linked { answer: r, .. } => {
                *self.tally.grades.entry(r.grade).or_default() += 1
            }
            RowResult::Local(_) => self.tally.local += 1,
            RowResult::Gateway { .. } => self.tally.gateway += 1,
        }
        if !matches!(result, RowResult::Answered(_) | RowResult::Linked { .. }) {
            report(self.bar, &format!("line {line}: {}", result.report_text()));
        }
        if let Err(e) = self.sink.write(line, request_id, result) {
            self.tally.unwritten += 1;
            return Err(Error::io(&self.out_name, e));
        }
        if let Some(bar) = self.bar {
            bar.inc(1);
        }
        Ok(())
    }
}

/// The error for a batch answer that is not the one expected for `request_id`.
fn broken(answer: Result<Option<VetResponse>, tonic::Status>, request_id: &str) -> Error {
    match answer {
        Ok(Some(r)) => tonic::Status::internal(format!(
            "the gateway answered request {} where {request_id} was expected",
            r.request_id
        ))
        .into(),
        Ok(None) => {
            tonic::Status::unavailable("the gateway ended the batch before answering every row")
                .into()
        }
        Err(status) => status.into(),
    }
}
