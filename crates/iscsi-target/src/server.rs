//! The tokio runtime: portals, sessions, SCSI execution and graceful
//! shutdown, driving one sans-IO [`Connection`] per TCP connection.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iscsi_login::{
    AuthConfig, ChapCredentials, OperationalConfig, OsChallengeSource, SecretError, SessionParams,
    TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::{EncodedPdus, Isid, Itt, LoginStatus, Lun, TmfFunction, TmfResponseCode, Tsih};
use iscsi_scsi::{
    BackendError, BlockBackend, FileBackend, LogicalUnit, LuConfig, MemoryBackend, Nexus, Request,
    ResetKind, Response, lun_not_supported, report_luns,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::{Backing, Config, Portal};
use crate::connection::{Connection, ConnectionConfig, Deployment, Event as ConnEvent};
use crate::engine::{EngineConfig, ScsiTask, SendTargetsEntry};

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

/// What one connection's driver tells its [`Connection`] about the
/// deployment: the login questions, and once logged in, the target whose
/// logical units size each command's Data-Out.
struct Site<'a> {
    inner: &'a Inner,
    target: Option<Arc<TargetState>>,
}

impl TargetPolicy for Site<'_> {
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
}

impl Deployment for Site<'_> {
    fn data_out_len(&self, lun: Lun, cdb: &[u8]) -> usize {
        self.target
            .as_ref()
            .and_then(|t| lun.index().and_then(|i| t.luns.get(&i)))
            .map_or(0, |u| u.lu.expected_data_out(cdb))
    }
}

impl Inner {
    /// Registers the session a login asks for ([`ConnEvent::SessionRequested`]):
    /// a TSIH and the session's kill switch, or `None` when no session can be
    /// added (0x0302).
    fn register_session(&self, params: &SessionParams) -> Option<(Tsih, watch::Receiver<bool>)> {
        let mut sessions = self.sessions.lock().ok()?;
        let key = (params.initiator_name.clone(), params.isid);
        // Session reinstatement (RFC 7143 §6.3.5): a new login with the same
        // InitiatorName and ISID and TSIH 0 closes the old session.
        if let Some(old) = sessions.by_key.remove(&key) {
            info!(initiator = %params.initiator_name, isid = %params.isid, "session reinstatement: closing the old session");
            let _ = old.kill.send(true);
        }
        if sessions.by_key.len() >= self.config.limits.max_sessions {
            return None;
        }
        let mut tsih = Tsih(0);
        for _ in 0..=u16::MAX {
            let t = self.next_tsih.fetch_add(1, Ordering::Relaxed);
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
        Some((tsih, rx))
    }

    /// Forgets a session when its connection ends, unless a reinstatement
    /// already replaced it.
    fn unregister_session(&self, initiator: &str, isid: Isid, tsih: Tsih) {
        if let Ok(mut sessions) = self.sessions.lock() {
            let key = (initiator.to_owned(), isid);
            if sessions.by_key.get(&key).is_some_and(|e| e.tsih == tsih) {
                sessions.by_key.remove(&key);
            }
        }
    }

    /// The settings of a new connection on `portal`.
    fn connection_config(&self, portal: Portal) -> ConnectionConfig {
        let limits = &self.config.limits;
        let mut operational = OperationalConfig::default();
        operational.header_digest = limits.header_digest;
        operational.data_digest = limits.data_digest;
        operational.max_recv_data_segment_length = limits.max_recv_data_segment_length;
        operational.max_burst_length = limits.max_burst_length;
        operational.first_burst_length = limits.first_burst_length;
        operational.max_outstanding_r2t = limits.max_outstanding_r2t;
        operational.immediate_data = limits.immediate_data;
        operational.initial_r2t = limits.initial_r2t;
        let mut login = TargetLoginConfig::default();
        login.operational = operational;
        login.portal_group_tag = portal.group;
        login.command_window = limits.queue_depth;
        let engine = EngineConfig {
            queue_depth: limits.queue_depth,
            nop_in_interval_ms: limits.nop_in_interval_ms,
            nop_in_timeout_ms: limits.nop_in_timeout_ms,
            send_targets: self
                .send_targets
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default(),
        };
        ConnectionConfig::new(login, engine, limits.login_timeout_ms)
    }
}

/// Why [`Server::start`] failed; the underlying error is its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A LUN's backend could not be opened or created.
    #[error("target {target} LUN {lun}: {source}")]
    Backend {
        /// The target's name.
        target: String,
        /// The LUN.
        lun: u16,
        /// What the backend said.
        source: BackendError,
    },
    /// CHAP credentials that cannot be used together (RFC 7143 §12.1.3:
    /// the mutual secret must differ from the initiator's).
    #[error("{what}: {source}")]
    Credentials {
        /// `target NAME` or `discovery`.
        what: String,
        /// What is wrong with them.
        source: SecretError,
    },
    /// A portal could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The portal's address.
        address: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
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
/// [`StartError::Backend`] naming the LUN, [`StartError::Credentials`].
fn build_targets(config: &Config) -> Result<HashMap<String, Arc<TargetState>>, StartError> {
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
                    .map_err(|source| StartError::Backend {
                        target: t.name.clone(),
                        lun: l.id,
                        source,
                    })?;
                    let disk = if l.read_only { disk.read_only() } else { disk };
                    (Arc::new(disk), true)
                }
                Backing::File(path) => {
                    let disk = FileBackend::open(path, l.size, l.block_size, l.read_only).map_err(
                        |source| StartError::Backend {
                            target: t.name.clone(),
                            lun: l.id,
                            source,
                        },
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
) -> Result<AuthConfig, StartError> {
    let auth = chap.map_or_else(AuthConfig::none, |c| AuthConfig::chap(c.clone()));
    match mutual {
        Some(m) => auth
            .with_mutual(m.clone())
            .map_err(|source| StartError::Credentials {
                what: what.to_owned(),
                source,
            }),
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
    /// [`StartError`]: a backend that cannot be opened, CHAP credentials
    /// that cannot be used together, an address that cannot be bound.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let targets = build_targets(&config)?;
        let discovery_auth = auth_config(
            config.discovery_chap.as_ref(),
            config.discovery_mutual_chap.as_ref(),
            "discovery",
        )?;
        let (shutdown, _) = watch::channel(false);
        let mut listeners = Vec::new();
        for portal in &config.portals {
            let listen = |source| StartError::Listen {
                address: portal.address,
                source,
            };
            let listener = TcpListener::bind(portal.address).await.map_err(listen)?;
            let bound = listener.local_addr().map_err(listen)?;
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

/// Writes what the connection encoded: everything queued goes to one
/// vectored write (tokio's `write_all_buf` uses `chunks_vectored`).
async fn writer(
    mut socket: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<EncodedPdus>,
) {
    while let Some(mut out) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            out.append(more);
        }
        if socket.write_all_buf(&mut out).await.is_err() {
            return;
        }
    }
    let _ = socket.shutdown().await;
}

/// One connection's driver: the [`Connection`] and what the runtime holds
/// for it.
struct Driver<'a> {
    inner: &'a Arc<Inner>,
    peer: SocketAddr,
    portal: Portal,
    conn: Connection,
    site: Site<'a>,
    /// The receive buffer.
    buf: BytesMut,
    /// The I_T nexus, once logged in.
    nexus: Option<Nexus>,
    /// The registered session: InitiatorName, ISID, TSIH.
    registered: Option<(String, Isid, Tsih)>,
    /// The session's kill switch (reinstatement, target removal, reset).
    kill: watch::Receiver<bool>,
    /// Where blocking-pool commands report back.
    done: mpsc::UnboundedSender<(Itt, Response)>,
}

impl Driver<'_> {
    /// Feeds the buffered bytes, answering events after each PDU that
    /// raised one.
    fn feed(&mut self) {
        while self
            .conn
            .handle_bytes(self.inner.now_ms(), &mut self.buf, &self.site)
        {
            self.answer_events();
        }
        self.answer_events();
    }

    /// Answers the connection's events.
    fn answer_events(&mut self) {
        let inner = self.inner;
        let peer = self.peer;
        while let Some(event) = self.conn.poll_event() {
            match event {
                ConnEvent::SessionRequested(p) => match inner.register_session(&p) {
                    Some((tsih, kill)) => {
                        self.kill = kill;
                        self.registered = Some((p.initiator_name.clone(), p.isid, tsih));
                        self.conn.accept_session(tsih);
                        // PDUs that followed the last Login Request.
                        self.feed();
                    }
                    None => self
                        .conn
                        .refuse_session(LoginStatus::OUT_OF_RESOURCES, "no session slot is free"),
                },
                ConnEvent::LoggedIn(p) => {
                    info!(%peer, initiator = %p.initiator_name, target = p.target_name.as_deref().unwrap_or("(discovery)"), tsih = p.tsih.0, "logged in");
                    self.site.target = p
                        .target_name
                        .as_ref()
                        .and_then(|n| inner.targets.get(n))
                        .cloned();
                    let nexus = Nexus::new(
                        inner.next_nexus.fetch_add(1, Ordering::Relaxed),
                        format!("{},i,0x{}", p.initiator_name, p.isid),
                        self.portal.group,
                    );
                    if let Some(t) = &self.site.target {
                        for unit in t.luns.values() {
                            unit.lu.add_nexus(&nexus);
                        }
                    }
                    self.nexus = Some(nexus);
                }
                ConnEvent::LoginFailed { status, reason } => {
                    info!(%peer, status = %status, %reason, "login refused");
                }
                ConnEvent::Execute(task) => match &self.nexus {
                    Some(nexus) => execute(
                        &mut self.conn,
                        self.site.target.as_ref(),
                        nexus,
                        task,
                        &self.done,
                    ),
                    None => self.conn.complete(task.itt, &lun_not_supported(&task.cdb)),
                },
                ConnEvent::TaskManagement { itt, function, lun } => {
                    let response =
                        self.nexus
                            .as_ref()
                            .map_or(TmfResponseCode::FUNCTION_REJECTED, |nexus| {
                                task_management(
                                    inner,
                                    self.site.target.as_ref(),
                                    nexus,
                                    function,
                                    lun,
                                )
                            });
                    self.conn.complete_task_management(itt, response);
                }
                ConnEvent::Logout => {}
                ConnEvent::Closed { reason } => debug!(%peer, %reason, "closing the connection"),
            }
        }
    }

    /// Forgets the nexus and the session when the connection ends.
    fn finish(&self) {
        if let (Some(nexus), Some(t)) = (&self.nexus, &self.site.target) {
            for unit in t.luns.values() {
                unit.lu.nexus_lost(nexus.id);
            }
        }
        if self.nexus.is_some() {
            info!(peer = %self.peer, "session ended");
        }
        if let Some((initiator, isid, tsih)) = &self.registered {
            self.inner.unregister_session(initiator, *isid, *tsih);
        }
    }
}

/// Drives one connection: reads into the buffer and feeds the
/// [`Connection`], hands its output to the writer task, answers its events,
/// its timers, shutdown and the session's kill switch.
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
    let (done, mut done_rx) = mpsc::unbounded_channel::<(Itt, Response)>();
    let mut d = Driver {
        inner,
        peer,
        portal,
        conn: Connection::new(
            inner.connection_config(portal),
            Box::new(OsChallengeSource::new()),
            inner.now_ms(),
        ),
        site: Site {
            inner,
            target: None,
        },
        buf: BytesMut::with_capacity(256 * 1024),
        nexus: None,
        registered: None,
        // No session yet: a kill switch that never fires (its sender is gone).
        kill: watch::channel(false).1,
        done,
    };
    let mut shutdown = inner.shutdown.subscribe();
    let grace = inner.config.limits.shutdown_grace_s;
    let result: io::Result<()> = loop {
        let sleep_until = d
            .conn
            .poll_timeout()
            .map(|ms| inner.started + Duration::from_millis(ms))
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            read = rd.read_buf(&mut d.buf) => match read {
                Ok(0) => break Ok(()),
                Ok(_) => d.feed(),
                Err(e) => break Err(e),
            },
            Some((itt, response)) = done_rx.recv() => d.conn.complete(itt, &response),
            () = sleep_or_pending(sleep_until) => d.conn.handle_timeout(inner.now_ms()),
            Ok(()) = shutdown.changed() => d.conn.request_logout(grace),
            Ok(()) = d.kill.changed() => {
                if *d.kill.borrow() {
                    d.conn.close("session closed by the target");
                }
            }
        }
        d.answer_events();
        while let Some(out) = d.conn.poll_transmit() {
            let _ = tx.send(out);
        }
        if d.conn.is_closed() {
            break Ok(());
        }
    };
    d.finish();
    drop(tx);
    let _ = writer_task.await;
    result
}

async fn sleep_or_pending(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn execute(
    conn: &mut Connection,
    target: Option<&Arc<TargetState>>,
    nexus: &Nexus,
    task: ScsiTask,
    done: &mpsc::UnboundedSender<(Itt, Response)>,
) {
    let Some(target) = target else {
        conn.complete(task.itt, &lun_not_supported(&task.cdb));
        return;
    };
    if task.cdb.first() == Some(&iscsi_scsi::cdb::op::REPORT_LUNS) {
        conn.complete(task.itt, &report_luns(&target.lun_ids(), &task.cdb));
        return;
    }
    let Some(unit) = task.lun.index().and_then(|i| target.luns.get(&i)) else {
        conn.complete(task.itt, &lun_not_supported(&task.cdb));
        return;
    };
    if unit.inline {
        let response = unit.lu.execute(&request(nexus, &task));
        log_backend_error(nexus, &task, &response);
        conn.complete(task.itt, &response);
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
