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
    BackendError, Background, BackgroundWork, BlockBackend, CopyTargets, FileBackend, LogicalUnit,
    LuConfig, MemoryBackend, Nexus, PrStore, Request, ResetKind, Response, TargetPortGroup,
    TargetPortGroups, TaskSets, lun_not_supported, report_luns,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::{Backing, Config, Portal};
use crate::connection::{Connection, ConnectionConfig, Deployment, Event as ConnEvent};
use crate::engine::{EngineConfig, ScsiTask, SendTargetsEntry};

mod driver;
mod live;
mod units;

pub use live::{ReloadChange, ResizeError};

use driver::connection;
use units::{CopyReach, auth_config, build_targets};

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

/// What one session's connection is asked to do by another session.
#[derive(Debug, Clone, Copy)]
enum Control {
    /// Abort the tasks for this LUN (`None`: every LUN); see
    /// [`Connection::abort_task_set`].
    AbortTaskSet(Option<Lun>),
}

/// Every logged-in connection by nexus id: its target and how to reach
/// its driver. Shared by the server and the units' [`TaskSets`].
#[derive(Debug, Default)]
struct Controls {
    by_nexus: Mutex<HashMap<u64, Reach>>,
}

/// A connection's target, and its driver's control channel.
type Reach = (Arc<str>, mpsc::UnboundedSender<Control>);

impl Controls {
    fn register(&self, nexus: u64, target: &str, tx: mpsc::UnboundedSender<Control>) {
        if let Ok(mut m) = self.by_nexus.lock() {
            m.insert(nexus, (Arc::from(target), tx));
        }
    }

    fn forget(&self, nexus: u64) {
        if let Ok(mut m) = self.by_nexus.lock() {
            m.remove(&nexus);
        }
    }

    /// Sends `control` to the connections of `nexuses`.
    fn send(&self, nexuses: &[u64], control: Control) {
        if let Ok(m) = self.by_nexus.lock() {
            for id in nexuses {
                if let Some((_, tx)) = m.get(id) {
                    let _ = tx.send(control);
                }
            }
        }
    }

    /// Sends `control` to every connection of `target` but `except`'s.
    fn send_target(&self, target: &str, except: u64, control: Control) {
        if let Ok(m) = self.by_nexus.lock() {
            for (id, (t, tx)) in m.iter() {
                if *id != except && &**t == target {
                    let _ = tx.send(control);
                }
            }
        }
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

#[derive(Debug)]
struct Inner {
    config: Config,
    targets: HashMap<String, Arc<TargetState>>,
    controls: Arc<Controls>,
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
    addresses: Vec<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
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
        let targets = build_targets(&config, &controls)?;
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
                    ..*portal
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
            controls,
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
