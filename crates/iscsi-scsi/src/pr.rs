//! Reservations: SPC-2 RESERVE/RELEASE and SPC-4 persistent reservations
//! (SPC-4 §5.7, §6.15, §6.16). Persistence through power loss (APTPL,
//! SPC-4 §5.7.5) is offered when the unit has a [`PrStore`]
//! (PTPL_C = 1): while the last REGISTER asked for it, every change is
//! saved as text ([`Reservations::persistent_text`]) before it takes
//! effect, and a restarted unit reads it back
//! ([`Reservations::restore`]). Without a store APTPL is refused.
//!
//! [`PrStore`]: crate::PrStore

use std::sync::Arc;

use bytes::Bytes;

use crate::cdb::Access;
use crate::data::{
    PrCapabilities, PrFullStatus, PrFullStatusDescriptor, PrReadKeys, PrReadReservation,
    PrReservation, Reader, RegisterAndMoveParameterList, iscsi_transport_id,
    parse_iscsi_transport_id,
};
use crate::fail::Fail;
use crate::nexus::Nexus;
use crate::sense::{Asc, Sense, SenseKey};

/// PR types (SPC-4 table 212).
const WRITE_EXCLUSIVE: u8 = 1;
const EXCLUSIVE_ACCESS: u8 = 3;
const WRITE_EXCLUSIVE_RO: u8 = 5;
const EXCLUSIVE_ACCESS_RO: u8 = 6;
const WRITE_EXCLUSIVE_AR: u8 = 7;
const EXCLUSIVE_ACCESS_AR: u8 = 8;

/// An I_T nexus as persistent reservations name it: initiator port and
/// relative target port (registrations outlive sessions).
type Port = (Arc<str>, u16);

fn port_of(n: &Nexus) -> Port {
    (n.initiator_port.clone(), n.target_port)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Registration {
    port: Port,
    key: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Reservation {
    holder: Port,
    kind: u8,
}

/// Unit attentions to queue after a PR OUT: (nexus ids, sense).
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) attentions: Vec<(Vec<u64>, Sense)>,
    /// Nexus ids whose tasks for the unit are to be aborted (PREEMPT AND
    /// ABORT).
    pub(crate) aborts: Vec<u64>,
}

/// The unit's reservation state.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reservations {
    /// The unit can persist reservations (PTPL_C).
    ptpl_capable: bool,
    /// The last valid APTPL bit was one (PTPL_A): changes are saved.
    aptpl: bool,
    /// SPC-2 reservation holder (nexus id).
    spc2: Option<u64>,
    registrations: Vec<Registration>,
    reservation: Option<Reservation>,
    generation: u32,
    /// Nexus ids last seen per port, for unit attentions.
    seen: Vec<(Port, u64)>,
}

const fn all_registrants(kind: u8) -> bool {
    matches!(kind, WRITE_EXCLUSIVE_AR | EXCLUSIVE_ACCESS_AR)
}

const fn registrants_only(kind: u8) -> bool {
    matches!(kind, WRITE_EXCLUSIVE_RO | EXCLUSIVE_ACCESS_RO)
}

fn conflict() -> Fail {
    Fail::Conflict
}

fn bad_param(byte: u16) -> Fail {
    Fail::Check(Sense::invalid_parameter_field(byte, None))
}

/// Where a logical unit keeps its persistent reservations through power
/// loss (APTPL, SPC-4 §5.7.5): the runtime's storage (a file beside the
/// target's configuration).
pub trait PrStore: Send + Sync + std::fmt::Debug {
    /// Replaces what is kept with `state` (the text
    /// [`LogicalUnit::restore_persistent_reservations`] reads), so that a
    /// crash leaves the old state or the new one, never a mix; `None`:
    /// keep nothing (the last REGISTER cleared APTPL).
    ///
    /// # Errors
    /// The OS error; the PERSISTENT RESERVE OUT then fails with
    /// INSUFFICIENT REGISTRATION RESOURCES and changes nothing.
    ///
    /// [`LogicalUnit::restore_persistent_reservations`]: crate::LogicalUnit::restore_persistent_reservations
    fn save(&self, state: Option<&str>) -> std::io::Result<()>;
}

/// The first line of [`Reservations::persistent_text`].
const PERSISTENT_HEADER: &str = "# iscsi-rs persistent reservations v1";

impl Reservations {
    /// No reservation; `ptpl_capable` when the unit can persist them.
    pub(crate) fn new(ptpl_capable: bool) -> Self {
        Self {
            ptpl_capable,
            ..Self::default()
        }
    }

    /// True while APTPL is in effect: the state is to be kept.
    pub(crate) const fn aptpl(&self) -> bool {
        self.aptpl
    }

    /// The persistent part of the state as text: the PR generation, each
    /// registration and the reservation, one per line, initiator port
    /// names last (they hold no spaces or line breaks, RFC 3722):
    ///
    /// ```text
    /// # iscsi-rs persistent reservations v1
    /// generation 7
    /// register 0x1234abcd 1 iqn.1994-05.com.redhat:h1,i,0x00023d000001
    /// reserve 1 1 iqn.1994-05.com.redhat:h1,i,0x00023d000001
    /// ```
    pub(crate) fn persistent_text(&self) -> String {
        let mut out = format!("{PERSISTENT_HEADER}\ngeneration {}\n", self.generation);
        for r in &self.registrations {
            out.push_str(&format!(
                "register {:#x} {} {}\n",
                r.key, r.port.1, r.port.0
            ));
        }
        if let Some(r) = &self.reservation {
            out.push_str(&format!(
                "reserve {} {} {}\n",
                r.kind, r.holder.1, r.holder.0
            ));
        }
        out
    }

    /// The state [`persistent_text`](Self::persistent_text) wrote, with
    /// APTPL in effect.
    ///
    /// # Errors
    /// `line N: what` for the first line that does not parse, or a
    /// reservation whose holder is not registered.
    pub(crate) fn restore(&mut self, text: &str) -> Result<(), String> {
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l.trim()) != Some(PERSISTENT_HEADER) {
            return Err(format!("line 1: expected {PERSISTENT_HEADER:?}"));
        }
        let mut state = Self::new(self.ptpl_capable);
        state.aptpl = true;
        for (i, line) in lines {
            let n = i + 1;
            let bad = |what: &str| format!("line {n}: {what}: {line:?}");
            let mut words = line.splitn(4, ' ');
            match words.next().unwrap_or("") {
                "" => {}
                "generation" => {
                    state.generation = words
                        .next()
                        .and_then(|g| g.parse().ok())
                        .ok_or_else(|| bad("expected generation N"))?;
                }
                word @ ("register" | "reserve") => {
                    let (Some(a), Some(tp), Some(name)) =
                        (words.next(), words.next(), words.next())
                    else {
                        return Err(bad("expected three fields"));
                    };
                    let tp: u16 = tp.parse().map_err(|_| bad("bad relative target port"))?;
                    if name.is_empty() || name.contains(char::is_whitespace) {
                        return Err(bad("bad initiator port name"));
                    }
                    let port: Port = (Arc::from(name), tp);
                    if word == "register" {
                        let key = a
                            .strip_prefix("0x")
                            .and_then(|h| u64::from_str_radix(h, 16).ok())
                            .filter(|k| *k != 0)
                            .ok_or_else(|| bad("bad reservation key"))?;
                        if state.key_of(&port).is_some() {
                            return Err(bad("registered twice"));
                        }
                        state.registrations.push(Registration { port, key });
                    } else {
                        let kind: u8 = a
                            .parse()
                            .ok()
                            .filter(|k| check_scope_type(0, *k).is_ok())
                            .ok_or_else(|| bad("bad reservation type"))?;
                        let holder_gone = !all_registrants(kind) && state.key_of(&port).is_none();
                        if holder_gone || state.reservation.is_some() {
                            return Err(bad(
                                "the holder is not registered, or a second reservation",
                            ));
                        }
                        state.reservation = Some(Reservation { holder: port, kind });
                    }
                }
                _ => return Err(bad("unknown line")),
            }
        }
        *self = state;
        Ok(())
    }

    /// True when any reservation could make a command conflict.
    pub(crate) fn active(&self) -> bool {
        self.spc2.is_some() || !self.registrations.is_empty() || self.reservation.is_some()
    }

    fn key_of(&self, port: &Port) -> Option<u64> {
        self.registrations
            .iter()
            .find(|r| &r.port == port)
            .map(|r| r.key)
    }

    fn is_holder(&self, port: &Port) -> bool {
        match &self.reservation {
            Some(r) if all_registrants(r.kind) => self.key_of(port).is_some(),
            Some(r) => &r.holder == port,
            None => false,
        }
    }

    /// Whether `nexus` may run a command of class `access` now.
    pub(crate) fn conflicts(&self, nexus: &Nexus, access: Access) -> bool {
        if let Some(holder) = self.spc2
            && holder != nexus.id
        {
            return access != Access::Always;
        }
        if access == Access::Spc2 {
            // SPC-2 RESERVE while persistent reservations are in use.
            return !self.registrations.is_empty() || self.reservation.is_some();
        }
        let Some(res) = &self.reservation else {
            return false;
        };
        let port = port_of(nexus);
        if access == Access::Always || self.is_holder(&port) {
            return false;
        }
        let registered = self.key_of(&port).is_some();
        match (res.kind, access) {
            (WRITE_EXCLUSIVE, Access::Read) => false,
            (WRITE_EXCLUSIVE_RO | WRITE_EXCLUSIVE_AR, Access::Read) => false,
            (
                WRITE_EXCLUSIVE_RO | WRITE_EXCLUSIVE_AR | EXCLUSIVE_ACCESS_RO | EXCLUSIVE_ACCESS_AR,
                _,
            ) => !registered,
            _ => true,
        }
    }

    /// SPC-2 RESERVE(6/10).
    pub(crate) fn reserve_spc2(&mut self, nexus: &Nexus) -> Result<(), Fail> {
        match self.spc2 {
            Some(holder) if holder != nexus.id => Err(conflict()),
            _ if !self.registrations.is_empty() => Err(conflict()),
            _ => {
                self.spc2 = Some(nexus.id);
                Ok(())
            }
        }
    }

    /// SPC-2 RELEASE(6/10): only the holder releases; others get GOOD.
    pub(crate) fn release_spc2(&mut self, nexus: &Nexus) {
        if self.spc2 == Some(nexus.id) {
            self.spc2 = None;
        }
    }

    /// Clears the SPC-2 reservation (resets).
    pub(crate) fn clear_spc2(&mut self) {
        self.spc2 = None;
    }

    /// A nexus ended: its SPC-2 reservation goes, registrations stay.
    pub(crate) fn nexus_lost(&mut self, id: u64) {
        if self.spc2 == Some(id) {
            self.spc2 = None;
        }
        self.seen.retain(|(_, n)| *n != id);
    }

    fn remember(&mut self, nexus: &Nexus) {
        let port = port_of(nexus);
        self.seen.retain(|(p, _)| p != &port);
        self.seen.push((port, nexus.id));
    }

    fn ids_of(&self, ports: &[Port]) -> Vec<u64> {
        self.seen
            .iter()
            .filter(|(p, _)| ports.contains(p))
            .map(|(_, id)| *id)
            .collect()
    }

    /// PERSISTENT RESERVE IN.
    pub(crate) fn pr_in(&self, service_action: u8, _nexus: &Nexus) -> Result<Bytes, Fail> {
        let out = match service_action {
            0x00 => PrReadKeys::new(
                self.generation,
                self.registrations.iter().map(|r| r.key).collect(),
            )
            .encode(),
            0x01 => {
                let reservation = self.reservation.as_ref().map(|r| {
                    let key = if all_registrants(r.kind) {
                        0
                    } else {
                        self.key_of(&r.holder).unwrap_or(0)
                    };
                    PrReservation::new(key, r.kind & 0x0f)
                });
                PrReadReservation::new(self.generation, reservation).encode()
            }
            // CRH; TMV with ALLOW COMMANDS 000b; every type but the
            // obsolete ones.
            0x02 => PrCapabilities {
                crh: true,
                tmv: true,
                ptpl_c: self.ptpl_capable,
                ptpl_a: self.aptpl,
                type_mask: 0xea01,
                ..PrCapabilities::default()
            }
            .encode()
            .to_vec(),
            0x03 => {
                let held = self.reservation.as_ref().map_or(0, |x| x.kind & 0x0f);
                let descriptors = self
                    .registrations
                    .iter()
                    .map(|r| {
                        let holder = self.is_holder(&r.port);
                        PrFullStatusDescriptor {
                            key: r.key,
                            r_holder: holder,
                            pr_type: if holder { held } else { 0 },
                            relative_target_port: r.port.1,
                            // iSCSI TransportID: name ",i,0x" ISID.
                            transport_id: iscsi_transport_id(&r.port.0),
                            ..PrFullStatusDescriptor::default()
                        }
                    })
                    .collect();
                PrFullStatus::new(self.generation, descriptors).encode()
            }
            _ => return Err(Fail::Check(Sense::invalid_cdb_field(1, Some(4)))),
        };
        Ok(Bytes::from(out))
    }

    /// PERSISTENT RESERVE OUT with the 24-byte basic parameter list.
    pub(crate) fn pr_out(
        &mut self,
        service_action: u8,
        scope_type: u8,
        params: &[u8],
        nexus: &Nexus,
    ) -> Result<Effects, Fail> {
        self.remember(nexus);
        if service_action == REGISTER_AND_MOVE {
            return self.register_and_move(scope_type, params, nexus);
        }
        let p = Reader(params);
        let key = p.u64(0);
        let sa_key = p.u64(8);
        let flags = p.u8(20);
        let aptpl = flags & 0x01 != 0;
        if aptpl && !self.ptpl_capable {
            // APTPL without a store to keep the state in.
            return Err(bad_param(20));
        }
        if flags & 0x0c != 0 {
            // SPEC_I_PT / ALL_TG_PT: not supported.
            return Err(bad_param(20));
        }
        if self.spc2.is_some_and(|holder| holder != nexus.id) {
            return Err(conflict());
        }
        let port = port_of(nexus);
        let current = self.key_of(&port);
        let kind = scope_type & 0x0f;
        let scope = scope_type >> 4;
        let mut effects = Effects::default();
        match service_action {
            // REGISTER, REGISTER AND IGNORE EXISTING KEY
            0x00 | 0x06 => {
                let ignore = service_action == 0x06;
                match current {
                    None => {
                        if !ignore && key != 0 {
                            return Err(conflict());
                        }
                        if sa_key != 0 {
                            self.registrations.push(Registration { port, key: sa_key });
                        }
                    }
                    Some(k) => {
                        if !ignore && k != key {
                            return Err(conflict());
                        }
                        if sa_key == 0 {
                            self.unregister(&port, &mut effects);
                        } else if let Some(r) =
                            self.registrations.iter_mut().find(|r| r.port == port)
                        {
                            r.key = sa_key;
                        }
                    }
                }
                // APTPL counts only with a REGISTER (SPC-4 §6.16.3).
                self.aptpl = aptpl;
                self.generation = self.generation.wrapping_add(1);
            }
            // RESERVE
            0x01 => {
                if current != Some(key) || key == 0 && current.is_none() {
                    return Err(conflict());
                }
                check_scope_type(scope, kind)?;
                match &self.reservation {
                    None => {
                        self.reservation = Some(Reservation { holder: port, kind });
                    }
                    Some(r) if self.is_holder(&port) && r.kind == kind => {}
                    Some(_) => return Err(conflict()),
                }
            }
            // RELEASE
            0x02 => {
                if current != Some(key) {
                    return Err(conflict());
                }
                if let Some(r) = self.reservation.clone()
                    && self.is_holder(&port)
                {
                    if scope != 0 || r.kind != kind {
                        return Err(Fail::Check(Sense::new(
                            SenseKey::ILLEGAL_REQUEST,
                            Asc::INVALID_RELEASE_OF_PERSISTENT_RESERVATION,
                        )));
                    }
                    self.reservation = None;
                    if registrants_only(r.kind) || all_registrants(r.kind) {
                        let others: Vec<Port> = self
                            .registrations
                            .iter()
                            .filter(|x| x.port != port)
                            .map(|x| x.port.clone())
                            .collect();
                        effects.attentions.push((
                            self.ids_of(&others),
                            Sense::new(SenseKey::UNIT_ATTENTION, Asc::RESERVATIONS_RELEASED),
                        ));
                    }
                }
            }
            // CLEAR
            0x03 => {
                if current != Some(key) {
                    return Err(conflict());
                }
                let others: Vec<Port> = self
                    .registrations
                    .iter()
                    .filter(|x| x.port != port)
                    .map(|x| x.port.clone())
                    .collect();
                self.registrations.clear();
                self.reservation = None;
                self.generation = self.generation.wrapping_add(1);
                effects.attentions.push((
                    self.ids_of(&others),
                    Sense::new(SenseKey::UNIT_ATTENTION, Asc::RESERVATIONS_PREEMPTED),
                ));
            }
            // PREEMPT, PREEMPT AND ABORT
            0x04 | 0x05 => {
                if current != Some(key) {
                    return Err(conflict());
                }
                let holder_key = self.reservation.as_ref().and_then(|r| {
                    if all_registrants(r.kind) {
                        Some(0)
                    } else {
                        self.key_of(&r.holder)
                    }
                });
                let preempts_reservation = self.reservation.is_some() && holder_key == Some(sa_key);
                if sa_key == 0 && !preempts_reservation {
                    return Err(bad_param(8));
                }
                if preempts_reservation {
                    check_scope_type(scope, kind)?;
                }
                let removed: Vec<Port> = self
                    .registrations
                    .iter()
                    .filter(|r| {
                        (r.key == sa_key || (sa_key == 0 && preempts_reservation)) && r.port != port
                    })
                    .map(|r| r.port.clone())
                    .collect();
                if removed.is_empty() && !preempts_reservation {
                    return Err(conflict());
                }
                self.registrations.retain(|r| !removed.contains(&r.port));
                if preempts_reservation {
                    self.reservation = Some(Reservation { holder: port, kind });
                }
                self.generation = self.generation.wrapping_add(1);
                if service_action == 0x05 {
                    // PREEMPT AND ABORT: the preempted nexuses' tasks go
                    // too (SPC-4 §5.13.11.2.5), the issuer's never.
                    effects.aborts = self
                        .ids_of(&removed)
                        .into_iter()
                        .filter(|id| *id != nexus.id)
                        .collect();
                }
                effects.attentions.push((
                    self.ids_of(&removed),
                    Sense::new(SenseKey::UNIT_ATTENTION, Asc::REGISTRATIONS_PREEMPTED),
                ));
            }
            _ => return Err(Fail::Check(Sense::invalid_cdb_field(1, Some(4)))),
        }
        Ok(effects)
    }

    /// REGISTER AND MOVE (SPC-4 §5.7.8): the issuing nexus, which holds
    /// the reservation, registers the nexus a TransportID and relative
    /// target port name with the service action key and hands it the
    /// reservation, with the same type; UNREG drops its own registration.
    fn register_and_move(
        &mut self,
        scope_type: u8,
        params: &[u8],
        nexus: &Nexus,
    ) -> Result<Effects, Fail> {
        let list = RegisterAndMoveParameterList::parse(params).map_err(|_| {
            Fail::Check(Sense::new(
                SenseKey::ILLEGAL_REQUEST,
                Asc::PARAMETER_LIST_LENGTH_ERROR,
            ))
        })?;
        if list.aptpl && !self.ptpl_capable {
            return Err(bad_param(17));
        }
        if self.spc2.is_some_and(|holder| holder != nexus.id) {
            return Err(conflict());
        }
        let port = port_of(nexus);
        if self.key_of(&port) != Some(list.reservation_key) {
            return Err(conflict());
        }
        if list.service_action_reservation_key == 0 {
            return Err(bad_param(8));
        }
        // Only the holder of a reservation that is not for all registrants
        // may move it.
        let reservation = match &self.reservation {
            Some(r) if !all_registrants(r.kind) && r.holder == port => r.clone(),
            _ => return Err(conflict()),
        };
        if scope_type >> 4 != 0 {
            return Err(Fail::Check(Sense::invalid_cdb_field(2, Some(7))));
        }
        let name = parse_iscsi_transport_id(&list.transport_id).ok_or_else(|| bad_param(24))?;
        // ISID digits as nexus names write them (lower case).
        let name = match name.rfind(",i,0x") {
            Some(i) => format!(
                "{}{}",
                name.get(..i).unwrap_or(""),
                name.get(i..).unwrap_or("").to_ascii_lowercase()
            ),
            None => return Err(bad_param(24)),
        };
        let destination: Port = (Arc::from(name.as_str()), list.relative_target_port);
        if destination == port {
            return Err(bad_param(24));
        }
        match self
            .registrations
            .iter_mut()
            .find(|r| r.port == destination)
        {
            Some(r) => r.key = list.service_action_reservation_key,
            None => self.registrations.push(Registration {
                port: destination.clone(),
                key: list.service_action_reservation_key,
            }),
        }
        self.reservation = Some(Reservation {
            holder: destination,
            kind: reservation.kind,
        });
        if list.unreg {
            self.registrations.retain(|r| r.port != port);
        }
        self.aptpl = list.aptpl;
        self.generation = self.generation.wrapping_add(1);
        Ok(Effects::default())
    }

    /// Removes `port`'s registration, releasing a reservation it held.
    fn unregister(&mut self, port: &Port, effects: &mut Effects) {
        let was_holder = self.is_holder(port);
        self.registrations.retain(|r| &r.port != port);
        if let Some(r) = self.reservation.clone() {
            let release = if all_registrants(r.kind) {
                self.registrations.is_empty()
            } else {
                was_holder
            };
            if release {
                self.reservation = None;
                if registrants_only(r.kind) {
                    let others: Vec<Port> =
                        self.registrations.iter().map(|x| x.port.clone()).collect();
                    effects.attentions.push((
                        self.ids_of(&others),
                        Sense::new(SenseKey::UNIT_ATTENTION, Asc::RESERVATIONS_RELEASED),
                    ));
                }
            }
        }
    }
}

/// PERSISTENT RESERVE OUT service action REGISTER AND MOVE.
pub(crate) const REGISTER_AND_MOVE: u8 = 0x07;

fn check_scope_type(scope: u8, kind: u8) -> Result<(), Fail> {
    if scope != 0 {
        return Err(Fail::Check(Sense::invalid_cdb_field(2, Some(7))));
    }
    if !matches!(
        kind,
        WRITE_EXCLUSIVE
            | EXCLUSIVE_ACCESS
            | WRITE_EXCLUSIVE_RO
            | EXCLUSIVE_ACCESS_RO
            | WRITE_EXCLUSIVE_AR
            | EXCLUSIVE_ACCESS_AR
    ) {
        return Err(Fail::Check(Sense::invalid_cdb_field(2, Some(3))));
    }
    Ok(())
}
