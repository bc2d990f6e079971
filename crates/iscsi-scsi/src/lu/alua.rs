//! Asymmetric logical unit access (SPC-4 §5.15): the target port groups a
//! unit is reached through, their states, REPORT TARGET PORT GROUPS and
//! SET TARGET PORT GROUPS (explicit ALUA), the commands each state lets
//! through and the unit attention a change raises.
//!
//! One [`TargetPortGroups`] may be shared by every unit of a target (the
//! iSCSI target shares one per server: a portal group is a target port
//! group). Units notice a change on their next command and queue
//! ASYMMETRIC ACCESS STATE CHANGED (2Ah/06h) for every nexus but the one
//! that asked for it.

use std::sync::atomic::AtomicU64;

use super::*;
use crate::data::{
    AccessState, ReportTargetPortGroups, SetTargetPortGroups, TargetPortGroupDescriptor,
};

/// One target port group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetPortGroup {
    /// TARGET PORT GROUP identifier.
    pub id: u16,
    /// Its asymmetric access state.
    pub state: AccessState,
    /// PREF: the preferred group.
    pub preferred: bool,
    /// RELATIVE TARGET PORT IDENTIFIERs of its ports (for iSCSI, the portal
    /// group tags).
    pub ports: Vec<u16>,
    /// STATUS CODE for REPORT TARGET PORT GROUPS: 01h after SET TARGET PORT
    /// GROUPS, 02h after an implicit change, 0 otherwise.
    status_code: u8,
}

impl TargetPortGroup {
    /// Group `id` in `state` with `ports`.
    #[must_use]
    pub const fn new(id: u16, state: AccessState, ports: Vec<u16>) -> Self {
        Self {
            id,
            state,
            preferred: false,
            ports,
            status_code: 0,
        }
    }
}

/// The states SET TARGET PORT GROUPS may ask for, and the ones REPORT
/// TARGET PORT GROUPS says are supported (transitioning is reported, not
/// set).
const SUPPORTED: u8 = TargetPortGroupDescriptor::T_SUP
    | TargetPortGroupDescriptor::U_SUP
    | TargetPortGroupDescriptor::S_SUP
    | TargetPortGroupDescriptor::AN_SUP
    | TargetPortGroupDescriptor::AO_SUP;

/// The target port groups of one or more logical units and their states.
#[derive(Debug)]
pub struct TargetPortGroups {
    groups: RwLock<Vec<TargetPortGroup>>,
    /// Bumped by every change; units compare it with what they last saw.
    generation: AtomicU64,
    /// The nexus whose SET TARGET PORT GROUPS made the last change.
    changed_by: Mutex<Option<u64>>,
}

impl TargetPortGroups {
    /// These groups.
    #[must_use]
    pub fn new(groups: Vec<TargetPortGroup>) -> Self {
        Self {
            groups: RwLock::new(groups),
            generation: AtomicU64::new(0),
            changed_by: Mutex::new(None),
        }
    }

    /// Every group, as it is now.
    #[must_use]
    pub fn groups(&self) -> Vec<TargetPortGroup> {
        self.groups
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The state of the group relative target port `port` belongs to
    /// (active/optimized for a port in no group).
    #[must_use]
    pub fn state_of_port(&self, port: u16) -> AccessState {
        self.groups
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|g| g.ports.contains(&port))
            .map_or(AccessState::ActiveOptimized, |g| g.state)
    }

    /// Adds `group` unless a group with its id exists; returns whether it
    /// was added. Units report it from their next REPORT TARGET PORT
    /// GROUPS on (a port group added to a running target).
    pub fn add_group(&self, group: TargetPortGroup) -> bool {
        let mut groups = self
            .groups
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if groups.iter().any(|g| g.id == group.id) {
            return false;
        }
        groups.push(group);
        groups.sort_by_key(|g| g.id);
        true
    }

    /// Sets group `id` to `state` (an implicit change, e.g. by the
    /// operator): every nexus of every unit gets the unit attention.
    ///
    /// # Errors
    /// `Err(())` when there is no group `id`.
    #[allow(clippy::result_unit_err, reason = "the only error is: no such group")]
    pub fn set_state(&self, id: u16, state: AccessState) -> Result<(), ()> {
        self.change(&[(state, id)], None, 0x02).map_err(|_| ())
    }

    /// Applies `changes` together or not at all; `Err(i)` names the first
    /// change that is not allowed (no such group, a state that cannot be
    /// set).
    fn change(
        &self,
        changes: &[(AccessState, u16)],
        by: Option<u64>,
        status_code: u8,
    ) -> Result<(), usize> {
        let mut groups = self
            .groups
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, (state, id)) in changes.iter().enumerate() {
            let settable = matches!(
                state,
                AccessState::ActiveOptimized
                    | AccessState::ActiveNonOptimized
                    | AccessState::Standby
                    | AccessState::Unavailable
            ) || (by.is_none() && *state == AccessState::Transitioning);
            if !settable || !groups.iter().any(|g| g.id == *id) {
                return Err(i);
            }
        }
        for (state, id) in changes {
            if let Some(g) = groups.iter_mut().find(|g| g.id == *id) {
                g.state = *state;
                g.status_code = status_code;
            }
        }
        *lock(&self.changed_by) = by;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn report(&self, extended: bool) -> ReportTargetPortGroups {
        ReportTargetPortGroups {
            extended,
            implicit_transition_time: 0,
            groups: self
                .groups()
                .into_iter()
                .map(|g| TargetPortGroupDescriptor {
                    pref: g.preferred,
                    state: g.state,
                    supported: SUPPORTED,
                    id: g.id,
                    status_code: g.status_code,
                    ports: g.ports,
                })
                .collect(),
        }
    }
}

/// NOT READY with the code of an inaccessible state (SPC-4 §5.15.2.4).
fn not_accessible(state: AccessState) -> Option<Sense> {
    let asc = match state {
        AccessState::Standby => Asc::NOT_READY_TARGET_PORT_STANDBY,
        AccessState::Unavailable | AccessState::Offline => Asc::NOT_READY_TARGET_PORT_UNAVAILABLE,
        AccessState::Transitioning => Asc::NOT_READY_ASYMMETRIC_ACCESS_STATE_TRANSITION,
        _ => return None,
    };
    Some(Sense::new(SenseKey::NOT_READY, asc))
}

/// Whether a command with `handler` runs through a port in `state`
/// (SPC-4 §5.15.2.4.4–§5.15.2.4.6, with LIO's choices): standby lets
/// through what manages the unit (INQUIRY, REPORT LUNS, REQUEST SENSE,
/// mode pages, READ CAPACITY, REPORT/SET TARGET PORT GROUPS, persistent
/// reservations); unavailable what manages access; transitioning only
/// INQUIRY, REPORT LUNS, REQUEST SENSE and REPORT TARGET PORT GROUPS.
fn allowed(state: AccessState, handler: Option<cdb::Handler>, cdb: &[u8]) -> bool {
    use cdb::Handler as H;
    let service_action = u16::from(Reader(cdb).u8(1) & 0x1f);
    let rtpg = handler == Some(H::MaintenanceIn)
        && service_action == cdb::op::MI_REPORT_TARGET_PORT_GROUPS;
    let basic = matches!(handler, Some(H::Inquiry | H::ReportLuns | H::RequestSense)) || rtpg;
    let read_capacity = handler == Some(H::ReadCapacity10)
        || (handler == Some(H::ServiceActionIn) && service_action == cdb::op::SAI_READ_CAPACITY_16);
    match state {
        AccessState::ActiveOptimized | AccessState::ActiveNonOptimized => true,
        AccessState::Standby => {
            basic
                || read_capacity
                || matches!(
                    handler,
                    Some(
                        H::ModeSense
                            | H::ModeSelect
                            | H::MaintenanceOut
                            | H::PersistentReserveIn
                            | H::PersistentReserveOut
                    )
                )
        }
        AccessState::Unavailable | AccessState::Offline => {
            basic || handler == Some(H::MaintenanceOut)
        }
        _ => basic,
    }
}

impl LogicalUnit {
    /// ALUA before a command runs: NOT READY when the port the command
    /// came through is in a state that does not let it run.
    pub(super) fn alua_check(
        &self,
        req: &Request<'_>,
        handler: Option<cdb::Handler>,
    ) -> Option<Sense> {
        let groups = self.config.port_groups.as_ref()?;
        let state = groups.state_of_port(req.nexus.target_port);
        if allowed(state, handler, req.cdb) {
            None
        } else {
            not_accessible(state)
        }
    }

    /// Queues ASYMMETRIC ACCESS STATE CHANGED for every nexus but the one
    /// that made the change, once per change this unit has not seen.
    pub(super) fn alua_note_changes(&self) {
        let Some(groups) = self.config.port_groups.as_ref() else {
            return;
        };
        // A plain load on the common path: no write to a shared line per
        // command.
        let now = groups.generation.load(Ordering::Acquire);
        if self.alua_seen.load(Ordering::Relaxed) != now
            && self.alua_seen.swap(now, Ordering::AcqRel) != now
        {
            let by = *lock(&groups.changed_by);
            self.queue_attention_all(
                by,
                Sense::new(
                    SenseKey::UNIT_ATTENTION,
                    Asc::ASYMMETRIC_ACCESS_STATE_CHANGED,
                ),
            );
        }
    }

    /// TPGS of standard INQUIRY: 11b (implicit and explicit) with target
    /// port groups, else 00b.
    pub(super) fn tpgs(&self) -> u8 {
        if self.config.port_groups.is_some() {
            3
        } else {
            0
        }
    }

    /// REPORT TARGET PORT GROUPS (SPC-4 §6.36).
    pub(super) fn report_target_port_groups(&self, extended: bool, alloc: u32) -> Outcome {
        let groups = self
            .config
            .port_groups
            .as_ref()
            .ok_or_else(|| field(1, Some(4)))?;
        let alloc = usize::try_from(alloc).unwrap_or(usize::MAX);
        Ok(truncate(groups.report(extended).encode(), alloc))
    }

    /// SET TARGET PORT GROUPS (SPC-4 §6.44): all changes or none.
    pub(super) fn set_target_port_groups(&self, req: &Request<'_>, pll: u32) -> Outcome {
        let groups = self
            .config
            .port_groups
            .as_ref()
            .ok_or_else(|| field(1, Some(4)))?;
        if pll == 0 {
            return Ok(Bytes::new());
        }
        let list = req.parameter_list(pll);
        let list: &[u8] = &list;
        if list.len() < 4 || !(list.len() - 4).is_multiple_of(4) {
            return Err(illegal(Asc::PARAMETER_LIST_LENGTH_ERROR));
        }
        let wanted = SetTargetPortGroups::parse(list)
            .map_err(|_| illegal(Asc::PARAMETER_LIST_LENGTH_ERROR))?;
        groups
            .change(&wanted.changes, Some(req.nexus.id), 0x01)
            .map_err(|i| {
                Fail::Check(Sense::invalid_parameter_field(
                    u16::try_from(4 + 4 * i).unwrap_or(u16::MAX),
                    None,
                ))
            })?;
        // This unit notes its own change now, sparing the issuing nexus.
        self.alua_note_changes();
        Ok(Bytes::new())
    }
}
