//! The key negotiation engine shared by both roles (RFC 7143 §6.2): it
//! answers the peer's offers, interprets the peer's answers to ours,
//! detects renegotiation and keys in the wrong stage, and settles every key
//! into [`SessionParams`].
//!
//! Values are typed ([`Value`]): the peer's text is parsed once, by its
//! key's kind, when it arrives, and a value that does not parse takes the
//! path RFC 7143 §6.2 gives an unacceptable value (a `Reject` answer to an
//! offer, a failed login for a declaration or an answer); it is never read
//! as 0. Text is written again only for the pairs sent.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{LoginError, Violation};
use crate::keys::{
    self, IRRELEVANT, Key, KeyDef, KeyKind, KeyStage, NOT_UNDERSTOOD, REJECT, Sender,
};
use crate::params::{OperationalConfig, SessionParams, SessionType};
use crate::value::{Invalid, ListValue, Value};

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
    offered: BTreeMap<Key, Value>,
    /// Keys settled (either way) → value in force.
    settled: BTreeMap<Key, Value>,
    /// Keys the peer sent (offers or declarations) with their first value
    /// as text, for renegotiation checks. Kept verbatim, before any
    /// validation (it may be `NotUnderstood` or malformed): only an
    /// identical repeat of an identity key is let through.
    peer_sent: BTreeMap<Key, String>,
    /// Declarations we made.
    declared: BTreeSet<Key>,
    /// Pairs to send in the next PDU.
    replies: Vec<(String, String)>,
    /// Declarative values the peer sent (names, aliases, MRDSL, TPGT).
    peer_declarations: BTreeMap<Key, Value>,
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
    pub(crate) fn declare(&mut self, key: Key, value: &Value) {
        if self.declared.insert(key) {
            self.reply(key.name(), value.to_string());
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
            self.reply(def.name, value.to_string());
            self.offered.insert(key, value);
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
            let (Some(default), Some(ours)) = (Value::default_of(key), self.local.value_of(key))
            else {
                continue;
            };
            let needs = match (key.def().kind, &ours, &default) {
                (KeyKind::NumericalMin { .. }, Value::Numerical(o), Value::Numerical(d)) => o < d,
                (KeyKind::NumericalMax { .. }, Value::Numerical(o), Value::Numerical(d)) => o > d,
                (KeyKind::BooleanAnd, Value::Boolean(o), Value::Boolean(d)) => !o && *d,
                (KeyKind::BooleanOr, Value::Boolean(o), Value::Boolean(d)) => *o && !d,
                (KeyKind::List(_), Value::List(o), Value::Selected(d)) => !o.contains(d),
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
                let ours = ours.as_ref().map_or(&[][..], Value::as_list);
                let choice = ListValue::parse_list(def.key, value)
                    .into_iter()
                    .find(|offered| ours.contains(offered));
                match choice {
                    Some(choice) => {
                        self.settle(def, Value::Selected(choice));
                        self.reply(def.name, choice.as_str());
                    }
                    None => self.reply(def.name, REJECT),
                }
            }
            KeyKind::NumericalMin { .. } | KeyKind::NumericalMax { .. } => {
                match Value::parse(def, value).map(|v| v.as_numerical()) {
                    Ok(Some(v)) => {
                        let ours = ours.and_then(|o| o.as_numerical()).unwrap_or(v);
                        let result = if matches!(def.kind, KeyKind::NumericalMin { .. }) {
                            v.min(ours)
                        } else {
                            v.max(ours)
                        };
                        let result = Value::Numerical(result);
                        self.reply(def.name, result.to_string());
                        self.settle(def, result);
                    }
                    // Out of range or malformed: the offer is refused and the
                    // key keeps its default (RFC 7143 §6.2).
                    Ok(None) | Err(_) => self.reply(def.name, REJECT),
                }
            }
            KeyKind::BooleanOr | KeyKind::BooleanAnd => {
                match Value::parse(def, value).map(|v| v.as_boolean()) {
                    Ok(Some(v)) => {
                        let ours = ours.and_then(|o| o.as_boolean()).unwrap_or(true);
                        let result = if def.kind == KeyKind::BooleanOr {
                            v || ours
                        } else {
                            v && ours
                        };
                        self.settle(def, Value::Boolean(result));
                        self.reply(def.name, iscsi_pdu::text::boolean(result));
                    }
                    Ok(None) | Err(_) => self.reply(def.name, REJECT),
                }
            }
            KeyKind::DeclarativeNumber { min, max } => match Value::parse(def, value) {
                Ok(v) => {
                    self.peer_declarations.insert(def.key, v);
                }
                Err(_) => {
                    return Err(LoginError::negotiation(
                        def.name,
                        format!("declared value {value:?} is outside {min}..={max}"),
                    ));
                }
            },
            KeyKind::DeclarativeText => {
                self.peer_declarations
                    .insert(def.key, Value::Text(value.to_owned()));
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
    fn answer(
        &mut self,
        def: &'static KeyDef,
        ours: &Value,
        value: &str,
    ) -> Result<(), LoginError> {
        if [NOT_UNDERSTOOD, IRRELEVANT, REJECT].contains(&value) {
            // The key keeps its default; record that so it is not offered again.
            if let Some(default) = Value::default_of(def.key) {
                self.settle(def, default);
            }
            return Ok(());
        }
        let bad = |why: &str| {
            let ours = ours.to_string();
            Err(LoginError::negotiation(
                def.name,
                format!("answer {value:?} to our offer {ours:?} {why}"),
            ))
        };
        let settled = match (def.kind, ours) {
            // One value, and one of those offered (RFC 7143 §6.2).
            (KeyKind::List(_), Value::List(offered)) => {
                match ListValue::parse(def.key, value).filter(|v| offered.contains(v)) {
                    Some(v) => Value::Selected(v),
                    None => return bad("is not one of the offered values"),
                }
            }
            (KeyKind::NumericalMin { .. } | KeyKind::NumericalMax { .. }, &Value::Numerical(o)) => {
                let v = match Value::parse(def, value).map(|v| v.as_numerical()) {
                    Ok(Some(v)) => v,
                    Err(Invalid::Malformed) => return bad("is not a number"),
                    Ok(None) | Err(_) => return bad("breaks the negotiation rule"),
                };
                let fits = match def.kind {
                    KeyKind::NumericalMin { .. } => v <= o,
                    _ => v >= o,
                };
                if !fits {
                    return bad("breaks the negotiation rule");
                }
                Value::Numerical(v)
            }
            (KeyKind::BooleanOr | KeyKind::BooleanAnd, &Value::Boolean(o)) => {
                let Ok(Some(v)) = Value::parse(def, value).map(|v| v.as_boolean()) else {
                    return bad("is not Yes or No");
                };
                let legal = if def.kind == KeyKind::BooleanOr {
                    !o || v
                } else {
                    o || !v
                };
                if !legal {
                    return bad("breaks the boolean rule");
                }
                Value::Boolean(v)
            }
            // Only list, numerical and boolean keys are offered
            // (`OperationalConfig::value_of`).
            _ => return bad("answers a key that is not negotiated"),
        };
        self.settle(def, settled);
        Ok(())
    }

    fn settle(&mut self, def: &'static KeyDef, value: Value) {
        debug_assert!(value.fits(def.kind), "{} settled as {value:?}", def.name);
        self.settled.insert(def.key, value);
    }

    /// Keeps FirstBurstLength within MaxBurstLength in the answers queued so
    /// far and in the settled values (RFC 7143 §13.14: FirstBurstLength MUST
    /// NOT exceed MaxBurstLength).
    pub(crate) fn clamp_first_burst(&mut self) {
        let Some(max_burst) = self
            .in_force(Key::MaxBurstLength)
            .and_then(|v| v.as_numerical())
        else {
            return;
        };
        let Some(first) = self
            .settled
            .get(&Key::FirstBurstLength)
            .and_then(Value::as_numerical)
        else {
            return;
        };
        if first > max_burst {
            let clamped = Value::Numerical(max_burst);
            let text = clamped.to_string();
            self.settle(Key::FirstBurstLength.def(), clamped);
            for (k, v) in &mut self.replies {
                if k == Key::FirstBurstLength.name() {
                    v.clone_from(&text);
                }
            }
        }
    }

    /// Offers still unanswered when the peer moved on take the conservative
    /// of our value and the default.
    pub(crate) fn settle_unanswered(&mut self) {
        let offered = std::mem::take(&mut self.offered);
        for (key, ours) in offered {
            // Every key we offer has a default (RFC 7143 §13).
            let Some(default) = Value::default_of(key) else {
                continue;
            };
            let value = match (key.def().kind, ours, default) {
                (KeyKind::NumericalMin { .. }, Value::Numerical(o), Value::Numerical(d)) => {
                    Value::Numerical(o.min(d))
                }
                (KeyKind::NumericalMax { .. }, Value::Numerical(o), Value::Numerical(d)) => {
                    Value::Numerical(o.max(d))
                }
                (KeyKind::BooleanAnd, Value::Boolean(o), Value::Boolean(d)) => {
                    Value::Boolean(o && d)
                }
                (KeyKind::BooleanOr, Value::Boolean(o), Value::Boolean(d)) => {
                    Value::Boolean(o || d)
                }
                (_, _, default) => default,
            };
            self.settle(key.def(), value);
        }
    }

    /// The value in force for `key`: settled, else its default.
    fn in_force(&self, key: Key) -> Option<Value> {
        self.settled
            .get(&key)
            .cloned()
            .or_else(|| Value::default_of(key))
    }

    /// The settled values (the negotiated keys and what they settled at).
    #[cfg(test)]
    pub(crate) fn settled(&self) -> impl Iterator<Item = (Key, &Value)> {
        self.settled.iter().map(|(k, v)| (*k, v))
    }

    /// Fills the negotiated fields of `params`.
    pub(crate) fn apply(&self, params: &mut SessionParams) -> Result<(), LoginError> {
        for key in SessionParams::NEGOTIATED {
            if let Some(value) = self.in_force(key) {
                params.set_negotiated(key, &value);
            }
        }

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
            .and_then(Value::as_numerical)
            .map_or(8192, |v| u32::try_from(v).unwrap_or(8192));
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
        if let Some(Value::Text(alias)) = self.peer_declarations.get(&Key::TargetAlias) {
            params.target_alias = Some(alias.clone());
        }
        if let Some(Value::Text(alias)) = self.peer_declarations.get(&Key::InitiatorAlias) {
            params.initiator_alias = Some(alias.clone());
        }
        if let Some(tpgt) = self.peer_declarations.get(&Key::TargetPortalGroupTag) {
            params.target_portal_group_tag =
                tpgt.as_numerical().and_then(|v| u16::try_from(v).ok());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Digest;

    fn target() -> Negotiator {
        Negotiator::new(Role::Target, OperationalConfig::default())
    }

    fn replies(n: &mut Negotiator) -> Vec<(String, String)> {
        n.take_replies()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    fn defaults() -> SessionParams {
        let isid = iscsi_pdu::Isid::random(1, 0);
        SessionParams::with_defaults(SessionType::Normal, "iqn.x".into(), isid, iscsi_pdu::Cid(0))
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

    #[test]
    fn malformed_numbers_from_the_peer_are_refused_not_read_as_zero() {
        // An offer: answered Reject, nothing settled, the default applies.
        let mut n = target();
        n.receive("MaxBurstLength", "12ab", Stage::Operational)
            .unwrap();
        n.receive("DefaultTime2Wait", "", Stage::Operational)
            .unwrap();
        assert_eq!(
            replies(&mut n),
            [
                pair("MaxBurstLength", "Reject"),
                pair("DefaultTime2Wait", "Reject")
            ]
        );
        assert_eq!(n.settled().count(), 0);
        let mut params = defaults();
        n.apply(&mut params).unwrap();
        assert_eq!(params.max_burst_length, 262_144);
        assert_eq!(params.default_time2wait, 2);

        // An answer to our offer: the login fails (RFC 7143 §6.2).
        let mut n = Negotiator::new(Role::Initiator, OperationalConfig::default());
        n.offer(Key::MaxBurstLength);
        n.offer(Key::ImmediateData);
        let err = n
            .receive("MaxBurstLength", "12ab", Stage::Operational)
            .unwrap_err();
        assert!(err.to_string().contains("is not a number"), "{err}");
        assert_eq!(err.status(), iscsi_pdu::LoginStatus::INITIATOR_ERROR);
        let err = n
            .receive("ImmediateData", "yes", Stage::Operational)
            .unwrap_err();
        assert!(err.to_string().contains("is not Yes or No"), "{err}");

        // A declaration: the login fails.
        let err = target()
            .receive("MaxRecvDataSegmentLength", "0x", Stage::Operational)
            .unwrap_err();
        assert!(matches!(err, LoginError::Negotiation { .. }), "{err}");
    }

    #[test]
    fn settled_values_are_typed_and_round_trip_to_the_text_sent() {
        let mut n = target();
        let op = Stage::Operational;
        for (k, v) in [
            ("HeaderDigest", "Bogus,CRC32C,None"),
            ("DataDigest", "None"),
            ("MaxBurstLength", "0x10000"),
            ("FirstBurstLength", "262144"),
            ("DefaultTime2Wait", "0"),
            ("DefaultTime2Retain", "20"),
            ("InitialR2T", "No"),
            ("ImmediateData", "Yes"),
            ("DataPDUInOrder", "No"),
            ("TaskReporting", "FastAbort,RFC3720"),
            ("iSCSIProtocolLevel", "0x01"),
        ] {
            n.receive(k, v, op).unwrap();
        }
        n.clamp_first_burst();
        let sent = replies(&mut n);
        let settled: Vec<(Key, Value)> = n.settled().map(|(k, v)| (k, v.clone())).collect();
        assert_eq!(settled.len(), sent.len());
        for (key, value) in &settled {
            assert!(value.fits(key.def().kind), "{key}={value:?}");
            let text = value.to_string();
            assert!(sent.contains(&pair(key.name(), &text)), "{key}={text}");
        }
        let get = |k: Key| settled.iter().find(|(s, _)| *s == k).map(|(_, v)| v);
        assert_eq!(
            get(Key::HeaderDigest),
            Some(&Value::Selected(ListValue::Digest(Digest::Crc32c)))
        );
        assert_eq!(get(Key::MaxBurstLength), Some(&Value::Numerical(65_536)));
        // Clamped to MaxBurstLength (RFC 7143 §13.14), in the reply too.
        assert_eq!(get(Key::FirstBurstLength), Some(&Value::Numerical(65_536)));
        assert_eq!(get(Key::DefaultTime2Wait), Some(&Value::Numerical(2)));
        assert_eq!(get(Key::InitialR2T), Some(&Value::Boolean(false)));
        assert_eq!(get(Key::DataPduInOrder), Some(&Value::Boolean(true)));
        assert_eq!(get(Key::IscsiProtocolLevel), Some(&Value::Numerical(1)));
        assert_eq!(
            sent,
            [
                pair("HeaderDigest", "CRC32C"),
                pair("DataDigest", "None"),
                pair("MaxBurstLength", "65536"),
                pair("FirstBurstLength", "65536"),
                pair("DefaultTime2Wait", "2"),
                pair("DefaultTime2Retain", "0"),
                pair("InitialR2T", "No"),
                pair("ImmediateData", "Yes"),
                pair("DataPDUInOrder", "Yes"),
                pair("TaskReporting", "RFC3720"),
                pair("iSCSIProtocolLevel", "1"),
            ]
        );
    }

    #[test]
    fn offers_are_the_configured_values_as_text() {
        let local = OperationalConfig {
            header_digest: crate::DigestPolicy::Prefer,
            data_digest: crate::DigestPolicy::Require,
            ..OperationalConfig::default()
        };
        let mut n = Negotiator::new(Role::Initiator, local);
        for &key in Negotiator::INITIATOR_OFFERS {
            n.offer(key);
        }
        assert_eq!(
            replies(&mut n),
            [
                pair("HeaderDigest", "CRC32C,None"),
                pair("DataDigest", "CRC32C"),
                pair("InitialR2T", "No"),
                pair("ImmediateData", "Yes"),
                pair("MaxBurstLength", "1048576"),
                pair("FirstBurstLength", "262144"),
                pair("MaxOutstandingR2T", "1"),
                pair("MaxConnections", "1"),
                pair("DefaultTime2Wait", "2"),
                pair("DefaultTime2Retain", "0"),
                pair("DataPDUInOrder", "Yes"),
                pair("DataSequenceInOrder", "Yes"),
                pair("ErrorRecoveryLevel", "0"),
            ]
        );
    }
}
