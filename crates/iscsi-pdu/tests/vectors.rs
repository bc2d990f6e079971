//! Known-answer tests on PDU streams captured between real peers (libiscsi
//! and tgtd; see `vectors/README.md`): every PDU frames, parses, matches the
//! capture and re-encodes byte for byte.

use bytes::BytesMut;
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    Bhs, Decoded, Digests, FrameLimits, Framer, LoginStage, LoginStatus, Opcode, PduBuf, ScsiStatus,
};

/// Frames a whole captured stream. Digests switch on after the Login PDU
/// that moves to full feature phase, as negotiated in that capture.
fn frames(stream: &[u8], negotiated: Digests) -> Vec<PduBuf> {
    let mut framer = Framer::new(FrameLimits::default().with_max_recv_data_segment_length(262_144));
    let mut buf = BytesMut::from(stream);
    let mut offset = 0;
    let mut pdus = Vec::new();
    loop {
        let before = buf.len();
        match framer.decode(&mut buf).expect("captured stream frames") {
            Decoded::Frame(frame) => {
                let used = before - buf.len();
                let pdu = frame.parse().expect("captured PDU parses");
                let digests = framer.limits().digests;
                let original = &stream[offset..offset + used];
                assert_eq!(
                    pdu.to_vec(digests).expect("encodes"),
                    original,
                    "PDU at byte {offset} ({:?}) does not re-encode byte for byte",
                    pdu.opcode()
                );
                offset += used;
                let to_ffp = match pdu.bhs {
                    Bhs::LoginRequest(h) => h.transit && h.nsg == LoginStage::FULL_FEATURE_PHASE,
                    Bhs::LoginResponse(h) => h.transit && h.nsg == LoginStage::FULL_FEATURE_PHASE,
                    _ => false,
                };
                if to_ffp {
                    framer.set_limits(framer.limits().with_digests(negotiated));
                }
                pdus.push(pdu);
            }
            Decoded::Incomplete { needed } => {
                assert!(
                    buf.is_empty(),
                    "{} trailing bytes, {needed} more wanted",
                    buf.len()
                );
                return pdus;
            }
        }
    }
}

fn opcodes(pdus: &[PduBuf]) -> Vec<Opcode> {
    pdus.iter().map(PduBuf::opcode).collect()
}

fn text(pdu: &PduBuf) -> TextPairs {
    TextPairs::parse(&pdu.data).expect("text segment parses")
}

#[test]
fn tgtd_discovery_session_from_iscsi_ls() {
    let i2t = frames(
        include_bytes!("vectors/tgtd-iscsi-ls-discovery.i2t.bin"),
        Digests::NONE,
    );
    let t2i = frames(
        include_bytes!("vectors/tgtd-iscsi-ls-discovery.t2i.bin"),
        Digests::NONE,
    );
    assert_eq!(
        opcodes(&i2t),
        [
            Opcode::LOGIN_REQUEST,
            Opcode::TEXT_REQUEST,
            Opcode::LOGOUT_REQUEST
        ]
    );
    assert_eq!(
        opcodes(&t2i),
        [
            Opcode::LOGIN_RESPONSE,
            Opcode::TEXT_RESPONSE,
            Opcode::LOGOUT_RESPONSE
        ]
    );

    let Bhs::LoginRequest(login) = i2t[0].bhs else {
        panic!()
    };
    assert!(login.transit);
    assert_eq!(login.csg, LoginStage::OPERATIONAL_NEGOTIATION);
    assert_eq!(login.nsg, LoginStage::FULL_FEATURE_PHASE);
    assert_eq!(login.tsih.0, 0);
    let keys = text(&i2t[0]);
    assert_eq!(keys.get("SessionType"), Some("Discovery"));
    assert!(
        keys.get("InitiatorName")
            .is_some_and(|n| n.starts_with("iqn.2007-10.com.github:sahlberg"))
    );

    let Bhs::LoginResponse(resp) = t2i[0].bhs else {
        panic!()
    };
    assert_eq!(resp.status, LoginStatus::SUCCESS);
    assert_ne!(resp.tsih.0, 0);
    assert_eq!(resp.isid, login.isid);

    assert_eq!(text(&i2t[1]).get("SendTargets"), Some("All"));
    let targets = text(&t2i[1]);
    assert_eq!(
        targets.get("TargetName"),
        Some("iqn.2024-01.test.tgt:disk1")
    );
    assert_eq!(targets.get("TargetAddress"), Some("127.0.0.1:13260,1"));
}

#[test]
fn tgtd_normal_session_from_iscsi_ls() {
    let i2t = frames(
        include_bytes!("vectors/tgtd-iscsi-ls-normal.i2t.bin"),
        Digests::NONE,
    );
    let t2i = frames(
        include_bytes!("vectors/tgtd-iscsi-ls-normal.t2i.bin"),
        Digests::NONE,
    );
    let cdb_opcodes: Vec<u8> = i2t
        .iter()
        .filter_map(|p| match p.bhs {
            Bhs::ScsiCommand(c) => Some(c.cdb[0]),
            _ => None,
        })
        .collect();
    // REPORT LUNS twice, TUR, TUR, INQUIRY on LUN 0 and 1, READ CAPACITY(10).
    assert_eq!(
        cdb_opcodes,
        [0xa0, 0xa0, 0x00, 0x00, 0x12, 0x00, 0x00, 0x12, 0x25]
    );
    // iscsi-ls closes its normal session without a Logout (only the
    // discovery session is logged out), so the stream ends with a command.
    assert_eq!(i2t.first().map(PduBuf::opcode), Some(Opcode::LOGIN_REQUEST));
    assert_eq!(i2t.len(), 10, "{:?}", opcodes(&i2t));
    assert!(t2i.iter().any(|p| matches!(
        p.bhs,
        Bhs::ScsiResponse(r) if r.status == ScsiStatus::CHECK_CONDITION
    )));
    // tgtd collapses status into the last Data-In.
    assert!(t2i.iter().any(|p| matches!(
        p.bhs,
        Bhs::DataIn(d) if d.status == Some(ScsiStatus::GOOD) && d.final_bit
    )));
    // CmdSN advances by one per non-immediate command.
    let cmd_sns: Vec<u32> = i2t
        .iter()
        .filter_map(|p| match p.bhs {
            Bhs::ScsiCommand(c) if !c.immediate => Some(c.cmd_sn.0),
            _ => None,
        })
        .collect();
    assert!(
        cmd_sns.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{cmd_sns:?}"
    );
}

#[test]
fn tgtd_header_digest_session() {
    let i2t = frames(
        include_bytes!("vectors/tgtd-readcap16-hdrdigest.i2t.bin"),
        Digests {
            header: true,
            data: false,
        },
    );
    let t2i = frames(
        include_bytes!("vectors/tgtd-readcap16-hdrdigest.t2i.bin"),
        Digests {
            header: true,
            data: false,
        },
    );
    assert_eq!(text(&t2i[0]).get("HeaderDigest"), Some("CRC32C"));
    assert!(i2t.len() > 3 && t2i.len() > 3);
    assert!(
        i2t.iter()
            .any(|p| matches!(p.bhs, Bhs::ScsiCommand(c) if c.cdb[0] == 0x9e))
    );
    assert_eq!(
        t2i.last().map(PduBuf::opcode),
        Some(Opcode::LOGOUT_RESPONSE)
    );
}
