#![no_main]
//! `initiator_connection`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _outcome = iscsi_initiator::fuzzing::initiator_connection(std::hint::black_box(data));
});
