//! Tests of the data types: parsers on real targets' data and on anything
//! (`parse_*`), and encoders against the bytes the logical unit answers
//! with today and round trips (`encode_*`).

mod encode_lu;
mod encode_roundtrip;
mod parse_other;
mod parse_vpd;
