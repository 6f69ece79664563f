//! `portcullis bench` with the real binary: a short run of every scenario against a gateway it
//! starts itself. No timing is asserted (the machine is shared and noisy), only that every
//! scenario ran, nothing failed and the ratios to Health/Check were computed.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

#[test]
fn bench_runs_every_scenario_without_errors() {
    let out = Command::new(BIN)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args([
            "bench",
            "--duration",
            "1",
            "--advisories",
            "20",
            "--batch-items",
            "2000",
            "--concurrency",
            "8",
            "--connections",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "health",
            "vet-miss",
            "vet-hit",
            "vet-batch",
            "publish",
            "notice",
            "audit-verify"
        ]
    );
    for s in scenarios {
        let name = &s["name"];
        assert!(s["calls"].as_u64().unwrap() > 0, "{name}: no calls");
        assert_eq!(
            s["errors"],
            serde_json::json!({}),
            "{name}: errors {}",
            s["errors"]
        );
        assert!(s["per_sec"].as_f64().unwrap() > 0.0, "{name}");
        assert!(s["ratio_to_health"].as_f64().unwrap() > 0.0, "{name}");
        // A child gateway is measured from /proc; health's own CPU ratio is 1 by definition.
        assert!(s["server_cpu_us_per_call"].as_f64().is_some(), "{name}");
        assert!(s["cpu_ratio_to_health"].as_f64().is_some(), "{name}");
    }
    assert_eq!(scenarios[0]["ratio_to_health"].as_f64(), Some(1.0));
    for s in &scenarios[..3] {
        assert!(s["latency_ms"]["p99"].as_f64().is_some());
    }
    assert_eq!(report["startup"][0]["log_entries"], 0);
    assert!(report["server_memory"]["peak_rss_mib"].as_f64().unwrap() > 0.0);
}
