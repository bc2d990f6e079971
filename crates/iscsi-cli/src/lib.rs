//! # iscsi-cli: the `iscsi` tool and the HTTP probe service
//!
//! The binary `iscsi` (`src/main.rs`) discovers, probes, logs into, reads
//! and writes iSCSI targets with the [`iscsi_initiator`] client. This
//! library holds what the binary and its tests share:
//!
//! - [`probe`]: the JSON report of `iscsi probe` (reachability, login
//!   status, negotiated parameters, targets, LUNs).
//! - [`probe_server`]: the HTTP API of `iscsi probe-server`
//!   (`POST /api/iscsi/discover`, `/api/iscsi/login`) on axum.
//!
//! Binary-only dependencies (clap, serde, axum, indicatif, the allocator)
//! live here, so that the protocol libraries carry none of them.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod probe;
pub mod probe_server;
