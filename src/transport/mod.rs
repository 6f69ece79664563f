//! The transport in front of the gRPC server: accepting TCP connections, the TLS handshake
//! under admission control, and the checks an established connection must pass before and
//! while the HTTP/2 server uses it.
//!
//! What a hostile client can do to the transport, and what stops it (README, threat model):
//!
//! - *Silent or trickling TCP connections* hold a pending-handshake place for at most
//!   `hello_timeout_ms` (the ClientHello) and `handshake_timeout_ms` (the whole handshake), and
//!   when the pending caps are reached the oldest pending handshake is evicted rather than the
//!   newcomer refused ([`admission`]). The accept loop never waits.
//! - *Valid certificates that never speak HTTP/2* are closed after `preface_timeout_ms`, idle
//!   connections after `idle_timeout_ms`, and established connections are capped overall and
//!   per certificate ([`connection`], [`admission`]).
//! - Every refusal is counted by reason and logged at INFO, rate-limited ([`refusals`]).

pub mod accept;
pub mod admission;
pub mod connection;
pub mod refusals;

pub use accept::Acceptor;
pub use admission::{Admission, TransportLimits};
pub use connection::{Activity, CallGuard, Connection, TlsConn};
pub use refusals::Reason;
