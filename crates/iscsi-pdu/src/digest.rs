//! CRC32C header and data digests (RFC 7143 §11.1, App. B; RFC 3385) and the
//! 4-byte padding of data segments and AHS.
//!
//! The digest is the standard CRC32C (Castagnoli) of the covered bytes, sent
//! least significant byte first: 32 zero bytes give the wire bytes
//! `aa 36 91 8a` (RFC 3720 §B.4). The `crc32c` crate uses SSE 4.2 / ARMv8 CRC
//! instructions when the CPU has them.

/// Which digests were negotiated (HeaderDigest, DataDigest keys, RFC 7143
/// §13.1). Both are `false` before and during login.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
#[allow(
    clippy::exhaustive_structs,
    reason = "RFC 7143 defines exactly two digests"
)]
pub struct Digests {
    /// HeaderDigest=CRC32C: 4 bytes after the BHS and AHS.
    pub header: bool,
    /// DataDigest=CRC32C: 4 bytes after the padded data segment.
    pub data: bool,
}

impl Digests {
    /// No digests (the state during login).
    pub const NONE: Self = Self {
        header: false,
        data: false,
    };
    /// Both digests.
    pub const BOTH: Self = Self {
        header: true,
        data: true,
    };

    /// Bytes the header digest adds: 0 or 4.
    #[must_use]
    pub const fn header_len(self) -> usize {
        if self.header { DIGEST_LEN } else { 0 }
    }

    /// Bytes the data digest adds to a data segment of `data_len` bytes: 0 or 4
    /// (no digest is sent for an empty data segment).
    #[must_use]
    pub const fn data_len(self, data_len: usize) -> usize {
        if self.data && data_len > 0 {
            DIGEST_LEN
        } else {
            0
        }
    }
}

/// Length of a digest in bytes.
pub const DIGEST_LEN: usize = 4;

/// CRC32C of `bytes`.
#[must_use]
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// CRC32C continued over more bytes: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`.
#[must_use]
pub fn crc32c_append(crc: u32, bytes: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, bytes)
}

/// Digest of a data segment including its zero padding, as RFC 7143 §11.1
/// requires.
#[must_use]
pub fn data_digest(data: &[u8]) -> u32 {
    const ZEROS: [u8; 3] = [0; 3];
    let crc = crc32c(data);
    crc32c_append(crc, ZEROS.get(..padding(data.len())).unwrap_or(&[]))
}

/// Padding bytes (0–3) that bring `len` to a multiple of 4.
#[must_use]
pub const fn padding(len: usize) -> usize {
    (4 - (len % 4)) % 4
}

/// `len` rounded up to a multiple of 4.
#[must_use]
pub const fn padded(len: usize) -> usize {
    len + padding(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3720 §B.4 test vectors: the CRC as it appears on the wire.
    #[test]
    fn rfc3720_appendix_b4_vectors() {
        let wire = |bytes: &[u8]| crc32c(bytes).to_le_bytes();
        assert_eq!(wire(&[0u8; 32]), [0xaa, 0x36, 0x91, 0x8a]);
        assert_eq!(wire(&[0xffu8; 32]), [0x43, 0xab, 0xa8, 0x62]);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(wire(&inc), [0x4e, 0x79, 0xdd, 0x46]);
        let dec: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(wire(&dec), [0x5c, 0xdb, 0x3f, 0x11]);
        let scsi_read = [
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(wire(&scsi_read), [0x56, 0x3a, 0x96, 0xd9]);
    }

    #[test]
    fn padding_and_data_digest_cover_the_pad() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 3);
        assert_eq!(padding(4), 0);
        assert_eq!(padded(5), 8);
        assert_eq!(data_digest(b"abcde"), crc32c(b"abcde\0\0\0"));
        assert_eq!(Digests::BOTH.data_len(0), 0);
        assert_eq!(Digests::BOTH.data_len(1), 4);
        assert_eq!(Digests::NONE.header_len(), 0);
    }
}
