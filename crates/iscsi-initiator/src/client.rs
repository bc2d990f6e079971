//! The tokio client: connect, log in, run SCSI commands with many in flight,
//! discover targets, log out.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use iscsi_login::{
    ChapAlgorithm, ChapCredentials, InitiatorAuth, InitiatorLoginConfig, LoginError,
    OperationalConfig, SessionParams, SessionType,
};
use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    Decoded, Digests, FrameLimits, Framer, Isid, Itt, LoginResponse, LoginStatus, Lun, PduBuf,
    TmfFunction, TmfResponseCode,
};
use iscsi_scsi::initiator::{Cdb, ReadCapacity10, ReadCapacity16, ReportLuns, StandardInquiry};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::connection::{Connection, Event as ConnEvent, LoginFailure};
use crate::session::{Command, Event, ScsiResult, TaskError, send_targets};
use crate::url::{IscsiUrl, Portal};

/// The default initiator name of this tool.
pub const DEFAULT_INITIATOR: &str = "iqn.2026-11.rs.iscsi:initiator";

/// A client error; each variant maps to a distinct exit code of the tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The portal could not be resolved or reached.
    #[error("cannot connect to {portal}: {source}")]
    Unreachable {
        /// The portal.
        portal: String,
        /// The OS error.
        source: io::Error,
    },
    /// The peer does not speak iSCSI.
    #[error("not an iSCSI target: {0}")]
    NotIscsi(String),
    /// The target refused the login (status and its explanation).
    #[error("login refused: {status}{}", if reason.is_empty() { String::new() } else { format!(" ({reason})") })]
    LoginRefused {
        /// The Login Response status.
        status: LoginStatus,
        /// More about why, when the target or the status says.
        reason: String,
    },
    /// The target is served elsewhere (0x0101 / 0x0102, RFC 7143
    /// §11.13.5): log in at `address`.
    #[error("login refused: target moved {}: log in at {address}", if *permanent { "permanently" } else { "temporarily" })]
    Redirected {
        /// The TargetAddress, `host:port,tpgt`.
        address: String,
        /// True for 0x0102 (moved permanently).
        permanent: bool,
    },
    /// The login failed on our side (negotiation, authentication, protocol).
    #[error("login failed: {0}")]
    Login(#[source] LoginError),
    /// The target rejected a PDU.
    #[error("target rejected PDU: {0}")]
    Rejected(iscsi_pdu::RejectReason),
    /// A task failed without a SCSI status.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A command ended with a SCSI status other than GOOD.
    #[error("SCSI command failed: {status:?}{}", sense.map(|s| format!(": {s}")).unwrap_or_default())]
    Scsi {
        /// The status.
        status: iscsi_pdu::ScsiStatus,
        /// Its sense data, parsed.
        sense: Option<iscsi_scsi::Sense>,
    },
    /// Data from the target did not parse.
    #[error("bad data from the target: {0}")]
    BadData(String),
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection closed.
    #[error("connection closed: {0}")]
    Closed(String),
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The error of a login that failed as `failure` says; `timeout` is
    /// the deadline that applied.
    fn from_login_failure(failure: LoginFailure, timeout: Duration) -> Self {
        match failure {
            LoginFailure::Refused { status, reason } => Self::LoginRefused { status, reason },
            LoginFailure::Redirected { address, permanent } => {
                Self::Redirected { address, permanent }
            }
            LoginFailure::Login(e) => Self::Login(e),
            LoginFailure::Rejected(reason) => Self::Rejected(reason),
            LoginFailure::NotIscsi(why) => Self::NotIscsi(why),
            LoginFailure::Timeout(_) => Self::Timeout(timeout),
        }
    }

    /// The login status, for a refused login.
    #[must_use]
    pub fn login_status(&self) -> Option<LoginStatus> {
        match self {
            Self::LoginRefused { status, .. } => Some(*status),
            Self::Redirected {
                permanent: true, ..
            } => Some(LoginStatus::TARGET_MOVED_PERMANENTLY),
            Self::Redirected { .. } => Some(LoginStatus::TARGET_MOVED_TEMPORARILY),
            Self::Login(e) => iscsi_login::refused_status(e),
            _ => None,
        }
    }
}

/// How to log in.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoginOptions {
    /// Where.
    pub portal: Portal,
    /// InitiatorName.
    pub initiator_name: String,
    /// TargetName; `None` for a Discovery session.
    pub target: Option<String>,
    /// Authentication.
    pub auth: InitiatorAuth,
    /// Operational proposals.
    pub operational: OperationalConfig,
    /// Time allowed to connect and log in.
    pub timeout: Duration,
    /// When a CHAP login offering several algorithms is refused with
    /// 0x0200/0x0201 after the target chose one other than MD5, log in once
    /// more offering `CHAP_A=5` only (as open-iscsi fell back for targets
    /// that misnumber or mishandle the stronger ones). Default `true`.
    pub chap_md5_fallback: bool,
}

impl LoginOptions {
    /// A Discovery session to `portal`.
    #[must_use]
    pub fn discovery(portal: Portal) -> Self {
        Self {
            portal,
            initiator_name: DEFAULT_INITIATOR.to_owned(),
            target: None,
            auth: InitiatorAuth::None,
            operational: OperationalConfig::default(),
            timeout: Duration::from_secs(10),
            chap_md5_fallback: true,
        }
    }

    /// A Normal session to `target` at `portal`.
    #[must_use]
    pub fn normal(portal: Portal, target: impl Into<String>) -> Self {
        Self {
            target: Some(target.into()),
            ..Self::discovery(portal)
        }
    }

    /// Options from a URL: portal, target, CHAP (`user%secret@`), mutual CHAP
    /// (`?target_user=..&target_password=..`), digests (`?header_digest=crc32c`).
    ///
    /// # Errors
    /// A secret that is empty or over 255 bytes.
    pub fn from_url(url: &IscsiUrl) -> Result<Self, Error> {
        let mut o = Self::normal(url.portal.clone(), url.target.clone());
        if let (Some(user), Some(secret)) = (&url.user, &url.secret) {
            let creds = credentials(user, secret)?;
            o.auth = match (url.param("target_user"), url.param("target_password")) {
                (Some(tu), Some(tp)) => InitiatorAuth::mutual_chap(creds, credentials(tu, tp)?)
                    .map_err(|e| Error::Login(LoginError::ApiMisuse(secret_error(e))))?,
                _ => InitiatorAuth::chap(creds),
            };
        }
        if url
            .param("header_digest")
            .is_some_and(|v| v.eq_ignore_ascii_case("crc32c"))
        {
            o.operational.header_digest = iscsi_login::DigestPolicy::Require;
        }
        if url
            .param("data_digest")
            .is_some_and(|v| v.eq_ignore_ascii_case("crc32c"))
        {
            o.operational.data_digest = iscsi_login::DigestPolicy::Require;
        }
        Ok(o)
    }

    /// With another initiator name.
    #[must_use]
    pub fn with_initiator_name(mut self, name: impl Into<String>) -> Self {
        self.initiator_name = name.into();
        self
    }

    /// With authentication.
    #[must_use]
    pub fn with_auth(mut self, auth: InitiatorAuth) -> Self {
        self.auth = auth;
        self
    }

    /// With a login timeout.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With operational proposals.
    #[must_use]
    pub fn with_operational(mut self, operational: OperationalConfig) -> Self {
        self.operational = operational;
        self
    }
}

const fn secret_error(e: iscsi_login::SecretError) -> &'static str {
    match e {
        iscsi_login::SecretError::SameSecretBothWays => "mutual CHAP needs two different secrets",
        _ => "invalid CHAP secret",
    }
}

/// CHAP credentials from a user and a secret of any length (targets such as
/// tgtd accept short ones; the login still refuses an empty one).
///
/// # Errors
/// An empty or over-long secret.
pub fn credentials(user: &str, secret: &str) -> Result<ChapCredentials, Error> {
    let secret = iscsi_login::Secret::new_allow_short(secret.as_bytes().to_vec())
        .map_err(|e| Error::Login(LoginError::ApiMisuse(secret_error(e))))?;
    Ok(ChapCredentials::new(user, secret))
}

/// A fresh random-format ISID (RFC 7143 §11.12.5), never the same twice in
/// practice: 24 random bits from the OS, and a counter as qualifier.
#[must_use]
pub fn fresh_isid() -> Isid {
    use std::sync::atomic::{AtomicU16, Ordering};
    static QUALIFIER: AtomicU16 = AtomicU16::new(1);
    let mut r = [0u8; 4];
    if getrandom::fill(&mut r).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        r = t.to_be_bytes();
    }
    Isid::random(
        u32::from_be_bytes(r),
        QUALIFIER.fetch_add(1, Ordering::Relaxed),
    )
}

/// Reads whole PDUs from a stream, keeping bytes that belong to the next
/// PDU for the next call (one `read` may return several PDUs or a part).
#[derive(Debug)]
pub struct PduReader<R> {
    reader: R,
    framer: Framer,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> PduReader<R> {
    /// A reader with the login-phase limits.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            framer: Framer::new(FrameLimits::default().with_max_recv_data_segment_length(1 << 24)),
            buf: BytesMut::with_capacity(256 * 1024),
        }
    }

    /// Changes the digests in force (after login).
    pub fn set_digests(&mut self, digests: Digests) {
        self.framer
            .set_limits(self.framer.limits().with_digests(digests));
    }

    /// The next PDU.
    ///
    /// # Errors
    /// EOF, I/O, framing or parse errors.
    pub async fn read_pdu(&mut self) -> Result<PduBuf, Error> {
        loop {
            match self.framer.decode(&mut self.buf) {
                Ok(Decoded::Frame(frame)) => {
                    return frame.parse().map_err(|e| Error::BadData(e.to_string()));
                }
                Ok(Decoded::Incomplete { needed }) => {
                    self.buf.reserve(needed.max(64 * 1024));
                    if self.reader.read_buf(&mut self.buf).await? == 0 {
                        return Err(Error::Closed("end of stream".to_owned()));
                    }
                }
                Err(e) => return Err(Error::BadData(e.to_string())),
            }
        }
    }

    /// Bytes received and not yet returned as a PDU.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// What the login saw, for probes and tools.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoginInfo {
    /// The address connected to.
    pub peer: SocketAddr,
    /// Time from connect to the end of login, ms.
    pub rtt_ms: f64,
    /// The last Login Response header.
    pub last_response: Option<LoginResponse>,
    /// Every pair the target sent during login, in order.
    pub received: TextPairs,
    /// The ISID used.
    pub isid: Isid,
}

enum Request {
    Command(Command, oneshot::Sender<Result<ScsiResult, Error>>),
    Text(TextPairs, oneshot::Sender<Result<TextPairs, Error>>),
    Tmf(
        TmfFunction,
        Lun,
        Option<Itt>,
        oneshot::Sender<Result<TmfResponseCode, Error>>,
    ),
    Logout(oneshot::Sender<Result<(), Error>>),
}

/// A logged-in session. Commands may be issued concurrently from many
/// tasks (`&self`); they are queued against the target's CmdSN window.
#[derive(Debug)]
pub struct Session {
    tx: mpsc::UnboundedSender<Request>,
    params: Arc<SessionParams>,
    info: LoginInfo,
    task: tokio::task::JoinHandle<()>,
}

async fn connect(portal: &Portal, timeout: Duration) -> Result<TcpStream, Error> {
    let text = portal.socket_text();
    let unreachable = |source| Error::Unreachable {
        portal: text.clone(),
        source,
    };
    let stream = tokio::time::timeout(timeout, TcpStream::connect(&text))
        .await
        .map_err(|_| Error::Timeout(timeout))?
        .map_err(unreachable)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects and logs in.
///
/// # Errors
/// [`Error::Unreachable`], [`Error::NotIscsi`], [`Error::LoginRefused`],
/// [`Error::Login`], [`Error::Timeout`].
pub async fn login(options: &LoginOptions) -> Result<Session, Error> {
    let (result, chosen) = login_once(options).await;
    match result {
        Err(Error::LoginRefused { status, .. })
            if options.chap_md5_fallback && needs_md5_retry(&options.auth, status, chosen) =>
        {
            tracing::info!(
                chosen = chosen.map(ChapAlgorithm::name),
                %status,
                "the target refused the CHAP response after choosing a non-MD5 algorithm; \
                 retrying with CHAP_A=5 (IET-derived targets such as tgtd take 7 for SHA-1)"
            );
            let mut retry = options.clone();
            retry.auth = options.auth.clone().with_algorithms(&[ChapAlgorithm::Md5]);
            login_once(&retry).await.0
        }
        other => other,
    }
}

/// Whether a refused CHAP login is worth one more try offering MD5 only:
/// the target chose a stronger algorithm we also offered MD5 beside, then
/// answered 0x0200 or 0x0201. Targets descended from IET (tgtd, SCST before
/// 2025) number SHA-1 as 7 (IANA: SHA-256), so they pick 7 and reject the
/// 32-byte response; others accept only a CHAP_A list of exactly `5`.
fn needs_md5_retry(
    auth: &InitiatorAuth,
    status: LoginStatus,
    chosen: Option<ChapAlgorithm>,
) -> bool {
    let InitiatorAuth::Chap { algorithms, .. } = auth else {
        return false;
    };
    let initiator_side =
        status == LoginStatus::INITIATOR_ERROR || status == LoginStatus::AUTHENTICATION_FAILURE;
    initiator_side
        && algorithms.contains(&ChapAlgorithm::Md5)
        && algorithms.len() > 1
        && chosen != Some(ChapAlgorithm::Md5)
}

/// One login attempt, and the CHAP algorithm the target chose in it.
async fn login_once(options: &LoginOptions) -> (Result<Session, Error>, Option<ChapAlgorithm>) {
    let chosen = std::sync::Mutex::new(None);
    let result = login_attempt(options, &chosen).await;
    (result, chosen.into_inner().ok().flatten())
}

async fn login_attempt(
    options: &LoginOptions,
    chosen: &std::sync::Mutex<Option<ChapAlgorithm>>,
) -> Result<Session, Error> {
    let started = Instant::now();
    let fut = async {
        let stream = connect(&options.portal, options.timeout).await?;
        let peer = stream.peer_addr()?;
        let (mut reader, mut writer) = stream.into_split();
        let isid = fresh_isid();
        let mut config = match &options.target {
            Some(t) => {
                InitiatorLoginConfig::normal(options.initiator_name.clone(), t.clone(), isid)
            }
            None => InitiatorLoginConfig::discovery(options.initiator_name.clone(), isid),
        };
        config = config
            .with_auth(options.auth.clone())
            .with_operational(options.operational.clone());
        // The deadline is the tokio timeout around connect and login.
        let mut conn = Connection::new(
            config,
            Box::new(iscsi_login::OsChallengeSource::new()),
            0,
            0,
        );
        let mut buf = BytesMut::with_capacity(256 * 1024);
        let params = loop {
            if let Some(mut out) = conn.poll_transmit() {
                writer.write_all_buf(&mut out).await?;
            }
            let mut outcome = None;
            while let Some(event) = conn.poll_event() {
                match event {
                    ConnEvent::LoggedIn(p) => outcome = Some(Ok(p)),
                    ConnEvent::LoginFailed(failure) => outcome = Some(Err(failure)),
                    _ => {}
                }
            }
            if let Some(code) = conn
                .login()
                .received_text()
                .get("CHAP_A")
                .and_then(|v| v.parse::<u64>().ok())
                && let Ok(mut slot) = chosen.lock()
            {
                *slot = ChapAlgorithm::from_code(code);
            }
            match outcome {
                Some(Ok(p)) => break *p,
                Some(Err(failure)) => {
                    return Err(Error::from_login_failure(failure, options.timeout));
                }
                None => {}
            }
            if reader.read_buf(&mut buf).await? == 0 {
                return Err(Error::NotIscsi(
                    "the peer closed the connection without a Login Response".to_owned(),
                ));
            }
            conn.handle_bytes(0, &mut buf);
        };
        let info = LoginInfo {
            peer,
            rtt_ms: started.elapsed().as_secs_f64() * 1000.0,
            last_response: conn.login().last_response().copied(),
            received: conn.login().received_text().clone(),
            isid,
        };
        Ok((reader, writer, buf, conn, params, info))
    };
    let (reader, writer, buf, conn, params, info) = tokio::time::timeout(options.timeout, fut)
        .await
        .map_err(|_| Error::Timeout(options.timeout))??;
    let params = Arc::new(params);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(reader, writer, buf, conn, rx));
    Ok(Session {
        tx,
        params,
        info,
        task,
    })
}

enum Waiter {
    Command(oneshot::Sender<Result<ScsiResult, Error>>),
    Text(oneshot::Sender<Result<TextPairs, Error>>),
    Tmf(oneshot::Sender<Result<TmfResponseCode, Error>>),
    Logout(oneshot::Sender<Result<(), Error>>),
}

/// The connection task: owns the socket and the [`Connection`]; a thin
/// driver that feeds it bytes and requests and writes what it encodes.
async fn run(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut buf: BytesMut,
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    let mut waiters: HashMap<Itt, Waiter> = HashMap::new();
    let mut requests_open = true;
    let end: Result<(), Error> = loop {
        // Take every request already queued before writing (batching).
        while let Ok(r) = rx.try_recv() {
            accept(&mut conn, &mut waiters, r);
        }
        let mut end = None;
        while let Some(event) = conn.poll_event() {
            match event {
                ConnEvent::Session(event) => answer(&mut conn, &mut waiters, event),
                ConnEvent::Closed { reason } => {
                    end = Some(if reason == "logged out" {
                        Ok(())
                    } else {
                        tracing::warn!(%reason, "closing the connection");
                        Err(Error::Closed(reason))
                    });
                }
                _ => {}
            }
        }
        if let Some(mut out) = conn.poll_transmit()
            && let Err(e) = writer.write_all_buf(&mut out).await
        {
            break Err(e.into());
        }
        if let Some(end) = end {
            break end;
        }
        tokio::select! {
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => break Err(Error::Closed("end of stream".to_owned())),
                Ok(_) => conn.handle_bytes(0, &mut buf),
                Err(e) => break Err(e.into()),
            },
            request = rx.recv(), if requests_open => match request {
                Some(r) => accept(&mut conn, &mut waiters, r),
                None => {
                    // Every handle dropped: log out politely.
                    requests_open = false;
                    logout(&mut conn, &mut waiters);
                }
            },
        }
    };
    let _ = writer.shutdown().await;
    let reason = match &end {
        Ok(()) => "logged out".to_owned(),
        Err(e) => e.to_string(),
    };
    for (_, w) in waiters.drain() {
        match w {
            Waiter::Command(tx) => drop(tx.send(Err(Error::Closed(reason.clone())))),
            Waiter::Text(tx) => drop(tx.send(Err(Error::Closed(reason.clone())))),
            Waiter::Tmf(tx) => drop(tx.send(Err(Error::Closed(reason.clone())))),
            Waiter::Logout(tx) => drop(
                tx.send(
                    end.as_ref()
                        .map(|_| ())
                        .map_err(|_| Error::Closed(reason.clone())),
                ),
            ),
        }
    }
}

/// Hands a full-feature event to whoever waits for it.
fn answer(conn: &mut Connection, waiters: &mut HashMap<Itt, Waiter>, event: Event) {
    match event {
        Event::Completed { itt, result } => {
            if let Some(Waiter::Command(tx)) = waiters.remove(&itt) {
                let _ = tx.send(result.map_err(Error::from));
            }
        }
        Event::Text { itt, pairs } => {
            if let Some(Waiter::Text(tx)) = waiters.remove(&itt) {
                let _ = tx.send(pairs.map_err(Error::BadData));
            }
        }
        Event::TaskManagement { itt, response } => {
            if let Some(Waiter::Tmf(tx)) = waiters.remove(&itt) {
                let _ = tx.send(Ok(response));
            }
        }
        Event::LogoutRequested { .. } | Event::Dropping => logout(conn, waiters),
        Event::Rejected { reason } => {
            tracing::warn!(reason = %reason, "target rejected a PDU");
        }
        // The connection closes after these; its Closed event follows.
        Event::LoggedOut | Event::Fatal { .. } => {}
    }
}

/// Queues a Logout nobody waits for (the session is ending anyway).
fn logout(conn: &mut Connection, waiters: &mut HashMap<Itt, Waiter>) {
    if let Some(itt) = conn.logout() {
        let (tx, _) = oneshot::channel();
        waiters.insert(itt, Waiter::Logout(tx));
    }
}

fn accept(conn: &mut Connection, waiters: &mut HashMap<Itt, Waiter>, request: Request) {
    let ended = || Error::Closed("the session has ended".to_owned());
    match request {
        Request::Command(c, tx) => match conn.submit(c) {
            Some(itt) => drop(waiters.insert(itt, Waiter::Command(tx))),
            None => drop(tx.send(Err(ended()))),
        },
        Request::Text(pairs, tx) => match conn.text(&pairs) {
            Some(itt) => drop(waiters.insert(itt, Waiter::Text(tx))),
            None => drop(tx.send(Err(ended()))),
        },
        Request::Tmf(f, lun, referenced, tx) => match conn.task_management(f, lun, referenced) {
            Some(itt) => drop(waiters.insert(itt, Waiter::Tmf(tx))),
            None => drop(tx.send(Err(ended()))),
        },
        Request::Logout(tx) => match conn.logout() {
            Some(itt) => drop(waiters.insert(itt, Waiter::Logout(tx))),
            None => drop(tx.send(Err(ended()))),
        },
    }
}

fn lun(index: u16) -> Lun {
    Lun::from_index(index).unwrap_or_default()
}

impl Session {
    /// The negotiated parameters.
    #[must_use]
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// What the login saw.
    #[must_use]
    pub fn login_info(&self) -> &LoginInfo {
        &self.info
    }

    /// Runs a command; `Ok` for any SCSI status (check [`ScsiResult`]).
    ///
    /// # Errors
    /// The connection closed, the target rejected the command, or the
    /// Data-In sequence was broken.
    pub async fn execute(&self, command: Command) -> Result<ScsiResult, Error> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Command(command, tx))
            .map_err(|_| Error::Closed("the session has ended".to_owned()))?;
        rx.await
            .map_err(|_| Error::Closed("the session has ended".to_owned()))?
    }

    /// Runs a command and requires GOOD; returns the data read.
    ///
    /// # Errors
    /// As [`execute`](Self::execute), plus [`Error::Scsi`] for another status.
    pub async fn run(
        &self,
        lun_index: u16,
        cdb: &Cdb,
        data_out: Bytes,
        read_length: u32,
    ) -> Result<Bytes, Error> {
        let command = Command::new(lun(lun_index), cdb.as_slice())
            .writing(data_out)
            .reading(read_length);
        let r = self.execute(command).await?;
        if r.is_good() {
            Ok(r.data)
        } else {
            Err(Error::Scsi {
                status: r.status,
                sense: r.parsed_sense(),
            })
        }
    }

    /// TEST UNIT READY, retried through unit attentions (up to 8).
    ///
    /// # Errors
    /// The last failure.
    pub async fn test_unit_ready(&self, lun_index: u16) -> Result<(), Error> {
        let mut last = None;
        for _ in 0..8 {
            match self
                .run(lun_index, &Cdb::test_unit_ready(), Bytes::new(), 0)
                .await
            {
                Ok(_) => return Ok(()),
                Err(Error::Scsi { status, sense })
                    if sense.is_some_and(|s| s.key == iscsi_scsi::SenseKey::UNIT_ATTENTION) =>
                {
                    last = Some(Error::Scsi { status, sense });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Closed("no answer".to_owned())))
    }

    /// Standard INQUIRY data.
    ///
    /// # Errors
    /// As [`run`](Self::run), or [`Error::BadData`].
    pub async fn inquiry(&self, lun_index: u16) -> Result<StandardInquiry, Error> {
        let data = self
            .run(lun_index, &Cdb::inquiry(false, 0, 255), Bytes::new(), 255)
            .await?;
        StandardInquiry::parse(&data).map_err(|e| Error::BadData(e.to_string()))
    }

    /// A VPD page's raw bytes.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn vpd(&self, lun_index: u16, page: u8) -> Result<Bytes, Error> {
        self.run(
            lun_index,
            &Cdb::inquiry(true, page, 4096),
            Bytes::new(),
            4096,
        )
        .await
    }

    /// Capacity: (blocks, block size in bytes), READ CAPACITY(16) with a
    /// fallback to (10).
    ///
    /// # Errors
    /// As [`run`](Self::run), or [`Error::BadData`].
    pub async fn read_capacity(&self, lun_index: u16) -> Result<(u64, u32), Error> {
        match self
            .run(lun_index, &Cdb::read_capacity16(32), Bytes::new(), 32)
            .await
        {
            Ok(data) => {
                let rc = ReadCapacity16::parse(&data).map_err(|e| Error::BadData(e.to_string()))?;
                Ok((rc.block_count(), rc.block_length))
            }
            Err(Error::Scsi { .. }) => {
                let data = self
                    .run(lun_index, &Cdb::read_capacity10(), Bytes::new(), 8)
                    .await?;
                let rc = ReadCapacity10::parse(&data).map_err(|e| Error::BadData(e.to_string()))?;
                Ok((rc.block_count(), rc.block_length))
            }
            Err(e) => Err(e),
        }
    }

    /// The LUN indexes REPORT LUNS lists.
    ///
    /// # Errors
    /// As [`run`](Self::run), or [`Error::BadData`].
    pub async fn report_luns(&self) -> Result<Vec<u16>, Error> {
        let data = self
            .run(0, &Cdb::report_luns(0, 16 * 1024), Bytes::new(), 16 * 1024)
            .await?;
        let luns = ReportLuns::parse(&data).map_err(|e| Error::BadData(e.to_string()))?;
        Ok(luns.luns.iter().filter_map(|l| l.index()).collect())
    }

    /// Reads `blocks` blocks from `lba`.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn read_blocks(
        &self,
        lun_index: u16,
        lba: u64,
        blocks: u32,
        block_size: u32,
    ) -> Result<Bytes, Error> {
        self.run(
            lun_index,
            &Cdb::read(lba, blocks, false, false),
            Bytes::new(),
            blocks * block_size,
        )
        .await
    }

    /// Writes `data` (whole blocks) at `lba`.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn write_blocks(
        &self,
        lun_index: u16,
        lba: u64,
        data: Bytes,
        block_size: u32,
    ) -> Result<(), Error> {
        let blocks = u32::try_from(data.len() / block_size.max(1) as usize).unwrap_or(u32::MAX);
        self.run(lun_index, &Cdb::write(lba, blocks, false, false), data, 0)
            .await
            .map(|_| ())
    }

    /// SYNCHRONIZE CACHE of the whole unit.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn sync_cache(&self, lun_index: u16) -> Result<(), Error> {
        self.run(
            lun_index,
            &Cdb::synchronize_cache16(false, 0, 0),
            Bytes::new(),
            0,
        )
        .await
        .map(|_| ())
    }

    /// UNMAP the ranges (LBA, blocks).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn unmap(&self, lun_index: u16, ranges: &[(u64, u32)]) -> Result<(), Error> {
        let list = iscsi_scsi::initiator::unmap_parameter_list(ranges);
        let len = u16::try_from(list.len()).unwrap_or(u16::MAX);
        self.run(lun_index, &Cdb::unmap(false, len), Bytes::from(list), 0)
            .await
            .map(|_| ())
    }

    /// A Text exchange (SendTargets and the like), continued answers joined.
    ///
    /// # Errors
    /// The connection closed or the target rejected it.
    pub async fn text(&self, pairs: TextPairs) -> Result<TextPairs, Error> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Text(pairs, tx))
            .map_err(|_| Error::Closed("the session has ended".to_owned()))?;
        rx.await
            .map_err(|_| Error::Closed("the session has ended".to_owned()))?
    }

    /// A task management function.
    ///
    /// # Errors
    /// The connection closed.
    pub async fn task_management(
        &self,
        function: TmfFunction,
        lun_index: u16,
        referenced: Option<Itt>,
    ) -> Result<TmfResponseCode, Error> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Tmf(function, lun(lun_index), referenced, tx))
            .map_err(|_| Error::Closed("the session has ended".to_owned()))?;
        rx.await
            .map_err(|_| Error::Closed("the session has ended".to_owned()))?
    }

    /// Logs out (a Logout Request, never a bare close) and waits for the answer.
    ///
    /// # Errors
    /// The connection closed before the Logout Response.
    pub async fn logout(self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Request::Logout(tx)).is_ok();
        let result = if sent {
            match tokio::time::timeout(Duration::from_secs(10), rx).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(Error::Closed("the session has ended".to_owned())),
                Err(_) => Err(Error::Timeout(Duration::from_secs(10))),
            }
        } else {
            Err(Error::Closed("the session has ended".to_owned()))
        };
        drop(self.tx);
        let _ = self.task.await;
        result
    }
}

/// One target of a SendTargets answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveredTarget {
    /// TargetName.
    pub name: String,
    /// Its TargetAddress values (`host:port,tpgt`), in order.
    pub addresses: Vec<String>,
}

/// Groups a SendTargets answer into targets: each TargetAddress belongs to
/// the TargetName before it (RFC 7143 Appendix C).
#[must_use]
pub fn parse_send_targets(pairs: &TextPairs) -> Vec<DiscoveredTarget> {
    let mut out: Vec<DiscoveredTarget> = Vec::new();
    for (k, v) in pairs.iter() {
        match k {
            "TargetName" => out.push(DiscoveredTarget {
                name: v.to_owned(),
                addresses: Vec::new(),
            }),
            "TargetAddress" => {
                if let Some(last) = out.last_mut() {
                    last.addresses.push(v.to_owned());
                }
            }
            _ => {}
        }
    }
    out
}

/// The result of a discovery.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Discovery {
    /// The targets.
    pub targets: Vec<DiscoveredTarget>,
    /// The raw answer, in order, duplicates kept.
    pub pairs: TextPairs,
    /// What the login saw.
    pub login: LoginInfo,
    /// The negotiated parameters.
    pub params: SessionParams,
}

/// A Discovery session: login, SendTargets=All (every continued piece
/// read), Logout.
///
/// # Errors
/// As [`login`], plus text errors.
pub async fn discover(options: &LoginOptions) -> Result<Discovery, Error> {
    let mut options = options.clone();
    options.target = None;
    let session = login(&options).await?;
    let pairs = tokio::time::timeout(options.timeout, session.text(send_targets("All")))
        .await
        .map_err(|_| Error::Timeout(options.timeout))??;
    let login_info = session.login_info().clone();
    let params = session.params().clone();
    session.logout().await?;
    Ok(Discovery {
        targets: parse_send_targets(&pairs),
        pairs,
        login: login_info,
        params,
    })
}

/// True when a session is a Discovery session.
#[must_use]
pub fn is_discovery(params: &SessionParams) -> bool {
    params.session_type == SessionType::Discovery
}

#[cfg(test)]
mod tests {
    use super::*;
    use iscsi_pdu::{NopIn, Pdu};

    #[tokio::test]
    async fn pdu_reader_keeps_bytes_past_the_current_pdu() {
        let a: PduBuf = Pdu::new(NopIn::default(), Bytes::from_static(b"first"));
        let b: PduBuf = Pdu::new(NopIn::default(), Bytes::from_static(b"second"));
        let mut stream = a.to_vec(Digests::NONE).unwrap();
        stream.extend(b.to_vec(Digests::NONE).unwrap());
        // Both PDUs arrive in one read.
        let mut reader = PduReader::new(&stream[..]);
        let first = reader.read_pdu().await.unwrap();
        assert_eq!(&first.data[..], b"first");
        assert!(reader.buffered() > 0, "the second PDU's bytes are kept");
        let second = reader.read_pdu().await.unwrap();
        assert_eq!(&second.data[..], b"second");
        assert!(matches!(reader.read_pdu().await, Err(Error::Closed(_))));
    }

    #[test]
    fn send_targets_groups_addresses_and_keeps_duplicates() {
        let pairs = TextPairs::parse(b"TargetName=iqn.a\0TargetAddress=10.0.0.1:3260,1\0TargetAddress=[::1]:3260,1\0TargetName=iqn.b\0TargetAddress=10.0.0.2:3260,2\0").unwrap();
        let t = parse_send_targets(&pairs);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].addresses, ["10.0.0.1:3260,1", "[::1]:3260,1"]);
        assert_eq!(t[1].name, "iqn.b");
        assert_eq!(pairs.get_all("TargetAddress").count(), 3);
    }

    #[test]
    fn chap_falls_back_to_md5_only_for_targets_that_misread_stronger_algorithms() {
        let creds = credentials("alice", "secret").unwrap();
        let all = InitiatorAuth::chap(creds.clone());
        let md5 = all.clone().with_algorithms(&[ChapAlgorithm::Md5]);
        let init = LoginStatus::INITIATOR_ERROR;
        let auth = LoginStatus::AUTHENTICATION_FAILURE;
        // tgtd chose 7 (its SHA-1) and refused our SHA-256 response.
        assert!(needs_md5_retry(&all, init, Some(ChapAlgorithm::Sha256)));
        assert!(needs_md5_retry(&all, auth, Some(ChapAlgorithm::Sha1)));
        // A target that refused a list with more than MD5 in it.
        assert!(needs_md5_retry(&all, init, None));
        // MD5 already chosen or the only offer: a wrong secret stays wrong.
        assert!(!needs_md5_retry(&all, auth, Some(ChapAlgorithm::Md5)));
        assert!(!needs_md5_retry(&md5, auth, None));
        // Not an initiator-side refusal, or no CHAP.
        assert!(!needs_md5_retry(
            &all,
            LoginStatus::NOT_FOUND,
            Some(ChapAlgorithm::Sha256)
        ));
        assert!(!needs_md5_retry(&InitiatorAuth::None, auth, None));
        let sha = InitiatorAuth::chap(creds).with_algorithms(&[ChapAlgorithm::Sha256]);
        assert!(!needs_md5_retry(&sha, init, Some(ChapAlgorithm::Sha256)));
    }

    #[test]
    fn isids_are_fresh_per_session() {
        let a = fresh_isid();
        let b = fresh_isid();
        assert_ne!(a, b);
        assert_eq!(a.isid_type(), Isid::TYPE_RANDOM);
    }
}
