//! The initiator half of the SCSI layer: command descriptor blocks built
//! byte for byte per SPC-4 and SBC-3 and the parameter lists some of them
//! send. The data targets return is parsed by the types of
//! [`crate::data`], re-exported here.
//!
//! Nothing here does I/O. A [`Cdb`] goes into a SCSI Command PDU, the
//! parameter lists (UNMAP, PERSISTENT RESERVE OUT) into its Data-Out, and
//! the Data-In that comes back goes to the matching `parse` function. The
//! parsers take whatever the target returned: data cut short by a small
//! allocation length parses as far as it goes (absent fields read as zero
//! or `false`), and no input, however malformed, panics.
//!
//! Multi-byte fields are big-endian (most significant byte first)
//! throughout. Lengths are in bytes and transfer lengths in logical blocks
//! unless a name says otherwise.

use core::fmt;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A CDB field value that the chosen CDB form cannot hold (SPC-4 §4.2: the
/// 6-, 10-, 12- and 16-byte CDB layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdbError {
    /// The value does not fit the field (for example an LBA above
    /// 0xFFFF_FFFF in a 10-byte CDB): use a longer CDB form.
    #[error("{field} {value:#x} does not fit its CDB field (maximum {max:#x})")]
    #[non_exhaustive]
    OutOfRange {
        /// The T10 name of the field.
        field: &'static str,
        /// The value that was asked for.
        value: u64,
        /// The largest value the field holds.
        max: u64,
    },
    /// A CDB of this many bytes cannot be built (1 to 16 are allowed).
    #[error("a CDB holds 1 to 16 bytes, not {0}")]
    Length(usize),
}

/// `value` as a `T`, or [`CdbError::OutOfRange`] naming `field`.
fn fit<T>(field: &'static str, value: impl Into<u64>, max: T) -> Result<T, CdbError>
where
    T: TryFrom<u64> + Into<u64>,
{
    let value = value.into();
    T::try_from(value).map_err(|_| CdbError::OutOfRange {
        field,
        value,
        max: max.into(),
    })
}

mod builders;
mod parameter_lists;

pub use builders::*;
pub use parameter_lists::*;

// The data types the initiator parses live in [`crate::data`], shared with
// the logical unit that encodes them; they stay reachable here under their
// old paths.
pub use crate::data::{
    Association, BlockDescriptor, BlockDeviceCharacteristics, BlockLimits, CachingPage, CodeSet,
    CommandDescriptor, CommandSupport, CommandTimeouts, ControlPage, Designator, DesignatorType,
    DeviceIdentification, ExtendedInquiry, InformationalExceptionsPage, LbaStatus,
    LbaStatusDescriptor, LogicalBlockProvisioning, Lun, ModePage, ModeParameters, OneCommand,
    ParseError, PrCapabilities, PrFullStatus, PrFullStatusDescriptor, PrOutParameterList,
    PrReadKeys, PrReadReservation, PrReservation, PrType, ProvisioningStatus, ReadCapacity10,
    ReadCapacity16, ReportLuns, StandardInquiry, SupportedOperationCodes, SupportedVpdPages,
    UnitSerialNumber, VpdPage, iscsi_transport_id,
};

#[cfg(test)]
mod tests;
