#![no_main]
//! `scsi_data`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    iscsi_scsi::fuzzing::scsi_data(std::hint::black_box(data));
});
