//! Identifiers and sequence numbers, each its own type so that an ITT is never
//! passed where a TTT belongs, and CmdSN/StatSN/DataSN compare with RFC 1982
//! serial number arithmetic (RFC 7143 §4.2.2.1).

#![allow(
    clippy::exhaustive_structs,
    reason = "each type is one fixed-width wire field; the newtype is the whole design"
)]

use core::cmp::Ordering;
use core::fmt;

macro_rules! tag_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
        pub struct $name(pub u32);

        impl $name {
            /// The reserved value 0xffffffff.
            pub const RESERVED: Self = Self(0xffff_ffff);

            /// True for the reserved value 0xffffffff.
            #[must_use]
            pub const fn is_reserved(self) -> bool {
                self.0 == 0xffff_ffff
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:#010x})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#010x}", self.0)
            }
        }
    };
}

tag_type! {
    /// Initiator Task Tag (RFC 7143 §11.2.1.8): names a task within a
    /// session; 0xffffffff is reserved (unsolicited target PDUs carry it).
    Itt
}

tag_type! {
    /// Target Transfer Tag (RFC 7143 §11.7.4, §11.8.4): chosen by the target
    /// for R2T-solicited data and target-initiated NOP-In; 0xffffffff means
    /// "none" (unsolicited Data-Out, NOP-In answering a NOP-Out).
    Ttt
}

/// Declares a 32-bit sequence number with RFC 1982 comparison.
macro_rules! serial_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
        pub struct $name(pub u32);

        impl $name {
            /// The number `n` after this one, wrapping at 2^32.
            #[must_use]
            pub const fn add(self, n: u32) -> Self {
                Self(self.0.wrapping_add(n))
            }

            /// The next number, wrapping at 2^32.
            #[must_use]
            pub const fn next(self) -> Self {
                self.add(1)
            }

            /// RFC 1982 comparison: `None` when the two are exactly 2^31
            /// apart, where the order is undefined.
            #[must_use]
            pub const fn serial_cmp(self, other: Self) -> Option<Ordering> {
                serial_cmp(self.0, other.0)
            }

            /// RFC 1982 `self < other`.
            #[must_use]
            pub const fn is_before(self, other: Self) -> bool {
                matches!(self.serial_cmp(other), Some(Ordering::Less))
            }

            /// RFC 1982 `self > other`.
            #[must_use]
            pub const fn is_after(self, other: Self) -> bool {
                matches!(self.serial_cmp(other), Some(Ordering::Greater))
            }

            /// True when `low <= self <= high` in serial arithmetic (the
            /// window test of RFC 7143 §4.2.2.1 for CmdSN).
            #[must_use]
            pub const fn in_window(self, low: Self, high: Self) -> bool {
                !self.is_before(low) && !self.is_after(high)
            }

            /// How far `self` is ahead of `earlier`, modulo 2^32.
            #[must_use]
            pub const fn distance_from(self, earlier: Self) -> u32 {
                self.0.wrapping_sub(earlier.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

/// RFC 1982 serial number comparison with SERIAL_BITS = 32.
#[must_use]
pub const fn serial_cmp(a: u32, b: u32) -> Option<Ordering> {
    const HALF: u32 = 1 << 31;
    if a == b {
        Some(Ordering::Equal)
    } else if (a < b && b - a < HALF) || (a > b && a - b > HALF) {
        Some(Ordering::Less)
    } else if (a < b && b - a > HALF) || (a > b && a - b < HALF) {
        Some(Ordering::Greater)
    } else {
        None
    }
}

serial_type! {
    /// Command sequence number (RFC 7143 §4.2.2.1); also the type of
    /// ExpCmdSN and MaxCmdSN.
    CmdSn
}

serial_type! {
    /// Status sequence number (RFC 7143 §4.2.2.2); also the type of ExpStatSN.
    StatSn
}

serial_type! {
    /// Data sequence number of Data-In/Data-Out PDUs within a task (RFC 7143
    /// §11.7.5); also the type of ExpDataSN.
    DataSn
}

serial_type! {
    /// R2T sequence number (RFC 7143 §11.8.5).
    R2tSn
}

/// ExpCmdSN: the next CmdSN the target expects (RFC 7143 §4.2.2.1).
pub type ExpCmdSn = CmdSn;
/// MaxCmdSN: the last CmdSN the target will accept (RFC 7143 §4.2.2.1).
pub type MaxCmdSn = CmdSn;
/// ExpStatSN: the next StatSN the initiator expects (RFC 7143 §4.2.2.2).
pub type ExpStatSn = StatSn;

/// Target Session Identifying Handle (RFC 7143 §11.12.6); 0 in the first
/// Login Request of a new session.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Tsih(pub u16);

impl Tsih {
    /// TSIH 0: a new session.
    pub const NEW_SESSION: Self = Self(0);
}

impl fmt::Debug for Tsih {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tsih({:#06x})", self.0)
    }
}

/// Connection ID (RFC 7143 §11.12.7).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Cid(pub u16);

/// Initiator Session ID (RFC 7143 §11.12.5): 6 bytes, T (2 bits), A (6 bits),
/// B (16 bits), C (8 bits), D (16 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Isid(pub [u8; 6]);

impl Isid {
    /// Type 00b: OUI format (A and B hold a 22-bit OUI).
    pub const TYPE_OUI: u8 = 0;
    /// Type 01b: IANA enterprise number format.
    pub const TYPE_EN: u8 = 1;
    /// Type 10b: random format (B and C are a random 24-bit qualifier).
    pub const TYPE_RANDOM: u8 = 2;

    /// A random-format ISID (T = 10b, A = 0): `random` fills B and C (its low
    /// 24 bits are used) and `qualifier` is D. The caller supplies the random
    /// bits (this crate has no RNG), so every session can get a fresh one.
    #[must_use]
    pub const fn random(random: u32, qualifier: u16) -> Self {
        let r = random.to_be_bytes();
        let d = qualifier.to_be_bytes();
        Self([Self::TYPE_RANDOM << 6, r[1], r[2], r[3], d[0], d[1]])
    }

    /// The 2-bit T field.
    #[must_use]
    pub const fn isid_type(self) -> u8 {
        self.0[0] >> 6
    }

    /// The 16-bit D (qualifier) field.
    #[must_use]
    pub const fn qualifier(self) -> u16 {
        u16::from_be_bytes([self.0[4], self.0[5]])
    }

    /// The ISID as a 48-bit number (the usual way tools print it).
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }
}

impl fmt::Debug for Isid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Isid({self})")
    }
}

impl fmt::Display for Isid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Logical unit number as carried in bytes 8–15 of a BHS (SAM-5 §4.7): eight
/// bytes in the SCSI LUN structure, not a plain integer.
///
/// [`Lun::from_index`] and [`Lun::index`] convert to and from the small
/// numbers people use, with SAM peripheral device addressing for 0–255 and
/// flat space addressing for 256–16383 (what Linux and Windows expect).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// The highest index [`Lun::from_index`] accepts (flat space addressing).
    pub const MAX_INDEX: u16 = 0x3fff;

    /// LUN `index` in SAM addressing: peripheral device addressing (method
    /// 00b) below 256, flat space addressing (method 01b) up to 16383.
    /// Returns `None` above 16383.
    #[must_use]
    pub const fn from_index(index: u16) -> Option<Self> {
        if index < 256 {
            Some(Self([0, index as u8, 0, 0, 0, 0, 0, 0]))
        } else if index <= Self::MAX_INDEX {
            Some(Self([
                0x40 | (index >> 8) as u8,
                index as u8,
                0,
                0,
                0,
                0,
                0,
                0,
            ]))
        } else {
            None
        }
    }

    /// The LUN as a small number when it uses single-level peripheral or
    /// flat space addressing; `None` for other addressing methods or
    /// multi-level LUNs.
    #[must_use]
    pub const fn index(self) -> Option<u16> {
        let b = self.0;
        if b[2] != 0 || b[3] != 0 || b[4] != 0 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
            return None;
        }
        match b[0] >> 6 {
            0b00 if b[0] == 0 => Some(b[1] as u16),
            0b01 => Some((((b[0] & 0x3f) as u16) << 8) | b[1] as u16),
            _ => None,
        }
    }

    /// The eight bytes as a big-endian number.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The LUN from the eight bytes as a big-endian number.
    #[must_use]
    pub const fn from_u64(raw: u64) -> Self {
        Self(raw.to_be_bytes())
    }
}

impl fmt::Debug for Lun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index() {
            Some(i) => write!(f, "Lun({i})"),
            None => write!(f, "Lun({:#018x})", self.as_u64()),
        }
    }
}

impl fmt::Display for Lun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index() {
            Some(i) => write!(f, "{i}"),
            None => write!(f, "{:#018x}", self.as_u64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1982_comparisons_wrap() {
        assert!(CmdSn(1).is_before(CmdSn(2)));
        assert!(CmdSn(0xffff_ffff).is_before(CmdSn(0)));
        assert!(CmdSn(0).is_after(CmdSn(0xffff_fff0)));
        assert_eq!(CmdSn(5).serial_cmp(CmdSn(5)), Some(Ordering::Equal));
        // Exactly 2^31 apart: undefined.
        assert_eq!(CmdSn(0).serial_cmp(CmdSn(0x8000_0000)), None);
        assert!(!CmdSn(0).is_before(CmdSn(0x8000_0000)));
        assert!(!CmdSn(0).is_after(CmdSn(0x8000_0000)));
        assert!(CmdSn(0).in_window(CmdSn(0xffff_fffe), CmdSn(3)));
        assert!(!CmdSn(4).in_window(CmdSn(0xffff_fffe), CmdSn(3)));
        assert_eq!(CmdSn(2).distance_from(CmdSn(0xffff_ffff)), 3);
        assert_eq!(StatSn(u32::MAX).next(), StatSn(0));
    }

    #[test]
    fn lun_addressing_round_trips() {
        assert_eq!(Lun::from_index(0), Some(Lun([0; 8])));
        assert_eq!(Lun::from_index(5).map(|l| l.0[1]), Some(5));
        let flat = Lun::from_index(0x1234).unwrap();
        assert_eq!(flat.0[0], 0x52);
        assert_eq!(flat.0[1], 0x34);
        for i in [0u16, 1, 255, 256, 1000, 0x3fff] {
            assert_eq!(Lun::from_index(i).and_then(Lun::index), Some(i));
        }
        assert_eq!(Lun::from_index(0x4000), None);
        assert_eq!(Lun([0x80, 0, 0, 0, 0, 0, 0, 0]).index(), None);
        assert_eq!(format!("{:?}", Lun::from_index(3).unwrap()), "Lun(3)");
    }

    #[test]
    fn random_isid_layout() {
        let isid = Isid::random(0x00ab_cdef, 0x1234);
        assert_eq!(isid.0, [0x80, 0xab, 0xcd, 0xef, 0x12, 0x34]);
        assert_eq!(isid.isid_type(), Isid::TYPE_RANDOM);
        assert_eq!(isid.qualifier(), 0x1234);
        assert_eq!(isid.to_string(), "80abcdef1234");
        assert_eq!(isid.as_u64(), 0x80ab_cdef_1234);
    }
}
