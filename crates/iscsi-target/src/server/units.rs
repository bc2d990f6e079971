//! The logical units and authentication settings a configuration asks for.

use super::*;

/// Builds the targets and logical units of the configuration.
///
/// # Errors
/// [`StartError::Backend`] naming the LUN, [`StartError::Credentials`].
pub(super) fn build_targets(
    config: &Config,
    controls: &Arc<Controls>,
    port_groups: &Arc<TargetPortGroups>,
    metrics: &metrics::Metrics,
) -> Result<HashMap<String, Arc<TargetState>>, StartError> {
    let mut targets = HashMap::new();
    for t in &config.targets {
        let state = build_target(config.pr_dir.as_deref(), t, controls, port_groups, metrics)?;
        targets.insert(t.name.clone(), Arc::new(state));
    }
    Ok(targets)
}

/// Builds one target and its units; LUN 0 gets a stand-in when `t` has
/// none.
///
/// # Errors
/// [`StartError::Backend`] naming the LUN, [`StartError::Credentials`].
pub(super) fn build_target(
    pr_dir: Option<&std::path::Path>,
    t: &crate::config::TargetConfig,
    controls: &Arc<Controls>,
    port_groups: &Arc<TargetPortGroups>,
    metrics: &metrics::Metrics,
) -> Result<TargetState, StartError> {
    let mut luns = BTreeMap::new();
    for l in &t.luns {
        luns.insert(
            l.id,
            build_unit(pr_dir, &t.name, l, controls, port_groups, metrics)?,
        );
    }
    if let std::collections::btree_map::Entry::Vacant(e) = luns.entry(0) {
        e.insert(stand_in(&t.name, controls, port_groups, metrics)?);
    }
    let auth = auth_config(
        t.chap.as_ref(),
        t.mutual_chap.as_ref(),
        &format!("target {}", t.name),
    )?;
    Ok(TargetState {
        name: t.name.clone(),
        alias: t.alias.clone(),
        allow: RwLock::new(t.allow.clone()),
        auth: RwLock::new(auth),
        luns: RwLock::new(luns),
        removed: AtomicBool::new(false),
    })
}

/// The unit that stands in for an unconfigured LUN 0 (SAM-5 §4.6.5: LUN 0
/// must exist): 64 MiB of RAM, allocated as it is written.
pub(super) fn stand_in(
    target: &str,
    controls: &Arc<Controls>,
    port_groups: &Arc<TargetPortGroups>,
    metrics: &metrics::Metrics,
) -> Result<Unit, StartError> {
    let mut unit = build_unit(
        None,
        target,
        &crate::config::LunConfig::memory(0, 64 << 20),
        controls,
        port_groups,
        metrics,
    )?;
    unit.stand_in = true;
    Ok(unit)
}

/// Opens (or creates) one LUN's backend and builds its unit; with
/// `pr_dir`, restores the persistent reservations kept there (APTPL).
///
/// # Errors
/// [`StartError::Backend`], [`StartError::PersistentReservations`].
pub(super) fn build_unit(
    pr_dir: Option<&std::path::Path>,
    target: &str,
    l: &crate::config::LunConfig,
    controls: &Arc<Controls>,
    port_groups: &Arc<TargetPortGroups>,
    metrics: &metrics::Metrics,
) -> Result<Unit, StartError> {
    let backend_error = |source| StartError::Backend {
        target: target.to_owned(),
        lun: l.id,
        source,
    };
    // An RBD image's size can change under us (`rbd resize`): its
    // backend tells the unit, once there is one.
    #[cfg(feature = "rbd")]
    let mut rbd: Option<Arc<iscsi_rbd::RbdBackend>> = None;
    let rbd_error = |spec: &crate::config::RbdBacking, source| {
        backend_error(BackendError::Io {
            path: spec.to_string().into(),
            source,
        })
    };
    let (backend, inline): (Arc<dyn BlockBackend>, bool) = match &l.backing {
        Backing::Memory => {
            let disk =
                MemoryBackend::new(l.size.unwrap_or(crate::config::DEFAULT_SIZE), l.block_size)
                    .map_err(backend_error)?;
            let disk = if l.read_only { disk.read_only() } else { disk };
            (Arc::new(disk), true)
        }
        Backing::File(path) => {
            let disk = FileBackend::open(path, l.size, l.block_size, l.read_only)
                .map_err(backend_error)?;
            (Arc::new(disk), false)
        }
        Backing::Rbd(spec) => {
            #[cfg(feature = "rbd")]
            {
                let disk = Arc::new(open_rbd(spec, l).map_err(|e| rbd_error(spec, e))?);
                rbd = Some(disk.clone());
                (disk, false)
            }
            #[cfg(not(feature = "rbd"))]
            {
                return Err(rbd_error(
                    spec,
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        "this iscsi-target was built without the rbd feature",
                    ),
                ));
            }
        }
    };
    let serial = l
        .serial
        .clone()
        .unwrap_or_else(|| format!("{:08X}{:04X}", fnv32(target), l.id));
    let mut lu_config = LuConfig::new(target.to_owned(), serial);
    lu_config.read_only = l.read_only;
    lu_config.lbppbe = l.lbppbe();
    lu_config.port_groups = Some(port_groups.clone());
    if let Some(lun) = Lun::from_index(l.id) {
        lu_config.task_sets = Some(Arc::new(SessionTaskSets {
            controls: controls.clone(),
            lun,
        }));
    }
    lu_config.background = Some(Arc::new(Sanitizer {
        rate: l.sanitize_rate,
    }));
    lu_config.product = l.product.clone().unwrap_or_else(|| match l.backing {
        Backing::Memory => "RAMDISK".to_owned(),
        Backing::File(_) => "FILEDISK".to_owned(),
        Backing::Rbd(_) => "RBD".to_owned(),
    });
    let store = pr_dir.map(|dir| FilePrStore::new(dir, target, l.id));
    if let Some(store) = &store {
        lu_config.pr_store = Some(Arc::new(store.clone()));
    }
    let lu = LogicalUnit::new(backend, lu_config);
    if let Some(store) = &store {
        let failed = |message: String| StartError::PersistentReservations {
            target: target.to_owned(),
            lun: l.id,
            path: store.path.clone(),
            message,
        };
        match std::fs::read_to_string(&store.path) {
            Ok(text) => {
                lu.restore_persistent_reservations(&text).map_err(failed)?;
                info!(target, lun = l.id, path = %store.path.display(), "persistent reservations restored (APTPL)");
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    let lu = Arc::new(lu);
    #[cfg(feature = "rbd")]
    if let (Some(disk), Backing::Rbd(spec)) = (&rbd, &l.backing) {
        let unit = Arc::downgrade(&lu);
        let (target, id) = (target.to_owned(), l.id);
        disk.on_resize(move |blocks| {
            if let Some(lu) = unit.upgrade() {
                match lu.resize(blocks) {
                    Ok(()) => info!(target, lun = id, blocks, "RBD image resized; CAPACITY DATA HAS CHANGED queued"),
                    Err(e) => warn!(target, lun = id, blocks, %e, "RBD image resized but the unit could not follow"),
                }
            }
        })
        .map_err(|e| rbd_error(spec, e))?;
    }
    #[cfg(feature = "rbd")]
    let aio = rbd.map(|disk| disk as Arc<dyn AsyncIo>);
    #[cfg(not(feature = "rbd"))]
    let aio = None;
    Ok(Unit {
        lu,
        inline,
        aio,
        backing: l.backing.clone(),
        metrics: Arc::new(metrics.unit(target, l.id)),
        stand_in: false,
    })
}

/// Connects to the LUN's cluster and opens its image.
#[cfg(feature = "rbd")]
fn open_rbd(
    spec: &crate::config::RbdBacking,
    l: &crate::config::LunConfig,
) -> io::Result<iscsi_rbd::RbdBackend> {
    let rados = iscsi_rbd::Rados::connect(&iscsi_rbd::CephOptions {
        conf: spec.conf.clone(),
        client: spec.client.clone(),
        keyring: spec.keyring.clone(),
        ..iscsi_rbd::CephOptions::default()
    })?;
    let image = iscsi_rbd::RbdSpec {
        pool: spec.pool.clone(),
        image: spec.image.clone(),
    };
    let disk = iscsi_rbd::RbdBackend::open(&rados, &image, l.block_size, l.read_only)?;
    info!(image = %spec, blocks = disk.block_count(), block_size = l.block_size, "RBD image opened");
    Ok(disk)
}

/// Forgets the persistent reservations a removed LUN kept (APTPL), so a
/// LUN added later under its number starts without them.
pub(super) fn forget_persistent_reservations(
    pr_dir: Option<&std::path::Path>,
    target: &str,
    lun: u16,
) -> io::Result<()> {
    match pr_dir {
        Some(dir) => FilePrStore::new(dir, target, lun).save(None),
        None => Ok(()),
    }
}

/// The target port groups (ALUA) of the server: one per portal group tag,
/// its one relative target port the tag itself (the LUNs' VPD page 83h
/// reports both as the tag), in the state its portals give.
pub(super) fn port_groups(config: &Config) -> TargetPortGroups {
    let mut groups: Vec<TargetPortGroup> = Vec::new();
    for p in &config.portals {
        if !groups.iter().any(|g| g.id == p.group) {
            groups.push(TargetPortGroup::new(p.group, p.alua_state, vec![p.group]));
        }
    }
    groups.sort_by_key(|g| g.id);
    TargetPortGroups::new(groups)
}

/// CHAP (and mutual CHAP) when configured, else no authentication; `what`
/// ("target NAME" or "discovery") prefixes the error.
pub(super) fn auth_config(
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

/// The logical units an EXTENDED COPY from one session may name (SPC-4
/// §6.4.5.5): the LUNs of every target its initiator could log in to
/// itself — the session's own, and any other one that is not removed,
/// whose ACL admits the initiator and that asks for no CHAP or for the
/// very credentials the session proved. Every target is served on every
/// portal group, so the portal group adds no limit. Keyed by each unit's
/// NAA designator (VPD page 83h).
#[derive(Debug, Default)]
pub(super) struct CopyReach {
    units: Vec<([u8; 16], Arc<LogicalUnit>)>,
}

impl CopyReach {
    /// The reach of a session of `initiator` logged in to `own`, one of
    /// the server's `targets`.
    pub(super) fn of<'a>(
        targets: impl IntoIterator<Item = &'a Arc<TargetState>>,
        own: &TargetState,
        initiator: &str,
    ) -> Self {
        let own_chap = read(&own.auth).chap.clone();
        let same_chap = |other: &TargetState| match (&read(&other.auth).chap, &own_chap) {
            (None, _) => true,
            (Some(theirs), Some(ours)) => {
                theirs.user == ours.user && theirs.secret.ct_eq(&ours.secret)
            }
            (Some(_), None) => false,
        };
        let mut units = Vec::new();
        for t in targets {
            let reachable = std::ptr::eq(t.as_ref(), own)
                || (!t.is_removed() && t.admits(initiator) && same_chap(t));
            if reachable {
                units.extend(t.units().into_iter().map(|u| (u.lu.config().naa, u.lu)));
            }
        }
        Self { units }
    }
}

impl CopyTargets for CopyReach {
    fn find(&self, naa: &[u8]) -> Option<Arc<LogicalUnit>> {
        self.units
            .iter()
            .find(|(id, _)| id.as_slice() == naa)
            .map(|(_, lu)| lu.clone())
    }
}

/// Keeps one LUN's persistent reservations (APTPL) in a file of the
/// configuration's `pr_dir`, named by target and LUN; written to a
/// temporary file, synced and renamed over the old one, so a crash leaves
/// the old state or the new.
#[derive(Debug, Clone)]
struct FilePrStore {
    path: std::path::PathBuf,
}

impl FilePrStore {
    fn new(dir: &std::path::Path, target: &str, lun: u16) -> Self {
        // IQN and EUI names hold letters, digits, '.', '-' and ':' only
        // (RFC 3722); anything else becomes '_'.
        let name: String = target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-:".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            path: dir.join(format!("{name}.lun{lun}")),
        }
    }
}

impl PrStore for FilePrStore {
    fn save(&self, state: Option<&str>) -> io::Result<()> {
        use std::io::Write;
        let Some(text) = state else {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        };
        let dir = self
            .path
            .parent()
            .ok_or_else(|| io::Error::other("the store has no directory"))?;
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        // The rename itself reaches the disk with the directory.
        std::fs::File::open(dir)?.sync_all()
    }
}

/// Runs a unit's SANITIZE on a thread of its own and holds it to `rate`
/// bytes a second (0: unpaced): after each chunk, the time the chunk takes
/// at that rate.
#[derive(Debug)]
struct Sanitizer {
    rate: u64,
}

impl Background for Sanitizer {
    fn spawn(&self, work: BackgroundWork) -> io::Result<()> {
        std::thread::Builder::new()
            .name("sanitize".to_owned())
            .spawn(work)
            .map(drop)
    }

    fn chunk_done(&self, bytes: u64) {
        if self.rate == 0 {
            return;
        }
        let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(self.rate);
        std::thread::sleep(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four targets: the session's own, one open, one whose ACL admits
    /// someone else, one with other CHAP credentials, one with the same.
    #[test]
    fn a_copy_reaches_only_targets_the_initiator_could_log_in_to() {
        let text = r#"
[[target]]
name = "iqn.2026-11.x:own"
chap = { user = "u", secret = "secret-0123456789" }
[[target.lun]]
id = 0
size = "1M"
[[target.lun]]
id = 1
size = "1M"

[[target]]
name = "iqn.2026-11.x:open"
[[target.lun]]
id = 0
size = "1M"

[[target]]
name = "iqn.2026-11.x:acl"
allow = ["iqn.2026-11.x:someone-else"]
[[target.lun]]
id = 0
size = "1M"

[[target]]
name = "iqn.2026-11.x:other-chap"
chap = { user = "u", secret = "another-secret-987" }
[[target.lun]]
id = 0
size = "1M"

[[target]]
name = "iqn.2026-11.x:same-chap"
chap = { user = "u", secret = "secret-0123456789" }
[[target.lun]]
id = 0
size = "1M"
"#;
        let config = Config::parse(text, "t.toml").unwrap();
        let groups = Arc::new(port_groups(&config));
        let targets =
            build_targets(&config, &Arc::default(), &groups, &Default::default()).unwrap();
        let own = &targets["iqn.2026-11.x:own"];
        let reach = CopyReach::of(targets.values(), own, "iqn.2026-11.x:me");
        let naa = |t: &str, lun: u16| targets[t].unit(lun).unwrap().lu.config().naa;
        for (t, lun, reachable) in [
            ("iqn.2026-11.x:own", 0, true),
            ("iqn.2026-11.x:own", 1, true),
            ("iqn.2026-11.x:open", 0, true),
            ("iqn.2026-11.x:acl", 0, false),
            ("iqn.2026-11.x:other-chap", 0, false),
            ("iqn.2026-11.x:same-chap", 0, true),
        ] {
            assert_eq!(
                reach.find(&naa(t, lun)).is_some(),
                reachable,
                "{t} LUN {lun}"
            );
        }
        // The ACL admits its own initiator.
        let reach = CopyReach::of(targets.values(), own, "iqn.2026-11.x:someone-else");
        assert!(reach.find(&naa("iqn.2026-11.x:acl", 0)).is_some());
        // A removed target is out of reach.
        targets["iqn.2026-11.x:open"]
            .removed
            .store(true, Ordering::Release);
        let reach = CopyReach::of(targets.values(), own, "iqn.2026-11.x:me");
        assert!(reach.find(&naa("iqn.2026-11.x:open", 0)).is_none());
        // Without CHAP on the session's own target, a CHAP target is out
        // of reach.
        let open = &targets["iqn.2026-11.x:open"];
        let reach = CopyReach::of(targets.values(), open, "iqn.2026-11.x:me");
        assert!(reach.find(&naa("iqn.2026-11.x:same-chap", 0)).is_none());
        assert!(reach.find(&naa("iqn.2026-11.x:open", 0)).is_some());
    }
}
