//! Notices under `kill -9`: the real binary takes Publish calls on a subject a party vetted and
//! is killed with SIGKILL at a random moment, several times, while the notice sweep works
//! behind the publications. After a final restart, every publication whose answer the official
//! received has reached the party as exactly one notice, and no publication as two; the
//! party's cursors run 1, 2, 3, … without a gap or a repeat.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use common::process::ServerProcess;
use common::*;
use portcullis::proto::v1::advisory_service_client::AdvisoryServiceClient;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::{RiskGrade, TokenKind, WatchNoticesRequest};
use tonic::Code;

const CYCLES: usize = 4;
const PUBLISHERS: usize = 2;

fn server(port: u16) -> String {
    format!("https://localhost:{port}")
}

async fn channel(port: u16, who: &str) -> Option<tonic::transport::Channel> {
    portcullis::client::connect(
        &server(port),
        &common::certs().join("ca.crt"),
        &common::client(who),
    )
    .await
    .ok()
}

/// Publications on the watched subject until the gateway dies: the advisory ids answered.
async fn publish_until_killed(port: u16, tag: String) -> Vec<String> {
    let mut acked = Vec::new();
    let Some(channel) = channel(port, "official").await else {
        return acked;
    };
    let mut official = AdvisoryServiceClient::new(channel);
    for i in 0..10_000 {
        let request = publish_request(
            &format!("{tag}-{i}"),
            vec![token(TokenKind::CompanyNumber, 0x77)],
            RiskGrade::High,
        );
        match tokio::time::timeout(Duration::from_secs(5), official.publish(request)).await {
            Ok(Ok(answer)) => acked.push(answer.into_inner().advisory.unwrap().advisory_id),
            Ok(Err(status)) if status.code() == Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Killed under us: nothing after this can be acknowledged.
            _ => break,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_sweeping_sends_every_acknowledged_notice_once() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("db");
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");

    let gateway = ServerProcess::start(&db, &[]);
    let mut alpha =
        VettingServiceClient::new(channel(gateway.port, "alpha-officer").await.unwrap());
    alpha
        .vet(vet_request(
            "watched",
            vec![token(TokenKind::CompanyNumber, 0x77)],
        ))
        .await
        .unwrap();
    let status = gateway.stop();
    assert!(status.success(), "graceful stop failed: {status}");

    let mut acked: Vec<String> = Vec::new();
    for cycle in 0..CYCLES {
        let gateway = ServerProcess::start(&db, &[]);
        let port = gateway.port;
        let run_for = Duration::from_millis(300 + (seed >> (cycle * 8)) % 1500);
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|p| tokio::spawn(publish_until_killed(port, format!("c{cycle}-{p}"))))
            .collect();
        tokio::time::sleep(run_for).await;
        gateway.kill(); // SIGKILL
        let before = acked.len();
        for p in publishers {
            acked.extend(p.await.unwrap());
        }
        eprintln!(
            "cycle {cycle}: killed after {run_for:?}, {} publications answered",
            acked.len() - before
        );
    }
    assert!(!acked.is_empty(), "no publication was answered");

    // A final restart: the sweep sends whatever the crashes left queued.
    let gateway = ServerProcess::start(&db, &[]);
    let mut alpha =
        VettingServiceClient::new(channel(gateway.port, "alpha-officer").await.unwrap());
    let mut stream = alpha
        .watch_notices(WatchNoticesRequest { after_cursor: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_cursor = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all_acked_seen = acked.iter().all(|id| seen.contains_key(id));
        // Once every acknowledged one arrived, wait a little for any late duplicate.
        let wait = if all_acked_seen {
            Duration::from_millis(500)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let Ok(next) = tokio::time::timeout(wait, stream.message()).await else {
            break;
        };
        let notice = next.unwrap().expect("the stream stays open");
        assert_eq!(notice.cursor, last_cursor + 1, "cursors run without gaps");
        last_cursor = notice.cursor;
        assert_eq!(notice.request_id, "watched");
        let id = notice.advisory.unwrap().advisory_id;
        if let Some(first) = seen.insert(id.clone(), notice.cursor) {
            panic!("advisory {id}: notices {first} and {}", notice.cursor);
        }
    }
    let missing: Vec<_> = acked.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "no notice for answered publications {missing:?}"
    );
    eprintln!(
        "{} answered publications, {} notices (the rest: publications durable but not answered)",
        acked.len(),
        seen.len()
    );
    let status = gateway.stop_within(Duration::from_secs(30));
    assert!(status.success(), "graceful stop failed: {status}");
}
