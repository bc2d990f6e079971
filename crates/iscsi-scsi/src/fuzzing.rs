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

/// `scsi_data`: arbitrary bytes as the data an initiator reads back —
/// standard INQUIRY and every VPD page, READ CAPACITY(10/16), REPORT
/// LUNS, MODE SENSE(6/10), REPORT SUPPORTED OPERATION CODES, PERSISTENT
/// RESERVE IN (keys, reservation, capabilities, full status) and OUT, GET
/// LBA STATUS, the third-party copy data (VPD 8Fh, EXTENDED COPY parameter
/// lists, RECEIVE COPY RESULTS), sense data. No parser
/// panics; sense data that parses encodes, in either format, to bytes
/// that parse again.
pub fn scsi_data(data: &[u8]) {
    use crate::initiator::{
        BlockDeviceCharacteristics, BlockLimits, DeviceIdentification, ExtendedInquiry, LbaStatus,
        LogicalBlockProvisioning, ModeParameters, PrReadKeys, PrReadReservation, ReadCapacity10,
        ReadCapacity16, ReportLuns, StandardInquiry, SupportedOperationCodes, SupportedVpdPages,
        UnitSerialNumber, VpdPage,
    };
    let _ = StandardInquiry::parse(data);
    let _ = SupportedVpdPages::parse(data);
    let _ = UnitSerialNumber::parse(data);
    let _ = DeviceIdentification::parse(data);
    let _ = ExtendedInquiry::parse(data);
    let _ = BlockLimits::parse(data);
    let _ = BlockDeviceCharacteristics::parse(data);
    let _ = LogicalBlockProvisioning::parse(data);
    let _ = VpdPage::parse(data);
    let _ = ReadCapacity10::parse(data);
    let _ = ReadCapacity16::parse(data);
    let _ = ReportLuns::parse(data);
    let _ = ModeParameters::parse6(data);
    let _ = ModeParameters::parse10(data);
    let _ = SupportedOperationCodes::parse(data);
    let _ = PrReadKeys::parse(data);
    let _ = PrReadReservation::parse(data);
    let _ = LbaStatus::parse(data);
    let _ = crate::data::OneCommand::parse(data);
    let _ = crate::data::PrCapabilities::parse(data);
    let _ = crate::data::PrFullStatus::parse(data);
    let _ = crate::data::PrOutParameterList::parse(data);
    let _ = crate::data::InformationalExceptionsPage::parse(data);
    let _ = crate::data::ThirdPartyCopy::parse(data);
    let _ = crate::data::ReportTargetPortGroups::parse(data);
    let _ = crate::data::SetTargetPortGroups::parse(data);
    let _ = crate::data::parse_iscsi_transport_id(data);
    if let Ok(list) = crate::data::RegisterAndMoveParameterList::parse(data) {
        assert_eq!(
            crate::data::RegisterAndMoveParameterList::parse(&list.encode()),
            Ok(list)
        );
    }
    let _ = crate::data::CopyStatus::parse(data);
    let _ = crate::data::OperatingParameters::parse(data);
    let _ = crate::data::FailedSegmentDetails::parse(data);
    // An EXTENDED COPY parameter list that parses encodes to one that
    // parses again.
    if let Ok(list) = crate::data::ExtendedCopyParameters::parse(data) {
        assert!(crate::data::ExtendedCopyParameters::parse(&list.encode()).is_ok());
    }
    if let Ok(sense) = Sense::parse(data) {
        for format in [crate::SenseFormat::Fixed, crate::SenseFormat::Descriptor] {
            let bytes = sense.encode(format);
            assert!(
                Sense::parse(&bytes).is_ok(),
                "{sense:?} encoded as {format:?} does not parse: {bytes:02x?}"
            );
        }
    }
}

/// Seeds for `scsi_data`: what our unit answers to INQUIRY (standard and
/// each VPD page), READ CAPACITY(10/16), MODE SENSE(6/10), REPORT SUPPORTED
/// OPERATION CODES, PR IN, GET LBA STATUS, and fixed and descriptor sense.
#[must_use]
pub fn scsi_data_seeds() -> Vec<(String, Vec<u8>)> {
    let lu = LogicalUnit::new(
        Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
        LuConfig::new("iqn.2026-11.rs.iscsi:fuzz", "FUZZ"),
    );
    let nexus = Nexus::new(1, "iqn.2026-11.rs.iscsi:a,i,0x1", 1);
    lu.add_nexus(&nexus);
    let run = |cdb: &[u8]| lu.execute(&Request::new(&nexus, cdb, &[]));
    // The power-on unit attention, as sense data in both formats.
    let attention = run(&[0; 6]);
    let sense = attention.sense.expect("a unit attention");
    let mut seeds = vec![
        (
            "sense-fixed".to_owned(),
            sense.encode(crate::SenseFormat::Fixed).to_vec(),
        ),
        (
            "sense-descriptor".to_owned(),
            sense.encode(crate::SenseFormat::Descriptor).to_vec(),
        ),
    ];
    let commands: [(&str, Vec<u8>); 14] = [
        ("inquiry", vec![0x12, 0, 0, 0x01, 0, 0]),
        ("vpd-00", vec![0x12, 1, 0x00, 0x01, 0, 0]),
        ("vpd-80", vec![0x12, 1, 0x80, 0x01, 0, 0]),
        ("vpd-83", vec![0x12, 1, 0x83, 0x01, 0, 0]),
        ("vpd-86", vec![0x12, 1, 0x86, 0x01, 0, 0]),
        ("vpd-b0", vec![0x12, 1, 0xb0, 0x01, 0, 0]),
        ("vpd-b1", vec![0x12, 1, 0xb1, 0x01, 0, 0]),
        ("vpd-b2", vec![0x12, 1, 0xb2, 0x01, 0, 0]),
        ("read-capacity-10", vec![0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (
            "read-capacity-16",
            vec![0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0],
        ),
        ("mode-sense-6", vec![0x1a, 0, 0x3f, 0, 0xff, 0]),
        ("mode-sense-10", vec![0x5a, 0, 0x3f, 0, 0, 0, 0, 0x10, 0, 0]),
        (
            "supported-opcodes",
            vec![0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0],
        ),
        (
            "get-lba-status",
            vec![0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0],
        ),
    ];
    for (name, cdb) in commands {
        let response = run(&cdb);
        assert!(!response.data.is_empty(), "{name}: {response:?}");
        seeds.push((name.to_owned(), response.data.to_vec()));
    }
    seeds
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

    #[test]
    fn scsi_data_seeds_parse_and_hold() {
        for (name, seed) in super::scsi_data_seeds() {
            super::scsi_data(&seed);
            assert!(seed.len() >= 4, "{name}");
        }
        for n in 0..64 {
            super::scsi_data(&vec![0xff; n]);
            super::scsi_data(&vec![0; n]);
        }
    }

    /// The committed seeds of `fuzz/seeds/scsi_data` are these;
    /// `UPDATE_SEEDS=1` rewrites them.
    #[test]
    fn committed_scsi_data_seeds_are_current() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/scsi_data");
        for (name, seed) in super::scsi_data_seeds() {
            let path = dir.join(&name);
            if std::env::var_os("UPDATE_SEEDS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &seed).unwrap();
            }
            let committed = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SEEDS=1 writes it)", path.display()));
            assert_eq!(committed, seed, "{name} is stale: run with UPDATE_SEEDS=1");
        }
    }
}
