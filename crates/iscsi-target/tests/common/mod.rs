//! A blocking test client speaking raw PDUs to an in-process target.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use iscsi_login::{
    FixedChallengeSource, InitiatorLogin, InitiatorLoginConfig, LoginError, LoginEvent,
    SessionParams,
};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    Bhs, CmdSn, Decoded, Digests, FrameLimits, Framer, Isid, Itt, LoginRequest, LoginResponse,
    LoginStage, Pdu, PduBuf,
};
use iscsi_target::config::{Config, Portal};
use iscsi_target::server::Server;

/// A server on its own runtime, on 127.0.0.1 with a free port.
pub(crate) struct TestTarget {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) server: Option<Server>,
    pub(crate) addr: SocketAddr,
}

impl TestTarget {
    pub(crate) fn start(mut config: Config) -> Self {
        let mut portal: Portal = Config::embedded_default().portals.remove(0);
        portal.address = "127.0.0.1:0".parse().unwrap();
        config.portals = vec![portal];
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(Server::start(config)).unwrap();
        let addr = server.addresses()[0];
        Self {
            rt,
            server: Some(server),
            addr,
        }
    }

    pub(crate) fn default_ram(size: u64) -> Self {
        let mut config = Config::embedded_default();
        config.targets[0].luns[0].size = Some(size);
        config.limits.shutdown_grace_s = 1;
        Self::start(config)
    }

    pub(crate) fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// Starts a graceful shutdown on the runtime; returns a handle to its result.
    pub(crate) fn shutdown_in_background(
        &mut self,
    ) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let server = self.server.take().unwrap();
        self.rt.spawn(server.shutdown())
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.rt.block_on(server.shutdown());
        }
    }
}

/// A raw connection.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    framer: Framer,
    buf: BytesMut,
    pub(crate) digests: Digests,
}

impl Conn {
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            framer: Framer::new(FrameLimits::default().with_max_recv_data_segment_length(1 << 24)),
            buf: BytesMut::new(),
            digests: Digests::NONE,
        }
    }

    pub(crate) fn send(&mut self, pdu: &PduBuf) {
        let bytes = pdu.to_vec(self.digests).unwrap();
        self.stream.write_all(&bytes).unwrap();
    }

    pub(crate) fn set_digests(&mut self, digests: Digests) {
        self.digests = digests;
        self.framer
            .set_limits(self.framer.limits().with_digests(digests));
    }

    /// The next PDU, or `None` at EOF / timeout.
    pub(crate) fn recv(&mut self) -> Option<PduBuf> {
        loop {
            match self.framer.decode(&mut self.buf) {
                Ok(Decoded::Frame(f)) => return Some(f.parse().unwrap()),
                Ok(Decoded::Incomplete { .. }) => {}
                Err(e) => panic!("target sent bad framing: {e}"),
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// True when the target closes the connection within the timeout.
    pub(crate) fn closed(&mut self) -> bool {
        loop {
            match self.recv() {
                None => return true,
                Some(_) => continue,
            }
        }
    }
}

pub(crate) const INITIATOR: &str = "iqn.2026-11.rs.iscsi:test-initiator";

/// A Login Request with these flags and pairs.
pub(crate) fn login_request(csg: u8, nsg: u8, transit: bool, pairs: &[(&str, &str)]) -> PduBuf {
    let text: TextPairs = pairs.iter().copied().collect();
    Pdu::new(
        LoginRequest {
            transit,
            csg: LoginStage::from_wire(csg),
            nsg: LoginStage::from_wire(nsg),
            isid: Isid::random(0x00c0_ffee, 1),
            itt: Itt(1),
            cmd_sn: CmdSn(1),
            ..LoginRequest::default()
        },
        text.to_bytes(),
    )
}

/// Sends one raw Login Request and returns the Login Response.
pub(crate) fn raw_login(addr: SocketAddr, request: &PduBuf) -> (LoginResponse, TextPairs, Conn) {
    let mut conn = Conn::connect(addr);
    conn.send(request);
    let pdu = conn.recv().expect("a login response");
    let Bhs::LoginResponse(h) = pdu.bhs else {
        panic!("expected a Login Response, got {:?}", pdu.opcode())
    };
    let text = TextPairs::parse(&pdu.data).unwrap();
    (h, text, conn)
}

/// A logged-in session driven by `InitiatorLogin`.
pub(crate) struct Session {
    pub(crate) conn: Conn,
    pub(crate) params: SessionParams,
}

pub(crate) fn login(addr: SocketAddr, config: InitiatorLoginConfig) -> Result<Session, LoginError> {
    let mut conn = Conn::connect(addr);
    let mut login = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(9)));
    loop {
        while let Some(pdu) = login.poll_transmit() {
            conn.send(&pdu);
        }
        let Some(pdu) = conn.recv() else {
            return Err(LoginError::ApiMisuse("connection closed during login"));
        };
        login.handle_pdu(&pdu)?;
        while let Some(event) = login.poll_event() {
            if let LoginEvent::Complete(params) = event {
                while let Some(pdu) = login.poll_transmit() {
                    conn.send(&pdu);
                }
                conn.set_digests(params.digests());
                return Ok(Session {
                    conn,
                    params: *params,
                });
            }
        }
    }
}

pub(crate) fn normal(target: &str, isid: u32) -> InitiatorLoginConfig {
    InitiatorLoginConfig::normal(INITIATOR, target, Isid::random(isid, 0))
}

pub(crate) fn data(pdu: &PduBuf) -> Bytes {
    pdu.data.clone()
}
