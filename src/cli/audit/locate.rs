//! Finding the first changed entry after an online verification failed on the root: the
//! replayed log does not hash to the signed checkpoint, and the auditor wants to know which
//! entry, in words.
//!
//! The leaves are replayed once more and their hashes kept; then a binary search over prefix
//! sizes `m` asks the gateway for the consistency proof from `m` to the signed size and checks
//! it with the root recomputed from the first `m` replayed leaves. A proof that verifies is
//! cryptographic evidence that those `m` entries are exactly the signed ones; the smallest `m`
//! for which no valid proof comes back names entry `m - 1` as the first that differs. About
//! log2(n) calls; only done for logs of at most [`LOCATE_LIMIT`] entries (the hashes are kept in
//! memory).

use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::reads;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::merkle::{self, leaf_hash, root_from_leaf_hashes, Hash};
use crate::audit::verify::proof_hashes;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::Error;

/// The largest log searched (32 bytes of memory per entry).
pub(super) const LOCATE_LIMIT: u64 = 1 << 20;

/// The first entry whose replayed leaf differs from the signed log, if it can be found.
pub(super) async fn first_changed(channel: Channel, cp: &Checkpoint) -> Result<Option<u64>, Error> {
    if cp.size == 0 || cp.size > LOCATE_LIMIT {
        return Ok(None);
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(cp.size as usize);
    let mut stream = reads::leaves(&channel, cp.size).await?;
    while let Some(record) = stream.next().await {
        let record = record?;
        if record.index != hashes.len() as u64 {
            return Ok(None); // a gap or reordering: already named by the verifier
        }
        hashes.push(leaf_hash(&record.leaf));
    }
    if hashes.len() as u64 != cp.size {
        return Ok(None);
    }
    let client = AuditServiceClient::new(channel);
    let intact = |m: u64| {
        let client = client.clone();
        let root = root_from_leaf_hashes(&hashes[..m as usize]);
        async move { prefix_is_signed(client, m, &root, cp).await }
    };
    search(cp.size, intact).await
}

/// The smallest `m` in `1..=size` with `!intact(m)`, minus one; `intact(0)` is taken as true
/// and `intact(size)` as false (the verification failed).
async fn search<F, Fut>(size: u64, mut intact: F) -> Result<Option<u64>, Error>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<bool, Error>>,
{
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if intact(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(hi - 1))
}

/// Whether the gateway proves that the tree of the first `m` leaves, with root `root`, is the
/// start of the signed checkpoint `cp`.
async fn prefix_is_signed(
    client: AuditServiceClient<Channel>,
    m: u64,
    root: &Hash,
    cp: &Checkpoint,
) -> Result<bool, Error> {
    let proof = reads::consistency_proof(&client, m, cp.size).await?;
    let Ok(hashes) = proof_hashes(&proof) else {
        return Ok(false);
    };
    Ok(merkle::verify_consistency(m, cp.size, root, &cp.root, &hashes).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_search_finds_the_first_changed_entry() {
        for size in 1..40u64 {
            for changed in 0..size {
                let found = search(size, |m| async move { Ok(m <= changed) })
                    .await
                    .unwrap();
                assert_eq!(found, Some(changed), "size {size}, changed {changed}");
            }
        }
    }
}
