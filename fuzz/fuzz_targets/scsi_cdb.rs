#![no_main]
//! `scsi_cdb`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    iscsi_scsi::fuzzing::scsi_cdb(std::hint::black_box(data));
});
