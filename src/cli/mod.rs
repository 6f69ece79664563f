//! The `portcullis` command: one file (or folder) per subcommand, each a thin layer over the
//! library. [`ChildGateway`] starts a gateway as a child process, for `bench` and the tests.

mod advisory;
mod audit;
mod bench;
mod certs;
mod child_gateway;
mod common;
mod csv;
mod entry_text;
mod keyservice;
mod linked;
mod pki_commands;
mod psc;
mod receipt;
mod retry;
mod serve;
mod serving;
mod subject_kind;
mod token;
mod vet;
mod vet_answer;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Error;

pub use child_gateway::{ChildGateway, Ready};

/// Portcullis: a secure intelligence-sharing gateway between security services and political
/// parties.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(serve::Args),
    /// Run the key service (tokens v2) in its own process.
    Keyservice(keyservice::Args),
    /// Certificates and keys: production CA, certificates, CRL, log, matching and key-service
    /// keys; the development PKI.
    #[command(subcommand)]
    Certs(certs::Command),
    /// Print the tokens identity fields give (v2: evaluated by the key service; v1: locally).
    Token(token::Args),
    /// Vet a subject (party).
    Vet(vet::Args),
    /// Publish an advisory (official).
    Publish(advisory::PublishArgs),
    /// Revise an advisory: a new version with new terms (official).
    Revise(advisory::ReviseArgs),
    /// Withdraw an advisory (official).
    Withdraw(advisory::WithdrawArgs),
    /// List or show advisories (official).
    #[command(subcommand)]
    Advisories(advisory::ListCommand),
    /// Check the tamper-evident audit log: checkpoints, replay, verification, proofs (auditor).
    #[command(subcommand)]
    Audit(audit::Command),
    /// Receipts: proof that you vetted a subject, checked offline (party; anyone to verify).
    #[command(subcommand)]
    Receipt(receipt::Command),
    /// Stream notices about subjects this party vetted earlier (party).
    Watch(watch::Args),
    /// Stream hits on this unit's advisories (official).
    Hits(watch::Args),
    /// Load-test a gateway over mTLS and report throughput, latency, CPU and memory.
    Bench(bench::Args),
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Keyservice(_) | Command::Bench(_)
    ) {
        // A client command whose output pipe closes (`portcullis audit replay | head`) ends
        // quietly, as Unix tools do, instead of panicking in `println!`. The gateway and the
        // key service keep ignoring SIGPIPE: a closed connection must never end them. So does
        // `bench`, which drives its own gateway and key service and was seen ended by SIGPIPE. (Sockets are written with
        // MSG_NOSIGNAL, and a gateway that `bench` starts is its own process, which ignores
        // SIGPIPE again when it starts.)
        sigpipe::reset();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Keyservice(args) => keyservice::run(args).await,
        Command::Certs(cmd) => certs::run(cmd),
        Command::Token(args) => token::run(args).await,
        Command::Vet(args) => vet::run(args).await,
        Command::Publish(args) => advisory::publish(args).await,
        Command::Revise(args) => advisory::revise(args).await,
        Command::Withdraw(args) => advisory::withdraw(args).await,
        Command::Advisories(cmd) => advisory::list(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Receipt(cmd) => receipt::run(cmd).await,
        Command::Watch(args) => watch::notices(args).await,
        Command::Hits(args) => watch::hits(args).await,
        Command::Bench(args) => bench::run(args).await,
    }
}
