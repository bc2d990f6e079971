//! The unit as a copy manager: EXTENDED COPY (LID1) with identification
//! CSCD descriptors (E4h) and block-to-block segments (02h), and RECEIVE
//! COPY RESULTS (SPC-4 §6.4, §6.18).
//!
//! A copy names its source and destination units by the NAA designator of
//! their Device Identification page. The unit itself is always reachable;
//! any other unit only through the [`CopyTargets`] the transport attaches
//! to the request ([`Request::with_copy_targets`]), which lists the units
//! the issuing I_T nexus may reach itself. A descriptor naming anything
//! else ends the command with COPY ABORTED, COPY TARGET DEVICE NOT
//! REACHABLE (0Dh/02h) before a block is moved. Data moves in chunks of
//! [`COPY_CHUNK_BYTES`], never the whole range at once.

use super::*;
use crate::data::{
    Association, CodeSet, CopyManagerStatus, CopyStatus, CscdDescriptor, DesignatorType,
    ExtendedCopyHeader, ExtendedCopyParameters, FailedSegmentDetails, ListIdUsage,
    OperatingParameters, SegmentDescriptor, ThirdPartyCopy,
};

/// MAXIMUM CSCD DESCRIPTOR COUNT of an EXTENDED COPY.
pub const MAX_CSCD_DESCRIPTORS: u16 = 4;
/// MAXIMUM SEGMENT DESCRIPTOR COUNT of an EXTENDED COPY.
pub const MAX_SEGMENT_DESCRIPTORS: u16 = 4;
/// MAXIMUM DESCRIPTOR LIST LENGTH, bytes (CSCD plus segment descriptors).
pub const MAX_DESCRIPTOR_LIST_LENGTH: u32 = 1024;
/// MAXIMUM SEGMENT LENGTH, bytes: what a segment's 16-bit block count can
/// name with 4096-byte blocks.
pub const MAX_SEGMENT_BYTES: u32 = 256 << 20;
/// The buffer a copy moves data through, bytes.
pub const COPY_CHUNK_BYTES: usize = 1 << 20;

/// The logical units an EXTENDED COPY from one I_T nexus may name besides
/// the unit that runs it: those the nexus could reach itself (for iSCSI,
/// the LUNs of targets its initiator may log in to, with the credentials
/// it used, through the same portal group).
pub trait CopyTargets: Send + Sync {
    /// The unit whose logical-unit NAA designator (VPD page 83h) is `naa`.
    fn find(&self, naa: &[u8]) -> Option<Arc<LogicalUnit>>;
}

/// What the unit keeps of one copy for RECEIVE COPY RESULTS.
#[derive(Debug, Clone)]
pub(super) struct CopyRecord {
    status: CopyStatus,
    failed: Option<FailedSegmentDetails>,
}

/// A unit a segment names: this one or another the nexus may reach.
enum Reached<'a> {
    This(&'a LogicalUnit),
    Other(Arc<LogicalUnit>),
}

impl std::ops::Deref for Reached<'_> {
    type Target = LogicalUnit;
    fn deref(&self) -> &LogicalUnit {
        match self {
            Self::This(lu) => lu,
            Self::Other(lu) => lu,
        }
    }
}

/// A segment checked and ready to run.
struct Segment<'a> {
    source: Reached<'a>,
    destination: Reached<'a>,
    source_lba: u64,
    destination_lba: u64,
    bytes: u64,
}

fn copy_aborted(asc: Asc) -> Fail {
    Fail::Check(Sense::new(SenseKey::COPY_ABORTED, asc))
}

fn unreachable_target() -> Fail {
    copy_aborted(Asc::COPY_TARGET_DEVICE_NOT_REACHABLE)
}

fn list_length_error() -> Fail {
    illegal(Asc::PARAMETER_LIST_LENGTH_ERROR)
}

fn parameter_field(byte: usize, bit: Option<u8>) -> Fail {
    Fail::Check(Sense::invalid_parameter_field(
        u16::try_from(byte).unwrap_or(u16::MAX),
        bit,
    ))
}

impl LogicalUnit {
    /// The Third Party Copy VPD page (8Fh) of this copy manager.
    pub(super) fn third_party_copy_page(&self) -> ThirdPartyCopy {
        ThirdPartyCopy {
            commands: vec![
                (cdb::op::EXTENDED_COPY, vec![cdb::op::XCOPY_LID1]),
                (
                    cdb::op::RECEIVE_COPY_RESULTS,
                    vec![
                        cdb::op::RCR_COPY_STATUS,
                        cdb::op::RCR_OPERATING_PARAMETERS,
                        cdb::op::RCR_FAILED_SEGMENT_DETAILS,
                    ],
                ),
            ],
            max_cscd_descriptor_count: MAX_CSCD_DESCRIPTORS,
            max_segment_descriptor_count: MAX_SEGMENT_DESCRIPTORS,
            max_descriptor_list_length: MAX_DESCRIPTOR_LIST_LENGTH,
            max_inline_data_length: 0,
            descriptor_type_codes: vec![
                SegmentDescriptor::BLOCK_TO_BLOCK,
                CscdDescriptor::IDENTIFICATION,
            ],
            total_concurrent_copies: 1,
            max_identified_concurrent_copies: 255,
            max_segment_length: MAX_SEGMENT_BYTES,
            data_segment_granularity: self.block_size.trailing_zeros() as u8,
        }
    }

    fn operating_parameters(&self) -> OperatingParameters {
        OperatingParameters {
            snlid: true,
            max_cscd_descriptor_count: MAX_CSCD_DESCRIPTORS,
            max_segment_descriptor_count: MAX_SEGMENT_DESCRIPTORS,
            max_descriptor_list_length: MAX_DESCRIPTOR_LIST_LENGTH,
            max_segment_length: MAX_SEGMENT_BYTES,
            total_concurrent_copies: 1,
            max_concurrent_copies: 1,
            data_segment_granularity: self.block_size.trailing_zeros() as u8,
            implemented_descriptor_type_codes: vec![
                SegmentDescriptor::BLOCK_TO_BLOCK,
                CscdDescriptor::IDENTIFICATION,
            ],
            ..OperatingParameters::default()
        }
    }

    /// RECEIVE COPY RESULTS (SPC-4 §6.18).
    pub(super) fn receive_copy_results(
        &self,
        req: &Request<'_>,
        service_action: u8,
        list_identifier: u8,
        alloc: u32,
    ) -> Outcome {
        let alloc = usize::try_from(alloc).unwrap_or(usize::MAX);
        let key = (req.nexus.id, list_identifier);
        let data = match service_action {
            cdb::op::RCR_OPERATING_PARAMETERS => self.operating_parameters().encode(),
            cdb::op::RCR_COPY_STATUS => {
                let copies = lock(&self.copies);
                let record = copies.get(&key).ok_or_else(|| field(2, None))?;
                record.status.encode().to_vec()
            }
            _ => {
                // FAILED SEGMENT DETAILS are returned once, then discarded.
                let mut copies = lock(&self.copies);
                let record = copies.get_mut(&key).ok_or_else(|| field(2, None))?;
                FailedSegmentDetails::encode(record.failed.take().as_ref())
            }
        };
        Ok(truncate(data, alloc))
    }

    /// EXTENDED COPY (LID1, SPC-4 §6.4): checks the whole parameter list in
    /// the order SPC-4 and LIO give (lengths, counts, descriptor types,
    /// reachability and ranges), then copies segment by segment.
    pub(super) fn extended_copy(&self, req: &Request<'_>, pll: u32) -> Outcome {
        if pll == 0 {
            return Ok(Bytes::new());
        }
        let list = req.parameter_list(pll);
        let list: &[u8] = &list;
        let header = ExtendedCopyHeader::parse(list).map_err(|_| list_length_error())?;
        if u32::from(header.cscd_list_length).saturating_add(header.segment_list_length)
            > MAX_DESCRIPTOR_LIST_LENGTH
        {
            return Err(list_length_error());
        }
        if header.inline_data_length != 0 {
            return Err(parameter_field(12, None));
        }
        if (list.len() as u64) < header.list_len() {
            return Err(list_length_error());
        }
        match header.usage() {
            ListIdUsage::Reserved => return Err(parameter_field(1, Some(4))),
            ListIdUsage::None if header.list_identifier != 0 => {
                return Err(parameter_field(0, None));
            }
            _ => {}
        }
        if usize::from(header.cscd_list_length) % CscdDescriptor::LEN != 0 {
            return Err(illegal(Asc::UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE));
        }
        if header.cscd_list_length / CscdDescriptor::LEN as u16 > MAX_CSCD_DESCRIPTORS {
            return Err(illegal(Asc::TOO_MANY_TARGET_DESCRIPTORS));
        }
        let params = ExtendedCopyParameters::parse(list).map_err(|_| list_length_error())?;
        if params.segments.len() > usize::from(MAX_SEGMENT_DESCRIPTORS) {
            return Err(illegal(Asc::TOO_MANY_SEGMENT_DESCRIPTORS));
        }
        if params
            .cscds
            .iter()
            .any(|c| c.type_code() != CscdDescriptor::IDENTIFICATION)
        {
            return Err(illegal(Asc::UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE));
        }
        if params
            .segments
            .iter()
            .any(|s| s.type_code() != SegmentDescriptor::BLOCK_TO_BLOCK)
        {
            return Err(illegal(Asc::UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE));
        }
        let segments = params
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| self.check_segment(req, &params, i, s))
            .collect::<Result<Vec<_>, Fail>>()?;
        let key =
            (header.usage() != ListIdUsage::None).then_some((req.nexus.id, header.list_identifier));
        if let Some(key) = key {
            let mut copies = lock(&self.copies);
            if copies
                .get(&key)
                .is_some_and(|r| r.status.status == CopyManagerStatus::InProgress)
            {
                return Err(illegal(Asc::OPERATION_IN_PROGRESS));
            }
            copies.insert(
                key,
                CopyRecord {
                    status: CopyStatus::new(CopyManagerStatus::InProgress, 0, 0),
                    failed: None,
                },
            );
        }
        let mut moved = 0u64;
        let mut done = 0u16;
        let mut result = Ok(());
        for segment in &segments {
            result = copy_segment(segment);
            if result.is_err() {
                break;
            }
            moved += segment.bytes;
            done += 1;
        }
        if let Some(key) = key {
            let (status, failed) = match &result {
                Ok(()) => (CopyManagerStatus::Completed, None),
                Err(fail) => (
                    CopyManagerStatus::Failed,
                    Some(FailedSegmentDetails {
                        copy_command_status: Status::CHECK_CONDITION.0,
                        sense_data: match fail {
                            Fail::Check(s) | Fail::Medium(s, _) => {
                                s.encode(SenseFormat::Fixed).to_vec()
                            }
                            Fail::Conflict => Vec::new(),
                        },
                    }),
                ),
            };
            lock(&self.copies).insert(
                key,
                CopyRecord {
                    status: CopyStatus::new(status, done, moved),
                    failed,
                },
            );
        }
        result.map(|()| Bytes::new())
    }

    /// The unit a CSCD descriptor index names, if this nexus may reach it.
    fn reach<'a>(
        &'a self,
        req: &Request<'_>,
        params: &ExtendedCopyParameters,
        index: u16,
    ) -> Option<Reached<'a>> {
        let CscdDescriptor::Identification { designator, .. } =
            params.cscds.get(usize::from(index))?
        else {
            return None;
        };
        if designator.code_set != CodeSet::Binary
            || designator.association != Association::LogicalUnit
            || designator.designator_type != DesignatorType::Naa
        {
            return None;
        }
        if designator.value == self.config.naa {
            return Some(Reached::This(self));
        }
        req.copy_targets?
            .find(&designator.value)
            .map(Reached::Other)
    }

    /// Resolves and checks segment `i`: both units reachable, no
    /// reservation of another nexus in the way, the destination writable,
    /// equal block sizes, both ranges on the media.
    fn check_segment<'a>(
        &'a self,
        req: &Request<'_>,
        params: &ExtendedCopyParameters,
        i: usize,
        segment: &SegmentDescriptor,
    ) -> Result<Segment<'a>, Fail> {
        let SegmentDescriptor::BlockToBlock {
            source,
            destination,
            blocks,
            source_lba,
            destination_lba,
            ..
        } = *segment
        else {
            return Err(illegal(Asc::UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE));
        };
        let source = self
            .reach(req, params, source)
            .ok_or_else(unreachable_target)?;
        let destination = self
            .reach(req, params, destination)
            .ok_or_else(unreachable_target)?;
        for (unit, access) in [
            (&source, cdb::Access::Read),
            (&destination, cdb::Access::Write),
        ] {
            if unit.any_reservation.load(Ordering::Acquire)
                && lock(&unit.reservations).conflicts(req.nexus, access)
            {
                return Err(unreachable_target());
            }
        }
        destination.check_writable()?;
        // The byte offset of segment i's first field, for the sense key
        // specific field pointer.
        let at = ExtendedCopyHeader::LEN
            + params.cscds.len() * CscdDescriptor::LEN
            + i * SegmentDescriptor::BLOCK_TO_BLOCK_LEN;
        if source.block_size != destination.block_size {
            return Err(parameter_field(at + 4, None));
        }
        let blocks = u64::from(blocks);
        for (unit, lba) in [(&source, source_lba), (&destination, destination_lba)] {
            if unit.check_range(lba, blocks, 0).is_err() && blocks > 0 {
                return Err(unreachable_target());
            }
        }
        Ok(Segment {
            bytes: blocks * u64::from(source.block_size),
            source,
            destination,
            source_lba,
            destination_lba,
        })
    }
}

/// Moves one segment's data in chunks of at most [`COPY_CHUNK_BYTES`];
/// backwards when the destination overlaps the source from above.
fn copy_segment(s: &Segment<'_>) -> Result<(), Fail> {
    let bs = u64::from(s.source.block_size);
    let from = s.source_lba * bs;
    let to = s.destination_lba * bs;
    let same = std::ptr::eq::<LogicalUnit>(&*s.source, &*s.destination);
    let backwards = same && to > from && to < from + s.bytes;
    let chunk = COPY_CHUNK_BYTES as u64;
    let count = s.bytes.div_ceil(chunk);
    let mut buf = vec![0u8; usize::try_from(s.bytes.min(chunk)).unwrap_or(COPY_CHUNK_BYTES)];
    for k in 0..count {
        let k = if backwards { count - 1 - k } else { k };
        let offset = k * chunk;
        let len = usize::try_from((s.bytes - offset).min(chunk)).unwrap_or(0);
        let Some(part) = buf.get_mut(..len) else {
            break;
        };
        {
            let _gate = s.source.shared_writes();
            s.source
                .backend
                .read_at(from + offset, part)
                .map_err(|e| copy_io_error(&e, Asc::UNRECOVERED_READ_ERROR))?;
        }
        let _gate = s.destination.shared_writes();
        s.destination
            .backend
            .write_at(to + offset, part)
            .map_err(|e| copy_io_error(&e, Asc::WRITE_ERROR))?;
    }
    Ok(())
}

/// A backend error during a copy: COPY ABORTED with the read or write
/// error code; the OS error goes to the log.
fn copy_io_error(cause: &dyn std::fmt::Display, asc: Asc) -> Fail {
    Fail::Medium(Sense::new(SenseKey::COPY_ABORTED, asc), cause.to_string())
}
