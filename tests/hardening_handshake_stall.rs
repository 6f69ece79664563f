//! Silent and trickling TCP connections cannot keep a legitimate client out (issue #16,
//! attack 1). Before the fix, 256 connections that sent nothing filled every handshake slot and
//! the accept loop waited for one to free, so a fresh client waited up to the 10 s handshake
//! timeout. Now the accept loop never waits, and when the pending-handshake caps are reached the
//! oldest pending handshake is evicted, not the newcomer.
//!
//! The attacker holds 512 connections open from the same address as the legitimate clients
//! (448 silent, 64 that sent the first bytes of a TLS record and stalled), and keeps replacing
//! the ones the gateway closes. Fresh clients must connect and answer Health/Check within a
//! generous 5 s deadline. The time each took is printed, not asserted (run with
//! `--nocapture` to see it).

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const HOSTILE: usize = 512;
const TRICKLING: usize = 64;
const FRESH_CLIENTS: usize = 10;
/// A correctness bound on each legitimate connect + call, not a performance target.
const DEADLINE: Duration = Duration::from_secs(5);

async fn hostile(addr: SocketAddr, trickle: bool) -> TcpStream {
    let mut tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    if trickle {
        // A TLS handshake record header announcing 512 bytes, and nothing more.
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
            .await
            .unwrap();
    }
    tcp
}

/// Connects a new client and checks health; how long that took.
async fn fresh_client(gw: &TestGateway) -> Duration {
    let started = Instant::now();
    let channel = gw.channel("alpha-officer").await;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("Health/Check answers");
    assert_eq!(status.into_inner().status, 1, "SERVING");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_clients_connect_while_512_hostile_connections_are_held_open() {
    let gw = TestGateway::start().await;
    let addr = gw.running.addr();
    let mut quiet = Vec::new();
    for _ in 0..3 {
        quiet.push(fresh_client(&gw).await);
    }
    let mut held = VecDeque::with_capacity(HOSTILE);
    for i in 0..HOSTILE {
        held.push_back(hostile(addr, i < TRICKLING).await);
    }

    // The attacker keeps its 512 connections open, replacing the oldest with a fresh one
    // every few milliseconds, for as long as the legitimate clients run (bounded below).
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let attacker = tokio::spawn(async move {
        let mut opened = 0usize;
        while opened < 20_000 {
            tokio::select! {
                _ = &mut stop_rx => break,
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
            }
            held.pop_front();
            held.push_back(hostile(addr, opened % 8 == 0).await);
            opened += 1;
        }
        opened
    });

    let mut took = Vec::new();
    for i in 0..FRESH_CLIENTS {
        // Let the attacker churn between clients.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let elapsed = tokio::time::timeout(DEADLINE, fresh_client(&gw))
            .await
            .unwrap_or_else(|_| panic!("fresh client {i} missed the {DEADLINE:?} deadline"));
        took.push(elapsed);
    }
    let _ = stop_tx.send(());
    let replaced = attacker.await.unwrap();

    let (pending, _) = gw.running.connection_counts();
    let cap = portcullis::transport::TransportLimits::default().max_pending_handshakes_per_ip;
    assert!(
        pending <= cap,
        "pending handshakes stay within the per-source cap: {pending} > {cap}"
    );
    assert!(
        raw_tls::metrics_show(
            "portcullis_handshakes_refused_total{reason=\"evicted\"}",
            Duration::from_secs(5)
        )
        .await,
        "evictions are counted"
    );
    took.sort();
    quiet.sort();
    eprintln!("fresh connect+Health without attack: median {:?}", quiet[1]);
    eprintln!(
        "{FRESH_CLIENTS} fresh connect+Health with {HOSTILE} hostile connections held \
         ({replaced} replaced meanwhile): min {:?}, median {:?}, max {:?}",
        took[0],
        took[took.len() / 2],
        took[took.len() - 1]
    );
}
