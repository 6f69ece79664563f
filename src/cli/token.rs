//! `portcullis token`: compute tokens locally, print them, contact nobody.

use std::path::PathBuf;

use super::common::IdentityArgs;
use crate::Error;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Matching key file (`<key_id>:<64 hex>`).
    #[arg(long, env = "PORTCULLIS_KEY_FILE")]
    key_file: PathBuf,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Print a JSON list of {kind, canonical, digest}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> Result<(), Error> {
    let (key, tokens) = args.identity.tokens(&args.key_file)?;
    if args.json {
        let list: Vec<_> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "kind": t.kind.name(),
                    "canonical": t.canonical,
                    "digest": hex::encode(t.digest),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        println!("key id {}", key.id());
        for t in &tokens {
            println!(
                "{:<24} {}  {}",
                t.kind.name(),
                hex::encode(t.digest),
                t.canonical
            );
        }
    }
    Ok(())
}
