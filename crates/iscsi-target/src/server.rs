//! The tokio runtime: portals, the login phase, sessions, SCSI execution,
//! and graceful shutdown, over the sans-IO [`TargetLogin`] and [`Engine`].

use std::collections::{BTreeMap, HashMap};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use iscsi_login::{
    AuthConfig, ChapCredentials, LoginEvent, OperationalConfig, OsChallengeSource, SessionParams,
    TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::{
    Decoded, Digests, FrameError, FrameLimits, Framer, Isid, Itt, Lun, PduBuf, TmfFunction,
    TmfResponseCode, Tsih,
};
use iscsi_scsi::{
    BlockBackend, FileBackend, LogicalUnit, LuConfig, MemoryBackend, Nexus, Request, ResetKind,
    Response, lun_not_supported, report_luns,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::{Backing, Config, Portal};
use crate::engine::{Engine, EngineConfig, Event, ScsiTask, SendTargetsEntry};

/// A logical unit as the server holds it.
#[derive(Debug)]
struct Unit {
    lu: Arc<LogicalUnit>,
    /// Memory-backed units run commands on the connection's task (they are
    /// quicker than a thread hand-off); file-backed ones on the blocking pool.
    inline: bool,
}

#[derive(Debug)]
struct TargetState {
    name: String,
    alias: Option<String>,
    allow: Vec<String>,
    auth: AuthConfig,
    luns: BTreeMap<u16, Unit>,
    removed: AtomicBool,
}

impl TargetState {
    fn lun_ids(&self) -> Vec<u16> {
        self.luns.keys().copied().collect()
    }
}

/// A session the server knows: how to end it.
#[derive(Debug)]
struct SessionEntry {
    tsih: Tsih,
    target: Option<String>,
    kill: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Sessions {
    by_key: HashMap<(String, Isid), SessionEntry>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    targets: HashMap<String, Arc<TargetState>>,
    discovery_auth: AuthConfig,
    sessions: Mutex<Sessions>,
    connections: AtomicUsize,
    accepting: AtomicBool,
    next_tsih: AtomicU16,
    next_nexus: AtomicU64,
    send_targets: Mutex<Vec<SendTargetsEntry>>,
    started: Instant,
    shutdown: watch::Sender<bool>,
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn session_count(&self) -> usize {
        self.sessions.lock().map_or(0, |s| s.by_key.len())
    }
}

/// The login policy of one connection.
struct Policy<'a> {
    inner: &'a Inner,
    /// Set by `assign_tsih`: the session's kill switch.
    registered: Mutex<Option<watch::Receiver<bool>>>,
}

impl TargetPolicy for Policy<'_> {
    fn accepting_logins(&self) -> bool {
        self.inner.accepting.load(Ordering::Acquire)
    }

    fn connection_limit_reached(&self) -> bool {
        self.inner.connections.load(Ordering::Acquire) > self.inner.config.limits.max_connections
    }

    fn target(&self, name: &str) -> TargetLookup {
        match self.inner.targets.get(name) {
            Some(t) if t.removed.load(Ordering::Acquire) => TargetLookup::Removed,
            Some(t) => TargetLookup::Found {
                auth: t.auth.clone(),
                alias: t.alias.clone(),
            },
            None => TargetLookup::NotFound,
        }
    }

    fn authorize(&self, target: &str, initiator: &str) -> bool {
        self.inner
            .targets
            .get(target)
            .is_some_and(|t| t.allow.is_empty() || t.allow.iter().any(|a| a == initiator))
    }

    fn discovery_auth(&self) -> AuthConfig {
        self.inner.discovery_auth.clone()
    }

    fn session_exists(&self, initiator: &str, isid: Isid, tsih: Tsih) -> bool {
        self.inner.sessions.lock().is_ok_and(|s| {
            s.by_key
                .get(&(initiator.to_owned(), isid))
                .is_some_and(|e| e.tsih == tsih)
        })
    }

    fn assign_tsih(&self, params: &SessionParams) -> Option<Tsih> {
        let Ok(mut sessions) = self.inner.sessions.lock() else {
            return None;
        };
        let key = (params.initiator_name.clone(), params.isid);
        // Session reinstatement (RFC 7143 §6.3.5): a new login with the same
        // InitiatorName and ISID and TSIH 0 closes the old session.
        if let Some(old) = sessions.by_key.remove(&key) {
            info!(initiator = %params.initiator_name, isid = %params.isid, "session reinstatement: closing the old session");
            let _ = old.kill.send(true);
        }
        if sessions.by_key.len() >= self.inner.config.limits.max_sessions {
            return None;
        }
        let mut tsih = Tsih(0);
        for _ in 0..=u16::MAX {
            let t = self.inner.next_tsih.fetch_add(1, Ordering::Relaxed);
            if t != 0 && !sessions.by_key.values().any(|e| e.tsih.0 == t) {
                tsih = Tsih(t);
                break;
            }
        }
        if tsih.0 == 0 {
            return None;
        }
        let (kill, rx) = watch::channel(false);
        sessions.by_key.insert(
            key,
            SessionEntry {
                tsih,
                target: params.target_name.clone(),
                kill,
            },
        );
        if let Ok(mut r) = self.registered.lock() {
            *r = Some(rx);
        }
        Some(tsih)
    }
}

/// A running target server.
#[derive(Debug)]
pub struct Server {
    inner: Arc<Inner>,
    addresses: Vec<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Builds the logical units of the configuration.
///
/// # Errors
/// The backend that could not be opened, named.
fn build_targets(config: &Config) -> io::Result<HashMap<String, Arc<TargetState>>> {
    let mut targets = HashMap::new();
    for t in &config.targets {
        let mut luns = BTreeMap::new();
        let mut lun_configs = t.luns.clone();
        if !lun_configs.iter().any(|l| l.id == 0) {
            // LUN 0 must exist (SAM-5 §4.6.5): a small RAM LUN stands in.
            lun_configs.insert(
                0,
                crate::config::LunConfig {
                    id: 0,
                    backing: Backing::Memory,
                    size: Some(64 << 20),
                    block_size: 512,
                    read_only: false,
                    serial: None,
                    product: None,
                },
            );
        }
        for l in &lun_configs {
            let (backend, inline): (Arc<dyn BlockBackend>, bool) = match &l.backing {
                Backing::Memory => {
                    let disk = MemoryBackend::new(
                        l.size.unwrap_or(crate::config::DEFAULT_SIZE),
                        l.block_size,
                    )
                    .map_err(|e| {
                        io::Error::other(format!("target {} LUN {}: {e}", t.name, l.id))
                    })?;
                    let disk = if l.read_only { disk.read_only() } else { disk };
                    (Arc::new(disk), true)
                }
                Backing::File(path) => {
                    let disk = FileBackend::open(path, l.size, l.block_size, l.read_only).map_err(
                        |e| io::Error::other(format!("target {} LUN {}: {e}", t.name, l.id)),
                    )?;
                    (Arc::new(disk), false)
                }
            };
            let serial = l
                .serial
                .clone()
                .unwrap_or_else(|| format!("{:08X}{:04X}", fnv32(&t.name), l.id));
            let mut lu_config = LuConfig::new(t.name.clone(), serial);
            lu_config.read_only = l.read_only;
            lu_config.product = l.product.clone().unwrap_or_else(|| match l.backing {
                Backing::Memory => "RAMDISK".to_owned(),
                Backing::File(_) => "FILEDISK".to_owned(),
            });
            luns.insert(
                l.id,
                Unit {
                    lu: Arc::new(LogicalUnit::new(backend, lu_config)),
                    inline,
                },
            );
        }
        let auth = auth_config(
            t.chap.as_ref(),
            t.mutual_chap.as_ref(),
            &format!("target {}", t.name),
        )?;
        targets.insert(
            t.name.clone(),
            Arc::new(TargetState {
                name: t.name.clone(),
                alias: t.alias.clone(),
                allow: t.allow.clone(),
                auth,
                luns,
                removed: AtomicBool::new(false),
            }),
        );
    }
    Ok(targets)
}

/// CHAP (and mutual CHAP) when configured, else no authentication; `what`
/// ("target NAME" or "discovery") prefixes the error.
fn auth_config(
    chap: Option<&ChapCredentials>,
    mutual: Option<&ChapCredentials>,
    what: &str,
) -> io::Result<AuthConfig> {
    let auth = chap.map_or_else(AuthConfig::none, |c| AuthConfig::chap(c.clone()));
    match mutual {
        Some(m) => auth
            .with_mutual(m.clone())
            .map_err(|e| io::Error::other(format!("{what}: {e}"))),
        None => Ok(auth),
    }
}

fn fnv32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn address_text(addr: SocketAddr, group: u16) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{},{group}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{},{group}", a.ip(), a.port()),
    }
}

impl Server {
    /// Opens the logical units and binds every portal (port 0 picks a free
    /// port; [`Server::addresses`] tells which).
    ///
    /// # Errors
    /// A backend that cannot be opened or an address that cannot be bound.
    pub async fn start(config: Config) -> io::Result<Self> {
        let targets = build_targets(&config)?;
        let discovery_auth = auth_config(
            config.discovery_chap.as_ref(),
            config.discovery_mutual_chap.as_ref(),
            "discovery",
        )?;
        let (shutdown, _) = watch::channel(false);
        let mut listeners = Vec::new();
        for portal in &config.portals {
            let listener = TcpListener::bind(portal.address).await.map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot listen on {}: {e}", portal.address),
                )
            })?;
            let bound = listener.local_addr()?;
            listeners.push((
                listener,
                Portal {
                    address: bound,
                    group: portal.group,
                },
            ));
        }
        let addresses: Vec<SocketAddr> = listeners.iter().map(|(_, p)| p.address).collect();
        let mut names: Vec<&String> = targets.keys().collect();
        names.sort();
        let send_targets = names
            .iter()
            .map(|name| {
                SendTargetsEntry::new(
                    name.as_str(),
                    listeners
                        .iter()
                        .map(|(_, p)| address_text(p.address, p.group))
                        .collect(),
                )
            })
            .collect();
        let inner = Arc::new(Inner {
            config,
            targets,
            discovery_auth,
            sessions: Mutex::new(Sessions::default()),
            connections: AtomicUsize::new(0),
            accepting: AtomicBool::new(true),
            next_tsih: AtomicU16::new(1),
            next_nexus: AtomicU64::new(1),
            send_targets: Mutex::new(send_targets),
            started: Instant::now(),
            shutdown,
        });
        let mut tasks = Vec::new();
        for (listener, portal) in listeners {
            info!(address = %portal.address, group = portal.group, "listening");
            tasks.push(tokio::spawn(accept_loop(inner.clone(), listener, portal)));
        }
        Ok(Self {
            inner,
            addresses,
            tasks,
        })
    }

    /// The bound portal addresses.
    #[must_use]
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// Sessions logged in now.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.inner.session_count()
    }

    /// Takes a target out of service: new logins get 0x0204 (target
    /// removed), its sessions are closed, SendTargets stops listing it.
    pub fn remove_target(&self, name: &str) {
        if let Some(t) = self.inner.targets.get(name) {
            t.removed.store(true, Ordering::Release);
            if let Ok(mut st) = self.inner.send_targets.lock() {
                st.retain(|e| e.name != name);
            }
            if let Ok(sessions) = self.inner.sessions.lock() {
                for s in sessions.by_key.values() {
                    if s.target.as_deref() == Some(name) {
                        let _ = s.kill.send(true);
                    }
                }
            }
        }
    }

    /// Graceful shutdown: new logins get 0x0301, every session gets an
    /// Asynchronous Message asking for a logout within the grace period,
    /// sessions still open after it are closed, backends are flushed.
    ///
    /// # Errors
    /// A backend that failed to flush.
    pub async fn shutdown(self) -> io::Result<()> {
        let grace = Duration::from_secs(u64::from(self.inner.config.limits.shutdown_grace_s));
        self.inner.accepting.store(false, Ordering::Release);
        let _ = self.inner.shutdown.send(true);
        let deadline = Instant::now() + grace;
        while self.inner.session_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Ok(sessions) = self.inner.sessions.lock() {
            for s in sessions.by_key.values() {
                let _ = s.kill.send(true);
            }
        }
        let until = Instant::now() + Duration::from_secs(2);
        while self.inner.connections.load(Ordering::Acquire) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for task in &self.tasks {
            task.abort();
        }
        let mut result = Ok(());
        for t in self.inner.targets.values() {
            for unit in t.luns.values() {
                if let Err(e) = unit.lu.flush() {
                    warn!(target = %t.name, error = %e, "flush failed");
                    result = Err(e);
                }
            }
        }
        info!("shut down");
        result
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener, portal: Portal) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let inner = inner.clone();
                tokio::spawn(async move {
                    inner.connections.fetch_add(1, Ordering::AcqRel);
                    if let Err(e) = connection(&inner, stream, peer, portal).await {
                        debug!(%peer, error = %e, "connection ended");
                    }
                    inner.connections.fetch_sub(1, Ordering::AcqRel);
                });
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Sends PDUs: encodes headers and hands header, data and trailer of many
/// PDUs to one vectored write.
async fn writer(
    mut socket: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<(Vec<PduBuf>, Digests)>,
) {
    let mut head = BytesMut::with_capacity(64 * 1024);
    let mut held = None;
    loop {
        let next = match held.take() {
            Some(batch) => Some(batch),
            None => rx.recv().await,
        };
        let Some((mut batch, digests)) = next else {
            break;
        };
        // Gather whatever else is queued under the same digests into the
        // same write; a batch under other digests (the last Login Response
        // is sent without any, the first full-feature PDUs with the
        // negotiated ones) waits for the next write.
        while let Ok((more, d)) = rx.try_recv() {
            if d == digests {
                batch.extend(more);
            } else {
                held = Some((more, d));
                break;
            }
        }
        let Ok(mut parts) = iscsi_pdu::encode_vectored(&batch, digests, &mut head) else {
            return;
        };
        if write_all_vectored(&mut socket, &mut parts).await.is_err() {
            return;
        }
    }
    let _ = socket.shutdown().await;
}

async fn write_all_vectored(
    socket: &mut tokio::net::tcp::OwnedWriteHalf,
    parts: &mut [Bytes],
) -> io::Result<()> {
    let mut first = 0;
    while first < parts.len() {
        let slices: Vec<IoSlice<'_>> = parts
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .take(64)
            .map(|b| IoSlice::new(b))
            .collect();
        let mut n = socket.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let Some(part) = parts.get_mut(first) else {
                break;
            };
            if n >= part.len() {
                n -= part.len();
                first += 1;
            } else {
                let _ = part.split_to(n);
                n = 0;
            }
        }
    }
    Ok(())
}

/// Reads until the framer yields a PDU; `None` at EOF.
async fn read_frame(
    socket: &mut tokio::net::tcp::OwnedReadHalf,
    framer: &mut Framer,
    buf: &mut BytesMut,
) -> io::Result<Result<iscsi_pdu::Frame, FrameError>> {
    loop {
        match framer.decode(buf) {
            Ok(Decoded::Frame(frame)) => return Ok(Ok(frame)),
            Ok(Decoded::Incomplete { needed }) => {
                buf.reserve(needed.max(64 * 1024));
                if socket.read_buf(buf).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

async fn connection(
    inner: &Arc<Inner>,
    stream: TcpStream,
    peer: SocketAddr,
    portal: Portal,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer_task = tokio::spawn(writer(wr, rx));
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let mut framer = Framer::new(FrameLimits::default());

    // ---- Login phase. ----
    let limits = &inner.config.limits;
    let mut operational = OperationalConfig::default();
    operational.header_digest = limits.header_digest;
    operational.data_digest = limits.data_digest;
    operational.max_recv_data_segment_length = limits.max_recv_data_segment_length;
    operational.max_burst_length = limits.max_burst_length;
    operational.first_burst_length = limits.first_burst_length;
    operational.max_outstanding_r2t = limits.max_outstanding_r2t;
    operational.immediate_data = limits.immediate_data;
    operational.initial_r2t = limits.initial_r2t;
    let mut login_config = TargetLoginConfig::default();
    login_config.operational = operational;
    login_config.portal_group_tag = portal.group;
    login_config.command_window = limits.queue_depth;
    let mut login = TargetLogin::new(login_config, Box::new(OsChallengeSource::new()));
    let policy = Policy {
        inner,
        registered: Mutex::new(None),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(limits.login_timeout_ms);
    let params = loop {
        let frame =
            match tokio::time::timeout_at(deadline, read_frame(&mut rd, &mut framer, &mut buf))
                .await
            {
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "login timed out")),
                Ok(r) => r?,
            };
        let result = match frame {
            Ok(frame) => match frame.parse() {
                Ok(pdu) => login.handle_pdu(&pdu, &policy),
                Err(e) => Err(login.handle_malformed(frame.itt(), e)),
            },
            Err(e) => {
                return Err(io::Error::other(format!("login framing: {e}")));
            }
        };
        let mut out = Vec::new();
        while let Some(p) = login.poll_transmit() {
            out.push(p);
        }
        if !out.is_empty() {
            let _ = tx.send((out, Digests::NONE));
        }
        let mut complete = None;
        while let Some(event) = login.poll_event() {
            match event {
                LoginEvent::Complete(p) => complete = Some(*p),
                LoginEvent::Failed { status, reason } => {
                    info!(%peer, status = %status, %reason, "login refused");
                }
                _ => {}
            }
        }
        if let Err(e) = result {
            drop(tx);
            let _ = writer_task.await;
            return Err(io::Error::other(format!("login failed: {e}")));
        }
        if let Some(p) = complete {
            break p;
        }
    };
    let kill = policy.registered.lock().ok().and_then(|mut r| r.take());
    drop(policy);
    info!(%peer, initiator = %params.initiator_name, target = params.target_name.as_deref().unwrap_or("(discovery)"), tsih = params.tsih.0, "logged in");
    let result = full_feature(
        inner,
        &mut rd,
        &tx,
        &mut framer,
        &mut buf,
        params.clone(),
        peer,
        portal,
        kill,
    )
    .await;
    if let Ok(mut sessions) = inner.sessions.lock() {
        let key = (params.initiator_name.clone(), params.isid);
        if sessions
            .by_key
            .get(&key)
            .is_some_and(|e| e.tsih == params.tsih)
        {
            sessions.by_key.remove(&key);
        }
    }
    drop(tx);
    let _ = writer_task.await;
    result
}

#[allow(
    clippy::too_many_arguments,
    reason = "the pieces of one connection, passed down once"
)]
async fn full_feature(
    inner: &Arc<Inner>,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    tx: &mpsc::UnboundedSender<(Vec<PduBuf>, Digests)>,
    framer: &mut Framer,
    buf: &mut BytesMut,
    params: SessionParams,
    peer: SocketAddr,
    portal: Portal,
    kill: Option<watch::Receiver<bool>>,
) -> io::Result<()> {
    let digests = params.digests();
    framer.set_limits(
        FrameLimits::default()
            .with_digests(digests)
            .with_max_recv_data_segment_length(params.target_max_recv_data_segment_length as usize),
    );
    let target = params
        .target_name
        .as_ref()
        .and_then(|n| inner.targets.get(n))
        .cloned();
    let nexus = Nexus::new(
        inner.next_nexus.fetch_add(1, Ordering::Relaxed),
        format!("{},i,0x{}", params.initiator_name, params.isid),
        portal.group,
    );
    if let Some(t) = &target {
        for unit in t.luns.values() {
            unit.lu.add_nexus(&nexus);
        }
    }
    let limits = &inner.config.limits;
    let engine_config = EngineConfig {
        queue_depth: limits.queue_depth,
        nop_in_interval_ms: limits.nop_in_interval_ms,
        nop_in_timeout_ms: limits.nop_in_timeout_ms,
        send_targets: inner
            .send_targets
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default(),
    };
    let mut engine = Engine::new(params.clone(), engine_config, inner.now_ms());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Itt, Response)>();
    let mut shutdown = inner.shutdown.subscribe();
    let mut kill = kill.unwrap_or_else(|| watch::channel(false).1);
    let grace = limits.shutdown_grace_s;
    let result: io::Result<()> = loop {
        let sleep_until = engine
            .poll_timeout()
            .map(|ms| inner.started + Duration::from_millis(ms))
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            read = rd.read_buf(buf) => {
                match read {
                    Ok(0) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
                let now = inner.now_ms();
                loop {
                    match framer.decode(buf) {
                        Ok(Decoded::Frame(frame)) => match frame.parse() {
                            Ok(pdu) => {
                                let sizer = |lun: Lun, cdb: &[u8]| -> usize {
                                    target
                                        .as_ref()
                                        .and_then(|t| lun.index().and_then(|i| t.luns.get(&i)))
                                        .map_or(0, |u| u.lu.expected_data_out(cdb))
                                };
                                engine.handle_pdu(pdu, now, &sizer);
                            }
                            Err(e) => engine.handle_malformed(frame.bhs_bytes(), &e),
                        },
                        Ok(Decoded::Incomplete { needed }) => {
                            buf.reserve(needed.max(64 * 1024));
                            break;
                        }
                        Err(FrameError::DataDigest { header, .. }) => {
                            engine.handle_data_digest_error(header, now);
                        }
                        Err(e) => {
                            warn!(%peer, error = %e, "closing the connection");
                            if let Some(reason) = e.reject_reason() {
                                engine.reject(reason, buf.split_to(buf.len().min(48)).freeze());
                            }
                            flush(&mut engine, tx, digests);
                            break;
                        }
                    }
                    run_events(&mut engine, inner, target.as_ref(), &nexus, &done_tx);
                }
            }
            Some((itt, response)) = done_rx.recv() => {
                engine.complete(itt, &response);
            }
            () = sleep_or_pending(sleep_until) => {
                engine.handle_timeout(inner.now_ms());
            }
            Ok(()) = shutdown.changed() => {
                engine.request_logout(grace);
            }
            Ok(()) = kill.changed() => {
                if *kill.borrow() {
                    info!(%peer, "session closed by the target");
                    break Ok(());
                }
            }
        }
        run_events(&mut engine, inner, target.as_ref(), &nexus, &done_tx);
        let closing = flush(&mut engine, tx, digests);
        if closing {
            break Ok(());
        }
    };
    if let Some(t) = &target {
        for unit in t.luns.values() {
            unit.lu.nexus_lost(nexus.id);
        }
    }
    info!(%peer, "session ended");
    result
}

async fn sleep_or_pending(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Sends what the engine queued; true when the connection is to close.
fn flush(
    engine: &mut Engine,
    tx: &mpsc::UnboundedSender<(Vec<PduBuf>, Digests)>,
    digests: Digests,
) -> bool {
    let mut out = Vec::new();
    while let Some(p) = engine.poll_transmit() {
        out.push(p);
    }
    if !out.is_empty() {
        let _ = tx.send((out, digests));
    }
    engine.is_closed()
}

fn run_events(
    engine: &mut Engine,
    inner: &Arc<Inner>,
    target: Option<&Arc<TargetState>>,
    nexus: &Nexus,
    done: &mpsc::UnboundedSender<(Itt, Response)>,
) {
    while let Some(event) = engine.poll_event() {
        match event {
            Event::Execute(task) => execute(engine, target, nexus, task, done),
            Event::TaskManagement { itt, function, lun } => {
                let response = task_management(inner, target, nexus, function, lun);
                engine.complete_task_management(itt, response);
            }
            Event::Logout => {}
            Event::Close { reason } => warn!(%reason, "closing the connection"),
        }
    }
}

fn execute(
    engine: &mut Engine,
    target: Option<&Arc<TargetState>>,
    nexus: &Nexus,
    task: ScsiTask,
    done: &mpsc::UnboundedSender<(Itt, Response)>,
) {
    let Some(target) = target else {
        engine.complete(task.itt, &lun_not_supported(&task.cdb));
        return;
    };
    if task.cdb.first() == Some(&iscsi_scsi::cdb::op::REPORT_LUNS) {
        engine.complete(task.itt, &report_luns(&target.lun_ids(), &task.cdb));
        return;
    }
    let Some(unit) = task.lun.index().and_then(|i| target.luns.get(&i)) else {
        engine.complete(task.itt, &lun_not_supported(&task.cdb));
        return;
    };
    if unit.inline {
        let response = unit.lu.execute(&request(nexus, &task));
        log_backend_error(nexus, &task, &response);
        engine.complete(task.itt, &response);
    } else {
        let lu = unit.lu.clone();
        let nexus = nexus.clone();
        let done = done.clone();
        tokio::task::spawn_blocking(move || {
            let response = lu.execute(&request(&nexus, &task));
            log_backend_error(&nexus, &task, &response);
            let _ = done.send((task.itt, response));
        });
    }
}

/// A MEDIUM ERROR's cause goes to the log: the initiator only sees the
/// sense data, the operator needs the OS error.
fn log_backend_error(nexus: &Nexus, task: &ScsiTask, response: &Response) {
    if let Some(error) = &response.backend_error {
        tracing::error!(
            initiator = %nexus.initiator_port,
            lun = ?task.lun.index(),
            opcode = format_args!("{:#04x}", task.cdb.first().copied().unwrap_or(0)),
            %error,
            "backend I/O failed; answered CHECK CONDITION, MEDIUM ERROR"
        );
    }
}

/// The SCSI request of a task, with the Data-Out length the initiator announced.
fn request<'a>(nexus: &'a Nexus, task: &'a ScsiTask) -> Request<'a> {
    let r = Request::new(nexus, &task.cdb, &task.data_out);
    match task.announced_data_out {
        Some(n) => r.with_announced_data_out(n),
        None => r,
    }
}

fn task_management(
    inner: &Arc<Inner>,
    target: Option<&Arc<TargetState>>,
    nexus: &Nexus,
    function: TmfFunction,
    lun: Lun,
) -> TmfResponseCode {
    let Some(target) = target else {
        return TmfResponseCode::FUNCTION_REJECTED;
    };
    match function {
        TmfFunction::LOGICAL_UNIT_RESET => match lun.index().and_then(|i| target.luns.get(&i)) {
            Some(unit) => {
                unit.lu.reset(ResetKind::LogicalUnit, Some(nexus.id));
                TmfResponseCode::FUNCTION_COMPLETE
            }
            None => TmfResponseCode::LUN_DOES_NOT_EXIST,
        },
        TmfFunction::TARGET_WARM_RESET | TmfFunction::TARGET_COLD_RESET => {
            let kind = if function == TmfFunction::TARGET_COLD_RESET {
                ResetKind::TargetCold
            } else {
                ResetKind::TargetWarm
            };
            for unit in target.luns.values() {
                unit.lu.reset(kind, Some(nexus.id));
            }
            if kind == ResetKind::TargetCold {
                // A cold reset ends every session of the target (SAM-5 §6.3.4)
                // once the response has gone out.
                if let Ok(sessions) = inner.sessions.lock() {
                    for s in sessions.by_key.values() {
                        if s.target.as_deref() == Some(target.name.as_str()) {
                            let kill = s.kill.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                let _ = kill.send(true);
                            });
                        }
                    }
                }
            }
            TmfResponseCode::FUNCTION_COMPLETE
        }
        _ => TmfResponseCode::FUNCTION_COMPLETE,
    }
}
