//! The tokio runtime: portals, sessions, SCSI execution and graceful
//! shutdown, driving one sans-IO [`Connection`] per TCP connection.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iscsi_login::{
    AuthConfig, ChapCredentials, OperationalConfig, OsChallengeSource, SecretError, SessionParams,
    TargetLoginConfig, TargetLookup, TargetPolicy,
};
use iscsi_pdu::{EncodedPdus, Isid, Itt, LoginStatus, Lun, TmfFunction, TmfResponseCode, Tsih};
use iscsi_scsi::{
    BackendError, Background, BackgroundWork, BlockBackend, CopyTargets, FileBackend, LogicalUnit,
    LuConfig, MemoryBackend, Nexus, PrStore, Request, ResetKind, Response, TargetPortGroup,
    TargetPortGroups, TaskSets, lun_not_supported, report_luns,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::{Backing, Config, Limits, Portal};
use crate::connection::{
    Connection, ConnectionConfig, ConnectionCounters, Deployment, Event as ConnEvent,
};
use crate::engine::{EngineConfig, ScsiTask, SendTargetsEntry};

mod admin;
mod driver;
mod live;
mod metrics;
mod units;

pub use live::{AdminError, LunSummary, ReloadChange, ResizeError, SessionSummary, TargetSummary};

use driver::connection;
use units::{
    CopyReach, auth_config, build_target, build_targets, build_unit,
    forget_persistent_reservations, port_groups, stand_in,
};

/// A boxed future of the runtime's (`Send`, no borrow).
type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// Reads, writes and flushes that complete asynchronously: the backend's
/// own completion wakes the connection's task, no thread waits for it.
trait AsyncIo: Send + Sync + std::fmt::Debug {
    /// `len` bytes from byte `offset`.
    fn read(&self, offset: u64, len: usize) -> BoxFuture<io::Result<bytes::Bytes>>;
    /// The buffers back to back from byte `offset`.
    fn write(&self, offset: u64, parts: Vec<bytes::Bytes>) -> BoxFuture<io::Result<()>>;
    /// Every completed write made durable.
    fn flush(&self) -> BoxFuture<io::Result<()>>;
}

#[cfg(feature = "rbd")]
impl AsyncIo for iscsi_rbd::RbdBackend {
    fn read(&self, offset: u64, len: usize) -> BoxFuture<io::Result<bytes::Bytes>> {
        let read = self.image().read(offset, len);
        Box::pin(async move { read.await.map(bytes::Bytes::from) })
    }
    fn write(&self, offset: u64, parts: Vec<bytes::Bytes>) -> BoxFuture<io::Result<()>> {
        Box::pin(self.image().write_parts(offset, parts))
    }
    fn flush(&self) -> BoxFuture<io::Result<()>> {
        Box::pin(self.image().flush_async())
    }
}

/// A logical unit as the server holds it.
#[derive(Debug, Clone)]
struct Unit {
    lu: Arc<LogicalUnit>,
    /// Memory-backed units run commands on the connection's task (they are
    /// quicker than a thread hand-off); file-backed ones on the blocking pool.
    inline: bool,
    /// A backend whose reads and writes complete without a waiting thread
    /// (RBD): READ and WRITE run through it on the connection's runtime,
    /// the other commands on the blocking pool.
    aio: Option<Arc<dyn AsyncIo>>,
    /// Where its blocks live.
    backing: Backing,
    /// Its counters (metrics).
    metrics: Arc<metrics::UnitMetrics>,
    /// The 64 MiB RAM unit that stands in for a LUN 0 the configuration
    /// does not name (SAM-5 §4.6.5: LUN 0 must exist); `lun_add` of LUN 0
    /// replaces it.
    stand_in: bool,
}

/// A target as the server holds it. What the admin interface changes
/// (ACL, CHAP, LUNs) sits behind locks: a login reads the ACL and CHAP
/// when it starts, a command looks its LUN up when it arrives.
#[derive(Debug)]
struct TargetState {
    name: String,
    alias: Option<String>,
    /// The ACL; `None` admits every initiator.
    allow: RwLock<Option<Vec<String>>>,
    auth: RwLock<AuthConfig>,
    luns: RwLock<BTreeMap<u16, Unit>>,
    removed: AtomicBool,
}

/// Reads through a lock a panicking writer left poisoned: every writer
/// here replaces whole values, so what it guards is never half-written.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// See [`read`].
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// See [`read`].
fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TargetState {
    fn lun_ids(&self) -> Vec<u16> {
        read(&self.luns).keys().copied().collect()
    }

    /// The unit of LUN `id` now.
    fn unit(&self, id: u16) -> Option<Unit> {
        read(&self.luns).get(&id).cloned()
    }

    /// Every unit now.
    fn units(&self) -> Vec<Unit> {
        read(&self.luns).values().cloned().collect()
    }

    /// Whether the ACL admits `initiator`.
    fn admits(&self, initiator: &str) -> bool {
        read(&self.allow)
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a == initiator))
    }

    fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }
}

/// A session the server knows: how to end it, and once logged in, what
/// `session_list` shows of it.
#[derive(Debug)]
struct SessionEntry {
    tsih: Tsih,
    target: Option<String>,
    kill: watch::Sender<bool>,
    info: Option<Arc<SessionInfo>>,
}

/// A logged-in session's parameters, connection and counters.
#[derive(Debug)]
struct SessionInfo {
    params: SessionParams,
    peer: SocketAddr,
    portal: Portal,
    /// When it logged in, ms since the server started.
    since_ms: u64,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<SessionCounters>,
}

/// What one session did, counted by its connection's driver.
#[derive(Debug, Default)]
struct SessionCounters {
    /// SCSI commands completed.
    commands: AtomicU64,
    /// Bytes sent to the initiator (Data-In).
    read_bytes: AtomicU64,
    /// Bytes received from the initiator (Data-Out and immediate data).
    write_bytes: AtomicU64,
    /// Commands that ended in CHECK CONDITION.
    check_conditions: AtomicU64,
}

#[derive(Debug, Default)]
struct Sessions {
    by_key: HashMap<(String, Isid), SessionEntry>,
}

/// What one session's connection is asked to do by another session or
/// the operator.
#[derive(Debug, Clone, Copy)]
enum Control {
    /// Abort the tasks for this LUN (`None`: every LUN); see
    /// [`Connection::abort_task_set`].
    AbortTaskSet(Option<Lun>),
    /// Ask the initiator to log out within this many seconds; see
    /// [`Connection::request_logout`].
    RequestLogout(u16),
}

/// Every logged-in connection by nexus id: its target, its nexus and how
/// to reach its driver. Shared by the server and the units' [`TaskSets`].
#[derive(Debug, Default)]
struct Controls {
    by_nexus: Mutex<HashMap<u64, Reach>>,
}

/// A connection's target and nexus, and its driver's control channel.
type Reach = (Arc<str>, Nexus, mpsc::UnboundedSender<Control>);

impl Controls {
    fn register(&self, nexus: &Nexus, target: &str, tx: mpsc::UnboundedSender<Control>) {
        lock(&self.by_nexus).insert(nexus.id, (Arc::from(target), nexus.clone(), tx));
    }

    fn forget(&self, nexus: u64) {
        lock(&self.by_nexus).remove(&nexus);
    }

    /// Sends `control` to the connections of `nexuses`.
    fn send(&self, nexuses: &[u64], control: Control) {
        let m = lock(&self.by_nexus);
        for id in nexuses {
            if let Some((_, _, tx)) = m.get(id) {
                let _ = tx.send(control);
            }
        }
    }

    /// Sends `control` to every connection of `target` but `except`'s.
    fn send_target(&self, target: &str, except: u64, control: Control) {
        for (id, (t, _, tx)) in lock(&self.by_nexus).iter() {
            if *id != except && &**t == target {
                let _ = tx.send(control);
            }
        }
    }

    /// The nexuses logged in to `target` now.
    fn nexuses_of(&self, target: &str) -> Vec<Nexus> {
        lock(&self.by_nexus)
            .values()
            .filter(|(t, _, _)| &**t == target)
            .map(|(_, n, _)| n.clone())
            .collect()
    }
}

/// A unit's task sets: the sessions' connections, reached through
/// [`Controls`].
#[derive(Debug)]
struct SessionTaskSets {
    controls: Arc<Controls>,
    lun: Lun,
}

impl TaskSets for SessionTaskSets {
    fn abort(&self, nexuses: &[u64]) {
        self.controls
            .send(nexuses, Control::AbortTaskSet(Some(self.lun)));
    }
}

/// A bound portal and its accept loop.
#[derive(Debug)]
struct Listening {
    /// As configured (port 0 stays 0).
    configured: Portal,
    /// As bound.
    bound: Portal,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Inner {
    limits: Limits,
    /// The running configuration: the file (or default) as started, with
    /// every change made since (admin interface, SIGHUP).
    config: Mutex<Config>,
    /// Serializes changes, so the running configuration and the units
    /// stay in step.
    changes: Mutex<()>,
    targets: RwLock<HashMap<String, Arc<TargetState>>>,
    port_groups: Arc<TargetPortGroups>,
    controls: Arc<Controls>,
    discovery_auth: RwLock<AuthConfig>,
    sessions: Mutex<Sessions>,
    connections: AtomicUsize,
    accepting: AtomicBool,
    next_tsih: AtomicU16,
    next_nexus: AtomicU64,
    portals: Mutex<Vec<Listening>>,
    send_targets: Mutex<Vec<SendTargetsEntry>>,
    started: Instant,
    shutdown: watch::Sender<bool>,
    runtime: tokio::runtime::Handle,
    /// The admin interface's socket, when served.
    admin: Mutex<Option<admin::AdminSocket>>,
    metrics: Arc<metrics::Metrics>,
    /// The metrics endpoint, when served.
    metrics_endpoint: Mutex<Option<metrics::MetricsEndpoint>>,
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn session_count(&self) -> usize {
        lock(&self.sessions).by_key.len()
    }

    fn target(&self, name: &str) -> Option<Arc<TargetState>> {
        read(&self.targets).get(name).cloned()
    }

    /// Every target, removed ones too.
    fn all_targets(&self) -> Vec<Arc<TargetState>> {
        read(&self.targets).values().cloned().collect()
    }

    /// What SendTargets answers from now on: every target that is not
    /// removed, at every bound portal.
    fn refresh_send_targets(&self) {
        let addresses: Vec<String> = lock(&self.portals)
            .iter()
            .map(|l| address_text(l.bound.address, l.bound.group))
            .collect();
        let mut names: Vec<String> = read(&self.targets)
            .values()
            .filter(|t| !t.is_removed())
            .map(|t| t.name.clone())
            .collect();
        names.sort();
        *lock(&self.send_targets) = names
            .into_iter()
            .map(|name| SendTargetsEntry::new(name, addresses.clone()))
            .collect();
    }

    /// Binds `portal` and starts accepting on it.
    fn listen(self: &Arc<Self>, portal: Portal) -> Result<Portal, StartError> {
        let listen = |source| StartError::Listen {
            address: portal.address,
            source,
        };
        let std_listener = std::net::TcpListener::bind(portal.address).map_err(listen)?;
        std_listener.set_nonblocking(true).map_err(listen)?;
        let bound = Portal {
            address: std_listener.local_addr().map_err(listen)?,
            ..portal
        };
        let listener = {
            let _guard = self.runtime.enter();
            TcpListener::from_std(std_listener).map_err(listen)?
        };
        info!(address = %bound.address, group = bound.group, "listening");
        let task = self
            .runtime
            .spawn(accept_loop(self.clone(), listener, bound));
        lock(&self.portals).push(Listening {
            configured: portal,
            bound,
            task,
        });
        Ok(bound)
    }
}

impl Inner {
    /// Registers the session a login asks for ([`ConnEvent::SessionRequested`]):
    /// a TSIH and the session's kill switch, or `None` when no session can be
    /// added (0x0302).
    fn register_session(&self, params: &SessionParams) -> Option<(Tsih, watch::Receiver<bool>)> {
        let mut sessions = lock(&self.sessions);
        let key = (params.initiator_name.clone(), params.isid);
        // Session reinstatement (RFC 7143 §6.3.5): a new login with the same
        // InitiatorName and ISID and TSIH 0 closes the old session.
        if let Some(old) = sessions.by_key.remove(&key) {
            info!(initiator = %params.initiator_name, isid = %params.isid, "session reinstatement: closing the old session");
            let _ = old.kill.send(true);
        }
        if sessions.by_key.len() >= self.limits.max_sessions {
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
                info: None,
            },
        );
        Some((tsih, rx))
    }

    /// Forgets a session when its connection ends, unless a reinstatement
    /// already replaced it.
    fn unregister_session(&self, initiator: &str, isid: Isid, tsih: Tsih) {
        let mut sessions = lock(&self.sessions);
        let key = (initiator.to_owned(), isid);
        if sessions.by_key.get(&key).is_some_and(|e| e.tsih == tsih) {
            sessions.by_key.remove(&key);
        }
    }

    /// Records what `session_list` shows of a session whose login
    /// completed.
    fn session_logged_in(&self, initiator: &str, isid: Isid, tsih: Tsih, info: Arc<SessionInfo>) {
        if let Some(e) = lock(&self.sessions)
            .by_key
            .get_mut(&(initiator.to_owned(), isid))
            && e.tsih == tsih
        {
            e.info = Some(info);
        }
    }

    /// The settings of a new connection on `portal`.
    fn connection_config(&self, portal: Portal) -> ConnectionConfig {
        let limits = &self.limits;
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
            send_targets: lock(&self.send_targets).clone(),
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
    /// Persistent reservations kept for a LUN (APTPL) could not be read
    /// back; the file is left as it is for the operator to look at.
    #[error("target {target} LUN {lun}: persistent reservations in {}: {message}", path.display())]
    PersistentReservations {
        /// The target's name.
        target: String,
        /// The LUN.
        lun: u16,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong: the OS error, or `line N: what`.
        message: String,
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
        let controls = Arc::new(Controls::default());
        let port_groups = Arc::new(port_groups(&config));
        let metrics = Arc::new(metrics::Metrics::default());
        let targets = build_targets(&config, &controls, &port_groups, &metrics)?;
        let discovery_auth = auth_config(
            config.discovery_chap.as_ref(),
            config.discovery_mutual_chap.as_ref(),
            "discovery",
        )?;
        let (shutdown, _) = watch::channel(false);
        let portals = config.portals.clone();
        let inner = Arc::new(Inner {
            limits: config.limits.clone(),
            config: Mutex::new(config),
            changes: Mutex::new(()),
            targets: RwLock::new(targets),
            port_groups,
            controls,
            discovery_auth: RwLock::new(discovery_auth),
            sessions: Mutex::new(Sessions::default()),
            connections: AtomicUsize::new(0),
            accepting: AtomicBool::new(true),
            next_tsih: AtomicU16::new(1),
            next_nexus: AtomicU64::new(1),
            portals: Mutex::new(Vec::new()),
            send_targets: Mutex::new(Vec::new()),
            started: Instant::now(),
            shutdown,
            runtime: tokio::runtime::Handle::current(),
            admin: Mutex::new(None),
            metrics,
            metrics_endpoint: Mutex::new(None),
        });
        for portal in portals {
            if let Err(e) = inner.listen(portal) {
                inner.stop_listening();
                return Err(e);
            }
        }
        inner.refresh_send_targets();
        Ok(Self { inner })
    }

    /// The bound portal addresses, in the order of the configuration and
    /// then of `portal_add`.
    #[must_use]
    pub fn addresses(&self) -> Vec<SocketAddr> {
        lock(&self.inner.portals)
            .iter()
            .map(|l| l.bound.address)
            .collect()
    }

    /// Sessions logged in now.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.inner.session_count()
    }

    /// Takes a target out of service at once: new logins get 0x0204
    /// (target removed), its sessions are closed, SendTargets stops
    /// listing it. [`Server::delete_target`] asks the sessions to log out
    /// first.
    pub fn remove_target(&self, name: &str) {
        if let Some(t) = self.inner.target(name) {
            t.removed.store(true, Ordering::Release);
            self.inner.refresh_send_targets();
            self.inner.close_sessions_of(name);
        }
    }

    /// Graceful shutdown: new logins get 0x0301, every session gets an
    /// Asynchronous Message asking for a logout within the grace period,
    /// sessions still open after it are closed, backends are flushed.
    ///
    /// # Errors
    /// A backend that failed to flush.
    pub async fn shutdown(self) -> io::Result<()> {
        let grace = Duration::from_secs(u64::from(self.inner.limits.shutdown_grace_s));
        self.inner.accepting.store(false, Ordering::Release);
        if let Some(admin) = lock(&self.inner.admin).take() {
            admin.close();
        }
        let _ = self.inner.shutdown.send(true);
        let deadline = Instant::now() + grace;
        while self.inner.session_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for s in lock(&self.inner.sessions).by_key.values() {
            let _ = s.kill.send(true);
        }
        let until = Instant::now() + Duration::from_secs(2);
        while self.inner.connections.load(Ordering::Acquire) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.inner.stop_listening();
        if let Some(endpoint) = lock(&self.inner.metrics_endpoint).take() {
            endpoint.close();
        }
        let mut result = Ok(());
        for t in self.inner.all_targets() {
            for unit in t.units() {
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

impl Inner {
    /// Stops every accept loop (their listeners close).
    fn stop_listening(&self) {
        for l in lock(&self.portals).drain(..) {
            l.task.abort();
        }
    }

    /// Closes every session of `target` now.
    fn close_sessions_of(&self, target: &str) {
        for s in lock(&self.sessions).by_key.values() {
            if s.target.as_deref() == Some(target) {
                let _ = s.kill.send(true);
            }
        }
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
