//! Reading remembered answers (idempotency records), by scope and request id.

use super::keys::*;
use super::*;

impl Store {
    /// The remembered answer to `request_id` within `scope`.
    pub fn idempotency(
        &self,
        scope: &str,
        request_id: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = idempotency_key(scope, request_id);
        match self.db.get(&key)? {
            Some(bytes) => decode(&key, &bytes).map(Some),
            None => Ok(None),
        }
    }
}
