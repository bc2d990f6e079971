//! The login machines against bytes real peers sent (captured with tshark
//! between libiscsi 1.19 and tgtd 1.0.85; see
//! `crates/iscsi-pdu/tests/vectors/README.md`).

use bytes::BytesMut;
use iscsi_login::{
    AuthConfig, FixedChallengeSource, InitiatorLogin, InitiatorLoginConfig, LoginEvent,
    SessionParams, SessionType, TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{Bhs, Decoded, FrameLimits, Framer, PduBuf, Tsih};

fn first_pdu(stream: &[u8]) -> PduBuf {
    let mut buf = BytesMut::from(stream);
    let Ok(Decoded::Frame(frame)) = Framer::new(FrameLimits::default()).decode(&mut buf) else {
        panic!("captured stream starts with a whole PDU")
    };
    frame.parse().expect("captured PDU parses")
}

struct Tgt;
impl TargetPolicy for Tgt {
    fn target(&self, name: &str) -> TargetLookup {
        if name == "iqn.2024-01.test.tgt:disk1" {
            TargetLookup::Found {
                auth: AuthConfig::none(),
                alias: None,
            }
        } else {
            TargetLookup::NotFound
        }
    }
}

fn complete(events: impl Iterator<Item = LoginEvent>) -> Option<Box<SessionParams>> {
    events
        .filter_map(|e| match e {
            LoginEvent::Complete(p) => Some(p),
            _ => None,
        })
        .next()
}

#[test]
fn libiscsi_login_requests_complete_against_our_target() {
    for (stream, session_type) in [
        (
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-iscsi-ls-discovery.i2t.bin")[..],
            SessionType::Discovery,
        ),
        (
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-iscsi-ls-normal.i2t.bin")[..],
            SessionType::Normal,
        ),
        (
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-readcap16-hdrdigest.i2t.bin")[..],
            SessionType::Normal,
        ),
    ] {
        let request = first_pdu(stream);
        let mut target = TargetLogin::new(
            TargetLoginConfig::default(),
            Box::new(FixedChallengeSource::new(1)),
        );
        target
            .handle_pdu(&request, &Tgt)
            .expect("libiscsi's login is accepted");
        // The deployment answers the session request with its TSIH.
        assert!(target.awaits_session());
        target
            .accept_session(Tsih(3))
            .expect("the session is accepted");
        let response = target.poll_transmit().expect("a response");
        let Bhs::LoginResponse(h) = response.bhs else {
            panic!()
        };
        assert!(h.transit, "one round trip, as with tgtd");
        assert_eq!(h.tsih, Tsih(3));
        let answers = TextPairs::parse(&response.data).unwrap();
        let offered = TextPairs::parse(&request.data).unwrap();
        // Every negotiable key libiscsi offered is answered.
        for (key, _) in offered.iter() {
            if iscsi_login::keys::lookup(key).is_some_and(|d| {
                !matches!(
                    d.kind,
                    iscsi_login::keys::KeyKind::DeclarativeText
                        | iscsi_login::keys::KeyKind::DeclarativeNumber { .. }
                )
            }) {
                assert!(
                    answers.get(key).is_some(),
                    "{key} not answered: {answers:?}"
                );
            }
        }
        assert_eq!(answers.get("IFMarker"), Some("No"));
        let params = complete(std::iter::from_fn(|| target.poll_event())).expect("complete");
        assert_eq!(params.session_type, session_type);
        assert!(
            params
                .initiator_name
                .starts_with("iqn.2007-10.com.github:sahlberg:libiscsi")
        );
        assert_eq!(params.initiator_max_recv_data_segment_length, 262_144);
    }
}

#[test]
fn tgtd_login_responses_complete_our_initiator() {
    for (request, response, target, digest) in [
        (
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-iscsi-ls-normal.i2t.bin")[..],
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-iscsi-ls-normal.t2i.bin")[..],
            Some("iqn.2024-01.test.tgt:disk1"),
            false,
        ),
        (
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-iscsi-ls-discovery.i2t.bin")[..],
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-iscsi-ls-discovery.t2i.bin")[..],
            None,
            false,
        ),
        (
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-readcap16-hdrdigest.i2t.bin")[..],
            &include_bytes!("../../iscsi-pdu/tests/vectors/tgtd-readcap16-hdrdigest.t2i.bin")[..],
            Some("iqn.2024-01.test.tgt:disk1"),
            true,
        ),
    ] {
        let Bhs::LoginRequest(captured) = first_pdu(request).bhs else {
            panic!()
        };
        let mut config = match target {
            Some(t) => InitiatorLoginConfig::normal("iqn.2026-11.rs.iscsi:test", t, captured.isid),
            None => InitiatorLoginConfig::discovery("iqn.2026-11.rs.iscsi:test", captured.isid),
        };
        config.itt = captured.itt;
        config.cmd_sn = captured.cmd_sn;
        let mut initiator = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(1)));
        let _ = initiator.poll_transmit();
        initiator
            .handle_pdu(&first_pdu(response))
            .expect("tgtd's answer is acceptable");
        assert!(initiator.is_complete());
        let params = complete(std::iter::from_fn(|| initiator.poll_event())).expect("complete");
        assert_ne!(params.tsih, Tsih(0));
        assert_eq!(params.header_digest, digest);
        assert!(!params.data_digest);
        assert_eq!(params.target_portal_group_tag, Some(1));
        if target.is_some() {
            assert_eq!(params.max_burst_length, 262_144);
            assert_eq!(params.first_burst_length, 65_536);
            assert!(params.initial_r2t);
            // tgtd does not declare MaxRecvDataSegmentLength: 8192 applies.
            assert_eq!(params.target_max_recv_data_segment_length, 8192);
        }
        assert_eq!(
            initiator.received_text().get("HeaderDigest"),
            Some(if digest { "CRC32C" } else { "None" })
        );
    }
}
