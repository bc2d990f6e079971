//! Fuzzing properties, shared by the `scsi_cdb` fuzz target and unit tests.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a failed property must abort the fuzz run"
)]

use std::sync::Arc;

use bytes::Bytes;

use crate::{LogicalUnit, LuConfig, MemoryBackend, Nexus, Request, Sense, Status};

/// `scsi_cdb`: a few commands (arbitrary CDB, arbitrary Data-Out, one of
/// two nexuses) against a fresh 1 MiB memory unit. Nothing panics; every
/// CHECK CONDITION carries sense data that parses back to the same sense;
/// GOOD never carries sense; no response is larger than the largest
/// transfer allowed.
pub fn scsi_cdb(data: &[u8]) {
    let lu = LogicalUnit::new(
        Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
        LuConfig::new("iqn.2026-11.rs.iscsi:fuzz", "FUZZ"),
    );
    let nexuses = [
        Nexus::new(1, "iqn.2026-11.rs.iscsi:a,i,0x1", 1),
        Nexus::new(2, "iqn.2026-11.rs.iscsi:b,i,0x2", 2),
    ];
    for n in &nexuses {
        lu.add_nexus(n);
    }
    let mut rest = data;
    for _ in 0..4 {
        let Some((&head, tail)) = rest.split_first() else {
            return;
        };
        let cdb_len = [6usize, 10, 12, 16][usize::from(head & 3)];
        let nexus = &nexuses[usize::from(head >> 7)];
        let data_len = usize::from((head >> 2) & 0x1f) * 37;
        let cdb = &tail[..cdb_len.min(tail.len())];
        let after = &tail[cdb.len()..];
        let out = &after[..data_len.min(after.len())];
        rest = &after[out.len()..];
        let payload = [Bytes::copy_from_slice(out)];
        let response = lu.execute(&Request::new(nexus, cdb, &payload));
        match response.status {
            Status::CHECK_CONDITION => {
                let sense = response.sense.expect("CHECK CONDITION without sense");
                let bytes = response.sense_data().unwrap();
                assert_eq!(Sense::parse(&bytes).unwrap(), sense);
            }
            _ => assert!(response.sense.is_none(), "{response:?}"),
        }
        assert!(response.data.len() <= crate::MAX_TRANSFER_BYTES);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn property_holds_on_pseudo_random_commands() {
        let mut rng = 0x2545_f491_u32;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        for _ in 0..20_000 {
            let mut data: Vec<u8> = (0..120).map(|_| next() as u8).collect();
            // Steer the first byte of each CDB to opcodes the unit knows.
            let known = [
                0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x1a, 0x28, 0x2a, 0x2f, 0x35, 0x41, 0x42, 0x5e,
                0x5f, 0x88, 0x89, 0x8a, 0x8b, 0x93, 0x9c, 0x9e, 0xa3, 0xa8,
            ];
            data[1] = known[(next() as usize) % known.len()];
            super::scsi_cdb(&data);
        }
    }
}
