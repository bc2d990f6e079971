//! Fuzzing properties, shared by the `fuzz/` targets (thin wrappers) and by
//! unit tests that run them on seeds. Each function panics when the property
//! fails; that is how a fuzzer learns of a bug.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a failed property must abort the fuzz run"
)]

use arbitrary::{Arbitrary, Unstructured};
use bytes::BytesMut;

use crate::{Decoded, Digests, FrameLimits, Framer, Pdu, PduRef, text};

fn digests_from(selector: u8) -> Digests {
    Digests {
        header: selector & 1 != 0,
        data: selector & 2 != 0,
    }
}

/// `pdu_parse`: any bytes. The first byte selects the digests. Parsing must
/// not panic; whatever parses re-encodes to bytes that parse to the same
/// value, and those bytes are a fixed point of parse∘encode. (The bytes
/// need not equal the input: reserved bits are normalised to zero.) The
/// framer must agree with the slice parser.
pub fn pdu_parse(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let digests = digests_from(selector);
    let parsed = PduRef::parse(input, digests);

    let mut buf = BytesMut::from(input);
    let mut framer = Framer::new(
        FrameLimits::default()
            .with_digests(digests)
            .with_max_recv_data_segment_length(crate::MAX_DATA_SEGMENT_LENGTH),
    );
    let framed = framer.decode(&mut buf);

    let Ok((pdu, used)) = parsed else {
        if let Ok(Decoded::Frame(frame)) = framed {
            assert!(
                frame.parse().is_err(),
                "framer accepted what the parser refused"
            );
        }
        return;
    };
    match framed {
        Ok(Decoded::Frame(frame)) => {
            let via_frame = frame.parse().expect("framer result parses");
            assert!(via_frame.same_as(&pdu), "framer and parser disagree");
            assert_eq!(
                buf.len(),
                input.len() - used,
                "framer consumed a different length"
            );
        }
        other => panic!("parser accepted {used} bytes, framer said {other:?}"),
    }

    let wire = pdu.to_vec(digests).expect("a parsed PDU encodes");
    let (again, used_again) = PduRef::parse(&wire, digests).expect("re-encoded PDU parses");
    assert_eq!(used_again, wire.len());
    assert!(again.same_as(&pdu), "parse(encode(pdu)) != pdu");
    assert_eq!(
        again.to_vec(digests).unwrap(),
        wire,
        "encoding is not stable"
    );
}

/// `pdu_roundtrip`: an arbitrary PDU. When its header is valid, encoding and
/// parsing give it back exactly; when not, parsing its encoding fails.
pub fn pdu_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(selector) = u8::arbitrary(&mut u) else {
        return;
    };
    let Ok(pdu) = Pdu::<Vec<u8>>::arbitrary(&mut u) else {
        return;
    };
    let digests = digests_from(selector);
    let wire = pdu
        .to_vec(digests)
        .expect("arbitrary PDUs fit their length fields");
    assert_eq!(wire.len(), pdu.encoded_len(digests));
    match (pdu.bhs.validate(), PduRef::parse(&wire, digests)) {
        (Ok(()), Ok((parsed, used))) => {
            assert_eq!(used, wire.len());
            assert!(parsed.same_as(&pdu), "{pdu:?} came back as {parsed:?}");
        }
        (Err(_), Err(_)) => {}
        (expected, got) => panic!("validate: {expected:?}, parse: {got:?}"),
    }
}

/// `framer_split`: feeding a stream of PDUs in arbitrary chunks yields the
/// same frames as feeding it at once.
pub fn framer_split(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some((&chunk, stream)) = rest.split_first() else {
        return;
    };
    let limits = FrameLimits::default()
        .with_digests(digests_from(selector))
        .with_max_recv_data_segment_length(1 << 16);
    let drain = |framer: &mut Framer, buf: &mut BytesMut, out: &mut Vec<String>| loop {
        match framer.decode(buf) {
            Ok(Decoded::Frame(frame)) => out.push(format!("{frame:?}")),
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed > 0);
                return true;
            }
            Err(e) => {
                out.push(format!("{e:?}"));
                return false;
            }
        }
    };

    let mut whole = Vec::new();
    let mut framer = Framer::new(limits);
    let mut buf = BytesMut::from(stream);
    drain(&mut framer, &mut buf, &mut whole);

    let mut pieces = Vec::new();
    let mut framer = Framer::new(limits);
    let mut buf = BytesMut::new();
    for part in stream.chunks(usize::from(chunk).max(1)) {
        buf.extend_from_slice(part);
        if !drain(&mut framer, &mut buf, &mut pieces) {
            break;
        }
    }
    assert_eq!(whole, pieces);
}

/// `text_parse`: any bytes. Parsing must not panic; what parses re-encodes
/// to text that parses to the same pairs.
pub fn text_parse(data: &[u8]) {
    let Ok(pairs) = text::parse_text(data) else {
        return;
    };
    let mut out = BytesMut::new();
    text::encode_text(pairs.iter().copied(), &mut out);
    let again = text::parse_text(&out).expect("encoded text parses");
    assert_eq!(pairs, again);
    for (_, value) in &pairs {
        let _ = text::parse_numerical(value);
        let _ = text::parse_binary(value);
        let _ = text::parse_range(value);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn properties_hold_on_seeds() {
        let seeds: [&[u8]; 5] = [
            &[],
            &[0; 60],
            &[3, 0x43, 0x87, 0, 0, 0, 0, 0, 8],
            b"\x01\x02\x03\x04\x05\x06\x07",
            b"A=1\0B=0x1f\0C=0bAQID\0",
        ];
        for seed in seeds {
            super::pdu_parse(seed);
            super::pdu_roundtrip(seed);
            super::framer_split(seed);
            super::text_parse(seed);
        }
        let mut rng = 0x1234_5678_u32;
        for _ in 0..2000 {
            let data: Vec<u8> = (0..300)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 17;
                    rng ^= rng << 5;
                    rng as u8
                })
                .collect();
            super::pdu_parse(&data);
            super::pdu_roundtrip(&data);
            super::framer_split(&data);
            super::text_parse(&data);
        }
    }
}
