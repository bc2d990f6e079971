//! Helpers the logical-unit test files share.

#![allow(dead_code, reason = "each test file uses a different part")]

use bytes::Bytes;
use iscsi_scsi::{Asc, LogicalUnit, Nexus, Request, Response, SenseKey, Status};

/// `cdb` from `n` with `data` as its Data-Out (none when empty).
pub(crate) fn run(lu: &LogicalUnit, n: &Nexus, cdb: &[u8], data: &[u8]) -> Response {
    let out = [Bytes::copy_from_slice(data)];
    let out: &[Bytes] = if data.is_empty() { &[] } else { &out };
    lu.execute(&Request::new(n, cdb, out))
}

/// CHECK CONDITION with `key` and `asc`.
#[track_caller]
pub(crate) fn assert_sense(r: &Response, key: SenseKey, asc: Asc) {
    assert_eq!(r.status, Status::CHECK_CONDITION, "{r:?}");
    let s = r.sense.expect("sense data");
    assert_eq!((s.key, s.asc), (key, asc), "{r:?}");
}
