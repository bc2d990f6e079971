#![no_main]
//! `pdu_roundtrip`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    iscsi_pdu::fuzzing::pdu_roundtrip(std::hint::black_box(data));
});
