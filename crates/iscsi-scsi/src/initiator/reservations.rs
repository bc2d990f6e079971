//! PERSISTENT RESERVE IN parameter data (SPC-4 §6.15).

use super::*;

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
        let additional_length = be32(data, 4);
        let end = usize::try_from(additional_length)
            .unwrap_or(usize::MAX)
            .saturating_add(8);
        Ok(Self {
            generation: be32(data, 0),
            additional_length,
            keys: span(data, 8, end)
                .chunks_exact(8)
                .map(|c| be64(c, 0))
                .collect(),
        })
    }
}

/// The persistent reservation READ RESERVATION reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PrReservation {
    /// RESERVATION KEY (bytes 8–15) of the holder.
    pub key: u64,
    /// SCOPE (byte 21 bits 7–4): 0 LU_SCOPE.
    pub scope: u8,
    /// TYPE (byte 21 bits 3–0); see [`PrReservation::reservation_type`].
    pub pr_type: u8,
}

impl PrReservation {
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
    /// Parses READ RESERVATION data.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 8 bytes, or fewer than 24
    /// when ADDITIONAL LENGTH announces a reservation.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("READ RESERVATION data", data, 8)?;
        let reservation = if be32(data, 4) >= 16 {
            need("READ RESERVATION data", data, 24)?;
            Some(PrReservation {
                key: be64(data, 8),
                scope: byte(data, 21) >> 4,
                pr_type: byte(data, 21) & 0x0f,
            })
        } else {
            None
        };
        Ok(Self {
            generation: be32(data, 0),
            reservation,
        })
    }
}
