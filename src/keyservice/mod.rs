//! The key service (tokens v2, keyservice.md): the epochs it evaluates ([`KeyRing`]), the
//! gRPC service ([`service`]), its own process ([`server`]) and the client side that blinds,
//! evaluates in batches, verifies and finalizes ([`client`]).

pub mod client;
pub mod server;
pub mod service;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::ServeError;
use crate::oprf::ServerKey;

/// The epochs a key service knows: VOPRF epochs with their private keys, and the other epoch
/// ids of the deployment (hmac-sha256), named so that a call for one gets a precise error.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    voprf: BTreeMap<String, ServerKey>,
    hmac: Vec<String>,
}

impl KeyRing {
    /// Loads the private key files; `known_ids` are all epoch ids the deployment accepts (those
    /// without a private key here are hmac-sha256 epochs). Two files for one key id are refused.
    pub fn load(
        files: &[PathBuf],
        known_ids: impl IntoIterator<Item = String>,
    ) -> Result<Self, ServeError> {
        let mut voprf = BTreeMap::new();
        for (i, path) in files.iter().enumerate() {
            let key = ServerKey::from_file(path)
                .map_err(|e| ServeError::Config(format!("key_service_keys[{i}]: {e}")))?;
            let id = key.id().to_owned();
            if voprf.insert(id.clone(), key).is_some() {
                return Err(ServeError::Config(format!(
                    "key_service_keys[{i}]: a second key for epoch {id}"
                )));
            }
        }
        let hmac = known_ids
            .into_iter()
            .filter(|id| !voprf.contains_key(id))
            .collect();
        Ok(KeyRing { voprf, hmac })
    }

    /// A ring of the given keys (tests and benchmarks).
    pub fn of(keys: Vec<ServerKey>) -> Self {
        KeyRing {
            voprf: keys.into_iter().map(|k| (k.id().to_owned(), k)).collect(),
            hmac: Vec::new(),
        }
    }

    /// The VOPRF key of `key_id`, or the rule the id breaks (for `key_id: …`).
    pub fn get(&self, key_id: &str) -> Result<&ServerKey, String> {
        if let Some(key) = self.voprf.get(key_id) {
            return Ok(key);
        }
        if key_id.is_empty() {
            return Err("required".to_owned());
        }
        if !crate::domain::is_key_id(key_id) {
            return Err("must be 1..=64 characters of [A-Za-z0-9._-]".to_owned());
        }
        if self.hmac.iter().any(|id| id == key_id) {
            return Err(format!(
                "epoch {key_id} is hmac-sha256, not {}; its key is on the client",
                crate::oprf::SUITE
            ));
        }
        Err(format!("unknown key epoch {key_id}"))
    }

    /// Whether the ring holds no VOPRF key.
    pub fn is_empty(&self) -> bool {
        self.voprf.is_empty()
    }
}
