#![no_main]
//! `login_target`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _reached_full_feature_phase =
        iscsi_login::fuzzing::login_target(std::hint::black_box(data));
});
