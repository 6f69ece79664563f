//! The key service in its own process (as a library here): its quota is hot-reloaded, its keys
//! are not, and its calls go to its own log.

use portcullis::oprf::Blinded;
use portcullis::proto::v1::key_service_client::KeyServiceClient;
use portcullis::proto::v1::EvaluateRequest;
use tonic::Code;

mod common;

use common::{certs, client};

fn elements(n: usize) -> Vec<Vec<u8>> {
    let inputs = (0..n)
        .map(|i| {
            portcullis::oprf::input(portcullis::tokens::CanonicalKind::Email, &format!("{i}@x"))
        })
        .collect();
    Blinded::new(inputs)
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.to_vec())
        .collect()
}

#[tokio::test]
async fn quotas_reload_without_a_restart_and_keys_need_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = portcullis::keyservice::server::dev_config(&certs());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = dir.path().to_path_buf();
    config.limits.evaluate_per_day = 2;
    let running = portcullis::keyservice::server::start(config.clone())
        .await
        .unwrap();
    let url = format!("https://localhost:{}", running.addr().port());
    let channel = portcullis::client::connect(&url, &certs().join("ca.crt"), &client("official"))
        .await
        .unwrap();
    let mut ks = KeyServiceClient::new(channel);
    let request = |n| EvaluateRequest {
        key_id: "dev-2".into(),
        blinded_elements: elements(n),
    };
    ks.evaluate(request(2)).await.unwrap();
    let status = ks.evaluate(request(1)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.metadata().get("retry-after-ms").is_some());

    config.limits.evaluate_per_day = 100;
    running.reload(&config).unwrap();
    ks.evaluate(request(3)).await.unwrap();

    let mut other_keys = config.clone();
    other_keys.key_service_keys.clear();
    let e = running.reload(&other_keys).unwrap_err();
    assert!(
        e.to_string()
            .contains("key_service_keys: cannot change while running"),
        "{e}"
    );
    running.shutdown().await.unwrap();

    // Its own log: the three Evaluate calls (two answered, one refused).
    let store = portcullis::store::Store::open_with_cache(dir.path(), 8 << 20).unwrap();
    let size = store.log_size().unwrap();
    let entries: Vec<portcullis::audit::AuditEntry> = store
        .leaves(0, size)
        .map(|r| prost::Message::decode(r.unwrap().1.as_slice()).unwrap())
        .collect();
    let seen: Vec<(&str, i32, u32)> = entries
        .iter()
        .map(|e| (e.method.as_str(), e.code, e.element_count))
        .collect();
    const EVALUATE: &str = "/portcullis.v1.KeyService/Evaluate";
    assert_eq!(
        seen,
        vec![
            (EVALUATE, 0, 2),
            (EVALUATE, Code::ResourceExhausted as i32, 1),
            (EVALUATE, 0, 3),
        ]
    );
    assert!(entries.iter().all(|e| e.key_id == "dev-2"));
}
