//! The key negotiation engine shared by both roles (RFC 7143 §6.2): it
//! answers the peer's offers, interprets the peer's answers to ours,
//! detects renegotiation and keys in the wrong stage, and settles every key
//! into [`SessionParams`].

use std::collections::{BTreeMap, BTreeSet};

use iscsi_pdu::text::{parse_boolean, parse_numerical};

use crate::error::{LoginError, Violation};
use crate::keys::{
    self, IRRELEVANT, Key, KeyDef, KeyKind, KeyStage, NOT_UNDERSTOOD, REJECT, Sender,
};
use crate::params::{OperationalConfig, SessionParams, SessionType, TaskReporting};

/// Which side this engine speaks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    Initiator,
    Target,
}

/// The login stage a key arrived in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Stage {
    Security,
    Operational,
}

/// Declarations naming the session: an identical repeat of one of these in
/// a later login PDU is ignored, not refused.
const IDENTITY_KEYS: [Key; 4] = [
    Key::InitiatorName,
    Key::InitiatorAlias,
    Key::TargetName,
    Key::SessionType,
];

#[derive(Clone, Debug)]
pub(crate) struct Negotiator {
    role: Role,
    local: OperationalConfig,
    pub(crate) session_type: SessionType,
    /// Offers we sent that await an answer: key → offered value.
    offered: BTreeMap<Key, String>,
    /// Keys settled (either way) → value in force.
    settled: BTreeMap<Key, String>,
    /// Keys the peer sent (offers or declarations) with their first value,
    /// for renegotiation checks.
    peer_sent: BTreeMap<Key, String>,
    /// Declarations we made.
    declared: BTreeSet<Key>,
    /// Pairs to send in the next PDU.
    replies: Vec<(String, String)>,
    /// Declarative values the peer sent (names, aliases, MRDSL, TPGT).
    pub(crate) peer_declarations: BTreeMap<Key, String>,
}

impl Negotiator {
    pub(crate) fn new(role: Role, local: OperationalConfig) -> Self {
        Self {
            role,
            local,
            session_type: SessionType::Normal,
            offered: BTreeMap::new(),
            settled: BTreeMap::new(),
            peer_sent: BTreeMap::new(),
            declared: BTreeSet::new(),
            replies: Vec::new(),
            peer_declarations: BTreeMap::new(),
        }
    }

    fn relevant(&self, def: &KeyDef) -> bool {
        def.discovery || self.session_type == SessionType::Normal
    }

    fn peer_may_send(&self, def: &KeyDef) -> bool {
        match (def.sender, self.role) {
            (Sender::Both, _) => true,
            (Sender::Initiator, Role::Target) | (Sender::Target, Role::Initiator) => true,
            (Sender::Initiator, Role::Initiator) | (Sender::Target, Role::Target) => false,
        }
    }

    /// Queues a pair for the next PDU.
    pub(crate) fn reply(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.replies.push((key.into(), value.into()));
    }

    /// Takes the pairs queued for the next PDU.
    pub(crate) fn take_replies(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.replies)
    }

    /// True while offers of ours await an answer.
    pub(crate) fn awaiting_answers(&self) -> bool {
        !self.offered.is_empty()
    }

    /// Declares a declarative key of ours once (MaxRecvDataSegmentLength,
    /// TargetPortalGroupTag, names).
    pub(crate) fn declare(&mut self, key: Key, value: String) {
        if self.declared.insert(key) {
            self.reply(key.name(), value);
        }
    }

    /// Offers our value for `key` unless it is settled, already offered or
    /// irrelevant to this session type.
    pub(crate) fn offer(&mut self, key: Key) {
        let def = key.def();
        if !self.relevant(def)
            || self.settled.contains_key(&key)
            || self.offered.contains_key(&key)
            || self.peer_sent.contains_key(&key)
        {
            return;
        }
        if let Some(value) = self.local.value_of(key) {
            self.offered.insert(key, value.clone());
            self.reply(def.name, value);
        }
    }

    /// The operational keys an initiator proposes.
    pub(crate) const INITIATOR_OFFERS: &'static [Key] = &[
        Key::HeaderDigest,
        Key::DataDigest,
        Key::InitialR2T,
        Key::ImmediateData,
        Key::MaxBurstLength,
        Key::FirstBurstLength,
        Key::MaxOutstandingR2T,
        Key::MaxConnections,
        Key::DefaultTime2Wait,
        Key::DefaultTime2Retain,
        Key::DataPduInOrder,
        Key::DataSequenceInOrder,
        Key::ErrorRecoveryLevel,
    ];

    /// Target-originated offers: only for keys the initiator did not raise
    /// and whose default our limits cannot accept (RFC 7143 §6.2: a target
    /// may offer keys; the initiator must answer before the target transits).
    pub(crate) fn target_offers(&mut self) {
        // DefaultTime2Wait/Retain only matter for recovery (ERL > 0); they
        // are answered when offered but never worth an extra round trip.
        for &key in Self::INITIATOR_OFFERS
            .iter()
            .filter(|k| !matches!(k, Key::DefaultTime2Wait | Key::DefaultTime2Retain))
        {
            let def = key.def();
            let (Some(default), Some(ours)) = (def.default, self.local.value_of(key)) else {
                continue;
            };
            let needs = match def.kind {
                KeyKind::NumericalMin { .. } => num(&ours) < num(default),
                KeyKind::NumericalMax { .. } => num(&ours) > num(default),
                KeyKind::BooleanAnd => ours == "No" && default == "Yes",
                KeyKind::BooleanOr => ours == "Yes" && default == "No",
                KeyKind::List(_) => !ours.split(',').any(|v| v == default),
                _ => false,
            };
            if needs {
                self.offer(key);
            }
        }
    }

    /// Processes one pair from the peer (not a security key).
    pub(crate) fn receive(
        &mut self,
        key: &str,
        value: &str,
        stage: Stage,
    ) -> Result<(), LoginError> {
        let Some(def) = keys::lookup(key) else {
            // Unknown keys, X- and X# extensions included (RFC 7143 §6.2,
            // §13.22): NotUnderstood. A peer's NotUnderstood answer to
            // something we never sent is ignored.
            if ![NOT_UNDERSTOOD, IRRELEVANT, REJECT].contains(&value) {
                self.reply(key, NOT_UNDERSTOOD);
            }
            return Ok(());
        };
        if def.kind == KeyKind::Security {
            return Err(Violation::KeyInWrongStage.into());
        }
        if stage == Stage::Security && def.stage == KeyStage::Operational {
            return Err(LoginError::negotiation(
                key,
                "operational keys may not be sent in the security stage",
            ));
        }
        if !self.peer_may_send(def) && !self.offered.contains_key(&def.key) {
            return Err(LoginError::negotiation(
                key,
                "only the other side may send this key",
            ));
        }

        if let Some(ours) = self.offered.remove(&def.key) {
            return self.answer(def, &ours, value);
        }
        if def.key != Key::TargetAddress {
            match self.peer_sent.get(&def.key) {
                // libiscsi repeats InitiatorName and SessionType in its first
                // operational PDU after AuthMethod=None; LIO and tgtd accept
                // the same value again. A changed value is a redeclaration.
                Some(first) if IDENTITY_KEYS.contains(&def.key) && first == value => {
                    return Ok(());
                }
                Some(_) => {
                    return Err(LoginError::negotiation(
                        key,
                        "the key was sent twice in one login (RFC 7143 §6.2)",
                    ));
                }
                None => {
                    self.peer_sent.insert(def.key, value.to_owned());
                }
            }
        }
        if self.settled.contains_key(&def.key) {
            return Err(LoginError::negotiation(
                key,
                "the key was already negotiated",
            ));
        }
        if [NOT_UNDERSTOOD, IRRELEVANT, REJECT].contains(&value) {
            // An answer to nothing we offered: nothing to settle.
            return Ok(());
        }
        if !self.relevant(def) {
            self.reply(def.name, IRRELEVANT);
            return Ok(());
        }
        self.respond(def, value)
    }

    /// Answers the peer's offer of `def`.
    fn respond(&mut self, def: &'static KeyDef, value: &str) -> Result<(), LoginError> {
        let ours = self.local.value_of(def.key);
        match def.kind {
            KeyKind::List(_) => {
                let ours = ours.unwrap_or_default();
                let choice = value
                    .split(',')
                    .find(|offered| ours.split(',').any(|o| o == *offered));
                match choice {
                    Some(choice) => {
                        let choice = choice.to_owned();
                        self.settle(def, &choice);
                        self.reply(def.name, choice);
                    }
                    None => self.reply(def.name, REJECT),
                }
            }
            KeyKind::NumericalMin { min, max } | KeyKind::NumericalMax { min, max } => {
                match parse_numerical(value) {
                    Ok(v) if (min..=max).contains(&v) => {
                        let ours = ours.map_or(v, |o| num(&o));
                        let result = if matches!(def.kind, KeyKind::NumericalMin { .. }) {
                            v.min(ours)
                        } else {
                            v.max(ours)
                        };
                        let result = result.to_string();
                        self.settle(def, &result);
                        self.reply(def.name, result);
                    }
                    // Out of range or malformed: the offer is refused and the
                    // key keeps its default (RFC 7143 §6.2).
                    _ => self.reply(def.name, REJECT),
                }
            }
            KeyKind::BooleanOr | KeyKind::BooleanAnd => match parse_boolean(value) {
                Ok(v) => {
                    let ours = ours.is_none_or(|o| o == "Yes");
                    let result = if def.kind == KeyKind::BooleanOr {
                        v || ours
                    } else {
                        v && ours
                    };
                    let result = iscsi_pdu::text::boolean(result);
                    self.settle(def, result);
                    self.reply(def.name, result);
                }
                Err(_) => self.reply(def.name, REJECT),
            },
            KeyKind::DeclarativeNumber { min, max } => match parse_numerical(value) {
                Ok(v) if (min..=max).contains(&v) => {
                    self.peer_declarations.insert(def.key, v.to_string());
                }
                _ => {
                    return Err(LoginError::negotiation(
                        def.name,
                        format!("declared value {value:?} is outside {min}..={max}"),
                    ));
                }
            },
            KeyKind::DeclarativeText => {
                self.peer_declarations.insert(def.key, value.to_owned());
            }
            KeyKind::Obsolete => {
                // RFC 7143 §13.26: markers get No (or Reject), their
                // intervals Reject; never NotUnderstood.
                let answer = if matches!(def.key, Key::IfMarker | Key::OfMarker) {
                    "No"
                } else {
                    REJECT
                };
                self.reply(def.name, answer);
            }
            KeyKind::FullFeatureOnly => self.reply(def.name, IRRELEVANT),
            KeyKind::Security => return Err(Violation::KeyInWrongStage.into()),
        }
        Ok(())
    }

    /// Interprets the peer's answer to our offer `ours` of `def`.
    fn answer(&mut self, def: &'static KeyDef, ours: &str, value: &str) -> Result<(), LoginError> {
        if [NOT_UNDERSTOOD, IRRELEVANT, REJECT].contains(&value) {
            // The key keeps its default; record that so it is not offered again.
            if let Some(default) = def.default {
                self.settle(def, default);
            }
            return Ok(());
        }
        let bad = |why: &str| {
            Err(LoginError::negotiation(
                def.name,
                format!("answer {value:?} to our offer {ours:?} {why}"),
            ))
        };
        match def.kind {
            KeyKind::List(_) if value.contains(',') || !ours.split(',').any(|o| o == value) => {
                return bad("is not one of the offered values");
            }
            KeyKind::NumericalMin { min, max } | KeyKind::NumericalMax { min, max } => {
                let Ok(v) = parse_numerical(value) else {
                    return bad("is not a number");
                };
                let o = num(ours);
                let fits = match def.kind {
                    KeyKind::NumericalMin { .. } => v <= o,
                    _ => v >= o,
                };
                if !(min..=max).contains(&v) || !fits {
                    return bad("breaks the negotiation rule");
                }
                self.settle(def, &v.to_string());
                return Ok(());
            }
            KeyKind::BooleanOr | KeyKind::BooleanAnd => {
                let Ok(v) = parse_boolean(value) else {
                    return bad("is not Yes or No");
                };
                let o = ours == "Yes";
                let legal = if def.kind == KeyKind::BooleanOr {
                    !o || v
                } else {
                    o || !v
                };
                if !legal {
                    return bad("breaks the boolean rule");
                }
            }
            _ => {}
        }
        self.settle(def, value);
        Ok(())
    }

    fn settle(&mut self, def: &'static KeyDef, value: &str) {
        self.settled.insert(def.key, value.to_owned());
    }

    /// Keeps FirstBurstLength within MaxBurstLength in the answers queued so
    /// far and in the settled values (RFC 7143 §13.14: FirstBurstLength MUST
    /// NOT exceed MaxBurstLength).
    pub(crate) fn clamp_first_burst(&mut self) {
        let max_burst = self.value_u64(Key::MaxBurstLength);
        let Some(first) = self.settled.get(&Key::FirstBurstLength).map(|v| num(v)) else {
            return;
        };
        if first > max_burst {
            let clamped = max_burst.to_string();
            self.settled.insert(Key::FirstBurstLength, clamped.clone());
            for (k, v) in &mut self.replies {
                if k == Key::FirstBurstLength.name() {
                    v.clone_from(&clamped);
                }
            }
        }
    }

    /// Offers still unanswered when the peer moved on take the conservative
    /// of our value and the default.
    pub(crate) fn settle_unanswered(&mut self) {
        let offered = std::mem::take(&mut self.offered);
        for (key, ours) in offered {
            let def = key.def();
            let default = def.default.unwrap_or("");
            let value = match def.kind {
                KeyKind::NumericalMin { .. } => num(&ours).min(num(default)).to_string(),
                KeyKind::NumericalMax { .. } => num(&ours).max(num(default)).to_string(),
                KeyKind::BooleanAnd => {
                    iscsi_pdu::text::boolean(ours == "Yes" && default == "Yes").to_owned()
                }
                KeyKind::BooleanOr => {
                    iscsi_pdu::text::boolean(ours == "Yes" || default == "Yes").to_owned()
                }
                _ => default.to_owned(),
            };
            self.settled.insert(key, value);
        }
    }

    /// The value in force for `key`: settled, else its default.
    fn value(&self, key: Key) -> String {
        self.settled
            .get(&key)
            .cloned()
            .or_else(|| key.def().default.map(str::to_owned))
            .unwrap_or_default()
    }

    fn value_u64(&self, key: Key) -> u64 {
        num(&self.value(key))
    }

    fn value_bool(&self, key: Key) -> bool {
        self.value(key) == "Yes"
    }

    /// Fills the negotiated fields of `params`.
    pub(crate) fn apply(&self, params: &mut SessionParams) -> Result<(), LoginError> {
        let u16_of = |key: Key| u16::try_from(self.value_u64(key)).unwrap_or(u16::MAX);
        let u32_of = |key: Key| u32::try_from(self.value_u64(key)).unwrap_or(u32::MAX);
        params.header_digest = self.value(Key::HeaderDigest) == "CRC32C";
        params.data_digest = self.value(Key::DataDigest) == "CRC32C";
        params.max_connections = u16_of(Key::MaxConnections);
        params.initial_r2t = self.value_bool(Key::InitialR2T);
        params.immediate_data = self.value_bool(Key::ImmediateData);
        params.max_burst_length = u32_of(Key::MaxBurstLength);
        params.first_burst_length = u32_of(Key::FirstBurstLength);
        params.default_time2wait = u16_of(Key::DefaultTime2Wait);
        params.default_time2retain = u16_of(Key::DefaultTime2Retain);
        params.max_outstanding_r2t = u16_of(Key::MaxOutstandingR2T);
        params.data_pdu_in_order = self.value_bool(Key::DataPduInOrder);
        params.data_sequence_in_order = self.value_bool(Key::DataSequenceInOrder);
        params.error_recovery_level =
            u8::try_from(self.value_u64(Key::ErrorRecoveryLevel)).unwrap_or(0);
        params.task_reporting =
            TaskReporting::parse(&self.value(Key::TaskReporting)).unwrap_or_default();
        params.iscsi_protocol_level =
            u8::try_from(self.value_u64(Key::IscsiProtocolLevel)).unwrap_or(0);

        // A side that never declared MaxRecvDataSegmentLength (a login that
        // skipped the operational stage) receives the default 8192.
        let ours = if self.declared.contains(&Key::MaxRecvDataSegmentLength) {
            self.local.max_recv_data_segment_length
        } else {
            8192
        };
        let theirs = self
            .peer_declarations
            .get(&Key::MaxRecvDataSegmentLength)
            .map_or(8192, |v| u32::try_from(num(v)).unwrap_or(8192));
        match self.role {
            Role::Initiator => {
                params.initiator_max_recv_data_segment_length = ours;
                params.target_max_recv_data_segment_length = theirs;
            }
            Role::Target => {
                params.initiator_max_recv_data_segment_length = theirs;
                params.target_max_recv_data_segment_length = ours;
            }
        }
        if let Some(alias) = self.peer_declarations.get(&Key::TargetAlias) {
            params.target_alias = Some(alias.clone());
        }
        if let Some(alias) = self.peer_declarations.get(&Key::InitiatorAlias) {
            params.initiator_alias = Some(alias.clone());
        }
        if let Some(tpgt) = self.peer_declarations.get(&Key::TargetPortalGroupTag) {
            params.target_portal_group_tag = u16::try_from(num(tpgt)).ok();
        }
        if params.session_type == SessionType::Normal
            && params.first_burst_length > params.max_burst_length
        {
            return Err(LoginError::negotiation(
                "FirstBurstLength",
                format!(
                    "{} exceeds MaxBurstLength {} (RFC 7143 §13.14)",
                    params.first_burst_length, params.max_burst_length
                ),
            ));
        }
        Ok(())
    }
}

fn num(v: &str) -> u64 {
    parse_numerical(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Negotiator {
        Negotiator::new(Role::Target, OperationalConfig::default())
    }

    fn replies(n: &mut Negotiator) -> Vec<(String, String)> {
        n.take_replies()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn each_kind_is_answered_by_its_rule() {
        let mut n = target();
        let op = Stage::Operational;
        n.receive("HeaderDigest", "CRC32C,None", op).unwrap();
        n.receive("DataDigest", "Bogus", op).unwrap();
        n.receive("MaxBurstLength", "16776192", op).unwrap();
        n.receive("DefaultTime2Wait", "0", op).unwrap();
        n.receive("InitialR2T", "No", op).unwrap();
        n.receive("ImmediateData", "Yes", op).unwrap();
        n.receive("MaxOutstandingR2T", "0", op).unwrap();
        n.receive("ErrorRecoveryLevel", "bogus", op).unwrap();
        n.receive("X-com.example.Thing", "1", op).unwrap();
        n.receive("IFMarker", "No", op).unwrap();
        n.receive("OFMarkInt", "1~65535", op).unwrap();
        assert_eq!(
            replies(&mut n),
            [
                // The first value of the offer that we support.
                pair("HeaderDigest", "CRC32C"),
                pair("DataDigest", "Reject"),
                pair("MaxBurstLength", "1048576"),
                pair("DefaultTime2Wait", "2"),
                pair("InitialR2T", "No"),
                pair("ImmediateData", "Yes"),
                pair("MaxOutstandingR2T", "Reject"),
                pair("ErrorRecoveryLevel", "Reject"),
                pair("X-com.example.Thing", "NotUnderstood"),
                pair("IFMarker", "No"),
                pair("OFMarkInt", "Reject"),
            ]
        );
    }

    #[test]
    fn renegotiation_and_wrong_stage_fail() {
        let mut n = target();
        n.receive("MaxBurstLength", "65536", Stage::Operational)
            .unwrap();
        let err = n
            .receive("MaxBurstLength", "65536", Stage::Operational)
            .unwrap_err();
        assert_eq!(err.status(), iscsi_pdu::LoginStatus::INITIATOR_ERROR);
        let err = target()
            .receive("MaxBurstLength", "65536", Stage::Security)
            .unwrap_err();
        assert!(err.to_string().contains("security stage"), "{err}");
        let err = target()
            .receive("TargetAlias", "x", Stage::Operational)
            .unwrap_err();
        assert!(err.to_string().contains("other side"), "{err}");
    }

    #[test]
    fn discovery_sessions_answer_irrelevant() {
        let mut n = target();
        n.session_type = SessionType::Discovery;
        n.receive("MaxBurstLength", "65536", Stage::Operational)
            .unwrap();
        n.receive("HeaderDigest", "None", Stage::Operational)
            .unwrap();
        assert_eq!(
            replies(&mut n),
            [
                pair("MaxBurstLength", "Irrelevant"),
                pair("HeaderDigest", "None")
            ]
        );
    }

    #[test]
    fn first_burst_is_clamped_to_max_burst() {
        let mut n = target();
        n.receive("FirstBurstLength", "262144", Stage::Operational)
            .unwrap();
        n.receive("MaxBurstLength", "65536", Stage::Operational)
            .unwrap();
        n.clamp_first_burst();
        assert_eq!(
            replies(&mut n),
            [
                pair("FirstBurstLength", "65536"),
                pair("MaxBurstLength", "65536")
            ]
        );
    }

    #[test]
    fn answers_to_our_offers_are_checked() {
        let mut n = Negotiator::new(Role::Initiator, OperationalConfig::default());
        n.offer(Key::MaxBurstLength);
        n.offer(Key::HeaderDigest);
        n.offer(Key::InitialR2T);
        assert!(n.awaiting_answers());
        n.receive("HeaderDigest", "CRC32C", Stage::Operational)
            .unwrap();
        n.receive("InitialR2T", "Yes", Stage::Operational).unwrap();
        let err = n
            .receive("MaxBurstLength", "99999999", Stage::Operational)
            .unwrap_err();
        assert!(matches!(err, LoginError::Negotiation { .. }));
        let mut n = Negotiator::new(Role::Initiator, OperationalConfig::default());
        n.offer(Key::HeaderDigest);
        assert!(
            n.receive("HeaderDigest", "CRC32C,None", Stage::Operational)
                .is_err()
        );
    }

    #[test]
    fn target_offers_only_what_defaults_cannot_give() {
        let local = OperationalConfig {
            max_burst_length: 65536,
            immediate_data: false,
            ..OperationalConfig::default()
        };
        let mut n = Negotiator::new(Role::Target, local);
        n.receive("ImmediateData", "Yes", Stage::Operational)
            .unwrap();
        n.take_replies();
        n.target_offers();
        // MaxBurstLength below the default must be offered; ImmediateData
        // was already answered; FirstBurstLength (65536) is the default.
        assert_eq!(replies(&mut n), [pair("MaxBurstLength", "65536")]);
        assert!(n.awaiting_answers());
    }
}
