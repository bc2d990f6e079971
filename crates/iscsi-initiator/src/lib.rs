//! # iscsi-initiator: the client half
//!
//! - [`connection`]: one initiator connection, sans-IO, from the first
//!   Login Request to its close — the framer, the login machine, then the
//!   session engine.
//! - [`session`]: the full-feature phase of an initiator connection,
//!   sans-IO — ITTs, CmdSN and the MaxCmdSN window, immediate, unsolicited
//!   and solicited data, Data-In reassembly, NOP-In, Reject, Text, task
//!   management, Logout.
//! - [`url`]: `iscsi://[user[%secret]@]host[:port]/target-iqn/lun` and portals.
//! - `client` (feature `runtime`, on by default): tokio — [`client::login`],
//!   [`client::discover`], [`client::Session`] with typed SCSI helpers, and
//!   [`client::PduReader`].
//!
//! The `iscsi` tool and the HTTP probe service are the `iscsi-cli` crate.
//!
//! ```no_run
//! # #[cfg(feature = "runtime")]
//! # async fn run() -> Result<(), iscsi_initiator::client::Error> {
//! use iscsi_initiator::client::{LoginOptions, login};
//! use iscsi_initiator::url::IscsiUrl;
//!
//! let url = IscsiUrl::parse("iscsi://127.0.0.1/iqn.2026-11.rs.iscsi:ram0/0").expect("a URL");
//! let session = login(&LoginOptions::from_url(&url)?).await?;
//! let (blocks, block_size) = session.read_capacity(url.lun).await?;
//! let first = session.read_blocks(url.lun, 0, 1, block_size).await?;
//! println!("{blocks} blocks of {block_size} bytes; block 0 starts {:02x?}", &first[..4]);
//! session.logout().await
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
pub mod session;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod url;

#[cfg(feature = "runtime")]
pub mod client;
