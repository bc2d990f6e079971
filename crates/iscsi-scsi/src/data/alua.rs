//! Asymmetric logical unit access (SPC-4 §5.15): REPORT TARGET PORT
//! GROUPS data (§6.36) and the SET TARGET PORT GROUPS parameter list
//! (§6.44).

use super::{ParseError, Reader, len_field, need, put, set};

/// ASYMMETRIC ACCESS STATE of a target port group (SPC-4 §5.15.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessState {
    /// 0h: active/optimized.
    ActiveOptimized,
    /// 1h: active/non-optimized.
    ActiveNonOptimized,
    /// 2h: standby.
    Standby,
    /// 3h: unavailable.
    Unavailable,
    /// Eh: offline.
    Offline,
    /// Fh: transitioning between states.
    Transitioning,
    /// Any other code (4h logical block dependent, reserved codes).
    Other(u8),
}

impl AccessState {
    /// The state with 4-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            0x0 => Self::ActiveOptimized,
            0x1 => Self::ActiveNonOptimized,
            0x2 => Self::Standby,
            0x3 => Self::Unavailable,
            0xe => Self::Offline,
            0xf => Self::Transitioning,
            other => Self::Other(other),
        }
    }

    /// The 4-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::ActiveOptimized => 0x0,
            Self::ActiveNonOptimized => 0x1,
            Self::Standby => 0x2,
            Self::Unavailable => 0x3,
            Self::Offline => 0xe,
            Self::Transitioning => 0xf,
            Self::Other(code) => code & 0x0f,
        }
    }
}

/// A target port group descriptor of REPORT TARGET PORT GROUPS data
/// (SPC-4 §6.36.2): 8 bytes and 4 per target port.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetPortGroupDescriptor {
    /// PREF (byte 0 bit 7): the preferred group.
    pub pref: bool,
    /// ASYMMETRIC ACCESS STATE (byte 0 bits 3–0).
    pub state: AccessState,
    /// The supported-state bits of byte 1: T_SUP (7), O_SUP (6), LBD_SUP
    /// (4), U_SUP (3), S_SUP (2), AN_SUP (1), AO_SUP (0).
    pub supported: u8,
    /// TARGET PORT GROUP (bytes 2–3).
    pub id: u16,
    /// STATUS CODE (byte 5): 01h the state was set by SET TARGET PORT
    /// GROUPS, 02h altered by an implicit transition.
    pub status_code: u8,
    /// The RELATIVE TARGET PORT IDENTIFIERs of the group's ports.
    pub ports: Vec<u16>,
}

impl TargetPortGroupDescriptor {
    /// T_SUP: transitioning is supported.
    pub const T_SUP: u8 = 0x80;
    /// U_SUP: unavailable is supported.
    pub const U_SUP: u8 = 0x08;
    /// S_SUP: standby is supported.
    pub const S_SUP: u8 = 0x04;
    /// AN_SUP: active/non-optimized is supported.
    pub const AN_SUP: u8 = 0x02;
    /// AO_SUP: active/optimized is supported.
    pub const AO_SUP: u8 = 0x01;
}

/// REPORT TARGET PORT GROUPS parameter data (SPC-4 §6.36): the length
/// only header (format 000b) or the extended header (format 001b).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReportTargetPortGroups {
    /// The extended header (FORMAT TYPE 001b, byte 4) with IMPLICIT
    /// TRANSITION TIME.
    pub extended: bool,
    /// IMPLICIT TRANSITION TIME (byte 5 of the extended header), seconds.
    pub implicit_transition_time: u8,
    /// The target port groups.
    pub groups: Vec<TargetPortGroupDescriptor>,
}

impl ReportTargetPortGroups {
    /// The data.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let header = if self.extended { 8 } else { 4 };
        let mut out = vec![0u8; header];
        for g in &self.groups {
            let ports = g.ports.get(..255).unwrap_or(&g.ports);
            let mut d = vec![0u8; 8];
            set(&mut d, 0, (u8::from(g.pref) << 7) | g.state.code());
            set(&mut d, 1, g.supported);
            put(&mut d, 2, &g.id.to_be_bytes());
            set(&mut d, 5, g.status_code);
            set(&mut d, 7, len_field(ports.len()));
            for p in ports {
                d.extend_from_slice(&[0, 0]);
                d.extend_from_slice(&p.to_be_bytes());
            }
            out.extend_from_slice(&d);
        }
        let length: u32 = len_field(out.len() - 4);
        put(&mut out, 0, &length.to_be_bytes());
        if self.extended {
            set(&mut out, 4, 0x10);
            set(&mut out, 5, self.implicit_transition_time);
        }
        out
    }

    /// Parses the data; the header's format decides where the descriptors
    /// start.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 4 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT TARGET PORT GROUPS data", data, 4)?;
        let d = Reader(data);
        let extended = (d.u8(4) >> 4) & 0x07 == 1;
        let end = 4 + usize::try_from(d.u32(0)).unwrap_or(usize::MAX);
        let mut rest = d.span(if extended { 8 } else { 4 }, end);
        let mut groups = Vec::new();
        while rest.len() >= 8 {
            let g = Reader(rest);
            let count = usize::from(g.u8(7));
            let ports = (0..count).map(|i| g.u16(8 + 4 * i + 2)).collect();
            groups.push(TargetPortGroupDescriptor {
                pref: g.bit(0, 0x80),
                state: AccessState::from_code(g.u8(0)),
                supported: g.u8(1),
                id: g.u16(2),
                status_code: g.u8(5),
                ports,
            });
            rest = rest.get(8 + 4 * count..).unwrap_or(&[]);
        }
        Ok(Self {
            extended,
            implicit_transition_time: if extended { d.u8(5) } else { 0 },
            groups,
        })
    }
}

/// The SET TARGET PORT GROUPS parameter list (SPC-4 §6.44): 4 reserved
/// bytes, then one 4-byte descriptor per group to change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SetTargetPortGroups {
    /// `(state, target port group)` pairs, in order.
    pub changes: Vec<(AccessState, u16)>,
}

impl SetTargetPortGroups {
    /// The list asking for `changes`.
    #[must_use]
    pub const fn new(changes: Vec<(AccessState, u16)>) -> Self {
        Self { changes }
    }

    /// Parses the list; a partial descriptor at the end is ignored.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 4 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("SET TARGET PORT GROUPS parameter list", data, 4)?;
        let changes = Reader(data)
            .rest(4)
            .chunks_exact(4)
            .map(|c| {
                let r = Reader(c);
                (AccessState::from_code(r.u8(0)), r.u16(2))
            })
            .collect();
        Ok(Self { changes })
    }

    /// The list.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; 4];
        for (state, id) in &self.changes {
            out.push(state.code());
            out.push(0);
            out.extend_from_slice(&id.to_be_bytes());
        }
        out
    }
}
