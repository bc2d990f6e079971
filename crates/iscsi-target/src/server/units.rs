//! The logical units and authentication settings a configuration asks for.

use super::*;

/// Builds the logical units of the configuration.
///
/// # Errors
/// [`StartError::Backend`] naming the LUN, [`StartError::Credentials`].
pub(super) fn build_targets(
    config: &Config,
) -> Result<HashMap<String, Arc<TargetState>>, StartError> {
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
