#![no_main]
//! `target_connection`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _outcome = iscsi_target::fuzzing::target_connection(std::hint::black_box(data));
});
