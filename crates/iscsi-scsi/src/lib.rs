//! # iscsi-scsi: the SCSI block command set
//!
//! The SCSI layer an iSCSI target executes and an initiator speaks,
//! independent of iSCSI (SCSI is transport-neutral; the target glues CDBs to
//! PDUs):
//!
//! - [`LogicalUnit`]: a direct-access block device (SBC-3) with the SPC-4
//!   commands around it — INQUIRY and VPD pages, MODE SENSE/SELECT, REPORT
//!   SUPPORTED OPERATION CODES, unit attentions per I_T nexus, SPC-2 and
//!   persistent reservations — executed against a [`BlockBackend`].
//! - Backends: [`MemoryBackend`] (sparse RAM) and [`FileBackend`] (file or
//!   block device, hole punching, fdatasync).
//! - [`Command`]: a CDB decoded once into typed fields under their T10
//!   names; the [`cdb`] module's command table says what each opcode is
//!   (handler, reservation class, Data-Out rule, usage bitmap).
//! - [`Sense`] data in fixed and descriptor format, with T10 names.
//! - [`data`]: one type per SCSI data structure — INQUIRY data, each VPD
//!   page, READ CAPACITY, REPORT LUNS and the SAM [`data::Lun`], mode
//!   parameters and pages, PERSISTENT RESERVE IN/OUT, GET LBA STATUS,
//!   REPORT SUPPORTED OPERATION CODES — each with `encode` and `parse`.
//! - [`initiator`]: the initiator half — CDB builders and parameter lists,
//!   and the [`data`] types under their initiator paths.
//!
//! It does no networking and keeps no clock. Commands are executed
//! synchronously with `&self`; a runtime may run many at once. For
//! backends whose I/O completes asynchronously (Ceph RBD), READ and WRITE
//! split in two: [`LogicalUnit::begin`] does every check and returns the
//! transfer to make, [`LogicalUnit::finish_read`] /
//! [`LogicalUnit::finish_write`] answer once it is done.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use iscsi_scsi::{LogicalUnit, LuConfig, MemoryBackend, Nexus, Request, Status};
//!
//! let disk = Arc::new(MemoryBackend::new(64 << 20, 512)?);
//! let lu = LogicalUnit::new(disk, LuConfig::new("iqn.2026-11.rs.iscsi:ram0", "0001"));
//! let nexus = Nexus::new(1, "iqn.2026-11.rs.iscsi:client,i,0x800000000001", 1);
//!
//! // WRITE(10) one block at LBA 7, then READ(10) it back.
//! let block = Bytes::from(vec![0xab; 512]);
//! let write = [0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0];
//! assert_eq!(lu.execute(&Request::new(&nexus, &write, &[block.clone()])).status, Status::GOOD);
//! let read = [0x28, 0, 0, 0, 0, 7, 0, 0, 1, 0];
//! let response = lu.execute(&Request::new(&nexus, &read, &[]));
//! assert_eq!(response.data, block);
//! # Ok::<(), iscsi_scsi::BackendError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod asc_text;
mod backend;
pub mod cdb;
mod command;
pub mod data;
mod fail;
pub mod initiator;
mod lu;
mod mode;
mod nexus;
mod pr;
pub mod sense;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use backend::{BackendError, BlockBackend, FileBackend, MemoryBackend, check_geometry};
pub use command::{BlockAccess, Command, ModeSense, ReportSupportedOperationCodes};
pub use lu::{
    Background, BackgroundWork, Begun, COPY_CHUNK_BYTES, CopyTargets, IoPlan, LogicalUnit,
    LuConfig, MAX_COMPARE_AND_WRITE_BLOCKS, MAX_CSCD_DESCRIPTORS, MAX_DESCRIPTOR_LIST_LENGTH,
    MAX_SEGMENT_BYTES, MAX_SEGMENT_DESCRIPTORS, MAX_TRANSFER_BLOCKS, MAX_TRANSFER_BYTES,
    MAX_UNMAP_BLOCKS, MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME_BLOCKS, Nexus, PrStore, Request,
    ResetKind, Response, SANITIZE_CHUNK_BYTES, TargetPortGroup, TargetPortGroups, TaskSets,
    lun_not_supported, report_luns,
};
pub use sense::{Asc, FieldPointer, Sense, SenseFormat, SenseKey, Status};
