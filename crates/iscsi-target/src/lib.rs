//! # iscsi-target: an iSCSI target
//!
//! Serves block storage over iSCSI (RFC 7143) to Linux, Windows, VMware,
//! QEMU and libiscsi initiators.
//!
//! - [`connection`]: one connection, sans-IO, from its first byte to its
//!   close — the framer, the login machine, then the engine — and the one
//!   place that decides which receive errors close it.
//! - [`engine`]: the full-feature phase of one connection, sans-IO — CmdSN
//!   window, tasks, R2T and Data-In sequencing, residuals, NOP-In, task
//!   management, SendTargets, Logout, Reject. Built on `iscsi-pdu`,
//!   `iscsi-login` (login) and `iscsi-scsi` (the SCSI command set).
//! - `server` (feature `runtime`, on by default): the tokio server —
//!   portals, logins with [`iscsi_login::TargetLogin`], sessions and
//!   reinstatement, SCSI execution, graceful shutdown — and
//!   [`config`], the TOML configuration and its embedded default.
//!
//! ```no_run
//! # #[cfg(feature = "runtime")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use iscsi_target::{config::Config, server::Server};
//!
//! let server = Server::start(Config::embedded_default()).await?;
//! println!("serving on {:?}", server.addresses());
//! tokio::signal::ctrl_c().await?;
//! Ok(server.shutdown().await?)
//! # }
//! ```

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

pub mod connection;
pub mod engine;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "runtime")]
pub mod config;
#[cfg(feature = "runtime")]
pub mod server;
