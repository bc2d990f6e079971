//! What a login settles ([`SessionParams`]) and what each side would like
//! ([`OperationalConfig`]).

use crate::keys::Key;
use crate::value::{Digest, ListValue, Value};
use core::fmt;

use iscsi_pdu::{Cid, CmdSn, Digests, Isid, StatSn, Tsih};

use crate::chap::ChapAlgorithm;

/// SessionType (RFC 7143 §13.21).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum SessionType {
    /// A Discovery session: SendTargets only.
    Discovery,
    /// A Normal session: SCSI commands to one target.
    #[default]
    Normal,
}

impl SessionType {
    /// The key value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "Discovery",
            Self::Normal => "Normal",
        }
    }

    /// The session type a SessionType value names.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Discovery" => Some(Self::Discovery),
            "Normal" => Some(Self::Normal),
            _ => None,
        }
    }
}

impl fmt::Display for SessionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TaskReporting (RFC 7143 §13.23).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum TaskReporting {
    /// RFC3720 semantics (the default).
    #[default]
    Rfc3720,
    /// ResponseFence semantics.
    ResponseFence,
    /// FastAbort semantics (RFC 7143 §4.2.3.4).
    FastAbort,
}

impl TaskReporting {
    /// The key value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Rfc3720 => "RFC3720",
            Self::ResponseFence => "ResponseFence",
            Self::FastAbort => "FastAbort",
        }
    }

    /// Parses the key value.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "RFC3720" => Some(Self::Rfc3720),
            "ResponseFence" => Some(Self::ResponseFence),
            "FastAbort" => Some(Self::FastAbort),
            _ => None,
        }
    }
}

/// Which digest settings a side accepts, most preferred first (the value
/// list sent for HeaderDigest / DataDigest, RFC 7143 §13.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum DigestPolicy {
    /// Only `None`.
    #[default]
    Off,
    /// `None,CRC32C`: either, preferring none.
    Allow,
    /// `CRC32C,None`: either, preferring CRC32C.
    Prefer,
    /// Only `CRC32C`.
    Require,
}

impl DigestPolicy {
    /// The values in preference order.
    #[must_use]
    pub const fn values(self) -> &'static [&'static str] {
        match self {
            Self::Off => &["None"],
            Self::Allow => &["None", "CRC32C"],
            Self::Prefer => &["CRC32C", "None"],
            Self::Require => &["CRC32C"],
        }
    }

    /// The values in preference order, typed (the same list as
    /// [`Self::values`]).
    const fn digests(self) -> &'static [Digest] {
        match self {
            Self::Off => &[Digest::None],
            Self::Allow => &[Digest::None, Digest::Crc32c],
            Self::Prefer => &[Digest::Crc32c, Digest::None],
            Self::Require => &[Digest::Crc32c],
        }
    }

    /// The HeaderDigest / DataDigest offer for this policy.
    fn offer(self) -> Value {
        Value::List(
            self.digests()
                .iter()
                .map(|&d| ListValue::Digest(d))
                .collect(),
        )
    }
}

/// The operational values one side would like, used both to offer and to
/// answer (RFC 7143 §13). Defaults are what this implementation proposes:
/// RFC defaults except larger bursts and data segments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationalConfig {
    /// HeaderDigest.
    pub header_digest: DigestPolicy,
    /// DataDigest.
    pub data_digest: DigestPolicy,
    /// MaxConnections (this implementation runs one connection per session).
    pub max_connections: u16,
    /// InitialR2T.
    pub initial_r2t: bool,
    /// ImmediateData.
    pub immediate_data: bool,
    /// MaxRecvDataSegmentLength this side declares, bytes (512..=16777215).
    pub max_recv_data_segment_length: u32,
    /// MaxBurstLength, bytes.
    pub max_burst_length: u32,
    /// FirstBurstLength, bytes.
    pub first_burst_length: u32,
    /// DefaultTime2Wait, seconds.
    pub default_time2wait: u16,
    /// DefaultTime2Retain, seconds.
    pub default_time2retain: u16,
    /// MaxOutstandingR2T.
    pub max_outstanding_r2t: u16,
    /// DataPDUInOrder.
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder.
    pub data_sequence_in_order: bool,
    /// ErrorRecoveryLevel (this implementation supports 0).
    pub error_recovery_level: u8,
}

impl Default for OperationalConfig {
    fn default() -> Self {
        Self {
            header_digest: DigestPolicy::Allow,
            data_digest: DigestPolicy::Allow,
            max_connections: 1,
            initial_r2t: false,
            immediate_data: true,
            max_recv_data_segment_length: 262_144,
            max_burst_length: 1_048_576,
            first_burst_length: 262_144,
            default_time2wait: 2,
            default_time2retain: 0,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
        }
    }
}

impl OperationalConfig {
    /// With HeaderDigest `policy`.
    #[must_use]
    pub const fn with_header_digest(mut self, policy: DigestPolicy) -> Self {
        self.header_digest = policy;
        self
    }

    /// With DataDigest `policy`.
    #[must_use]
    pub const fn with_data_digest(mut self, policy: DigestPolicy) -> Self {
        self.data_digest = policy;
        self
    }

    /// With InitialR2T.
    #[must_use]
    pub const fn with_initial_r2t(mut self, on: bool) -> Self {
        self.initial_r2t = on;
        self
    }

    /// With ImmediateData.
    #[must_use]
    pub const fn with_immediate_data(mut self, on: bool) -> Self {
        self.immediate_data = on;
        self
    }

    /// With MaxRecvDataSegmentLength, bytes.
    #[must_use]
    pub const fn with_max_recv_data_segment_length(mut self, bytes: u32) -> Self {
        self.max_recv_data_segment_length = bytes;
        self
    }

    /// With MaxBurstLength, bytes.
    #[must_use]
    pub const fn with_max_burst_length(mut self, bytes: u32) -> Self {
        self.max_burst_length = bytes;
        self
    }

    /// With FirstBurstLength, bytes.
    #[must_use]
    pub const fn with_first_burst_length(mut self, bytes: u32) -> Self {
        self.first_burst_length = bytes;
        self
    }

    /// With MaxOutstandingR2T.
    #[must_use]
    pub const fn with_max_outstanding_r2t(mut self, n: u16) -> Self {
        self.max_outstanding_r2t = n;
        self
    }

    /// The value this side wants for a negotiable key, typed (its text is
    /// what goes on the wire); `None` for keys it has no preference on.
    pub(crate) fn value_of(&self, key: Key) -> Option<Value> {
        let n = |v: u64| Value::Numerical(v);
        let b = Value::Boolean;
        Some(match key {
            Key::HeaderDigest => self.header_digest.offer(),
            Key::DataDigest => self.data_digest.offer(),
            Key::MaxConnections => n(self.max_connections.into()),
            Key::InitialR2T => b(self.initial_r2t),
            Key::ImmediateData => b(self.immediate_data),
            Key::MaxRecvDataSegmentLength => n(self.max_recv_data_segment_length.into()),
            Key::MaxBurstLength => n(self.max_burst_length.into()),
            Key::FirstBurstLength => n(self.first_burst_length.min(self.max_burst_length).into()),
            Key::DefaultTime2Wait => n(self.default_time2wait.into()),
            Key::DefaultTime2Retain => n(self.default_time2retain.into()),
            Key::MaxOutstandingR2T => n(self.max_outstanding_r2t.into()),
            Key::DataPduInOrder => b(self.data_pdu_in_order),
            Key::DataSequenceInOrder => b(self.data_sequence_in_order),
            Key::ErrorRecoveryLevel => n(self.error_recovery_level.into()),
            Key::TaskReporting => {
                Value::List(vec![ListValue::TaskReporting(TaskReporting::Rfc3720)])
            }
            Key::IscsiProtocolLevel => n(1),
            _ => return None,
        })
    }
}

/// How the initiator authenticated, as the login saw it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// AuthMethod=None (or the security stage was skipped).
    #[default]
    None,
    /// CHAP.
    Chap {
        /// The algorithm used.
        algorithm: ChapAlgorithm,
        /// The initiator's CHAP_N.
        user: String,
        /// Whether the target authenticated itself too.
        mutual: bool,
    },
}

/// Everything a login settled: the negotiated keys (RFC 7143 §13), the
/// session identity and the sequence numbers full feature phase starts with.
/// Values not negotiated hold their RFC defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionParams {
    /// SessionType.
    pub session_type: SessionType,
    /// InitiatorName.
    pub initiator_name: String,
    /// InitiatorAlias, if declared.
    pub initiator_alias: Option<String>,
    /// TargetName (Normal sessions).
    pub target_name: Option<String>,
    /// TargetAlias, if declared.
    pub target_alias: Option<String>,
    /// TargetPortalGroupTag, if declared.
    pub target_portal_group_tag: Option<u16>,
    /// ISID.
    pub isid: Isid,
    /// TSIH the target assigned.
    pub tsih: Tsih,
    /// CID of the connection.
    pub cid: Cid,
    /// How the initiator authenticated.
    pub auth: AuthOutcome,
    /// HeaderDigest=CRC32C.
    pub header_digest: bool,
    /// DataDigest=CRC32C.
    pub data_digest: bool,
    /// MaxConnections.
    pub max_connections: u16,
    /// InitialR2T.
    pub initial_r2t: bool,
    /// ImmediateData.
    pub immediate_data: bool,
    /// MaxRecvDataSegmentLength the initiator declared: the largest data
    /// segment the target may send it, bytes.
    pub initiator_max_recv_data_segment_length: u32,
    /// MaxRecvDataSegmentLength the target declared: the largest data
    /// segment the initiator may send it, bytes.
    pub target_max_recv_data_segment_length: u32,
    /// MaxBurstLength, bytes.
    pub max_burst_length: u32,
    /// FirstBurstLength, bytes (never above MaxBurstLength).
    pub first_burst_length: u32,
    /// DefaultTime2Wait, seconds.
    pub default_time2wait: u16,
    /// DefaultTime2Retain, seconds.
    pub default_time2retain: u16,
    /// MaxOutstandingR2T.
    pub max_outstanding_r2t: u16,
    /// DataPDUInOrder.
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder.
    pub data_sequence_in_order: bool,
    /// ErrorRecoveryLevel.
    pub error_recovery_level: u8,
    /// TaskReporting.
    pub task_reporting: TaskReporting,
    /// iSCSIProtocolLevel (RFC 7144).
    pub iscsi_protocol_level: u8,
    /// CmdSN of the first command in full feature phase.
    pub cmd_sn: CmdSn,
    /// ExpCmdSN from the last Login Response.
    pub exp_cmd_sn: CmdSn,
    /// MaxCmdSN from the last Login Response.
    pub max_cmd_sn: CmdSn,
    /// StatSN of the next response the target sends.
    pub next_stat_sn: StatSn,
}

impl SessionParams {
    /// Parameters with every key at its RFC 7143 default.
    #[must_use]
    pub fn with_defaults(
        session_type: SessionType,
        initiator_name: String,
        isid: Isid,
        cid: Cid,
    ) -> Self {
        Self {
            session_type,
            initiator_name,
            initiator_alias: None,
            target_name: None,
            target_alias: None,
            target_portal_group_tag: None,
            isid,
            tsih: Tsih::NEW_SESSION,
            cid,
            auth: AuthOutcome::None,
            header_digest: false,
            data_digest: false,
            max_connections: 1,
            initial_r2t: true,
            immediate_data: true,
            initiator_max_recv_data_segment_length: 8192,
            target_max_recv_data_segment_length: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            task_reporting: TaskReporting::Rfc3720,
            iscsi_protocol_level: 0,
            cmd_sn: CmdSn(0),
            exp_cmd_sn: CmdSn(0),
            max_cmd_sn: CmdSn(0),
            next_stat_sn: StatSn(0),
        }
    }

    /// The keys a login negotiates into these parameters
    /// ([`Self::set_negotiated`]): every list, numerical and boolean key of
    /// RFC 7143 §13 and RFC 7144.
    pub(crate) const NEGOTIATED: [Key; 15] = [
        Key::HeaderDigest,
        Key::DataDigest,
        Key::MaxConnections,
        Key::InitialR2T,
        Key::ImmediateData,
        Key::MaxBurstLength,
        Key::FirstBurstLength,
        Key::DefaultTime2Wait,
        Key::DefaultTime2Retain,
        Key::MaxOutstandingR2T,
        Key::DataPduInOrder,
        Key::DataSequenceInOrder,
        Key::ErrorRecoveryLevel,
        Key::TaskReporting,
        Key::IscsiProtocolLevel,
    ];

    /// Sets the field that `key` settles to `value`. Numbers from the peer
    /// are within the key table's ranges, which fit the fields; only a local
    /// configuration outside them saturates. A value of the wrong type for
    /// its key cannot be settled (the negotiator checks) and leaves the
    /// field alone.
    pub(crate) fn set_negotiated(&mut self, key: Key, value: &Value) {
        let u8_of = |v: u64| u8::try_from(v).unwrap_or(u8::MAX);
        let u16_of = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
        let u32_of = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let crc = |d: &ListValue| *d == ListValue::Digest(Digest::Crc32c);
        match (key, value) {
            (Key::HeaderDigest, Value::Selected(d)) => self.header_digest = crc(d),
            (Key::DataDigest, Value::Selected(d)) => self.data_digest = crc(d),
            (Key::TaskReporting, Value::Selected(ListValue::TaskReporting(t))) => {
                self.task_reporting = *t;
            }
            (Key::MaxConnections, &Value::Numerical(v)) => self.max_connections = u16_of(v),
            (Key::MaxBurstLength, &Value::Numerical(v)) => self.max_burst_length = u32_of(v),
            (Key::FirstBurstLength, &Value::Numerical(v)) => self.first_burst_length = u32_of(v),
            (Key::DefaultTime2Wait, &Value::Numerical(v)) => self.default_time2wait = u16_of(v),
            (Key::DefaultTime2Retain, &Value::Numerical(v)) => {
                self.default_time2retain = u16_of(v);
            }
            (Key::MaxOutstandingR2T, &Value::Numerical(v)) => {
                self.max_outstanding_r2t = u16_of(v);
            }
            (Key::ErrorRecoveryLevel, &Value::Numerical(v)) => {
                self.error_recovery_level = u8_of(v);
            }
            (Key::IscsiProtocolLevel, &Value::Numerical(v)) => {
                self.iscsi_protocol_level = u8_of(v);
            }
            (Key::InitialR2T, &Value::Boolean(v)) => self.initial_r2t = v,
            (Key::ImmediateData, &Value::Boolean(v)) => self.immediate_data = v,
            (Key::DataPduInOrder, &Value::Boolean(v)) => self.data_pdu_in_order = v,
            (Key::DataSequenceInOrder, &Value::Boolean(v)) => self.data_sequence_in_order = v,
            _ => {}
        }
    }

    /// The digests in force from full feature phase on.
    #[must_use]
    pub const fn digests(&self) -> Digests {
        Digests {
            header: self.header_digest,
            data: self.data_digest,
        }
    }

    /// The key=value pairs these parameters amount to (for tools that show
    /// "negotiated parameters").
    #[must_use]
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let b = |v: bool| iscsi_pdu::text::boolean(v).to_owned();
        let d = |v: bool| if v { "CRC32C" } else { "None" }.to_owned();
        let mut out = vec![
            ("SessionType", self.session_type.as_str().to_owned()),
            ("HeaderDigest", d(self.header_digest)),
            ("DataDigest", d(self.data_digest)),
            (
                "MaxRecvDataSegmentLength",
                self.initiator_max_recv_data_segment_length.to_string(),
            ),
            (
                "TargetMaxRecvDataSegmentLength",
                self.target_max_recv_data_segment_length.to_string(),
            ),
            ("ErrorRecoveryLevel", self.error_recovery_level.to_string()),
            ("DefaultTime2Wait", self.default_time2wait.to_string()),
            ("DefaultTime2Retain", self.default_time2retain.to_string()),
        ];
        if self.session_type == SessionType::Normal {
            out.extend([
                ("MaxConnections", self.max_connections.to_string()),
                ("InitialR2T", b(self.initial_r2t)),
                ("ImmediateData", b(self.immediate_data)),
                ("MaxBurstLength", self.max_burst_length.to_string()),
                ("FirstBurstLength", self.first_burst_length.to_string()),
                ("MaxOutstandingR2T", self.max_outstanding_r2t.to_string()),
                ("DataPDUInOrder", b(self.data_pdu_in_order)),
                ("DataSequenceInOrder", b(self.data_sequence_in_order)),
            ]);
        }
        if let Some(tpgt) = self.target_portal_group_tag {
            out.push(("TargetPortalGroupTag", tpgt.to_string()));
        }
        if let Some(alias) = &self.target_alias {
            out.push(("TargetAlias", alias.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_defaults_are_the_session_defaults() {
        // Every negotiated key set to its table default (RFC 7143 §13)
        // gives what `with_defaults` holds: the two agree.
        let isid = Isid::random(1, 0);
        let expected = SessionParams::with_defaults(SessionType::Normal, "i".into(), isid, Cid(0));
        let mut params = expected.clone();
        for key in SessionParams::NEGOTIATED {
            let default = Value::default_of(key).unwrap_or_else(|| panic!("{key} has no default"));
            assert!(default.fits(key.def().kind), "{key}");
            params.set_negotiated(key, &default);
        }
        assert_eq!(params, expected);
        // And a typed value lands in its field.
        params.set_negotiated(
            Key::HeaderDigest,
            &Value::Selected(ListValue::Digest(Digest::Crc32c)),
        );
        params.set_negotiated(Key::MaxBurstLength, &Value::Numerical(65_536));
        params.set_negotiated(Key::InitialR2T, &Value::Boolean(false));
        assert!(params.header_digest && !params.initial_r2t);
        assert_eq!(params.max_burst_length, 65_536);
    }
}
