//! The I_T nexus a command came through (SAM-5 §4.6.4).

use std::sync::Arc;

/// An I_T nexus as a logical unit sees it: the initiator port and the
/// target port a command came through (SAM-5 §4.6.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Nexus {
    /// Unique per nexus for the lifetime of the target (a session id).
    pub id: u64,
    /// The initiator port name, for iSCSI `iqn...,i,0x<ISID>` (SPC-4 §7.6.4.6).
    pub initiator_port: Arc<str>,
    /// The relative target port identifier (for iSCSI the portal group tag).
    pub target_port: u16,
}

impl Nexus {
    /// A nexus with this id, initiator port name and target port.
    #[must_use]
    pub fn new(id: u64, initiator_port: impl Into<Arc<str>>, target_port: u16) -> Self {
        Self {
            id,
            initiator_port: initiator_port.into(),
            target_port,
        }
    }
}
