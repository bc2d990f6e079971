//! Third-party copy data (SPC-4 §6.4, §6.18, §7.8.17): the EXTENDED COPY
//! (LID1) parameter list with its identification CSCD descriptors (E4h) and
//! block-to-block segment descriptors (02h), the RECEIVE COPY RESULTS data
//! (COPY STATUS, OPERATING PARAMETERS, FAILED SEGMENT DETAILS) and the Third
//! Party Copy VPD page (8Fh).

use super::{
    Association, CodeSet, Designator, DesignatorType, ParseError, Reader, len_field, need, put, set,
};

/// LIST ID USAGE of an EXTENDED COPY parameter list (SPC-4 §6.4.3.2,
/// table 111).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListIdUsage {
    /// 00b: the LIST IDENTIFIER is valid; the copy manager holds data and
    /// status for RECEIVE COPY RESULTS.
    Hold,
    /// 01b: reserved.
    Reserved,
    /// 10b: the LIST IDENTIFIER is valid; the copy manager holds no data
    /// (copy status is still kept).
    Discard,
    /// 11b: no list identifier (LIST IDENTIFIER must be 0; SNLID).
    None,
}

impl ListIdUsage {
    /// The usage with 2-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x03 {
            0 => Self::Hold,
            1 => Self::Reserved,
            2 => Self::Discard,
            _ => Self::None,
        }
    }

    /// The 2-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Hold => 0,
            Self::Reserved => 1,
            Self::Discard => 2,
            Self::None => 3,
        }
    }
}

/// The 16-byte header of an EXTENDED COPY (LID1) parameter list (SPC-4
/// §6.4.3.2, table 110).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExtendedCopyHeader {
    /// LIST IDENTIFIER (byte 0).
    pub list_identifier: u8,
    /// STR (byte 1 bit 5): sequential striped.
    pub str_bit: bool,
    /// LIST ID USAGE (byte 1 bits 4–3), as its 2-bit code.
    pub list_id_usage: u8,
    /// PRIORITY (byte 1 bits 2–0).
    pub priority: u8,
    /// CSCD DESCRIPTOR LIST LENGTH (bytes 2–3), bytes.
    pub cscd_list_length: u16,
    /// SEGMENT DESCRIPTOR LIST LENGTH (bytes 8–11), bytes.
    pub segment_list_length: u32,
    /// INLINE DATA LENGTH (bytes 12–15), bytes.
    pub inline_data_length: u32,
}

impl ExtendedCopyHeader {
    /// Header length, bytes.
    pub const LEN: usize = 16;

    /// Parses the header.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 16 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("EXTENDED COPY parameter list header", data, Self::LEN)?;
        let d = Reader(data);
        Ok(Self {
            list_identifier: d.u8(0),
            str_bit: d.bit(1, 0x20),
            list_id_usage: (d.u8(1) >> 3) & 0x03,
            priority: d.u8(1) & 0x07,
            cscd_list_length: d.u16(2),
            segment_list_length: d.u32(8),
            inline_data_length: d.u32(12),
        })
    }

    /// LIST ID USAGE.
    #[must_use]
    pub const fn usage(&self) -> ListIdUsage {
        ListIdUsage::from_code(self.list_id_usage)
    }

    /// The 16 header bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        set(&mut out, 0, self.list_identifier);
        out[1] = (u8::from(self.str_bit) << 5)
            | ((self.list_id_usage & 0x03) << 3)
            | (self.priority & 0x07);
        put(&mut out, 2, &self.cscd_list_length.to_be_bytes());
        put(&mut out, 8, &self.segment_list_length.to_be_bytes());
        put(&mut out, 12, &self.inline_data_length.to_be_bytes());
        out
    }

    /// The bytes the header says the whole list takes: the header, both
    /// descriptor lists and the inline data.
    #[must_use]
    pub fn list_len(&self) -> u64 {
        Self::LEN as u64
            + u64::from(self.cscd_list_length)
            + u64::from(self.segment_list_length)
            + u64::from(self.inline_data_length)
    }
}

/// A CSCD (copy source or copy destination) descriptor (SPC-4 §6.4.5):
/// 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CscdDescriptor {
    /// E4h: identification descriptor (SPC-4 §6.4.5.5), a logical unit
    /// named by a designator of its Device Identification page.
    Identification {
        /// LU ID TYPE (byte 1 bits 7–6).
        lu_id_type: u8,
        /// NUL (byte 1 bit 5).
        nul: bool,
        /// PERIPHERAL DEVICE TYPE (byte 1 bits 4–0).
        peripheral_device_type: u8,
        /// RELATIVE INITIATOR PORT IDENTIFIER (bytes 2–3).
        relative_initiator_port: u16,
        /// The designation descriptor (bytes 4–27; the designator is at
        /// most 20 bytes).
        designator: Designator,
        /// DISK BLOCK LENGTH (bytes 29–31) of the block device type
        /// specific parameters, bytes.
        disk_block_length: u32,
    },
    /// Any other descriptor type code (E0h Fibre Channel N_Port_Name, …),
    /// with its 32 bytes.
    Other {
        /// DESCRIPTOR TYPE CODE (byte 0).
        type_code: u8,
    },
}

impl CscdDescriptor {
    /// Every CSCD descriptor this module knows is 32 bytes.
    pub const LEN: usize = 32;
    /// DESCRIPTOR TYPE CODE of the identification descriptor.
    pub const IDENTIFICATION: u8 = 0xe4;

    /// An identification descriptor for a direct-access unit named by
    /// `designator` with blocks of `block_length` bytes.
    #[must_use]
    pub const fn identification(designator: Designator, block_length: u32) -> Self {
        Self::Identification {
            lu_id_type: 0,
            nul: false,
            peripheral_device_type: 0,
            relative_initiator_port: 0,
            designator,
            disk_block_length: block_length,
        }
    }

    /// Parses one 32-byte descriptor.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 32 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("CSCD descriptor", data, Self::LEN)?;
        let d = Reader(data);
        let type_code = d.u8(0);
        if type_code != Self::IDENTIFICATION {
            return Ok(Self::Other { type_code });
        }
        let length = usize::from(d.u8(7)).min(20);
        Ok(Self::Identification {
            lu_id_type: d.u8(1) >> 6,
            nul: d.bit(1, 0x20),
            peripheral_device_type: d.u8(1) & 0x1f,
            relative_initiator_port: d.u16(2),
            designator: Designator {
                protocol_identifier: d.u8(4) >> 4,
                code_set: CodeSet::from_code(d.u8(4)),
                piv: d.bit(5, 0x80),
                association: Association::from_code(d.u8(5) >> 4),
                designator_type: DesignatorType::from_code(d.u8(5)),
                value: d.span(8, 8 + length).to_vec(),
            },
            disk_block_length: d.u24(29),
        })
    }

    /// DESCRIPTOR TYPE CODE.
    #[must_use]
    pub const fn type_code(&self) -> u8 {
        match self {
            Self::Identification { .. } => Self::IDENTIFICATION,
            Self::Other { type_code } => *type_code,
        }
    }

    /// The 32 descriptor bytes (a designator longer than 20 bytes is cut).
    #[must_use]
    pub fn encode(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        set(&mut out, 0, self.type_code());
        if let Self::Identification {
            lu_id_type,
            nul,
            peripheral_device_type,
            relative_initiator_port,
            designator,
            disk_block_length,
        } = self
        {
            set(
                &mut out,
                1,
                (lu_id_type << 6) | (u8::from(*nul) << 5) | (peripheral_device_type & 0x1f),
            );
            put(&mut out, 2, &relative_initiator_port.to_be_bytes());
            let d = designator.encode();
            let value = d.get(4..).unwrap_or(&[]);
            let value = value.get(..20).unwrap_or(value);
            set(&mut out, 4, d.first().copied().unwrap_or(0));
            set(&mut out, 5, d.get(1).copied().unwrap_or(0));
            set(&mut out, 7, len_field(value.len()));
            if let Some(slot) = out.get_mut(8..8 + value.len()) {
                slot.copy_from_slice(value);
            }
            put(&mut out, 29, &disk_block_length.to_be_bytes()[1..]);
        }
        out
    }
}

/// A segment descriptor (SPC-4 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentDescriptor {
    /// 02h: block device to block device (SPC-4 §6.4.6.5), 28 bytes.
    BlockToBlock {
        /// DC (byte 1 bit 1): NUMBER OF BLOCKS counts destination blocks.
        dc: bool,
        /// CAT (byte 1 bit 0).
        cat: bool,
        /// SOURCE CSCD DESCRIPTOR ID (bytes 4–5): an index into the CSCD
        /// descriptor list.
        source: u16,
        /// DESTINATION CSCD DESCRIPTOR ID (bytes 6–7).
        destination: u16,
        /// BLOCK DEVICE NUMBER OF BLOCKS (bytes 10–11).
        blocks: u16,
        /// SOURCE BLOCK DEVICE LOGICAL BLOCK ADDRESS (bytes 12–19).
        source_lba: u64,
        /// DESTINATION BLOCK DEVICE LOGICAL BLOCK ADDRESS (bytes 20–27).
        destination_lba: u64,
    },
    /// Any other descriptor type code.
    Other {
        /// DESCRIPTOR TYPE CODE (byte 0).
        type_code: u8,
    },
}

impl SegmentDescriptor {
    /// DESCRIPTOR TYPE CODE of the block-to-block segment descriptor.
    pub const BLOCK_TO_BLOCK: u8 = 0x02;
    /// Length of a block-to-block descriptor, bytes (DESCRIPTOR LENGTH
    /// 0018h plus 4).
    pub const BLOCK_TO_BLOCK_LEN: usize = 28;

    /// A block-to-block segment of `blocks` source blocks.
    #[must_use]
    pub const fn block_to_block(
        source: u16,
        destination: u16,
        blocks: u16,
        source_lba: u64,
        destination_lba: u64,
    ) -> Self {
        Self::BlockToBlock {
            dc: false,
            cat: false,
            source,
            destination,
            blocks,
            source_lba,
            destination_lba,
        }
    }

    /// DESCRIPTOR TYPE CODE.
    #[must_use]
    pub const fn type_code(&self) -> u8 {
        match self {
            Self::BlockToBlock { .. } => Self::BLOCK_TO_BLOCK,
            Self::Other { type_code } => *type_code,
        }
    }

    /// Parses one descriptor at the start of `data`. A block-to-block
    /// descriptor must say DESCRIPTOR LENGTH 0018h; other type codes are
    /// returned as [`Self::Other`] whatever their length.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 4 bytes, or fewer than the
    /// descriptor says it has.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("segment descriptor", data, 4)?;
        let d = Reader(data);
        let type_code = d.u8(0);
        need("segment descriptor", data, Self::descriptor_len(data))?;
        if type_code != Self::BLOCK_TO_BLOCK {
            return Ok(Self::Other { type_code });
        }
        Ok(Self::BlockToBlock {
            dc: d.bit(1, 0x02),
            cat: d.bit(1, 0x01),
            source: d.u16(4),
            destination: d.u16(6),
            blocks: d.u16(10),
            source_lba: d.u64(12),
            destination_lba: d.u64(20),
        })
    }

    /// The length of the descriptor at the start of `data`, bytes:
    /// DESCRIPTOR LENGTH (bytes 2–3) plus 4.
    #[must_use]
    pub fn descriptor_len(data: &[u8]) -> usize {
        usize::from(Reader(data).u16(2)) + 4
    }

    /// The descriptor bytes (28 for block-to-block; 4 for another type,
    /// with DESCRIPTOR LENGTH 0).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Self::BlockToBlock {
                dc,
                cat,
                source,
                destination,
                blocks,
                source_lba,
                destination_lba,
            } => {
                let mut out = vec![0u8; Self::BLOCK_TO_BLOCK_LEN];
                set(&mut out, 0, Self::BLOCK_TO_BLOCK);
                set(&mut out, 1, (u8::from(dc) << 1) | u8::from(cat));
                put(&mut out, 2, &0x0018u16.to_be_bytes());
                put(&mut out, 4, &source.to_be_bytes());
                put(&mut out, 6, &destination.to_be_bytes());
                put(&mut out, 10, &blocks.to_be_bytes());
                put(&mut out, 12, &source_lba.to_be_bytes());
                put(&mut out, 20, &destination_lba.to_be_bytes());
                out
            }
            Self::Other { type_code } => vec![type_code, 0, 0, 0],
        }
    }
}

/// An EXTENDED COPY (LID1) parameter list (SPC-4 §6.4.3.2): the header,
/// the CSCD descriptors and the segment descriptors (no inline data).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExtendedCopyParameters {
    /// The header; its list lengths are recomputed by [`Self::encode`].
    pub header: ExtendedCopyHeader,
    /// CSCD descriptors, indexed by the segments.
    pub cscds: Vec<CscdDescriptor>,
    /// Segment descriptors, processed in order.
    pub segments: Vec<SegmentDescriptor>,
}

impl ExtendedCopyParameters {
    /// A list with `list_identifier` and LIST ID USAGE `usage`.
    #[must_use]
    pub fn new(
        list_identifier: u8,
        usage: ListIdUsage,
        cscds: Vec<CscdDescriptor>,
        segments: Vec<SegmentDescriptor>,
    ) -> Self {
        Self {
            header: ExtendedCopyHeader {
                list_identifier,
                list_id_usage: usage.code(),
                ..ExtendedCopyHeader::default()
            },
            cscds,
            segments,
        }
    }

    /// Parses the list: the descriptors the header's lengths cover, CSCD
    /// descriptors 32 bytes each, segment descriptors by their own
    /// DESCRIPTOR LENGTH.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] when `data` is shorter than the header
    /// says, or a descriptor runs past its list.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let header = ExtendedCopyHeader::parse(data)?;
        let len = usize::try_from(header.list_len()).unwrap_or(usize::MAX);
        need("EXTENDED COPY parameter list", data, len)?;
        let d = Reader(data);
        let cscd_end = ExtendedCopyHeader::LEN + usize::from(header.cscd_list_length);
        let cscds = d
            .span(ExtendedCopyHeader::LEN, cscd_end)
            .chunks(CscdDescriptor::LEN)
            .map(CscdDescriptor::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let segment_end =
            cscd_end.saturating_add(usize::try_from(header.segment_list_length).unwrap_or(0));
        let mut rest = d.span(cscd_end, segment_end);
        let mut segments = Vec::new();
        while !rest.is_empty() {
            segments.push(SegmentDescriptor::parse(rest)?);
            rest = rest
                .get(SegmentDescriptor::descriptor_len(rest)..)
                .unwrap_or(&[]);
        }
        Ok(Self {
            header,
            cscds,
            segments,
        })
    }

    /// The whole list, with the header's list lengths computed and no
    /// inline data.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let segments: Vec<u8> = self.segments.iter().flat_map(|s| s.encode()).collect();
        let header = ExtendedCopyHeader {
            cscd_list_length: len_field(self.cscds.len() * CscdDescriptor::LEN),
            segment_list_length: len_field(segments.len()),
            inline_data_length: 0,
            ..self.header
        };
        let mut out = header.encode().to_vec();
        for c in &self.cscds {
            out.extend_from_slice(&c.encode());
        }
        out.extend_from_slice(&segments);
        out
    }
}

/// COPY MANAGER STATUS of the copy status data (SPC-4 §6.18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CopyManagerStatus {
    /// 00h: the copy is in progress.
    InProgress,
    /// 01h: completed without errors.
    Completed,
    /// 02h: completed with errors.
    Failed,
    /// Any other code.
    Reserved(u8),
}

impl CopyManagerStatus {
    /// The status with 7-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x7f {
            0 => Self::InProgress,
            1 => Self::Completed,
            2 => Self::Failed,
            other => Self::Reserved(other),
        }
    }

    /// The 7-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::InProgress => 0,
            Self::Completed => 1,
            Self::Failed => 2,
            Self::Reserved(code) => code & 0x7f,
        }
    }
}

/// RECEIVE COPY RESULTS COPY STATUS data (service action 00h, SPC-4
/// §6.18.3): 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyStatus {
    /// HDD (byte 4 bit 7): held data discarded.
    pub hdd: bool,
    /// COPY MANAGER STATUS (byte 4 bits 6–0).
    pub status: CopyManagerStatus,
    /// SEGMENTS PROCESSED (bytes 5–6).
    pub segments_processed: u16,
    /// TRANSFER COUNT UNITS (byte 7): the transfer count is in units of
    /// 2^(10 × this) bytes (00h bytes, 01h KiB, 02h MiB, …).
    pub transfer_count_units: u8,
    /// TRANSFER COUNT (bytes 8–11).
    pub transfer_count: u32,
}

impl CopyStatus {
    /// The status of a copy that moved `bytes` bytes in `segments`
    /// segments, the transfer count in the smallest unit that holds it.
    #[must_use]
    pub fn new(status: CopyManagerStatus, segments: u16, bytes: u64) -> Self {
        let mut units = 0u8;
        let mut count = bytes;
        while count > u64::from(u32::MAX) {
            count >>= 10;
            units += 1;
        }
        Self {
            hdd: false,
            status,
            segments_processed: segments,
            transfer_count_units: units,
            transfer_count: u32::try_from(count).unwrap_or(u32::MAX),
        }
    }

    /// Parses the data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 12 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("COPY STATUS data", data, 12)?;
        let d = Reader(data);
        Ok(Self {
            hdd: d.bit(4, 0x80),
            status: CopyManagerStatus::from_code(d.u8(4)),
            segments_processed: d.u16(5),
            transfer_count_units: d.u8(7),
            transfer_count: d.u32(8),
        })
    }

    /// The 12 bytes (AVAILABLE DATA 8).
    #[must_use]
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        put(&mut out, 0, &8u32.to_be_bytes());
        set(&mut out, 4, (u8::from(self.hdd) << 7) | self.status.code());
        put(&mut out, 5, &self.segments_processed.to_be_bytes());
        set(&mut out, 7, self.transfer_count_units);
        put(&mut out, 8, &self.transfer_count.to_be_bytes());
        out
    }
}

/// RECEIVE COPY RESULTS OPERATING PARAMETERS data (service action 03h,
/// SPC-4 §6.18.4): 44 bytes and the implemented descriptor type codes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OperatingParameters {
    /// SNLID (byte 4 bit 0): LIST ID USAGE 11b (no list identifier) is
    /// supported.
    pub snlid: bool,
    /// MAXIMUM CSCD DESCRIPTOR COUNT (bytes 8–9).
    pub max_cscd_descriptor_count: u16,
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT (bytes 10–11).
    pub max_segment_descriptor_count: u16,
    /// MAXIMUM DESCRIPTOR LIST LENGTH (bytes 12–15), bytes.
    pub max_descriptor_list_length: u32,
    /// MAXIMUM SEGMENT LENGTH (bytes 16–19), bytes.
    pub max_segment_length: u32,
    /// MAXIMUM INLINE DATA LENGTH (bytes 20–23), bytes.
    pub max_inline_data_length: u32,
    /// HELD DATA LIMIT (bytes 24–27), bytes.
    pub held_data_limit: u32,
    /// MAXIMUM STREAM DEVICE TRANSFER SIZE (bytes 28–31), bytes.
    pub max_stream_device_transfer_size: u32,
    /// TOTAL CONCURRENT COPIES (bytes 34–35).
    pub total_concurrent_copies: u16,
    /// MAXIMUM CONCURRENT COPIES (byte 36).
    pub max_concurrent_copies: u8,
    /// DATA SEGMENT GRANULARITY (byte 37): log2 of bytes.
    pub data_segment_granularity: u8,
    /// INLINE DATA GRANULARITY (byte 38): log2 of bytes.
    pub inline_data_granularity: u8,
    /// HELD DATA GRANULARITY (byte 39): log2 of bytes.
    pub held_data_granularity: u8,
    /// The implemented descriptor type codes (bytes 44…; their count is
    /// byte 43).
    pub implemented_descriptor_type_codes: Vec<u8>,
}

impl OperatingParameters {
    /// Parses the data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 44 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("OPERATING PARAMETERS data", data, 44)?;
        let d = Reader(data);
        Ok(Self {
            snlid: d.bit(4, 0x01),
            max_cscd_descriptor_count: d.u16(8),
            max_segment_descriptor_count: d.u16(10),
            max_descriptor_list_length: d.u32(12),
            max_segment_length: d.u32(16),
            max_inline_data_length: d.u32(20),
            held_data_limit: d.u32(24),
            max_stream_device_transfer_size: d.u32(28),
            total_concurrent_copies: d.u16(34),
            max_concurrent_copies: d.u8(36),
            data_segment_granularity: d.u8(37),
            inline_data_granularity: d.u8(38),
            held_data_granularity: d.u8(39),
            implemented_descriptor_type_codes: d.span(44, 44 + usize::from(d.u8(43))).to_vec(),
        })
    }

    /// The data (AVAILABLE DATA computed).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let codes = &self.implemented_descriptor_type_codes;
        let codes = codes.get(..255).unwrap_or(codes);
        let mut out = vec![0u8; 44];
        put(
            &mut out,
            0,
            &len_field::<u32>(40 + codes.len()).to_be_bytes(),
        );
        set(&mut out, 4, u8::from(self.snlid));
        put(&mut out, 8, &self.max_cscd_descriptor_count.to_be_bytes());
        put(
            &mut out,
            10,
            &self.max_segment_descriptor_count.to_be_bytes(),
        );
        put(&mut out, 12, &self.max_descriptor_list_length.to_be_bytes());
        put(&mut out, 16, &self.max_segment_length.to_be_bytes());
        put(&mut out, 20, &self.max_inline_data_length.to_be_bytes());
        put(&mut out, 24, &self.held_data_limit.to_be_bytes());
        put(
            &mut out,
            28,
            &self.max_stream_device_transfer_size.to_be_bytes(),
        );
        put(&mut out, 34, &self.total_concurrent_copies.to_be_bytes());
        set(&mut out, 36, self.max_concurrent_copies);
        set(&mut out, 37, self.data_segment_granularity);
        set(&mut out, 38, self.inline_data_granularity);
        set(&mut out, 39, self.held_data_granularity);
        set(&mut out, 43, len_field(codes.len()));
        out.extend_from_slice(codes);
        out
    }
}

/// RECEIVE COPY RESULTS FAILED SEGMENT DETAILS data (service action 04h,
/// SPC-4 §6.18.5): the status and sense data of an EXTENDED COPY that
/// failed. A copy that did not fail has none (AVAILABLE DATA 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FailedSegmentDetails {
    /// COPY COMMAND STATUS (byte 56): the SCSI status the EXTENDED COPY
    /// ended with.
    pub copy_command_status: u8,
    /// The sense data the EXTENDED COPY returned (bytes 60…; its length
    /// is bytes 58–59).
    pub sense_data: Vec<u8>,
}

impl FailedSegmentDetails {
    /// Parses the data: `None` inside when AVAILABLE DATA is 0 (nothing
    /// failed).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 4 bytes, or fewer than 60
    /// when there are details.
    pub fn parse(data: &[u8]) -> Result<Option<Self>, ParseError> {
        need("FAILED SEGMENT DETAILS data", data, 4)?;
        let d = Reader(data);
        if d.u32(0) == 0 {
            return Ok(None);
        }
        need("FAILED SEGMENT DETAILS data", data, 60)?;
        Ok(Some(Self {
            copy_command_status: d.u8(56),
            sense_data: d.span(60, 60 + usize::from(d.u16(58))).to_vec(),
        }))
    }

    /// The data of `details`: 4 bytes of AVAILABLE DATA 0 for `None`.
    #[must_use]
    pub fn encode(details: Option<&Self>) -> Vec<u8> {
        let Some(details) = details else {
            return vec![0; 4];
        };
        let sense = details.sense_data.get(..252).unwrap_or(&details.sense_data);
        let mut out = vec![0u8; 60];
        put(
            &mut out,
            0,
            &len_field::<u32>(56 + sense.len()).to_be_bytes(),
        );
        set(&mut out, 56, details.copy_command_status);
        put(&mut out, 58, &len_field::<u16>(sense.len()).to_be_bytes());
        out.extend_from_slice(sense);
        out
    }
}

/// The Third Party Copy VPD page (8Fh, SPC-4 §7.8.17) of a copy manager
/// that implements EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: the
/// Supported Commands (0001h), Parameter Data (0004h), Supported
/// Descriptors (0008h), Supported CSCD Descriptor IDs (000Ch) and General
/// Copy Operations (8001h) descriptors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ThirdPartyCopy {
    /// Supported commands: an operation code and its service actions.
    pub commands: Vec<(u8, Vec<u8>)>,
    /// MAXIMUM CSCD DESCRIPTOR COUNT.
    pub max_cscd_descriptor_count: u16,
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT.
    pub max_segment_descriptor_count: u16,
    /// MAXIMUM DESCRIPTOR LIST LENGTH, bytes.
    pub max_descriptor_list_length: u32,
    /// MAXIMUM INLINE DATA LENGTH, bytes.
    pub max_inline_data_length: u32,
    /// Supported CSCD and segment descriptor type codes.
    pub descriptor_type_codes: Vec<u8>,
    /// TOTAL CONCURRENT COPIES.
    pub total_concurrent_copies: u32,
    /// MAXIMUM IDENTIFIED CONCURRENT COPIES.
    pub max_identified_concurrent_copies: u32,
    /// MAXIMUM SEGMENT LENGTH, bytes.
    pub max_segment_length: u32,
    /// DATA SEGMENT GRANULARITY: log2 of bytes.
    pub data_segment_granularity: u8,
}

/// Appends a third-party copy descriptor of `kind` with `body`, padded to
/// a multiple of 4 bytes (SPC-4 §7.8.17.1).
fn tpc_descriptor(out: &mut Vec<u8>, kind: u16, mut body: Vec<u8>) {
    body.resize((body.len() + 4).next_multiple_of(4) - 4, 0);
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len_field::<u16>(body.len()).to_be_bytes());
    out.extend_from_slice(&body);
}

impl ThirdPartyCopy {
    /// The VPD page code.
    pub const PAGE_CODE: u8 = 0x8f;

    /// The page.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut descriptors = Vec::new();
        let mut list: Vec<u8> = Vec::new();
        for (opcode, actions) in &self.commands {
            list.push(*opcode);
            list.push(len_field(actions.len()));
            list.extend_from_slice(actions);
        }
        let mut body = vec![len_field::<u8>(list.len())];
        body.extend_from_slice(&list);
        tpc_descriptor(&mut descriptors, 0x0001, body);
        let mut body = vec![0u8; 28];
        put(&mut body, 4, &self.max_cscd_descriptor_count.to_be_bytes());
        put(
            &mut body,
            6,
            &self.max_segment_descriptor_count.to_be_bytes(),
        );
        put(&mut body, 8, &self.max_descriptor_list_length.to_be_bytes());
        put(&mut body, 12, &self.max_inline_data_length.to_be_bytes());
        tpc_descriptor(&mut descriptors, 0x0004, body);
        let mut body = vec![len_field::<u8>(self.descriptor_type_codes.len())];
        body.extend_from_slice(&self.descriptor_type_codes);
        tpc_descriptor(&mut descriptors, 0x0008, body);
        // No CSCD descriptor IDs beyond the list indexes (0000h–07FFh).
        tpc_descriptor(&mut descriptors, 0x000c, vec![0, 0]);
        let mut body = vec![0u8; 32];
        put(&mut body, 0, &self.total_concurrent_copies.to_be_bytes());
        put(
            &mut body,
            4,
            &self.max_identified_concurrent_copies.to_be_bytes(),
        );
        put(&mut body, 8, &self.max_segment_length.to_be_bytes());
        set(&mut body, 12, self.data_segment_granularity);
        tpc_descriptor(&mut descriptors, 0x8001, body);
        super::vpd::VpdHeader::wrap(Self::PAGE_CODE, &descriptors)
    }

    /// Parses the page: the descriptors this type models; others are
    /// skipped.
    ///
    /// # Errors
    /// [`ParseError`] for a short header or another page.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let page = super::vpd::vpd_page(data, Self::PAGE_CODE, "Third Party Copy page")?;
        let mut out = Self::default();
        let mut rest = page.rest(4);
        while rest.len() >= 4 {
            let d = Reader(rest);
            let body = d.span(4, 4 + usize::from(d.u16(2)));
            let b = Reader(body);
            match d.u16(0) {
                0x0001 => {
                    let list = b.span(1, 1 + usize::from(b.u8(0)));
                    let mut l = list;
                    while let [opcode, n, tail @ ..] = l {
                        let actions = tail.get(..usize::from(*n)).unwrap_or(tail);
                        out.commands.push((*opcode, actions.to_vec()));
                        l = tail.get(usize::from(*n)..).unwrap_or(&[]);
                    }
                }
                0x0004 => {
                    out.max_cscd_descriptor_count = b.u16(4);
                    out.max_segment_descriptor_count = b.u16(6);
                    out.max_descriptor_list_length = b.u32(8);
                    out.max_inline_data_length = b.u32(12);
                }
                0x0008 => {
                    out.descriptor_type_codes = b.span(1, 1 + usize::from(b.u8(0))).to_vec();
                }
                0x8001 => {
                    out.total_concurrent_copies = b.u32(0);
                    out.max_identified_concurrent_copies = b.u32(4);
                    out.max_segment_length = b.u32(8);
                    out.data_segment_granularity = b.u8(12);
                }
                _ => {}
            }
            rest = rest.get(4 + body.len()..).unwrap_or(&[]);
        }
        Ok(out)
    }
}
