//! The report: one row per scenario with its ratios to `health`, as a table or as JSON.

use std::collections::BTreeMap;

use super::load::{errors_text, Outcome};
use super::scenarios::Scenario;

/// The server's resident memory.
pub(super) struct Memory {
    /// Peak resident memory (`VmHWM`).
    pub(super) peak_kib: u64,
    /// Resident memory now (`VmRSS`).
    pub(super) current_kib: u64,
}

/// The start-up time of the gateway at a log size.
pub(super) struct Startup {
    /// The audit log's size when it started.
    pub(super) log_entries: u64,
    /// Milliseconds from spawning it to its logging its address.
    pub(super) ms: f64,
}

/// One scenario's line of the report.
pub(super) struct Row {
    /// The scenario.
    scenario: Scenario,
    /// Successful operations.
    ok: u64,
    /// Failed operations by code.
    errors: BTreeMap<String, u64>,
    /// How long it ran.
    seconds: f64,
    /// Successful operations per second.
    per_sec: f64,
    /// Throughput as a ratio to health's.
    ratio: Option<f64>,
    /// p50, p90, p99 and max latency in ms (None if nothing succeeded).
    latency_ms: Option<[f64; 4]>,
    /// Server CPU µs per successful operation.
    cpu_us: Option<f64>,
    /// CPU per operation as a ratio to health's.
    cpu_ratio: Option<f64>,
}

impl Row {
    /// The row of `scenario` from what it measured (its ratios still unset).
    pub(super) fn new(scenario: Scenario, o: Outcome) -> Row {
        let seconds = o.elapsed.as_secs_f64();
        let per_sec = if seconds > 0.0 {
            o.ok as f64 / seconds
        } else {
            0.0
        };
        let ms = |us: u64| us as f64 / 1000.0;
        let latency_ms = (!o.latency.is_empty()).then(|| {
            [
                ms(o.latency.value_at_quantile(0.5)),
                ms(o.latency.value_at_quantile(0.9)),
                ms(o.latency.value_at_quantile(0.99)),
                ms(o.latency.max()),
            ]
        });
        let cpu_us = o.cpu.filter(|_| o.ok > 0).map(|c| c * 1e6 / o.ok as f64);
        Row {
            scenario,
            ok: o.ok,
            errors: o.errors,
            seconds,
            per_sec,
            ratio: None,
            latency_ms,
            cpu_us,
            cpu_ratio: None,
        }
    }
}

/// Sets each row's throughput and CPU ratios to those of the `health` row, if it ran.
pub(super) fn set_ratios(rows: &mut [Row]) {
    let baseline = rows
        .iter()
        .find(|r| r.scenario == Scenario::Health)
        .map(|r| (r.per_sec, r.cpu_us));
    for row in rows {
        if let Some((per_sec, cpu_us)) = baseline {
            row.ratio = (per_sec > 0.0).then(|| row.per_sec / per_sec);
            row.cpu_ratio = match (row.cpu_us, cpu_us) {
                (Some(c), Some(h)) if h > 0.0 => Some(c / h),
                _ => None,
            };
        }
    }
}

/// The machine the benchmark ran on.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        });
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpu_model": cpu,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// The settings a run was made with, as the report shows them.
pub(super) struct Settings {
    /// Advisories published before the scenarios.
    pub(super) advisories: u64,
    /// Seconds each scenario runs.
    pub(super) duration: f64,
    /// Calls in flight at once.
    pub(super) concurrency: usize,
    /// HTTP/2 connections.
    pub(super) connections: usize,
    /// Items on the one VetBatch stream.
    pub(super) batch_items: u64,
    /// The most calls a unary scenario makes.
    pub(super) max_calls: u64,
    /// Tokens in each Vet, VetBatch item and Publish.
    pub(super) tokens_per_vet: u16,
}

/// What a run measured, printed as a table or as one JSON object.
pub(super) struct Report {
    /// The settings of the run.
    pub(super) settings: Settings,
    /// The remote gateway, if not one of ours.
    pub(super) server: Option<String>,
    /// The gateway's start-up times.
    pub(super) startups: Vec<Startup>,
    /// One row per scenario.
    pub(super) rows: Vec<Row>,
    /// The gateway's memory at the end (a gateway we started only).
    pub(super) memory: Option<Memory>,
}

impl Report {
    /// The report as one JSON object.
    pub(super) fn json(&self) -> serde_json::Value {
        let mib = |kib: u64| kib as f64 / 1024.0;
        serde_json::json!({
            "machine": machine(),
            "server": self.server.clone().unwrap_or_else(|| "child process".to_owned()),
            "settings": {
                "advisories": self.settings.advisories,
                "duration_s": self.settings.duration,
                "concurrency": self.settings.concurrency,
                "connections": self.settings.connections,
                "batch_items": self.settings.batch_items,
                "max_calls": self.settings.max_calls,
                "tokens_per_vet": self.settings.tokens_per_vet,
            },
            "startup": self.startups.iter().map(|s| serde_json::json!({
                "log_entries": s.log_entries,
                "ms": s.ms,
            })).collect::<Vec<_>>(),
            "scenarios": self.rows.iter().map(|r| serde_json::json!({
                "name": r.scenario.name(),
                "unit": r.scenario.unit(),
                "calls": r.ok,
                "errors": r.errors,
                "seconds": r.seconds,
                "per_sec": r.per_sec,
                "ratio_to_health": r.ratio,
                "latency_ms": r.latency_ms.map(|[p50, p90, p99, max]| serde_json::json!({
                    "p50": p50, "p90": p90, "p99": p99, "max": max,
                })),
                "server_cpu_us_per_call": r.cpu_us,
                "cpu_ratio_to_health": r.cpu_ratio,
            })).collect::<Vec<_>>(),
            "server_memory": self.memory.as_ref().map(|m| serde_json::json!({
                "peak_rss_mib": mib(m.peak_kib),
                "rss_mib": mib(m.current_kib),
            })),
        })
    }

    /// Prints the report as a table.
    pub(super) fn print(&self) {
        let opt = |v: Option<f64>, digits: usize| match v {
            Some(v) => format!("{v:.digits$}"),
            None => "-".to_owned(),
        };
        println!(
            "{:<13} {:>9} {:>7} {:>10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}  errors",
            "scenario",
            "ops",
            "unit",
            "ops/s",
            "×health",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "cpu µs",
            "cpu×h",
        );
        for r in &self.rows {
            let l = r.latency_ms;
            println!(
                "{:<13} {:>9} {:>7} {:>10.0} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}  {}",
                r.scenario.name(),
                r.ok,
                r.scenario.unit(),
                r.per_sec,
                opt(r.ratio, 2),
                opt(l.map(|l| l[0]), 2),
                opt(l.map(|l| l[1]), 2),
                opt(l.map(|l| l[2]), 2),
                opt(l.map(|l| l[3]), 2),
                opt(r.cpu_us, 1),
                opt(r.cpu_ratio, 2),
                errors_text(&r.errors),
            );
        }
        match &self.memory {
            Some(m) => println!(
                "server memory: peak RSS {:.1} MiB, RSS at the end {:.1} MiB",
                m.peak_kib as f64 / 1024.0,
                m.current_kib as f64 / 1024.0
            ),
            None => println!("server memory: not measured (--server)"),
        }
        for s in &self.startups {
            println!(
                "start-up: {:.0} ms with {} audit entries",
                s.ms, s.log_entries
            );
        }
        let m = machine();
        println!(
            "machine: {} CPUs, {}; {} advisories, {} s per scenario, concurrency {} over {} connections, {} tokens per request",
            m["cpus"],
            m["cpu_model"].as_str().unwrap_or("unknown CPU"),
            self.settings.advisories,
            self.settings.duration,
            self.settings.concurrency,
            self.settings.connections,
            self.settings.tokens_per_vet,
        );
    }
}
