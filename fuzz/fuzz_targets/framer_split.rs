#![no_main]
//! `framer_split`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    iscsi_pdu::fuzzing::framer_split(std::hint::black_box(data));
});
