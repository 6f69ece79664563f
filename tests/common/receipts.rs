//! Receipts: the development log's verifier key, a party's receipt fetched by audit index, and
//! a receipt whose checkpoint is re-signed after a change.

use portcullis::audit::checkpoint::{Checkpoint, NoteSigner, NoteVerifier};
use portcullis::audit::tlog_proof::TlogProof;
use portcullis::proto::v1::vetting_service_client::VettingServiceClient;
use portcullis::proto::v1::{GetReceiptRequest, Receipt};
use tonic::transport::Channel;

use super::certs;

/// The development log's note verifier (`certs-dev/log.vkey`).
pub fn log_verifier() -> NoteVerifier {
    NoteVerifier::parse(&std::fs::read_to_string(certs().join("log.vkey")).unwrap()).unwrap()
}

/// A receipt request for the entry at `audit_index`.
pub fn by_index(audit_index: u64) -> GetReceiptRequest {
    GetReceiptRequest {
        audit_index,
        request_id: String::new(),
    }
}

/// The caller's receipt for the entry at `audit_index`.
pub async fn receipt(client: &mut VettingServiceClient<Channel>, audit_index: u64) -> Receipt {
    client
        .get_receipt(by_index(audit_index))
        .await
        .unwrap()
        .into_inner()
}

/// `proof` with its checkpoint replaced by `cp`, signed with the development log key and
/// followed by a cosignature line of an unknown witness key; encoded.
pub fn resigned(proof: TlogProof, cp: &Checkpoint) -> String {
    let signer = NoteSigner::from_pkcs8(
        "portcullis.dev/audit",
        &std::fs::read(certs().join("log-signing.pk8")).unwrap(),
    )
    .unwrap();
    let note = format!(
        "{}\u{2014} witness.example.org AAAAAAAAAAAAAAAAAAAA\n",
        signer.sign(cp)
    );
    TlogProof {
        checkpoint: note,
        ..proof
    }
    .encode()
}
