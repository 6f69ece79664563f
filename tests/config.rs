//! Start-up refusals: configurations a production gateway must not run with.

mod common;

use common::*;

#[tokio::test]
async fn production_mode_refuses_the_development_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.dev = false;
    let err = portcullis::server::start(c).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tls.ca") && text.contains("development CA"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_crl_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.tls.crl = dir.path().join("nope.pem");
    let err = portcullis::server::start(c).await.unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[test]
fn a_bad_config_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portcullis.toml"),
    )
    .unwrap()
    .replace("max_batch = 4096", "max_batch = 0");
    std::fs::write(&path, text).unwrap();
    let err = portcullis::config::Config::from_file(&path).unwrap_err();
    assert!(err.to_string().contains("audit.max_batch"), "{err}");
}
