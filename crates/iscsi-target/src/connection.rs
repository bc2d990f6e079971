//! One target connection from its first byte to its close, sans-IO: the
//! framer, the login machine ([`TargetLogin`]) and then the full-feature
//! [`Engine`], behind one quinn-style contract.
//!
//! The runtime reads from its socket into a [`BytesMut`] and calls
//! [`Connection::handle_bytes`]; it writes what [`Connection::poll_transmit`]
//! gives (an [`EncodedPdus`], a [`bytes::Buf`] made for vectored writes) and
//! acts on what [`Connection::poll_event`] gives; it calls
//! [`Connection::handle_timeout`] when [`Connection::poll_timeout`] passes.
//! Time is milliseconds from any fixed origin; the connection never reads a
//! clock, a socket or a random number generator of its own.
//!
//! Decisions the deployment owns are events answered by a method:
//! [`Event::SessionRequested`] by [`Connection::accept_session`] (a TSIH,
//! after reinstating or registering the session) or
//! [`Connection::refuse_session`]; [`Event::Execute`] by
//! [`Connection::complete`]; [`Event::TaskManagement`] by
//! [`Connection::complete_task_management`]. Questions without side effects
//! (does this target exist, may this initiator log in, how much Data-Out
//! does this CDB want) are asked of a [`Deployment`] while bytes are
//! handled.
//!
//! Which receive errors are answered and survived and which close the
//! connection is decided here, in [`Connection::handle_bytes`]:
//!
//! | error | answer | connection |
//! |---|---|---|
//! | forbidden flag combination ([`iscsi_pdu::PduError::InvalidField`]) | Reject 0x09 | stays open |
//! | unknown opcode, SNACK at ERL 0, Login in full feature | Reject 0x05 / 0x03 / 0x04 | stays open |
//! | data digest ([`FrameError::DataDigest`]) | Reject 0x02 | stays open |
//! | AHS that contradicts TotalAHSLength ([`iscsi_pdu::PduError::is_format_error`], RFC 7143 §7.13) | Reject 0x09 | closed |
//! | data segment over MaxRecvDataSegmentLength | Reject 0x04 | closed |
//! | header digest (RFC 7143 §7.8) | none | closed |
//! | anything malformed during login | Login Response 0x020B | closed |

use std::collections::VecDeque;

use bytes::BytesMut;
use iscsi_login::{
    ChallengeSource, LoginEvent, SessionParams, TargetLogin, TargetLoginConfig, TargetPolicy,
};
use iscsi_pdu::{
    Decoded, EncodedPdus, FrameError, FrameLimits, Framer, Itt, LoginStatus, Lun, TmfFunction,
    TmfResponseCode, Transmitter, Tsih,
};
use iscsi_scsi::{Command, Response};

use crate::engine::{self, Engine, EngineConfig, ScsiTask};

/// What a connection asks the deployment while it handles bytes: the login
/// questions of [`TargetPolicy`] and, in full feature phase, how much
/// Data-Out a command wants.
pub trait Deployment: TargetPolicy {
    /// Bytes of Data-Out the CDB `cdb`, decoded into `command`, sent to
    /// `lun` transfers (its Data-Out Buffer Size, SAM-5 §5.1: transfer
    /// lengths times the logical block size of that LUN, or a parameter
    /// list length); 0 when the LUN does not exist or the command moves no
    /// data out. [`LogicalUnit::data_out_buffer_size`](iscsi_scsi::LogicalUnit::data_out_buffer_size)
    /// answers it for a unit.
    fn data_out_len(&self, lun: Lun, cdb: &[u8], command: &Command) -> usize;
}

/// Settings of one connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// What the login accepts and proposes.
    pub login: TargetLoginConfig,
    /// The full-feature engine's settings.
    pub engine: EngineConfig,
    /// A login must reach full feature phase within this long after the
    /// connection was made, ms (0: no limit).
    pub login_timeout_ms: u64,
}

impl ConnectionConfig {
    /// A configuration of these parts.
    #[must_use]
    pub const fn new(
        login: TargetLoginConfig,
        engine: EngineConfig,
        login_timeout_ms: u64,
    ) -> Self {
        Self {
            login,
            engine,
            login_timeout_ms,
        }
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self::new(
            TargetLoginConfig::default(),
            EngineConfig::default(),
            15_000,
        )
    }
}

/// What the runtime must do or know.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// The login's parameters are settled; register the session (closing
    /// an older one with the same InitiatorName and ISID, RFC 7143 §6.3.5)
    /// and answer with [`Connection::accept_session`] or
    /// [`Connection::refuse_session`].
    SessionRequested(Box<SessionParams>),
    /// Full feature phase: SCSI commands may follow.
    LoggedIn(Box<SessionParams>),
    /// The login failed; the Login Response with `status` is queued and
    /// the connection closes after it.
    LoginFailed {
        /// The status sent.
        status: LoginStatus,
        /// Why, for the log.
        reason: String,
    },
    /// Run a SCSI command, then call [`Connection::complete`].
    Execute(ScsiTask),
    /// Carry out a task management function on the logical units (the
    /// connection already aborted its own tasks), then call
    /// [`Connection::complete_task_management`].
    TaskManagement {
        /// ITT of the TMF request.
        itt: Itt,
        /// The function.
        function: TmfFunction,
        /// Its LUN field.
        lun: Lun,
    },
    /// The initiator logged out.
    Logout,
    /// The connection is over: write what [`Connection::poll_transmit`]
    /// still gives, then close the socket. Emitted once.
    Closed {
        /// Why, for the log.
        reason: String,
    },
}

/// What a [`Connection`] counts for metrics (RFC 4544 names in
/// brackets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionCounters {
    /// PDUs whose header or data digest did not match
    /// (iscsiInstSsnDigestErrors).
    pub digest_errors: u64,
    /// Framing and format errors, RFC 7143 §7.13
    /// (iscsiInstSsnFormatErrors).
    pub format_errors: u64,
    /// Connections dropped because a NOP-In ping stayed unanswered
    /// (iscsiInstSsnCxnTimeoutErrors).
    pub timeouts: u64,
    /// R2T PDUs sent.
    pub r2ts: u64,
}

#[derive(Debug)]
enum Phase {
    Login(Box<TargetLogin>),
    FullFeature(Box<Engine>),
    Closed,
}

/// One target connection; see the [module docs](self).
#[derive(Debug)]
pub struct Connection {
    framer: Framer,
    phase: Phase,
    engine_config: EngineConfig,
    /// When the login must be done by, ms.
    login_deadline_ms: Option<u64>,
    /// The latest time the runtime gave, ms (the engine starts its idle
    /// clock from it).
    now_ms: u64,
    /// PDUs queued since the last poll, encoded together when polled.
    transmit: Transmitter,
    events: VecDeque<Event>,
    closed: bool,
    /// Counted since the last [`Connection::take_counters`].
    counters: ConnectionCounters,
}

impl Connection {
    /// A connection made at `now_ms`, in the login phase. CHAP challenges
    /// come from `challenges`.
    #[must_use]
    pub fn new(
        config: ConnectionConfig,
        challenges: Box<dyn ChallengeSource>,
        now_ms: u64,
    ) -> Self {
        let ConnectionConfig {
            login,
            engine,
            login_timeout_ms,
        } = config;
        Self {
            framer: Framer::new(FrameLimits::default()),
            phase: Phase::Login(Box::new(TargetLogin::new(login, challenges))),
            engine_config: engine,
            login_deadline_ms: (login_timeout_ms > 0)
                .then(|| now_ms.saturating_add(login_timeout_ms)),
            now_ms,
            transmit: Transmitter::new(),
            events: VecDeque::new(),
            closed: false,
            counters: ConnectionCounters::default(),
        }
    }

    /// Handles the whole PDUs at the front of `buf` and reserves room in
    /// `buf` for what the next PDU needs.
    ///
    /// It stops after a PDU that produced an event, so that the runtime
    /// answers it (runs the command, registers the session) before the PDUs
    /// behind it are handled, just as if they had arrived later: a command
    /// followed in the same read by a Logout is answered, not aborted.
    /// Returns true when it stopped that way: answer the events, then call
    /// again with the same buffer. Returns false when `buf` holds no whole
    /// PDU, while a session request is unanswered, and once closed.
    #[must_use = "true means: answer the events, then call again"]
    pub fn handle_bytes(
        &mut self,
        now_ms: u64,
        buf: &mut BytesMut,
        deployment: &dyn Deployment,
    ) -> bool {
        self.now_ms = self.now_ms.max(now_ms);
        while !self.closed {
            if let Phase::Login(login) = &self.phase
                && login.awaits_session()
            {
                // The bytes after the last Login Request belong to the full
                // feature phase, under the digests being negotiated.
                return false;
            }
            if !self.events.is_empty() {
                return true;
            }
            match self.framer.decode(buf) {
                Ok(Decoded::Frame(frame)) => match &mut self.phase {
                    // A failed login reports itself as LoginEvent::Failed,
                    // which after_login turns into events and the close.
                    Phase::Login(login) => {
                        match frame.parse() {
                            Ok(pdu) => {
                                let _ = login.handle_pdu(&pdu, deployment);
                            }
                            Err(e) => {
                                let _ = login.handle_malformed(frame.itt(), e);
                            }
                        }
                        self.after_login();
                    }
                    Phase::FullFeature(engine) => {
                        let mut format_error = None;
                        match frame.parse() {
                            Ok(pdu) => engine.handle_pdu(pdu, now_ms, &|lun, cdb, command| {
                                deployment.data_out_len(lun, cdb, command)
                            }),
                            Err(e) => {
                                // Rejected either way; a format error
                                // (RFC 7143 §7.13) also ends the connection,
                                // because the next PDU's start is unknown.
                                engine.handle_malformed(frame.bhs_bytes(), &e);
                                if e.is_format_error() {
                                    self.counters.format_errors += 1;
                                    format_error = Some(e);
                                }
                            }
                        }
                        self.after_engine();
                        if let Some(e) = format_error {
                            self.close(format!("format error: {e}"));
                        }
                    }
                    Phase::Closed => break,
                },
                Ok(Decoded::Incomplete { needed }) => {
                    buf.reserve(needed.max(64 * 1024));
                    break;
                }
                Err(FrameError::DataDigest { header, .. }) => {
                    self.counters.digest_errors += 1;
                    if let Phase::FullFeature(engine) = &mut self.phase {
                        engine.handle_data_digest_error(header, now_ms);
                        self.after_engine();
                    } else {
                        self.close("data digest error during login");
                    }
                }
                Err(e) => {
                    debug_assert!(e.closes_connection());
                    if matches!(e, FrameError::HeaderDigest { .. }) {
                        self.counters.digest_errors += 1;
                    } else {
                        self.counters.format_errors += 1;
                    }
                    if let (Phase::FullFeature(engine), Some(reason)) =
                        (&mut self.phase, e.reject_reason())
                    {
                        let header = buf.split_to(buf.len().min(iscsi_pdu::BHS_LEN)).freeze();
                        engine.reject(reason, header);
                        self.after_engine();
                    }
                    self.close(e.to_string());
                }
            }
        }
        false
    }

    /// Answers [`Event::SessionRequested`]: the session is registered as
    /// `tsih` (never 0; 0 refuses with 0x0302). Call
    /// [`handle_bytes`](Self::handle_bytes) again afterwards: bytes that
    /// arrived meanwhile wait in the buffer.
    pub fn accept_session(&mut self, tsih: Tsih) {
        if let Phase::Login(login) = &mut self.phase {
            let _ = login.accept_session(tsih);
            self.after_login();
        }
    }

    /// Answers [`Event::SessionRequested`] with a failed login: `status`
    /// (e.g. 0x0302 out of resources) is sent and the connection closes.
    pub fn refuse_session(&mut self, status: LoginStatus, reason: &str) {
        if let Phase::Login(login) = &mut self.phase {
            let _ = login.refuse_session(status, reason);
            self.after_login();
        }
    }

    /// Reports the outcome of an [`Event::Execute`].
    pub fn complete(&mut self, itt: Itt, response: &Response) {
        if let Phase::FullFeature(engine) = &mut self.phase {
            engine.complete(itt, response);
            self.after_engine();
        }
    }

    /// Reports the outcome of an [`Event::TaskManagement`].
    pub fn complete_task_management(&mut self, itt: Itt, response: TmfResponseCode) {
        if let Phase::FullFeature(engine) = &mut self.phase {
            engine.complete_task_management(itt, response);
            self.after_engine();
        }
    }

    /// Aborts the session's tasks for `lun` (`None`: every LUN) at the
    /// request of another I_T nexus (PREEMPT AND ABORT, a reset from
    /// another session); see [`Engine::abort_task_set`]. Does nothing
    /// during login.
    pub fn abort_task_set(&mut self, lun: Option<Lun>) {
        if let Phase::FullFeature(engine) = &mut self.phase {
            engine.abort_task_set(lun);
            self.after_engine();
        }
    }

    /// Asks the initiator to log out within `seconds` (Asynchronous
    /// Message, RFC 7143 §11.9.1), e.g. when the service shuts down. Does
    /// nothing during login.
    pub fn request_logout(&mut self, seconds: u16) {
        if let Phase::FullFeature(engine) = &mut self.phase {
            engine.request_logout(seconds);
            self.after_engine();
        }
    }

    /// Ends the connection from the target's side (the session was
    /// reinstated or removed, the service stops). Nothing more is sent.
    pub fn close(&mut self, reason: impl Into<String>) {
        if !self.closed {
            self.closed = true;
            self.phase = Phase::Closed;
            self.events.push_back(Event::Closed {
                reason: reason.into(),
            });
        }
    }

    /// What was counted since the last call, for metrics; the counts
    /// start again from zero.
    pub fn take_counters(&mut self) -> ConnectionCounters {
        std::mem::take(&mut self.counters)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, ms.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        match &self.phase {
            Phase::Login(_) => self.login_deadline_ms,
            Phase::FullFeature(engine) => engine.poll_timeout(),
            Phase::Closed => None,
        }
    }

    /// Time passed: the login deadline, NOP-In pings and their answers.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        match &mut self.phase {
            Phase::Login(_) => {
                if self.login_deadline_ms.is_some_and(|d| now_ms >= d) {
                    self.close("login timed out");
                }
            }
            Phase::FullFeature(engine) => {
                engine.handle_timeout(now_ms);
                self.after_engine();
            }
            Phase::Closed => {}
        }
    }

    /// The PDUs to write next, encoded; `None` when nothing is queued.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<EncodedPdus> {
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

    /// True once the connection is over: nothing more is read; what
    /// [`poll_transmit`](Self::poll_transmit) gives is still to be written.
    #[must_use]
    pub const fn is_closed(&self) -> bool {
        self.closed
    }

    /// The session's parameters once in full feature phase.
    #[must_use]
    pub fn params(&self) -> Option<&SessionParams> {
        match &self.phase {
            Phase::FullFeature(engine) => Some(engine.params()),
            Phase::Login(_) | Phase::Closed => None,
        }
    }

    /// The full-feature engine (tests and diagnostics).
    #[must_use]
    pub fn engine(&self) -> Option<&Engine> {
        match &self.phase {
            Phase::FullFeature(engine) => Some(engine),
            Phase::Login(_) | Phase::Closed => None,
        }
    }

    /// Collects what the login machine queued and moves on when it ended.
    fn after_login(&mut self) {
        let Phase::Login(login) = &mut self.phase else {
            return;
        };
        while let Some(p) = login.poll_transmit() {
            self.transmit.queue(p);
        }
        let mut complete = None;
        let mut failed = false;
        while let Some(event) = login.poll_event() {
            match event {
                LoginEvent::SessionRequested(p) => {
                    self.events.push_back(Event::SessionRequested(p));
                }
                LoginEvent::Complete(p) => complete = Some(p),
                LoginEvent::Failed { status, reason } => {
                    failed = true;
                    self.events.push_back(Event::LoginFailed { status, reason });
                }
                _ => {}
            }
        }
        let login_failed = login.is_failed();
        if let Some(params) = complete {
            // The last Login Response goes out without digests.
            if let Err(e) = self.transmit.set_digests(params.digests()) {
                self.close(format!("cannot encode a PDU: {e}"));
                return;
            }
            self.framer.set_limits(
                FrameLimits::default()
                    .with_digests(params.digests())
                    .with_max_recv_data_segment_length(
                        params.target_max_recv_data_segment_length as usize,
                    ),
            );
            let engine = Engine::new((*params).clone(), self.engine_config.clone(), self.now_ms);
            self.phase = Phase::FullFeature(Box::new(engine));
            self.login_deadline_ms = None;
            self.events.push_back(Event::LoggedIn(params));
        } else if failed || login_failed {
            self.close("login failed");
        }
    }

    /// Collects what the engine queued.
    fn after_engine(&mut self) {
        let Phase::FullFeature(engine) = &mut self.phase else {
            return;
        };
        let counted = engine.take_counters();
        self.counters.r2ts += counted.r2ts;
        self.counters.timeouts += counted.ping_timeouts;
        while let Some(p) = engine.poll_transmit() {
            self.transmit.queue(p);
        }
        let mut close = None;
        while let Some(event) = engine.poll_event() {
            match event {
                engine::Event::Execute(task) => self.events.push_back(Event::Execute(task)),
                engine::Event::TaskManagement { itt, function, lun } => {
                    self.events
                        .push_back(Event::TaskManagement { itt, function, lun });
                }
                engine::Event::Logout => {
                    self.events.push_back(Event::Logout);
                    close = Some("logged out".to_owned());
                }
                engine::Event::Close { reason } => close = Some(reason),
            }
        }
        let closed = engine.is_closed();
        if let Some(reason) = close {
            self.close(reason);
        } else if closed {
            self.close("closed");
        }
    }
}
