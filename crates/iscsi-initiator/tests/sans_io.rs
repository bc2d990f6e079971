//! Our initiator's sans-IO connection against our target's, with no
//! sockets: bytes move between two buffers in uneven pieces. Login with
//! digests, writes that need R2Ts, reads, Text, a ping, Logout.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use iscsi_initiator::connection::{Connection as Initiator, Event as IEvent, SessionEvent};
use iscsi_initiator::session::Command;
use iscsi_login::{
    AuthConfig, DigestPolicy, FixedChallengeSource, InitiatorLoginConfig, OperationalConfig,
    TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{Isid, Itt, Lun, Tsih};
use iscsi_scsi::{LogicalUnit, LuConfig, MemoryBackend, Nexus, Request};
use iscsi_target::connection::{
    Connection as Target, ConnectionConfig, Deployment, Event as TEvent,
};
use iscsi_target::engine::{EngineConfig, SendTargetsEntry};

const TARGET: &str = "iqn.2026-11.rs.iscsi:sans-io";
const INITIATOR: &str = "iqn.2026-11.rs.iscsi:sans-io-client";

struct Site {
    lu: LogicalUnit,
}

impl TargetPolicy for Site {
    fn target(&self, name: &str) -> TargetLookup {
        if name == TARGET {
            TargetLookup::Found {
                auth: AuthConfig::none(),
                alias: Some("sans-io".to_owned()),
            }
        } else {
            TargetLookup::NotFound
        }
    }
}

impl Deployment for Site {
    fn data_out_len(&self, lun: Lun, cdb: &[u8], command: &iscsi_scsi::Command) -> usize {
        if lun.index() == Some(0) {
            self.lu.data_out_buffer_size(cdb, command)
        } else {
            0
        }
    }
}

/// Both ends and the bytes in flight between them.
struct Wire {
    initiator: Initiator,
    target: Target,
    site: Site,
    nexus: Option<Nexus>,
    to_target: BytesMut,
    to_initiator: BytesMut,
    /// The receive buffers: a partial PDU waits there for the next piece.
    target_rx: BytesMut,
    initiator_rx: BytesMut,
    /// Size of the pieces bytes move in.
    piece: usize,
    events: Vec<IEvent>,
    now: u64,
}

impl Wire {
    fn new(piece: usize) -> Self {
        let operational = OperationalConfig::default()
            .with_header_digest(DigestPolicy::Require)
            .with_data_digest(DigestPolicy::Require);
        let mut op = operational.clone();
        op.max_recv_data_segment_length = 16_384;
        op.first_burst_length = 16_384;
        op.max_burst_length = 32_768;
        let config = InitiatorLoginConfig::normal(INITIATOR, TARGET, Isid::random(0x42, 1))
            .with_operational(op);
        let initiator = Initiator::new(config, Box::new(FixedChallengeSource::new(9)), 0, 5_000);
        let mut login = TargetLoginConfig::default();
        login.operational = operational;
        login.operational.max_recv_data_segment_length = 8192;
        let mut engine = EngineConfig::default();
        engine.send_targets = vec![SendTargetsEntry::new(
            TARGET,
            vec!["127.0.0.1:3260,1".to_owned()],
        )];
        let target = Target::new(
            ConnectionConfig::new(login, engine, 5_000),
            Box::new(FixedChallengeSource::new(4)),
            0,
        );
        let backend = Arc::new(MemoryBackend::new(4 << 20, 512).unwrap());
        Self {
            initiator,
            target,
            site: Site {
                lu: LogicalUnit::new(backend, LuConfig::new(TARGET, "SANSIO01")),
            },
            nexus: None,
            to_target: BytesMut::new(),
            to_initiator: BytesMut::new(),
            target_rx: BytesMut::new(),
            initiator_rx: BytesMut::new(),
            piece,
            events: Vec::new(),
            now: 0,
        }
    }

    /// Moves bytes both ways, a piece at a time, answering the target's
    /// events as a deployment would, until neither side has anything left.
    fn pump(&mut self) {
        for _ in 0..100_000 {
            self.now += 1;
            while let Some(out) = self.initiator.poll_transmit() {
                self.to_target.extend_from_slice(&out.to_vec());
            }
            while let Some(out) = self.target.poll_transmit() {
                self.to_initiator.extend_from_slice(&out.to_vec());
            }
            let mut moved = false;
            if !self.to_target.is_empty() {
                moved = true;
                let n = self.piece.min(self.to_target.len());
                let piece = self.to_target.split_to(n);
                self.target_rx.extend_from_slice(&piece);
                let mut rx = std::mem::take(&mut self.target_rx);
                while self.target.handle_bytes(self.now, &mut rx, &self.site) {
                    self.answer_target();
                }
                self.answer_target();
                self.target_rx = rx;
            }
            if !self.to_initiator.is_empty() {
                moved = true;
                let n = self.piece.min(self.to_initiator.len());
                let piece = self.to_initiator.split_to(n);
                self.initiator_rx.extend_from_slice(&piece);
                self.initiator
                    .handle_bytes(self.now, &mut self.initiator_rx);
                while let Some(event) = self.initiator.poll_event() {
                    self.events.push(event);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the two connections did not settle");
    }

    fn answer_target(&mut self) {
        while let Some(event) = self.target.poll_event() {
            match event {
                TEvent::SessionRequested(p) => {
                    assert_eq!(p.tsih, Tsih(0));
                    self.target.accept_session(Tsih(0x77));
                }
                TEvent::LoggedIn(p) => {
                    let nexus = Nexus::new(1, format!("{},i,0x{}", p.initiator_name, p.isid), 1);
                    self.site.lu.add_nexus(&nexus);
                    self.nexus = Some(nexus);
                }
                TEvent::Execute(task) => {
                    let nexus = self.nexus.as_ref().expect("logged in");
                    let mut request = Request::new(nexus, &task.cdb, &task.data_out);
                    if let Some(n) = task.announced_data_out {
                        request = request.with_announced_data_out(n);
                    }
                    if let Some(command) = task.command {
                        request = request.with_command(command);
                    }
                    let response = self.site.lu.execute(&request);
                    self.target.complete(task.itt, &response);
                }
                TEvent::TaskManagement { itt, .. } => self
                    .target
                    .complete_task_management(itt, iscsi_pdu::TmfResponseCode::FUNCTION_COMPLETE),
                TEvent::Logout | TEvent::Closed { .. } => {}
                other => panic!("target: {other:?}"),
            }
        }
    }

    /// The result of the command with `itt`.
    fn completed(&mut self, itt: Itt) -> iscsi_initiator::session::ScsiResult {
        let at = self
            .events
            .iter()
            .position(|e| matches!(e, IEvent::Session(SessionEvent::Completed { itt: i, .. }) if *i == itt))
            .unwrap_or_else(|| panic!("no completion for {itt:?}: {:?}", self.events));
        match self.events.remove(at) {
            IEvent::Session(SessionEvent::Completed { result, .. }) => result.unwrap(),
            _ => unreachable!(),
        }
    }
}

fn cdb10(op: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [op, 0, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

#[test]
fn our_initiator_and_target_connections_talk_without_sockets() {
    for piece in [1 << 20, 1000, 7] {
        let mut w = Wire::new(piece);
        w.pump();
        let params = w
            .events
            .iter()
            .find_map(|e| match e {
                IEvent::LoggedIn(p) => Some(p.clone()),
                _ => None,
            })
            .expect("logged in");
        assert_eq!(params.tsih, Tsih(0x77));
        assert!(
            params.digests().header && params.digests().data,
            "{params:?}"
        );
        let lun = Lun::from_index(0).unwrap();

        // Clear the power-on unit attention.
        let tur = w.initiator.submit(Command::new(lun, &[0; 6])).unwrap();
        w.pump();
        let _ = w.completed(tur);

        // 64 KiB: immediate data, unsolicited data, then R2Ts.
        let data: Bytes = (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect();
        let write = w
            .initiator
            .submit(Command::new(lun, &cdb10(0x2a, 16, 128)).writing(data.clone()))
            .unwrap();
        w.pump();
        assert!(w.completed(write).is_good());
        // Simple tasks may run in any order, so the read waits for the write.
        let read = w
            .initiator
            .submit(Command::new(lun, &cdb10(0x28, 16, 128)).reading(65_536))
            .unwrap();
        w.pump();
        let r = w.completed(read);
        assert!(r.is_good());
        assert!(
            r.data == data,
            "piece {piece}: {} bytes read back differ from the {} written",
            r.data.len(),
            data.len()
        );

        // SendTargets, a ping, then Logout closes both ends.
        let mut pairs = TextPairs::new();
        pairs.push("SendTargets", "All");
        let text = w.initiator.text(&pairs).unwrap();
        let _ping = w.initiator.ping(Bytes::from_static(b"hello")).unwrap();
        w.pump();
        let answer = w
            .events
            .iter()
            .find_map(|e| match e {
                IEvent::Session(SessionEvent::Text { itt, pairs }) if *itt == text => {
                    Some(pairs.clone().unwrap())
                }
                _ => None,
            })
            .expect("a Text Response");
        assert_eq!(answer.get("TargetName"), Some(TARGET));
        let _logout = w.initiator.logout().unwrap();
        w.pump();
        assert!(w.initiator.is_closed(), "piece {piece}");
        assert!(w.target.is_closed(), "piece {piece}");
        assert!(
            w.events
                .iter()
                .any(|e| matches!(e, IEvent::Session(SessionEvent::LoggedOut)))
        );
    }
}
