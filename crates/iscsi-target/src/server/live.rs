//! Changes to a running server (the admin interface's methods, SIGHUP):
//! targets, LUNs, ACLs, CHAP and portals added and removed, LUNs resized,
//! sessions listed and logged out, the running configuration read and
//! saved. Each change touches no session it is not about: what it changes
//! for a session is a unit attention (SPC-4 §6.37: REPORTED LUNS DATA HAS
//! CHANGED, SBC-4 §4.8: CAPACITY DATA HAS CHANGED) or a request to log out
//! (RFC 7143 §11.9.1); ACL and CHAP changes apply at the next login.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::{LunConfig, TargetConfig, check_iscsi_name, same_chap};

/// Why [`Server::resize_lun`] refused; nothing changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResizeError {
    /// No target of that name.
    #[error("no target {0}")]
    UnknownTarget(String),
    /// The target has no such LUN.
    #[error("target {target} has no LUN {lun}")]
    UnknownLun {
        /// The target.
        target: String,
        /// The LUN.
        lun: u16,
    },
    /// The size is zero or not a whole number of logical blocks.
    #[error("{size} bytes is not a positive multiple of the {block_size}-byte block size")]
    Size {
        /// The size asked for, bytes.
        size: u64,
        /// The LUN's logical block size, bytes.
        block_size: u32,
    },
    /// The size is below the current one and shrinking was not allowed:
    /// the blocks past the new end, and what they hold, would be lost.
    #[error(
        "{size} bytes is less than the current {current} bytes (shrinking cuts off data; force it to)"
    )]
    Shrink {
        /// The size asked for, bytes.
        size: u64,
        /// The current size, bytes.
        current: u64,
    },
    /// The backend could not change size (a block device, a read-only
    /// file, the OS error).
    #[error("cannot resize: {0}")]
    Backend(#[source] io::Error),
}

/// Why a change to the running server was refused; nothing changed.
/// [`AdminError::code`] numbers them for the admin interface.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No target of that name (or it was deleted).
    #[error("no target {0}")]
    UnknownTarget(String),
    /// A target of that name is served already.
    #[error("target {0} already exists")]
    TargetExists(String),
    /// The target has no such LUN.
    #[error("target {target} has no LUN {lun}")]
    UnknownLun {
        /// The target.
        target: String,
        /// The LUN.
        lun: u16,
    },
    /// The LUN number is taken.
    #[error("target {target} LUN {lun} is in use (remove it first)")]
    LunInUse {
        /// The target.
        target: String,
        /// The LUN.
        lun: u16,
    },
    /// The target has sessions and `force` was not given.
    #[error("target {target} has {sessions} session(s); force asks them to log out")]
    SessionsActive {
        /// The target.
        target: String,
        /// Its sessions.
        sessions: usize,
    },
    /// A parameter's value is not allowed: what and why.
    #[error("{0}")]
    Invalid(String),
    /// The ACL does not name the initiator.
    #[error("target {target}'s ACL does not name {initiator}")]
    UnknownInitiator {
        /// The target.
        target: String,
        /// The initiator name.
        initiator: String,
    },
    /// No portal listens on that address.
    #[error("no portal {0}")]
    UnknownPortal(String),
    /// A portal listens on that address already.
    #[error("portal {0} is already served")]
    PortalExists(SocketAddr),
    /// No session has that TSIH.
    #[error("no session with TSIH {0}")]
    UnknownSession(u16),
    /// The resize was refused.
    #[error(transparent)]
    Resize(#[from] ResizeError),
    /// A backend that cannot be opened, CHAP credentials that cannot be
    /// used, an address that cannot be bound.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The server runs the embedded default or a configuration built in
    /// code: there is no file to save to, and none was named.
    #[error("no configuration file to save to (started without --config; name a path)")]
    NoConfigFile,
    /// The configuration could not be written (nothing was replaced).
    #[error("cannot save {}: {source}", path.display())]
    Save {
        /// The file.
        path: PathBuf,
        /// The OS error, or what is wrong with the file.
        source: io::Error,
    },
}

impl AdminError {
    /// A stable number for each kind of error, the JSON-RPC `error.code`
    /// of the admin interface: 1001 unknown target, 1002 target exists,
    /// 1003 unknown LUN, 1004 LUN in use, 1005 sessions active, 1006
    /// invalid value, 1007 unknown initiator, 1008 unknown portal, 1009
    /// portal exists, 1010 unknown session, 1011 resize refused, 1012
    /// backend, credentials or listen error, 1013 no configuration file,
    /// 1014 save failed.
    #[must_use]
    pub fn code(&self) -> i64 {
        match self {
            Self::UnknownTarget(_) => 1001,
            Self::TargetExists(_) => 1002,
            Self::UnknownLun { .. } => 1003,
            Self::LunInUse { .. } => 1004,
            Self::SessionsActive { .. } => 1005,
            Self::Invalid(_) => 1006,
            Self::UnknownInitiator { .. } => 1007,
            Self::UnknownPortal(_) => 1008,
            Self::PortalExists(_) => 1009,
            Self::UnknownSession(_) => 1010,
            Self::Resize(ResizeError::UnknownTarget(_)) => 1001,
            Self::Resize(ResizeError::UnknownLun { .. }) => 1003,
            Self::Resize(_) => 1011,
            Self::Start(_) => 1012,
            Self::NoConfigFile => 1013,
            Self::Save { .. } => 1014,
        }
    }
}

/// What [`Server::reload`] did with one difference of a re-read
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadChange {
    /// A LUN was resized, from and to (bytes); its nexuses got CAPACITY
    /// DATA HAS CHANGED.
    Resized {
        /// The target.
        target: String,
        /// The LUN.
        lun: u16,
        /// The size before, bytes.
        from: u64,
        /// The size now, bytes.
        to: u64,
    },
    /// Another difference that was applied, described.
    Applied(String),
    /// A difference that was not applied, and why.
    NotApplied(String),
}

impl std::fmt::Display for ReloadChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resized {
                target,
                lun,
                from,
                to,
            } => write!(f, "{target} LUN {lun} resized from {from} to {to} bytes"),
            Self::Applied(what) => f.write_str(what),
            Self::NotApplied(why) => write!(f, "not applied: {why}"),
        }
    }
}

/// One target as [`Server::targets`] reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TargetSummary {
    /// The IQN.
    pub name: String,
    /// TargetAlias.
    pub alias: Option<String>,
    /// The LUNs, by number.
    pub luns: Vec<LunSummary>,
    /// The ACL; `None` admits every initiator.
    pub allow: Option<Vec<String>>,
    /// The CHAP user name initiators must log in with, if any.
    pub chap_user: Option<String>,
    /// The target's own CHAP user name for mutual CHAP, if any.
    pub mutual_chap_user: Option<String>,
    /// Sessions logged in to it now.
    pub sessions: usize,
}

/// One LUN as [`Server::targets`] reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LunSummary {
    /// The LUN.
    pub id: u16,
    /// Where its blocks live.
    pub backing: Backing,
    /// Size, bytes.
    pub size: u64,
    /// Logical block size, bytes.
    pub block_size: u32,
    /// Writes are refused.
    pub read_only: bool,
    /// The RAM unit standing in for an unconfigured LUN 0.
    pub stand_in: bool,
}

/// One session as [`Server::sessions`] reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionSummary {
    /// What login negotiated: names, ISID, TSIH, CID, digests, burst
    /// lengths, how the initiator authenticated.
    pub params: SessionParams,
    /// The initiator's address.
    pub peer: SocketAddr,
    /// The portal it connected to (as bound) and its group tag.
    pub portal: SocketAddr,
    /// The portal group tag.
    pub portal_group: u16,
    /// How long it has been logged in, ms.
    pub logged_in_ms: u64,
    /// SCSI commands completed.
    pub commands: u64,
    /// Bytes sent to the initiator (Data-In).
    pub read_bytes: u64,
    /// Bytes received from the initiator (Data-Out and immediate data).
    pub write_bytes: u64,
    /// Commands that ended in CHECK CONDITION.
    pub check_conditions: u64,
}

impl Server {
    /// Adds a target with no LUN but the stand-in LUN 0, no ACL (every
    /// initiator may log in) and no CHAP; SendTargets lists it from now
    /// on. Touches no session.
    ///
    /// # Errors
    /// [`AdminError::Invalid`] for a name that is not an iSCSI name,
    /// [`AdminError::TargetExists`].
    pub fn create_target(&self, name: &str, alias: Option<&str>) -> Result<(), AdminError> {
        check_iscsi_name(name).map_err(AdminError::Invalid)?;
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        if inner.target(name).is_some_and(|t| !t.is_removed()) {
            return Err(AdminError::TargetExists(name.to_owned()));
        }
        let config = TargetConfig {
            name: name.to_owned(),
            alias: alias.map(str::to_owned),
            allow: None,
            chap: None,
            mutual_chap: None,
            luns: Vec::new(),
        };
        let state = build_target(
            None,
            &config,
            &inner.controls,
            &inner.port_groups,
            &inner.metrics,
        )?;
        write(&inner.targets).insert(name.to_owned(), Arc::new(state));
        lock(&inner.config).targets.push(config);
        inner.refresh_send_targets();
        info!(target = name, "target created");
        Ok(())
    }

    /// Deletes a target: new logins get 0x0204 (target removed),
    /// SendTargets stops listing it, its sessions are asked to log out
    /// (Asynchronous Message, RFC 7143 §11.9.1) and closed after the
    /// shutdown grace period, then its units are flushed. Returns how many
    /// sessions were asked to log out.
    ///
    /// # Errors
    /// [`AdminError::UnknownTarget`]; [`AdminError::SessionsActive`] when
    /// it has sessions and `force` is false.
    pub fn delete_target(&self, name: &str, force: bool) -> Result<usize, AdminError> {
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let t = inner.live_target(name)?;
        let sessions: Vec<(String, Isid, Tsih, Option<Arc<SessionInfo>>)> = lock(&inner.sessions)
            .by_key
            .iter()
            .filter(|(_, e)| e.target.as_deref() == Some(name))
            .map(|((i, isid), e)| (i.clone(), *isid, e.tsih, e.info.clone()))
            .collect();
        if !sessions.is_empty() && !force {
            return Err(AdminError::SessionsActive {
                target: name.to_owned(),
                sessions: sessions.len(),
            });
        }
        t.removed.store(true, Ordering::Release);
        inner.refresh_send_targets();
        let pr_dir = {
            let mut config = lock(&inner.config);
            config.targets.retain(|c| c.name != name);
            config.pr_dir.clone()
        };
        for id in t.lun_ids() {
            inner.metrics.forget_unit(name, id);
            if let Err(e) = forget_persistent_reservations(pr_dir.as_deref(), name, id) {
                warn!(target = name, lun = id, error = %e, "cannot remove the LUN's persistent reservations file");
            }
        }
        let count = sessions.len();
        self.end_sessions(sessions, Some(t));
        info!(target = name, sessions = count, "target deleted");
        Ok(count)
    }

    /// Asks `sessions` to log out, closes those still there after the
    /// grace period, then flushes `target`'s units.
    fn end_sessions(
        &self,
        sessions: Vec<(String, Isid, Tsih, Option<Arc<SessionInfo>>)>,
        target: Option<Arc<TargetState>>,
    ) {
        let inner = self.inner.clone();
        let grace = inner.limits.shutdown_grace_s;
        for (_, _, _, info) in &sessions {
            if let Some(info) = info {
                let _ = info.control.send(Control::RequestLogout(grace));
            }
        }
        self.inner.runtime.spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(u64::from(grace));
            let open = |inner: &Inner| {
                let by_key = &lock(&inner.sessions).by_key;
                sessions
                    .iter()
                    .filter_map(|(i, isid, tsih, _)| {
                        by_key
                            .get(&(i.clone(), *isid))
                            .filter(|e| e.tsih == *tsih)
                            .map(|e| e.kill.clone())
                    })
                    .collect::<Vec<_>>()
            };
            while !open(&inner).is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for kill in open(&inner) {
                let _ = kill.send(true);
            }
            if let Some(t) = target {
                for unit in t.units() {
                    if let Err(e) = unit.lu.flush() {
                        warn!(target = %t.name, error = %e, "flush failed");
                    }
                }
            }
        });
    }

    /// Every target served now, by name.
    #[must_use]
    pub fn targets(&self) -> Vec<TargetSummary> {
        let sessions = lock(&self.inner.sessions);
        let mut out: Vec<TargetSummary> = self
            .inner
            .all_targets()
            .into_iter()
            .filter(|t| !t.is_removed())
            .map(|t| {
                let auth = read(&t.auth);
                TargetSummary {
                    name: t.name.clone(),
                    alias: t.alias.clone(),
                    luns: read(&t.luns)
                        .iter()
                        .map(|(id, u)| LunSummary {
                            id: *id,
                            backing: u.backing.clone(),
                            size: u.lu.block_count() * u64::from(u.lu.block_size()),
                            block_size: u.lu.block_size(),
                            read_only: u.lu.config().read_only || u.lu.backend().read_only(),
                            stand_in: u.stand_in,
                        })
                        .collect(),
                    allow: read(&t.allow).clone(),
                    chap_user: auth.chap.as_ref().map(|c| c.user.clone()),
                    mutual_chap_user: auth.mutual.as_ref().map(|c| c.user.clone()),
                    sessions: sessions
                        .by_key
                        .values()
                        .filter(|e| e.target.as_deref() == Some(t.name.as_str()))
                        .count(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Adds a LUN to a running target (a stand-in LUN 0 is replaced): the
    /// backend is opened or created, sessions logged in to the target see
    /// it at once, and every I_T nexus of the target's other LUNs gets
    /// REPORTED LUNS DATA HAS CHANGED (3Fh/0Eh, SPC-4 §6.37).
    ///
    /// # Errors
    /// [`AdminError::UnknownTarget`], [`AdminError::LunInUse`],
    /// [`AdminError::Invalid`] (see [`LunConfig::check`]),
    /// [`AdminError::Start`] when the backend cannot be opened.
    pub fn add_lun(&self, target: &str, lun: LunConfig) -> Result<(), AdminError> {
        lun.check().map_err(AdminError::Invalid)?;
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let t = inner.live_target(target)?;
        if t.unit(lun.id).is_some_and(|u| !u.stand_in) {
            return Err(AdminError::LunInUse {
                target: target.to_owned(),
                lun: lun.id,
            });
        }
        let pr_dir = lock(&inner.config).pr_dir.clone();
        let unit = build_unit(
            pr_dir.as_deref(),
            target,
            &lun,
            &inner.controls,
            &inner.port_groups,
            &inner.metrics,
        )?;
        let lu = unit.lu.clone();
        write(&t.luns).insert(lun.id, unit);
        // After the insert: a login that registers later reads the new
        // unit itself (see the driver's LoggedIn).
        for nexus in inner.controls.nexuses_of(target) {
            lu.add_nexus(&nexus);
        }
        for (id, other) in read(&t.luns).iter() {
            if *id != lun.id {
                other.lu.luns_changed();
            }
        }
        if let Some(c) = lock(&inner.config)
            .targets
            .iter_mut()
            .find(|c| c.name == target)
        {
            c.luns.retain(|l| l.id != lun.id);
            c.luns.push(lun.clone());
            c.luns.sort_by_key(|l| l.id);
        }
        info!(target, lun = lun.id, "LUN added");
        Ok(())
    }

    /// Removes a LUN from a running target: it answers LOGICAL UNIT NOT
    /// SUPPORTED from now on (LUN 0 goes back to the stand-in), commands
    /// already running on it finish, its backend is flushed, and every I_T
    /// nexus of the target's other LUNs gets REPORTED LUNS DATA HAS
    /// CHANGED (3Fh/0Eh). Persistent reservations it kept (APTPL) are
    /// forgotten.
    ///
    /// # Errors
    /// [`AdminError::UnknownTarget`], [`AdminError::UnknownLun`] (the
    /// stand-in LUN 0 cannot be removed).
    pub fn remove_lun(&self, target: &str, lun: u16) -> Result<(), AdminError> {
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let t = inner.live_target(target)?;
        let unknown = || AdminError::UnknownLun {
            target: target.to_owned(),
            lun,
        };
        if t.unit(lun).is_none_or(|u| u.stand_in) {
            return Err(unknown());
        }
        // Its series go; a stand-in LUN 0 starts its own.
        inner.metrics.forget_unit(target, lun);
        let stand_in = if lun == 0 {
            Some(stand_in(
                target,
                &inner.controls,
                &inner.port_groups,
                &inner.metrics,
            )?)
        } else {
            None
        };
        let removed = {
            let mut luns = write(&t.luns);
            let removed = luns.remove(&lun).ok_or_else(unknown)?;
            if let Some(unit) = stand_in {
                for nexus in inner.controls.nexuses_of(target) {
                    unit.lu.add_nexus(&nexus);
                }
                luns.insert(0, unit);
            }
            removed
        };
        for other in t.units() {
            other.lu.luns_changed();
        }
        if let Err(e) = removed.lu.flush() {
            warn!(target, lun, error = %e, "flush of the removed LUN failed");
        }
        let pr_dir = {
            let mut config = lock(&inner.config);
            if let Some(c) = config.targets.iter_mut().find(|c| c.name == target) {
                c.luns.retain(|l| l.id != lun);
            }
            config.pr_dir.clone()
        };
        if let Err(e) = forget_persistent_reservations(pr_dir.as_deref(), target, lun) {
            warn!(target, lun, error = %e, "cannot remove the LUN's persistent reservations file");
        }
        info!(target, lun, "LUN removed");
        Ok(())
    }

    /// Changes the size of LUN `lun` of `target` to `size` bytes while
    /// sessions run (online resize): the backend grows (a RAM disk, a
    /// sparse file) or, with `allow_shrink`, shrinks; READ CAPACITY
    /// answers the new size and every I_T nexus of the LUN gets CAPACITY
    /// DATA HAS CHANGED (2Ah/09h, SBC-4 §4.8) on its next command.
    /// Returns the size before, bytes.
    ///
    /// # Errors
    /// [`ResizeError`]; the LUN is then as it was.
    pub fn resize_lun(
        &self,
        target: &str,
        lun: u16,
        size: u64,
        allow_shrink: bool,
    ) -> Result<u64, ResizeError> {
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let t = inner
            .live_target(target)
            .map_err(|_| ResizeError::UnknownTarget(target.to_owned()))?;
        let unit = t
            .unit(lun)
            .filter(|u| !u.stand_in)
            .ok_or_else(|| ResizeError::UnknownLun {
                target: target.to_owned(),
                lun,
            })?;
        let block_size = unit.lu.block_size();
        let bs = u64::from(block_size);
        if size == 0 || !size.is_multiple_of(bs) {
            return Err(ResizeError::Size { size, block_size });
        }
        let current = unit.lu.block_count() * bs;
        if size < current && !allow_shrink {
            return Err(ResizeError::Shrink { size, current });
        }
        if size != current {
            unit.lu.resize(size / bs).map_err(ResizeError::Backend)?;
            info!(target, lun, from = current, to = size, "LUN resized");
        }
        if let Some(l) = lock(&inner.config)
            .targets
            .iter_mut()
            .find(|c| c.name == target)
            .and_then(|c| c.luns.iter_mut().find(|l| l.id == lun))
        {
            l.size = Some(size);
        }
        Ok(current)
    }

    /// Adds `initiator` to `target`'s ACL (a target without an ACL gets
    /// one naming only it). Applies to the next login; no session changes.
    /// Returns false when the ACL named it already.
    ///
    /// # Errors
    /// [`AdminError::UnknownTarget`], [`AdminError::Invalid`] for a name
    /// that is not an iSCSI name.
    pub fn add_acl(&self, target: &str, initiator: &str) -> Result<bool, AdminError> {
        check_iscsi_name(initiator).map_err(AdminError::Invalid)?;
        self.change_acl(target, |acl| {
            let list = acl.get_or_insert_with(Vec::new);
            if list.iter().any(|a| a == initiator) {
                return Ok(false);
            }
            list.push(initiator.to_owned());
            Ok(true)
        })
    }

    /// Removes `initiator` from `target`'s ACL; an ACL left empty admits
    /// no initiator. Applies to the next login: sessions logged in stay.
    ///
    /// # Errors
    /// [`AdminError::UnknownTarget`], [`AdminError::UnknownInitiator`].
    pub fn remove_acl(&self, target: &str, initiator: &str) -> Result<(), AdminError> {
        self.change_acl(target, |acl| {
            let list = acl.as_mut().filter(|l| l.iter().any(|a| a == initiator));
            let Some(list) = list else {
                return Err(AdminError::UnknownInitiator {
                    target: target.to_owned(),
                    initiator: initiator.to_owned(),
                });
            };
            list.retain(|a| a != initiator);
            Ok(())
        })
    }

    /// Applies `f` to the ACL of `target`, then to the running
    /// configuration's.
    fn change_acl<T>(
        &self,
        target: &str,
        f: impl Fn(&mut Option<Vec<String>>) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let t = inner.live_target(target)?;
        let result = f(&mut write(&t.allow))?;
        if let Some(c) = lock(&inner.config)
            .targets
            .iter_mut()
            .find(|c| c.name == target)
        {
            f(&mut c.allow)?;
        }
        info!(target, acl = ?read(&t.allow), "ACL changed");
        Ok(result)
    }

    /// Sets the CHAP credentials initiators must prove for `target`
    /// (`None`: Discovery sessions), and optionally the target's own for
    /// mutual CHAP; `chap` `None` turns authentication off. Applies to the
    /// next login: sessions logged in stay.
    ///
    /// # Errors
    /// [`AdminError::UnknownTarget`]; [`AdminError::Start`] with
    /// [`StartError::Credentials`] when the mutual secret equals the
    /// initiator's (RFC 7143 §12.1.3); [`AdminError::Invalid`] for mutual
    /// credentials without CHAP.
    pub fn set_chap(
        &self,
        target: Option<&str>,
        chap: Option<ChapCredentials>,
        mutual: Option<ChapCredentials>,
    ) -> Result<(), AdminError> {
        if chap.is_none() && mutual.is_some() {
            return Err(AdminError::Invalid("mutual CHAP needs CHAP too".to_owned()));
        }
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let what = target.map_or_else(|| "discovery".to_owned(), |t| format!("target {t}"));
        let auth = auth_config(chap.as_ref(), mutual.as_ref(), &what)?;
        match target {
            None => {
                *write(&inner.discovery_auth) = auth;
                let mut config = lock(&inner.config);
                config.discovery_chap = chap;
                config.discovery_mutual_chap = mutual;
            }
            Some(name) => {
                let t = inner.live_target(name)?;
                *write(&t.auth) = auth;
                if let Some(c) = lock(&inner.config)
                    .targets
                    .iter_mut()
                    .find(|c| c.name == name)
                {
                    c.chap = chap;
                    c.mutual_chap = mutual;
                }
            }
        }
        info!(%what, "CHAP changed");
        Ok(())
    }

    /// Starts listening on another portal (port 0 picks a free port; the
    /// bound address is returned). A group not served before becomes a
    /// target port group in `portal.alua_state`. SendTargets lists it
    /// from now on.
    ///
    /// # Errors
    /// [`AdminError::PortalExists`]; [`AdminError::Start`] with
    /// [`StartError::Listen`] when the address cannot be bound.
    pub fn add_portal(&self, portal: Portal) -> Result<SocketAddr, AdminError> {
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        if portal.address.port() != 0
            && lock(&inner.portals)
                .iter()
                .any(|l| l.bound.address == portal.address)
        {
            return Err(AdminError::PortalExists(portal.address));
        }
        let bound = inner.listen(portal)?;
        inner.port_groups.add_group(TargetPortGroup::new(
            portal.group,
            portal.alua_state,
            vec![portal.group],
        ));
        lock(&inner.config).portals.push(portal);
        inner.refresh_send_targets();
        Ok(bound.address)
    }

    /// Stops listening on the portal bound to (or configured as)
    /// `address`. Sessions that came in through it stay; SendTargets stops
    /// listing it.
    ///
    /// # Errors
    /// [`AdminError::UnknownPortal`].
    pub fn remove_portal(&self, address: SocketAddr) -> Result<(), AdminError> {
        let inner = &self.inner;
        let _changes = lock(&inner.changes);
        let listening = {
            let mut portals = lock(&inner.portals);
            let i = portals
                .iter()
                .position(|l| l.bound.address == address)
                .or_else(|| portals.iter().position(|l| l.configured.address == address))
                .ok_or_else(|| AdminError::UnknownPortal(address.to_string()))?;
            portals.remove(i)
        };
        listening.task.abort();
        {
            let mut config = lock(&inner.config);
            if let Some(i) = config
                .portals
                .iter()
                .position(|p| p.address == listening.configured.address)
            {
                config.portals.remove(i);
            }
        }
        inner.refresh_send_targets();
        info!(address = %listening.bound.address, "portal removed");
        Ok(())
    }

    /// The sessions logged in now, by TSIH.
    #[must_use]
    pub fn sessions(&self) -> Vec<SessionSummary> {
        let now = self.inner.now_ms();
        let mut out: Vec<SessionSummary> = lock(&self.inner.sessions)
            .by_key
            .values()
            .filter_map(|e| e.info.as_ref())
            .map(|info| SessionSummary {
                params: info.params.clone(),
                peer: info.peer,
                portal: info.portal.address,
                portal_group: info.portal.group,
                logged_in_ms: now.saturating_sub(info.since_ms),
                commands: info.counters.commands.load(Ordering::Relaxed),
                read_bytes: info.counters.read_bytes.load(Ordering::Relaxed),
                write_bytes: info.counters.write_bytes.load(Ordering::Relaxed),
                check_conditions: info.counters.check_conditions.load(Ordering::Relaxed),
            })
            .collect();
        out.sort_by_key(|s| s.params.tsih.0);
        out
    }

    /// Asks the session with `tsih` to log out (Asynchronous Message,
    /// RFC 7143 §11.9.1) and closes it if it is still there after the
    /// shutdown grace period.
    ///
    /// # Errors
    /// [`AdminError::UnknownSession`].
    pub fn logout_session(&self, tsih: u16) -> Result<(), AdminError> {
        let session = lock(&self.inner.sessions)
            .by_key
            .iter()
            .find(|(_, e)| e.tsih.0 == tsih)
            .map(|((i, isid), e)| (i.clone(), *isid, e.tsih, e.info.clone()))
            .ok_or(AdminError::UnknownSession(tsih))?;
        self.end_sessions(vec![session], None);
        info!(tsih, "session asked to log out");
        Ok(())
    }

    /// The running configuration: as read at start, with every change
    /// made since.
    #[must_use]
    pub fn config(&self) -> Config {
        lock(&self.inner.config).clone()
    }

    /// Writes the running configuration to `path` (default: the file it
    /// was read from) as TOML, keeping the file's comments and order where
    /// they still apply (see [`crate::config::render`]): to a temporary
    /// file beside it, synced, then renamed over it. Returns the path.
    ///
    /// # Errors
    /// [`AdminError::NoConfigFile`], [`AdminError::Save`].
    pub fn save_config(&self, path: Option<&Path>) -> Result<PathBuf, AdminError> {
        let _changes = lock(&self.inner.changes);
        let config = self.config();
        let path = path
            .map(Path::to_owned)
            .or_else(|| config.path.clone())
            .ok_or(AdminError::NoConfigFile)?;
        let failed = |source| AdminError::Save {
            path: path.clone(),
            source,
        };
        let original = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(failed(e)),
        };
        let text = crate::config::render(original.as_deref(), &config)
            .map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        crate::config::write_atomically(&path, text.as_bytes()).map_err(failed)?;
        info!(path = %path.display(), "configuration saved");
        Ok(path)
    }

    /// Applies `config`, the configuration read again (SIGHUP), as the
    /// admin interface would: portals, targets, LUNs, ACLs and CHAP added,
    /// removed or changed; LUN sizes that grew. A size that shrank is not
    /// applied (it would cut off data), nor is a change to a LUN's backing
    /// or block size (remove and add the LUN), to an alias or to the
    /// limits (they apply at the next start). Returns what was done and
    /// what was not.
    #[must_use]
    pub fn reload(&self, config: &Config) -> Vec<ReloadChange> {
        let mut changes = Vec::new();
        let running = self.config();
        // Portals.
        for p in &running.portals {
            if !config.portals.iter().any(|n| n.address == p.address) {
                note(
                    &mut changes,
                    self.remove_portal(p.address)
                        .map(|()| ReloadChange::Applied(format!("portal {} removed", p.address))),
                    format!("portal {}", p.address),
                );
            }
        }
        for p in &config.portals {
            match running.portals.iter().find(|o| o.address == p.address) {
                None => note(
                    &mut changes,
                    self.add_portal(*p).map(|bound| {
                        ReloadChange::Applied(format!("portal {bound} (group {}) added", p.group))
                    }),
                    format!("portal {}", p.address),
                ),
                Some(o) if o.group != p.group => changes.push(ReloadChange::NotApplied(format!(
                    "portal {}: a new group (remove the portal and add it)",
                    p.address
                ))),
                Some(o) if o.alua_state != p.alua_state => note(
                    &mut changes,
                    self.inner
                        .port_groups
                        .set_state(p.group, p.alua_state)
                        .map(|()| {
                            if let Some(c) = lock(&self.inner.config)
                                .portals
                                .iter_mut()
                                .find(|c| c.group == p.group)
                            {
                                c.alua_state = p.alua_state;
                            }
                            ReloadChange::Applied(format!(
                                "portal group {} now {:?}",
                                p.group, p.alua_state
                            ))
                        })
                        .map_err(|()| AdminError::Invalid("no such port group".to_owned())),
                    format!("portal group {}", p.group),
                ),
                Some(_) => {}
            }
        }
        // Discovery CHAP.
        if !same_chap(
            running.discovery_chap.as_ref(),
            config.discovery_chap.as_ref(),
        ) || !same_chap(
            running.discovery_mutual_chap.as_ref(),
            config.discovery_mutual_chap.as_ref(),
        ) {
            note(
                &mut changes,
                self.set_chap(
                    None,
                    config.discovery_chap.clone(),
                    config.discovery_mutual_chap.clone(),
                )
                .map(|()| ReloadChange::Applied("discovery CHAP changed".to_owned())),
                "discovery CHAP",
            );
        }
        // Targets.
        for t in &running.targets {
            if !config.targets.iter().any(|n| n.name == t.name) {
                note(
                    &mut changes,
                    self.delete_target(&t.name, true).map(|n| {
                        ReloadChange::Applied(format!(
                            "target {} deleted ({n} session(s) asked to log out)",
                            t.name
                        ))
                    }),
                    format!("target {}", t.name),
                );
            }
        }
        for t in &config.targets {
            let old = running.targets.iter().find(|o| o.name == t.name);
            if old.is_none() {
                if let Err(e) = self.create_target(&t.name, t.alias.as_deref()) {
                    changes.push(ReloadChange::NotApplied(format!("target {}: {e}", t.name)));
                    continue;
                }
                changes.push(ReloadChange::Applied(format!("target {} created", t.name)));
            }
            self.reload_target(old, t, &mut changes);
        }
        changes
    }

    /// The differences of one target: alias, ACL, CHAP, LUNs.
    fn reload_target(
        &self,
        old: Option<&TargetConfig>,
        t: &TargetConfig,
        changes: &mut Vec<ReloadChange>,
    ) {
        let name = &t.name;
        if let Some(old) = old
            && old.alias != t.alias
        {
            note(
                changes,
                Err(AdminError::Invalid(
                    "an alias changes at the next start".to_owned(),
                )),
                format!("target {name} alias"),
            );
        }
        let old_allow = old.and_then(|o| o.allow.clone());
        if old_allow != t.allow {
            let acl = t.allow.clone();
            note(
                changes,
                self.change_acl(name, |a| {
                    a.clone_from(&acl);
                    Ok(())
                })
                .map(|()| ReloadChange::Applied(format!("target {name} ACL now {acl:?}"))),
                format!("target {name} ACL"),
            );
        }
        let (old_chap, old_mutual) =
            old.map_or((None, None), |o| (o.chap.as_ref(), o.mutual_chap.as_ref()));
        if !same_chap(old_chap, t.chap.as_ref()) || !same_chap(old_mutual, t.mutual_chap.as_ref()) {
            note(
                changes,
                self.set_chap(Some(name), t.chap.clone(), t.mutual_chap.clone())
                    .map(|()| ReloadChange::Applied(format!("target {name} CHAP changed"))),
                format!("target {name} CHAP"),
            );
        }
        let old_luns: &[LunConfig] = old.map_or(&[], |o| o.luns.as_slice());
        for l in old_luns {
            if !t.luns.iter().any(|n| n.id == l.id) {
                note(
                    changes,
                    self.remove_lun(name, l.id)
                        .map(|()| ReloadChange::Applied(format!("{name} LUN {} removed", l.id))),
                    format!("{name} LUN {}", l.id),
                );
            }
        }
        for l in &t.luns {
            let what = format!("{name} LUN {}", l.id);
            match old_luns.iter().find(|o| o.id == l.id) {
                None => note(
                    changes,
                    self.add_lun(name, l.clone())
                        .map(|()| ReloadChange::Applied(format!("{what} added"))),
                    what,
                ),
                Some(o)
                    if o.backing != l.backing
                        || o.block_size != l.block_size
                        || o.physical_block_size != l.physical_block_size
                        || o.read_only != l.read_only
                        || o.serial != l.serial
                        || o.product != l.product =>
                {
                    note(
                        changes,
                        Err(AdminError::Invalid(
                            "its backing, block sizes, read_only, serial or product changed \
                             (remove the LUN and add it)"
                                .to_owned(),
                        )),
                        what,
                    );
                }
                Some(o) => match (o.size, l.size) {
                    (Some(from), Some(to)) if from != to => note(
                        changes,
                        self.resize_lun(name, l.id, to, false)
                            .map(|from| ReloadChange::Resized {
                                target: name.clone(),
                                lun: l.id,
                                from,
                                to,
                            })
                            .map_err(AdminError::from),
                        what,
                    ),
                    _ => {}
                },
            }
        }
    }

    /// A handle for the admin interface's tasks.
    pub(super) fn handle(inner: &Arc<Inner>) -> Self {
        Self {
            inner: inner.clone(),
        }
    }
}

impl Inner {
    /// The target `name` unless it was deleted.
    fn live_target(&self, name: &str) -> Result<Arc<TargetState>, AdminError> {
        self.target(name)
            .filter(|t| !t.is_removed())
            .ok_or_else(|| AdminError::UnknownTarget(name.to_owned()))
    }
}

/// Records what became of one difference of a reload.
fn note(
    changes: &mut Vec<ReloadChange>,
    result: Result<ReloadChange, AdminError>,
    what: impl std::fmt::Display,
) {
    changes.push(match result {
        Ok(c) => c,
        Err(e) => ReloadChange::NotApplied(format!("{what}: {e}")),
    });
}
