//! One initiator connection from its first Login Request to its close,
//! sans-IO: the framer, the login machine ([`InitiatorLogin`]) and then the
//! full-feature [`SessionEngine`], behind the same contract as the target's
//! connection.
//!
//! The runtime writes what [`Connection::poll_transmit`] gives (an
//! [`EncodedPdus`], a [`bytes::Buf`] made for vectored writes), reads from
//! its socket into a [`BytesMut`] and calls [`Connection::handle_bytes`],
//! and acts on [`Connection::poll_event`]. Commands, Text, task management,
//! pings and Logout are queued with the methods of the same names; each
//! returns the ITT that the matching [`SessionEvent`] carries. Time is
//! milliseconds from any fixed origin ([`Connection::poll_timeout`] /
//! [`Connection::handle_timeout`]: the login deadline).
//!
//! During login, anything the peer sends that is not a well-formed Login
//! Response ends the connection with [`Event::LoginFailed`] saying why
//! ([`LoginFailure`]). In full feature phase a PDU that does not frame or
//! parse is fatal: the initiator cannot know what the target meant.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use iscsi_login::{
    ChallengeSource, InitiatorLogin, InitiatorLoginConfig, LoginError, LoginEvent, SessionParams,
};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    Bhs, Decoded, EncodedPdus, FrameLimits, Framer, Itt, LoginStatus, Lun, PduBuf, RejectReason,
    TmfFunction, Transmitter,
};

use crate::session::{self, Command, SessionEngine};

/// A full-feature event of the [`SessionEngine`].
pub type SessionEvent = session::Event;

/// Why a login did not reach full feature phase.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoginFailure {
    /// The target answered with a failure status (RFC 7143 §11.13.5);
    /// `reason` says what the status means.
    #[error("login refused: {status}: {reason}")]
    Refused {
        /// The Status-Class and Status-Detail.
        status: LoginStatus,
        /// What it means here.
        reason: String,
    },
    /// The target is served elsewhere (0x0101 temporarily, 0x0102
    /// permanently): log in at `address` (`host:port,tpgt`).
    #[error("target moved {}: log in at {address}", if *permanent { "permanently" } else { "temporarily" })]
    Redirected {
        /// The TargetAddress the target gave.
        address: String,
        /// True for 0x0102.
        permanent: bool,
    },
    /// The exchange broke the rules (RFC 7143 §6, §11.12, §11.13).
    #[error(transparent)]
    Login(LoginError),
    /// The target sent a Reject instead of a Login Response.
    #[error("the target rejected the Login Request: {0}")]
    Rejected(RejectReason),
    /// The peer does not speak iSCSI.
    #[error("{0}")]
    NotIscsi(String),
    /// No Login Response completed the login in time.
    #[error("the login did not complete within {0} ms")]
    Timeout(u64),
}

/// What the runtime must know.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Full feature phase: commands may be queued.
    LoggedIn(Box<SessionParams>),
    /// The login failed; the connection is closed.
    LoginFailed(LoginFailure),
    /// A full-feature event: a command, Text, task management function or
    /// Logout ended, the target asked for a logout, a Reject arrived.
    Session(SessionEvent),
    /// The connection is over: write what [`Connection::poll_transmit`]
    /// still gives, then close the socket. Emitted once.
    Closed {
        /// Why, for the log.
        reason: String,
    },
}

#[derive(Debug)]
enum Phase {
    Login,
    FullFeature(Box<SessionEngine>),
    Closed,
}

/// One initiator connection; see the [module docs](self).
#[derive(Debug)]
pub struct Connection {
    framer: Framer,
    /// The login machine, kept after the login for what it saw
    /// ([`InitiatorLogin::received_text`], [`InitiatorLogin::last_response`]).
    login: Box<InitiatorLogin>,
    phase: Phase,
    login_deadline_ms: Option<u64>,
    login_timeout_ms: u64,
    /// PDUs queued since the last poll, encoded together when polled.
    transmit: Transmitter,
    events: VecDeque<Event>,
    closed: bool,
}

impl Connection {
    /// A connection made at `now_ms` that logs in with `config`; its first
    /// Login Request is ready in [`poll_transmit`](Self::poll_transmit).
    /// CHAP challenges (mutual CHAP) come from `challenges`; the login
    /// must complete within `login_timeout_ms` (0: no limit).
    #[must_use]
    pub fn new(
        config: InitiatorLoginConfig,
        challenges: Box<dyn ChallengeSource>,
        now_ms: u64,
        login_timeout_ms: u64,
    ) -> Self {
        Self {
            // The initiator takes data segments of any length the field
            // allows; the target is held to our MaxRecvDataSegmentLength by
            // its own framing.
            framer: Framer::new(FrameLimits::default().with_max_recv_data_segment_length(1 << 24)),
            login: Box::new(InitiatorLogin::new(config, challenges)),
            phase: Phase::Login,
            login_deadline_ms: (login_timeout_ms > 0)
                .then(|| now_ms.saturating_add(login_timeout_ms)),
            login_timeout_ms,
            transmit: Transmitter::new(),
            events: VecDeque::new(),
            closed: false,
        }
    }

    /// Handles every whole PDU at the front of `buf` and reserves room in
    /// `buf` for what the next PDU needs.
    pub fn handle_bytes(&mut self, now_ms: u64, buf: &mut BytesMut) {
        let _ = now_ms;
        while !self.closed {
            let frame = match self.framer.decode(buf) {
                Ok(Decoded::Frame(frame)) => frame,
                Ok(Decoded::Incomplete { needed }) => {
                    buf.reserve(needed.max(64 * 1024));
                    return;
                }
                Err(e) => {
                    self.fail_bytes(format!("the target's bytes do not frame: {e}"));
                    return;
                }
            };
            let pdu = match frame.parse() {
                Ok(pdu) => pdu,
                Err(e) => {
                    self.fail_bytes(format!("the target sent a malformed PDU: {e}"));
                    return;
                }
            };
            match &mut self.phase {
                Phase::Login => self.login_pdu(&pdu),
                Phase::FullFeature(engine) => {
                    engine.handle_pdu(pdu);
                    self.after_engine();
                }
                Phase::Closed => return,
            }
        }
    }

    /// Bytes that cannot be read as PDUs: during login the peer is not an
    /// iSCSI target; afterwards the stream cannot be trusted.
    fn fail_bytes(&mut self, reason: String) {
        if matches!(self.phase, Phase::Login) {
            self.fail_login(LoginFailure::NotIscsi(format!(
                "the peer's answer is not an iSCSI PDU ({reason})"
            )));
        } else {
            self.close(reason);
        }
    }

    fn login_pdu(&mut self, pdu: &PduBuf) {
        match pdu.bhs {
            Bhs::LoginResponse(_) => {}
            Bhs::Reject(r) => return self.fail_login(LoginFailure::Rejected(r.reason)),
            other => {
                return self.fail_login(LoginFailure::NotIscsi(format!(
                    "unexpected {:?} during login",
                    other.opcode()
                )));
            }
        }
        if let Err(e) = self.login.handle_pdu(pdu) {
            return self.fail_login(match e {
                LoginError::Refused { status, reason, .. } => {
                    LoginFailure::Refused { status, reason }
                }
                LoginError::Redirected {
                    address, permanent, ..
                } => LoginFailure::Redirected { address, permanent },
                other => LoginFailure::Login(other),
            });
        }
        let mut complete = None;
        while let Some(event) = self.login.poll_event() {
            if let LoginEvent::Complete(p) = event {
                complete = Some(p);
            }
        }
        if let Some(params) = complete {
            // Login Requests still queued go out without digests.
            self.queue_login();
            if let Err(e) = self.transmit.set_digests(params.digests()) {
                self.close(format!("cannot encode a PDU: {e}"));
                return;
            }
            self.framer
                .set_limits(self.framer.limits().with_digests(params.digests()));
            self.phase = Phase::FullFeature(Box::new(SessionEngine::new((*params).clone())));
            self.login_deadline_ms = None;
            self.events.push_back(Event::LoggedIn(params));
        }
    }

    fn fail_login(&mut self, failure: LoginFailure) {
        let reason = failure.to_string();
        self.events.push_back(Event::LoginFailed(failure));
        self.close(reason);
    }

    /// Ends the connection from this side. Nothing more is handled.
    pub fn close(&mut self, reason: impl Into<String>) {
        if !self.closed {
            self.closed = true;
            self.phase = Phase::Closed;
            self.events.push_back(Event::Closed {
                reason: reason.into(),
            });
        }
    }

    /// The engine, when in full feature phase; `None` otherwise.
    fn engine(&mut self) -> Option<&mut SessionEngine> {
        match &mut self.phase {
            Phase::FullFeature(engine) => Some(engine),
            Phase::Login | Phase::Closed => None,
        }
    }

    /// Queues a SCSI command ([`SessionEngine::submit`]); `None` outside
    /// full feature phase.
    pub fn submit(&mut self, command: Command) -> Option<Itt> {
        let itt = self.engine()?.submit(command);
        self.after_engine();
        Some(itt)
    }

    /// Queues a Text Request ([`SessionEngine::text`]).
    pub fn text(&mut self, pairs: &TextPairs) -> Option<Itt> {
        let itt = self.engine()?.text(pairs);
        self.after_engine();
        Some(itt)
    }

    /// Queues a task management function
    /// ([`SessionEngine::task_management`]).
    pub fn task_management(
        &mut self,
        function: TmfFunction,
        lun: Lun,
        referenced: Option<Itt>,
    ) -> Option<Itt> {
        let itt = self.engine()?.task_management(function, lun, referenced);
        self.after_engine();
        Some(itt)
    }

    /// Queues a NOP-Out ping ([`SessionEngine::ping`]).
    pub fn ping(&mut self, data: Bytes) -> Option<Itt> {
        let itt = self.engine()?.ping(data);
        self.after_engine();
        Some(itt)
    }

    /// Queues a Logout Request closing the session ([`SessionEngine::logout`]).
    pub fn logout(&mut self) -> Option<Itt> {
        let itt = self.engine()?.logout();
        self.after_engine();
        Some(itt)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, ms.
    #[must_use]
    pub const fn poll_timeout(&self) -> Option<u64> {
        if self.closed {
            None
        } else {
            self.login_deadline_ms
        }
    }

    /// Time passed: a login past its deadline fails.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if matches!(self.phase, Phase::Login) && self.login_deadline_ms.is_some_and(|d| now_ms >= d)
        {
            self.fail_login(LoginFailure::Timeout(self.login_timeout_ms));
        }
    }

    /// The PDUs to write next, encoded; `None` when nothing is queued.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<EncodedPdus> {
        if matches!(self.phase, Phase::Login) {
            self.queue_login();
        }
        match self.transmit.poll() {
            Ok(out) => out,
            Err(e) => {
                // Our own PDUs are built within the field limits; if one is
                // not, the stream cannot go on.
                self.close(format!("cannot encode a PDU: {e}"));
                None
            }
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True once the connection is over.
    #[must_use]
    pub const fn is_closed(&self) -> bool {
        self.closed
    }

    /// The login machine: what the target sent during login, its last
    /// Login Response.
    #[must_use]
    pub fn login(&self) -> &InitiatorLogin {
        &self.login
    }

    /// The full-feature engine, when logged in (its window and counters).
    #[must_use]
    pub fn session(&self) -> Option<&SessionEngine> {
        match &self.phase {
            Phase::FullFeature(engine) => Some(engine),
            Phase::Login | Phase::Closed => None,
        }
    }

    /// Queues the Login Requests the login machine has ready.
    fn queue_login(&mut self) {
        while let Some(p) = self.login.poll_transmit() {
            self.transmit.queue(p);
        }
    }

    /// Collects what the engine queued: PDUs (encoded now, so that one
    /// write carries every command queued since the last) and events.
    fn after_engine(&mut self) {
        let Phase::FullFeature(engine) = &mut self.phase else {
            return;
        };
        while let Some(p) = engine.poll_transmit() {
            self.transmit.queue(p);
        }
        let mut close = None;
        while let Some(event) = engine.poll_event() {
            match &event {
                SessionEvent::LoggedOut => close = Some("logged out".to_owned()),
                SessionEvent::Fatal { reason } => close = Some(reason.clone()),
                _ => {}
            }
            self.events.push_back(Event::Session(event));
        }
        if let Some(reason) = close {
            self.close(reason);
        }
    }
}
