//! `portcullis token`: compute tokens and print them. Tokens v1 (`--key-file`) contact nobody;
//! tokens v2 (`--key-service`/`--dev`) ask the key service to evaluate the blinded inputs.

use super::common::{ClientArgs, IdentityArgs, KeyArgs};
use crate::Error;

/// `portcullis token`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    keys: KeyArgs,
    /// Connection to the key service (tokens v2 only).
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    identity: IdentityArgs,
}

/// Runs `portcullis token`.
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    let mut scheme = args.keys.scheme(&args.client).await?;
    let tokens = args.identity.tokens(&mut scheme).await?;
    if args.client.json {
        let list: Vec<_> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "kind": t.kind.name(),
                    "canonical": t.canonical,
                    "digest": hex::encode(t.digest),
                    "key_id": scheme.key_id(),
                    "scheme": scheme.name(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        println!("key id {} (scheme {})", scheme.key_id(), scheme.name());
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
