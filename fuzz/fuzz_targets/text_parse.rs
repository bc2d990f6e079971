#![no_main]
//! `text_parse`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    iscsi_pdu::fuzzing::text_parse(std::hint::black_box(data));
});
