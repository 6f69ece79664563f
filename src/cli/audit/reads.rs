//! The auditor's reads of the AuditService, each retried while the gateway's rate limit turns
//! it away ([`crate::cli::retry`]): checkpoint, replay, inclusion and consistency proofs.

use std::future::Future;

use tonic::transport::Channel;
use tonic::{Response, Status};

use crate::cli::retry::retrying;
use crate::client::ReplayedLeaf;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::proto::v1::{
    AuditRecord, Checkpoint, ConsistencyProofRequest, GetCheckpointRequest, InclusionProofRequest,
    Proof, ReplayRequest,
};
use crate::Error;

/// The AuditService as the auditor calls it.
pub(super) type AuditClient = AuditServiceClient<Channel>;

/// Calls `call` with a copy of `client` and of `request` until it is not rate-limited (as
/// [`retrying`], which names it `what`), and unwraps the response.
async fn read<Req, Res, F, Fut>(
    what: &str,
    client: &AuditClient,
    request: Req,
    call: F,
) -> Result<Res, Status>
where
    Req: Clone,
    F: Fn(AuditClient, Req) -> Fut,
    Fut: Future<Output = Result<Response<Res>, Status>>,
{
    retrying(what, || call(client.clone(), request.clone()))
        .await
        .map(Response::into_inner)
}

/// The gateway's latest checkpoint, not yet checked.
pub(super) async fn checkpoint(client: &AuditClient) -> Result<Checkpoint, Status> {
    read(
        "GetCheckpoint",
        client,
        GetCheckpointRequest {},
        |mut c, r| async move { c.get_checkpoint(r).await },
    )
    .await
}

/// The stream of entries `request` asks for.
pub(super) async fn replay(
    client: &AuditClient,
    request: ReplayRequest,
) -> Result<tonic::Streaming<AuditRecord>, Status> {
    read("Replay", client, request, |mut c, r| async move {
        c.replay(r).await
    })
    .await
}

/// The leaves of entries `0..size` (their records, without the audit-entry decoding), as
/// `audit verify` checks them.
pub(super) async fn leaves(
    channel: &Channel,
    size: u64,
) -> Result<tonic::Streaming<ReplayedLeaf>, Status> {
    retrying("Replay", || {
        crate::client::replay_leaves(channel.clone(), 0, size)
    })
    .await
}

/// The gateway's inclusion proof of entry `index` in the tree of `tree_size` leaves (not yet
/// checked).
pub(super) async fn inclusion_proof(
    client: &AuditClient,
    index: u64,
    tree_size: u64,
) -> Result<Proof, Status> {
    let request = InclusionProofRequest { index, tree_size };
    read(
        "GetInclusionProof",
        client,
        request,
        |mut c, r| async move { c.get_inclusion_proof(r).await },
    )
    .await
}

/// The gateway's consistency proof from the tree of `old_size` leaves to that of `new_size`
/// (its raw hashes, not yet checked).
pub(super) async fn consistency_proof(
    client: &AuditClient,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Vec<u8>>, Error> {
    let request = ConsistencyProofRequest { old_size, new_size };
    let proof = read(
        "GetConsistencyProof",
        client,
        request,
        |mut c, r| async move { c.get_consistency_proof(r).await },
    )
    .await?;
    Ok(proof.hashes)
}
