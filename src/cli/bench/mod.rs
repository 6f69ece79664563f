//! `portcullis bench`: a load benchmark over real mutual-TLS gRPC on loopback.
//!
//! Unless `--server` names a running gateway, the benchmark starts one as a child process
//! (`serve --dev --config <tmp>/bench.toml`) on a temporary data directory, with rate limits
//! raised out of the way, so that `/proc/<pid>` measures the server alone: CPU time (user +
//! system) per call and peak resident memory. It seeds the gateway with advisories, then runs
//! each scenario for a bounded time and a bounded number of calls:
//!
//! | scenario       | what one operation is                                              |
//! |----------------|--------------------------------------------------------------------|
//! | `health`       | `grpc.health.v1.Health/Check`: same TLS, HTTP/2 and runtime, no work |
//! | `vet-miss`     | `Vet` with 4 tokens matching nothing                                |
//! | `vet-hit`      | `Vet` with the 4 tokens of a seeded advisory                        |
//! | `vet-batch`    | one item of a single `VetBatch` stream                              |
//! | `publish`      | `Publish` of a new advisory with 4 tokens                           |
//! | `audit-verify` | one log entry replayed and verified online, as `audit verify` does  |
//! | `keyservice`   | one element evaluated by a `portcullis keyservice` child (only when named) |
//!
//! Throughput and server CPU per operation are reported as ratios to `health` measured in the
//! same run, because absolute numbers say more about the machine than about the gateway.
//! Latencies go to an HDR histogram (microsecond resolution, 3 significant digits); every
//! non-OK status is counted by code.
//!
//! This file runs the command; one file each for the scenarios ([`scenarios`]), the requests
//! they send ([`requests`]), the load loop ([`load`]), the gateway under test ([`gateway`],
//! started with [`crate::cli::ChildGateway`]), `/proc` sampling ([`proc_stats`]), the report
//! ([`report`]) and the key-service scenario ([`keyservice`]).

mod gateway;
mod keyservice;
mod load;
mod notice;
mod proc_stats;
mod report;
mod requests;
mod scenarios;

use std::time::Duration;

use self::gateway::GatewayUnderTest;
use self::load::{errors_text, Load};
use self::report::{set_ratios, Report, Row, Settings, Startup};
use self::requests::{Clients, Run};
use self::scenarios::{audit_verify, fill_log, log_size, run_unary, seed, vet_batch};
use self::scenarios::{LogFill, Scenario};
use crate::Error;

/// `portcullis bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Load an existing gateway (https://host:port) instead of starting one. It must trust the
    /// development certificates and accept key id dev-1; its rate limits apply, and server CPU
    /// time and memory are not measured.
    #[arg(long)]
    server: Option<String>,
    /// Advisories to publish before the scenarios run.
    #[arg(long, default_value_t = 1000)]
    advisories: u64,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Calls in flight at once (unary scenarios).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the calls in flight share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Items sent on the one VetBatch stream (it also stops after --duration).
    #[arg(long, default_value_t = 100_000)]
    batch_items: u64,
    /// The most calls a unary scenario makes (it also stops after --duration).
    #[arg(long, default_value_t = 10_000_000)]
    max_calls: u64,
    /// Scenarios to run, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Before the scenarios, grow the audit log to each of these sizes in turn (with VetBatch
    /// streams, see --log-fill) and restart the gateway, timing its start-up at that log size.
    #[arg(long, value_delimiter = ',')]
    log_entries: Vec<u64>,
    /// The started gateway's sled page cache, in MiB (`cache_mb`; the gateway's default when
    /// not given).
    #[arg(long)]
    cache_mb: Option<u64>,
    /// What grows the log for --log-entries.
    #[arg(long, value_enum, default_value_t = LogFill::Vets)]
    log_fill: LogFill,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Tokens in each Vet, VetBatch item and Publish (the benchmark's four kinds in turn;
    /// variant tokens make a realistic Vet of a person carry about 14).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    tokens_per_vet: u16,
}

/// Runs `portcullis bench`.
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(Error::Usage("--duration: must be a positive number".into()));
    }
    if args.concurrency == 0 || args.connections == 0 {
        return Err(Error::Usage(
            "--concurrency and --connections: must be at least 1".into(),
        ));
    }
    if args.server.is_some() && !args.log_entries.is_empty() {
        return Err(Error::Usage(
            "--log-entries restarts the gateway, so it needs a gateway the benchmark starts (no --server)".into(),
        ));
    }
    let mut scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    scenarios.sort();
    scenarios.dedup();
    let run = Run::new(usize::from(args.tokens_per_vet))?;
    let duration = Duration::from_secs_f64(args.duration);
    let keyservice = scenarios.contains(&Scenario::Keyservice);
    scenarios.retain(|s| *s != Scenario::Keyservice);
    if scenarios.is_empty() {
        return bench_keyservice(&args, duration).await;
    }

    let mut gateway = match &args.server {
        Some(server) => GatewayUnderTest::remote(server.clone()),
        None => GatewayUnderTest::start(&run.to_string(), args.cache_mb)?,
    };
    let mut startups = Vec::new();
    if let Some(child) = &gateway.child {
        startups.push(Startup {
            log_entries: 0,
            ms: millis(child.startup()),
        });
    }

    let mut clients = Clients::connect(&gateway.server, args.connections).await?;
    let needs_advisories = scenarios.contains(&Scenario::VetHit);
    let advisories = if needs_advisories {
        args.advisories.max(1)
    } else {
        args.advisories
    };
    if advisories > 0 {
        eprintln!("bench: publishing {advisories} advisories");
        let seeded = seed(&clients, &run, advisories, args.concurrency).await?;
        if seeded.failed() > 0 {
            return Err(Error::Usage(format!(
                "seeding failed: {}",
                errors_text(&seeded.errors)
            )));
        }
    }

    let mut targets = args.log_entries.clone();
    targets.sort_unstable();
    for target in targets {
        let size = log_size(&clients).await?;
        if size < target {
            eprintln!("bench: growing the audit log from {size} to {target} entries");
            let per_stream = args.batch_items.max(1);
            fill_log(&clients, &run, target - size, per_stream, args.log_fill).await?;
        }
        eprintln!("bench: restarting the gateway");
        gateway.restart()?;
        clients = Clients::connect(&gateway.server, args.connections).await?;
        let size = log_size(&clients).await?;
        if let Some(child) = &gateway.child {
            startups.push(Startup {
                log_entries: size,
                ms: millis(child.startup()),
            });
        }
    }

    let mut rows = Vec::new();
    for scenario in scenarios {
        eprintln!("bench: {}", scenario.name());
        let before = gateway.cpu_seconds();
        let mut outcome = match scenario {
            Scenario::VetBatch => {
                vet_batch(
                    clients.party[0].clone(),
                    &run,
                    args.batch_items,
                    duration,
                    crate::pki::DEV_MATCHING_KEY_ID,
                )
                .await?
            }
            Scenario::Notice => {
                notice::notice_latency(
                    clients.party[0].clone(),
                    clients.official[0].clone(),
                    &run,
                    advisories,
                    duration,
                )
                .await?
            }
            Scenario::AuditVerify => {
                // Let the gateway sign a checkpoint covering the scenarios' entries first.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let before = gateway.cpu_seconds();
                let mut o = audit_verify(clients.auditor.clone(), duration).await?;
                o.cpu = cpu_delta(before, gateway.cpu_seconds());
                o
            }
            unary => {
                let load = Load {
                    concurrency: args.concurrency,
                    duration,
                    max_calls: args.max_calls,
                };
                run_unary(unary, &clients, &run, advisories, load).await?
            }
        };
        if scenario != Scenario::AuditVerify {
            outcome.cpu = cpu_delta(before, gateway.cpu_seconds());
        }
        rows.push(Row::new(scenario, outcome));
    }
    set_ratios(&mut rows);
    let memory = gateway.memory();
    let report = Report {
        settings: Settings {
            advisories: args.advisories,
            duration: args.duration,
            concurrency: args.concurrency,
            connections: args.connections,
            batch_items: args.batch_items,
            max_calls: args.max_calls,
            tokens_per_vet: args.tokens_per_vet,
        },
        server: gateway.child.is_none().then(|| gateway.server.clone()),
        startups,
        rows,
        memory,
    };
    gateway.stop();
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    if keyservice {
        bench_keyservice(&args, duration).await?;
    }
    Ok(())
}

/// Runs and prints the `keyservice` scenario (its own table, or its own JSON line).
async fn bench_keyservice(args: &Args, duration: Duration) -> Result<(), Error> {
    if args.server.is_some() {
        return Err(Error::Usage(
            "--scenarios keyservice starts its own key service; it does not take --server".into(),
        ));
    }
    let report = keyservice::run(duration, args.concurrency).await?;
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    Ok(())
}

/// `d` in milliseconds.
fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The CPU time spent between two readings, if both were taken.
fn cpu_delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `portcullis bench`'s flags on their own.
    #[derive(Debug, clap::Parser)]
    struct Bench {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn tokens_per_vet_defaults_to_four_and_is_bounded() {
        let parsed = Bench::try_parse_from(["bench"]).unwrap();
        assert_eq!(parsed.args.tokens_per_vet, 4);
        let parsed = Bench::try_parse_from(["bench", "--tokens-per-vet", "64"]).unwrap();
        assert_eq!(parsed.args.tokens_per_vet, 64);
        for bad in ["0", "65", "many"] {
            let err = Bench::try_parse_from(["bench", "--tokens-per-vet", bad]).unwrap_err();
            assert!(err.to_string().contains("--tokens-per-vet"), "{bad}: {err}");
        }
    }
}
