//! Changes to a running server that touch no session: online resize of a
//! LUN, and the part of a re-read configuration that can be applied live
//! (SIGHUP). The admin interface will build on these.

use super::*;

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
    #[error("{size} bytes is less than the current {current} bytes (shrinking cuts off data)")]
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
            Self::NotApplied(why) => write!(f, "not applied: {why}"),
        }
    }
}

impl Server {
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
        let t = self
            .inner
            .targets
            .get(target)
            .filter(|t| !t.removed.load(Ordering::Acquire))
            .ok_or_else(|| ResizeError::UnknownTarget(target.to_owned()))?;
        let unit = t.luns.get(&lun).ok_or_else(|| ResizeError::UnknownLun {
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
        Ok(current)
    }

    /// Applies what can change live of `config`, the configuration read
    /// again (SIGHUP): LUN sizes that grew. A size that shrank is not
    /// applied (it would cut off data); other differences (targets,
    /// portals, ACLs, CHAP, LUNs added or removed) take effect at the
    /// next start. Returns what was done and what was not.
    #[must_use]
    pub fn reload(&self, config: &Config) -> Vec<ReloadChange> {
        let mut changes = Vec::new();
        for t in &config.targets {
            for l in &t.luns {
                let Some(size) = l.size else { continue };
                let Some(unit) = self
                    .inner
                    .targets
                    .get(&t.name)
                    .and_then(|state| state.luns.get(&l.id))
                else {
                    changes.push(ReloadChange::NotApplied(format!(
                        "{} LUN {} is new (it is served after a restart)",
                        t.name, l.id
                    )));
                    continue;
                };
                let current = unit.lu.block_count() * u64::from(unit.lu.block_size());
                if size == current {
                    continue;
                }
                match self.resize_lun(&t.name, l.id, size, false) {
                    Ok(from) => changes.push(ReloadChange::Resized {
                        target: t.name.clone(),
                        lun: l.id,
                        from,
                        to: size,
                    }),
                    Err(e) => changes.push(ReloadChange::NotApplied(format!(
                        "{} LUN {}: {e}",
                        t.name, l.id
                    ))),
                }
            }
        }
        changes
    }
}
