//! Each connection's concurrent calls are bounded by HTTP/2 `MAX_CONCURRENT_STREAMS` (issue
//! #16, attack 5), announced in the gateway's first SETTINGS frame from
//! `transport.max_concurrent_streams`, so one connection cannot open unbounded streams.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2).
const MAX_CONCURRENT_STREAMS: u16 = 0x3;

#[tokio::test]
async fn the_gateway_announces_its_stream_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.transport.max_concurrent_streams = 7;
    let gw = TestGateway {
        running: portcullis::server::start(config).await.unwrap(),
        dir,
    };
    let mut conn = raw_tls::connect(gw.running.addr(), raw_tls::config("alpha-officer"))
        .await
        .unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 0x04, 0, 0, 0, 0, 0]);
    conn.write_all(&hello).await.unwrap();
    let read = async {
        let mut header = [0u8; 9];
        conn.read_exact(&mut header).await.unwrap();
        assert_eq!(header[3], 0x04, "the first frame is SETTINGS");
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        assert!(
            len % 6 == 0 && len <= 96,
            "a plausible SETTINGS payload: {len}"
        );
        let mut payload = vec![0u8; len];
        conn.read_exact(&mut payload).await.unwrap();
        payload
            .chunks(6)
            .map(|s| {
                (
                    u16::from_be_bytes([s[0], s[1]]),
                    u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                )
            })
            .collect::<Vec<_>>()
    };
    let settings = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("SETTINGS in time");
    assert!(
        settings.contains(&(MAX_CONCURRENT_STREAMS, 7)),
        "{settings:?}"
    );
}
