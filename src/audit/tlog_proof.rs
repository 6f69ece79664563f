//! Receipts as C2SP `tlog-proof@v1` texts: parsed, written and verified by the client crate
//! ([`portcullis_client::verify::receipt`]), re-exported here for the gateway's receipt issuer
//! ([`super::receipts`]) and its command line, so both ends share one implementation.

pub use portcullis_client::verify::receipt::{
    verify, ReceiptError, TlogProof, VerifiedReceipt, HEADER, MAX_PROOF_HASHES,
};
