//! PERSISTENT RESERVE IN parameter data (SPC-4 §6.15) and the PERSISTENT
//! RESERVE OUT parameter list (SPC-4 §6.16.3).

use super::{ParseError, Reader, len_field, need, put};

/// Persistent reservation TYPE (SPC-4 §6.15.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrType {
    /// 1h Write Exclusive.
    WriteExclusive,
    /// 3h Exclusive Access.
    ExclusiveAccess,
    /// 5h Write Exclusive – Registrants Only.
    WriteExclusiveRegistrantsOnly,
    /// 6h Exclusive Access – Registrants Only.
    ExclusiveAccessRegistrantsOnly,
    /// 7h Write Exclusive – All Registrants.
    WriteExclusiveAllRegistrants,
    /// 8h Exclusive Access – All Registrants.
    ExclusiveAccessAllRegistrants,
}

impl PrType {
    /// The 4-bit TYPE code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::WriteExclusive => 0x1,
            Self::ExclusiveAccess => 0x3,
            Self::WriteExclusiveRegistrantsOnly => 0x5,
            Self::ExclusiveAccessRegistrantsOnly => 0x6,
            Self::WriteExclusiveAllRegistrants => 0x7,
            Self::ExclusiveAccessAllRegistrants => 0x8,
        }
    }

    /// The type with TYPE code `code`, if SPC-4 defines one.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x1 => Self::WriteExclusive,
            0x3 => Self::ExclusiveAccess,
            0x5 => Self::WriteExclusiveRegistrantsOnly,
            0x6 => Self::ExclusiveAccessRegistrantsOnly,
            0x7 => Self::WriteExclusiveAllRegistrants,
            0x8 => Self::ExclusiveAccessAllRegistrants,
            _ => return None,
        })
    }
}

/// PERSISTENT RESERVE IN READ KEYS data (SPC-4 §6.15.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReadKeys {
    /// PRGENERATION (bytes 0–3).
    pub generation: u32,
    /// ADDITIONAL LENGTH (bytes 4–7): bytes of keys the target has.
    pub additional_length: u32,
    /// The registered reservation keys returned whole.
    pub keys: Vec<u64>,
}

impl PrReadKeys {
    /// Parses READ KEYS data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ KEYS data", data, 8)?;
        let d = Reader(data);
        let additional_length = d.u32(4);
        let end = usize::try_from(additional_length)
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        Ok(Self {
            generation: d.u32(0),
            additional_length,
            keys: d
                .span(8, end)
                .chunks_exact(8)
                .map(|c| Reader(c).u64(0))
                .collect(),
        })
    }

    /// The data for `keys` at `generation`, ADDITIONAL LENGTH 8 × their
    /// number.
    #[must_use]
    pub fn new(generation: u32, keys: Vec<u64>) -> Self {
        Self {
            generation,
            additional_length: len_field(keys.len().saturating_mul(8)),
            keys,
        }
    }

    /// READ KEYS parameter data (SPC-4 §6.15.2): PRGENERATION,
    /// ADDITIONAL LENGTH (computed from `keys`), 8 bytes per key.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 8 * self.keys.len());
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(&len_field::<u32>(self.keys.len().saturating_mul(8)).to_be_bytes());
        for k in &self.keys {
            out.extend_from_slice(&k.to_be_bytes());
        }
        out
    }
}

/// The persistent reservation READ RESERVATION reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReservation {
    /// RESERVATION KEY (bytes 8–15) of the holder; 0 for the "all
    /// registrants" types.
    pub key: u64,
    /// SCOPE (byte 21 bits 7–4): 0 LU_SCOPE.
    pub scope: u8,
    /// TYPE (byte 21 bits 3–0); see [`PrReservation::reservation_type`].
    pub pr_type: u8,
}

impl PrReservation {
    /// A reservation of LU_SCOPE with `key` and TYPE code `pr_type`.
    #[must_use]
    pub const fn new(key: u64, pr_type: u8) -> Self {
        Self {
            key,
            scope: 0,
            pr_type,
        }
    }

    /// The TYPE as a [`PrType`], if SPC-4 defines it.
    #[must_use]
    pub const fn reservation_type(&self) -> Option<PrType> {
        PrType::from_code(self.pr_type)
    }
}

/// PERSISTENT RESERVE IN READ RESERVATION data (SPC-4 §6.15.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReadReservation {
    /// PRGENERATION (bytes 0–3).
    pub generation: u32,
    /// The reservation, `None` when the logical unit is not reserved
    /// (ADDITIONAL LENGTH 0).
    pub reservation: Option<PrReservation>,
}

impl PrReadReservation {
    /// The data at `generation` with `reservation`, if any.
    #[must_use]
    pub const fn new(generation: u32, reservation: Option<PrReservation>) -> Self {
        Self {
            generation,
            reservation,
        }
    }

    /// Parses READ RESERVATION data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes, or fewer than 24
    /// when ADDITIONAL LENGTH announces a reservation.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ RESERVATION data", data, 8)?;
        let d = Reader(data);
        let reservation = if d.u32(4) >= 16 {
            need("READ RESERVATION data", data, 24)?;
            Some(PrReservation {
                key: d.u64(8),
                scope: d.u8(21) >> 4,
                pr_type: d.u8(21) & 0x0f,
            })
        } else {
            None
        };
        Ok(Self {
            generation: d.u32(0),
            reservation,
        })
    }

    /// READ RESERVATION parameter data (SPC-4 §6.15.3): 8
    /// bytes without a reservation (ADDITIONAL LENGTH 0), 24 with one
    /// (ADDITIONAL LENGTH 16: key, obsolete and reserved bytes, SCOPE and
    /// TYPE in byte 21).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.generation.to_be_bytes());
        match &self.reservation {
            Some(r) => {
                out.extend_from_slice(&16u32.to_be_bytes());
                out.extend_from_slice(&r.key.to_be_bytes());
                out.extend_from_slice(&[0; 5]);
                out.push((r.scope << 4) | (r.pr_type & 0x0f));
                out.extend_from_slice(&[0; 2]);
            }
            None => out.extend_from_slice(&[0; 4]),
        }
        out
    }
}

/// PERSISTENT RESERVE IN REPORT CAPABILITIES data (SPC-4 §6.15.4): 8
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrCapabilities {
    /// RLR_C (byte 2 bit 7): replace lost reservation capable.
    pub rlr_c: bool,
    /// CRH (byte 2 bit 4): compatible reservation handling (RESERVE and
    /// RELEASE under persistent reservations, SPC-4 §5.12.3).
    pub crh: bool,
    /// SIP_C (byte 2 bit 3): specify initiator ports capable.
    pub sip_c: bool,
    /// ATP_C (byte 2 bit 2): all target ports capable.
    pub atp_c: bool,
    /// PTPL_C (byte 2 bit 0): persist through power loss capable.
    pub ptpl_c: bool,
    /// TMV (byte 3 bit 7): `type_mask` is valid.
    pub tmv: bool,
    /// ALLOW COMMANDS (byte 3 bits 6–4).
    pub allow_commands: u8,
    /// PTPL_A (byte 3 bit 0): persist through power loss activated.
    pub ptpl_a: bool,
    /// PERSISTENT RESERVATION TYPE MASK (bytes 4–5): WR_EX_AR 8000h,
    /// EX_AC_RO 4000h, WR_EX_RO 2000h, EX_AC 0800h, WR_EX 0200h, EX_AC_AR
    /// 0001h.
    pub type_mask: u16,
}

impl PrCapabilities {
    /// Parses REPORT CAPABILITIES data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 6 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT CAPABILITIES data", data, 6)?;
        let d = Reader(data);
        Ok(Self {
            rlr_c: d.bit(2, 0x80),
            crh: d.bit(2, 0x10),
            sip_c: d.bit(2, 0x08),
            atp_c: d.bit(2, 0x04),
            ptpl_c: d.bit(2, 0x01),
            tmv: d.bit(3, 0x80),
            allow_commands: (d.u8(3) >> 4) & 0x07,
            ptpl_a: d.bit(3, 0x01),
            type_mask: d.u16(4),
        })
    }

    /// REPORT CAPABILITIES parameter data (SPC-4 §6.15.4): LENGTH
    /// 0008h, the flags, the type mask, 2 reserved bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        let [mask_hi, mask_lo] = self.type_mask.to_be_bytes();
        put(
            &mut out,
            0,
            &[
                0,
                8,
                (u8::from(self.rlr_c) << 7)
                    | (u8::from(self.crh) << 4)
                    | (u8::from(self.sip_c) << 3)
                    | (u8::from(self.atp_c) << 2)
                    | u8::from(self.ptpl_c),
                (u8::from(self.tmv) << 7)
                    | ((self.allow_commands & 0x07) << 4)
                    | u8::from(self.ptpl_a),
                mask_hi,
                mask_lo,
            ],
        );
        out
    }
}

/// One full status descriptor of READ FULL STATUS (SPC-4 §6.15.5): a registration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrFullStatusDescriptor {
    /// RESERVATION KEY (bytes 0–7).
    pub key: u64,
    /// ALL_TG_PT (byte 12 bit 1).
    pub all_tg_pt: bool,
    /// R_HOLDER (byte 12 bit 0): this registrant holds the reservation.
    pub r_holder: bool,
    /// SCOPE (byte 13 bits 7–4), meaningful with `r_holder`.
    pub scope: u8,
    /// TYPE (byte 13 bits 3–0), meaningful with `r_holder`.
    pub pr_type: u8,
    /// RELATIVE TARGET PORT IDENTIFIER (bytes 18–19).
    pub relative_target_port: u16,
    /// The TransportID of the initiator port (bytes 24..; SPC-4 §7.6.4),
    /// ADDITIONAL DESCRIPTOR LENGTH (bytes 20–23) bytes; see
    /// [`iscsi_transport_id`].
    pub transport_id: Vec<u8>,
}

/// PERSISTENT RESERVE IN READ FULL STATUS data (SPC-4 §6.15.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrFullStatus {
    /// PRGENERATION (bytes 0–3).
    pub generation: u32,
    /// The descriptors returned whole.
    pub descriptors: Vec<PrFullStatusDescriptor>,
}

impl PrFullStatus {
    /// The data at `generation` with `descriptors`.
    #[must_use]
    pub const fn new(generation: u32, descriptors: Vec<PrFullStatusDescriptor>) -> Self {
        Self {
            generation,
            descriptors,
        }
    }

    /// Parses READ FULL STATUS data; a descriptor cut short ends the list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ FULL STATUS data", data, 8)?;
        let d = Reader(data);
        let end = usize::try_from(d.u32(4))
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        let mut rest = Reader(d.span(8, end));
        let mut descriptors = Vec::new();
        while rest.len() >= 24 {
            let len = usize::try_from(rest.u32(20)).unwrap_or(usize::MAX);
            let Some(transport_id) = rest.rest(24).get(..len) else {
                break;
            };
            descriptors.push(PrFullStatusDescriptor {
                key: rest.u64(0),
                all_tg_pt: rest.bit(12, 0x02),
                r_holder: rest.bit(12, 0x01),
                scope: rest.u8(13) >> 4,
                pr_type: rest.u8(13) & 0x0f,
                relative_target_port: rest.u16(18),
                transport_id: transport_id.to_vec(),
            });
            rest = Reader(rest.rest(24 + len));
        }
        Ok(Self {
            generation: d.u32(0),
            descriptors,
        })
    }

    /// READ FULL STATUS parameter data (SPC-4 §6.15.5):
    /// PRGENERATION, ADDITIONAL LENGTH (computed), then per registration 24
    /// bytes and its TransportID.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for r in &self.descriptors {
            body.extend_from_slice(&r.key.to_be_bytes());
            body.extend_from_slice(&[0; 4]);
            body.push((u8::from(r.all_tg_pt) << 1) | u8::from(r.r_holder));
            body.push((r.scope << 4) | (r.pr_type & 0x0f));
            body.extend_from_slice(&[0; 4]);
            body.extend_from_slice(&r.relative_target_port.to_be_bytes());
            body.extend_from_slice(&len_field::<u32>(r.transport_id.len()).to_be_bytes());
            body.extend_from_slice(&r.transport_id);
        }
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(&len_field::<u32>(body.len()).to_be_bytes());
        out.extend(body);
        out
    }
}

/// An iSCSI TransportID in the initiator port format (SPC-4 §7.6.4.6;
/// RFC 7143): FORMAT CODE 01b and PROTOCOL IDENTIFIER 5h in
/// byte 0, ADDITIONAL LENGTH in bytes 2–3, then `port_name`
/// (`iqn…,i,0x<ISID>`) with a NUL, padded with NULs to a multiple of 4
/// bytes (names longer than 65 531 bytes are cut).
#[must_use]
pub fn iscsi_transport_id(port_name: &str) -> Vec<u8> {
    let name = port_name
        .as_bytes()
        .get(..usize::from(u16::MAX) - 4)
        .unwrap_or(port_name.as_bytes());
    let padded = (name.len() + 1).next_multiple_of(4);
    let mut out = Vec::with_capacity(4 + padded);
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&len_field::<u16>(padded).to_be_bytes());
    out.extend_from_slice(name);
    out.resize(4 + padded, 0);
    out
}

/// The basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3): 24 bytes. Transport IDs (SPEC_I_PT) and REGISTER AND MOVE lists are
/// not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrOutParameterList {
    /// RESERVATION KEY (bytes 0–7): the key this I_T nexus registered.
    pub reservation_key: u64,
    /// SERVICE ACTION RESERVATION KEY (bytes 8–15): the new key for
    /// REGISTER, the key to preempt for PREEMPT.
    pub service_action_reservation_key: u64,
    /// SPEC_I_PT (byte 20 bit 3).
    pub spec_i_pt: bool,
    /// ALL_TG_PT (byte 20 bit 2): register on all target ports.
    pub all_tg_pt: bool,
    /// APTPL (byte 20 bit 0): keep the registrations across power loss.
    pub aptpl: bool,
}

impl PrOutParameterList {
    /// Length of the basic parameter list in bytes.
    pub const LEN: usize = 24;

    /// A list with the two keys and every flag clear.
    #[must_use]
    pub const fn new(reservation_key: u64, service_action_reservation_key: u64) -> Self {
        Self {
            reservation_key,
            service_action_reservation_key,
            spec_i_pt: false,
            all_tg_pt: false,
            aptpl: false,
        }
    }

    /// The 24 bytes of the list (SPC-4 §6.16.3); bytes 16–19
    /// (obsolete), the rest of byte 20 and bytes 21–23 are zero.
    #[must_use]
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        put(&mut out, 0, &self.reservation_key.to_be_bytes());
        put(
            &mut out,
            8,
            &self.service_action_reservation_key.to_be_bytes(),
        );
        put(
            &mut out,
            20,
            &[(u8::from(self.spec_i_pt) << 3)
                | (u8::from(self.all_tg_pt) << 2)
                | u8::from(self.aptpl)],
        );
        out
    }

    /// The 24 bytes of the list: the same as [`PrOutParameterList::encode`].
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 24] {
        self.encode()
    }

    /// Parses the first 24 bytes of a PERSISTENT RESERVE OUT parameter list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 24 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("PERSISTENT RESERVE OUT parameter list", data, Self::LEN)?;
        let d = Reader(data);
        Ok(Self {
            reservation_key: d.u64(0),
            service_action_reservation_key: d.u64(8),
            spec_i_pt: d.bit(20, 0x08),
            all_tg_pt: d.bit(20, 0x04),
            aptpl: d.bit(20, 0x01),
        })
    }
}

/// The initiator port name of an iSCSI TransportID (SPC-4 §7.6.4.6): the
/// ISCSI NAME field up to its NUL, for FORMAT CODE 01b (`iqn…,i,0x<ISID>`,
/// an initiator port) with PROTOCOL IDENTIFIER 5h; `None` for any other
/// protocol or format, or a name that is not UTF-8.
#[must_use]
pub fn parse_iscsi_transport_id(data: &[u8]) -> Option<String> {
    let d = Reader(data);
    if d.u8(0) != 0x45 {
        return None;
    }
    let field = d.span(4, 4 + usize::from(d.u16(2)));
    let name = field.split(|b| *b == 0).next().unwrap_or(&[]);
    std::str::from_utf8(name).ok().map(str::to_owned)
}

/// The PERSISTENT RESERVE OUT parameter list of REGISTER AND MOVE (SPC-4
/// §6.16.4): 24 bytes and a TransportID naming the I_T nexus the
/// reservation moves to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RegisterAndMoveParameterList {
    /// RESERVATION KEY (bytes 0–7): the issuing nexus's key.
    pub reservation_key: u64,
    /// SERVICE ACTION RESERVATION KEY (bytes 8–15): the key the
    /// destination is registered with.
    pub service_action_reservation_key: u64,
    /// UNREG (byte 17 bit 1): unregister the issuing nexus.
    pub unreg: bool,
    /// APTPL (byte 17 bit 0).
    pub aptpl: bool,
    /// RELATIVE TARGET PORT IDENTIFIER (bytes 18–19) of the destination.
    pub relative_target_port: u16,
    /// The TransportID (bytes 24…; its length is bytes 20–23).
    pub transport_id: Vec<u8>,
}

impl RegisterAndMoveParameterList {
    /// A list moving the reservation of the nexus with `reservation_key`
    /// to the nexus `transport_id` names through `relative_target_port`,
    /// registered with `service_action_reservation_key`; UNREG and APTPL
    /// clear.
    #[must_use]
    pub const fn new(
        reservation_key: u64,
        service_action_reservation_key: u64,
        relative_target_port: u16,
        transport_id: Vec<u8>,
    ) -> Self {
        Self {
            reservation_key,
            service_action_reservation_key,
            unreg: false,
            aptpl: false,
            relative_target_port,
            transport_id,
        }
    }

    /// Parses the list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 24 bytes or fewer than the
    /// TRANSPORTID PARAMETER DATA LENGTH says.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REGISTER AND MOVE parameter list", data, 24)?;
        let d = Reader(data);
        let tid_len = usize::try_from(d.u32(20)).unwrap_or(usize::MAX);
        need(
            "REGISTER AND MOVE parameter list",
            data,
            24usize.saturating_add(tid_len),
        )?;
        Ok(Self {
            reservation_key: d.u64(0),
            service_action_reservation_key: d.u64(8),
            unreg: d.bit(17, 0x02),
            aptpl: d.bit(17, 0x01),
            relative_target_port: d.u16(18),
            transport_id: d.span(24, 24 + tid_len).to_vec(),
        })
    }

    /// The list.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; 24];
        put(&mut out, 0, &self.reservation_key.to_be_bytes());
        put(
            &mut out,
            8,
            &self.service_action_reservation_key.to_be_bytes(),
        );
        put(
            &mut out,
            17,
            &[(u8::from(self.unreg) << 1) | u8::from(self.aptpl)],
        );
        put(&mut out, 18, &self.relative_target_port.to_be_bytes());
        put(
            &mut out,
            20,
            &len_field::<u32>(self.transport_id.len()).to_be_bytes(),
        );
        out.extend_from_slice(&self.transport_id);
        out
    }
}
