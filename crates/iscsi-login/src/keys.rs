//! The login and text keys of RFC 7143 §12 and §13 (and RFC 7144), one
//! table row each: how the value is negotiated, its default and range, in
//! which stage it may appear, who may send it and whether it matters in a
//! Discovery session.

/// How a key's value is settled (RFC 7143 §6.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyKind {
    /// A list of values; the responder picks the first one it supports.
    List(&'static [&'static str]),
    /// Numerical; the result is the smaller of the two values.
    NumericalMin {
        /// Smallest legal value.
        min: u64,
        /// Largest legal value.
        max: u64,
    },
    /// Numerical; the result is the larger of the two values.
    NumericalMax {
        /// Smallest legal value.
        min: u64,
        /// Largest legal value.
        max: u64,
    },
    /// Boolean; the result is Yes when either side says Yes.
    BooleanOr,
    /// Boolean; the result is Yes only when both sides say Yes.
    BooleanAnd,
    /// A numerical declaration that needs no answer (MaxRecvDataSegmentLength,
    /// TargetPortalGroupTag).
    DeclarativeNumber {
        /// Smallest legal value.
        min: u64,
        /// Largest legal value.
        max: u64,
    },
    /// A text declaration that needs no answer (names, aliases, addresses).
    DeclarativeText,
    /// A CHAP key or AuthMethod, handled by the authentication sub-machine.
    Security,
    /// A key only meaningful in full feature phase (SendTargets).
    FullFeatureOnly,
    /// A key RFC 7143 §13.26 made obsolete (markers).
    Obsolete,
}

/// Where a key may appear.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyStage {
    /// Security negotiation stage only (AuthMethod, CHAP_*).
    Security,
    /// Operational negotiation stage only (RFC 7143 "LO"/"IO" operational keys).
    Operational,
    /// Any login stage (declarations: names, aliases, SessionType).
    AnyLogin,
    /// Full feature phase Text requests only (SendTargets).
    FullFeature,
    /// Any login stage and full feature phase (TargetAlias, TargetAddress, MRDSL...).
    All,
}

/// Who may send a key first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Sender {
    /// Only the initiator.
    Initiator,
    /// Only the target.
    Target,
    /// Either side.
    Both,
}

/// One row of the key table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct KeyDef {
    /// The key.
    pub key: Key,
    /// The key as it is written on the wire.
    pub name: &'static str,
    /// How it is negotiated.
    pub kind: KeyKind,
    /// The value in force when nobody negotiates it (`None`: no default).
    pub default: Option<&'static str>,
    /// Where it may appear.
    pub stage: KeyStage,
    /// Who may send it.
    pub sender: Sender,
    /// False when RFC 7143 says "Irrelevant when SessionType=Discovery".
    pub discovery: bool,
    /// Session-wide ("LO", leading connection only) rather than per connection.
    pub session_wide: bool,
    /// The RFC section that defines it.
    pub section: &'static str,
}

const DIGESTS: &[&str] = &["CRC32C", "None"];
const MAX_24: u64 = (1 << 24) - 1;

macro_rules! key_table {
    ($($ident:ident = $name:literal, $kind:expr, $default:expr, $stage:ident, $sender:ident, discovery = $disc:literal, session_wide = $sw:literal, $section:literal;)*) => {
        /// A key of RFC 7143 §12–13 (and RFC 7144), named as the RFC spells
        /// it; [`Key::name`] is the text on the wire, [`Key::def`] its row
        /// of [`KEYS`]. Using these instead of string literals means a
        /// misspelt key does not compile.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Key {
            $(
                #[doc = concat!("`", $name, "` (", $section, ").")]
                $ident,
            )*
        }

        mod defs {
            #![allow(non_upper_case_globals, reason = "one constant per key, named as the key")]
            use super::*;
            $(
                pub(super) const $ident: KeyDef = KeyDef {
                    key: Key::$ident,
                    name: $name,
                    kind: $kind,
                    default: $default,
                    stage: KeyStage::$stage,
                    sender: Sender::$sender,
                    discovery: $disc,
                    session_wide: $sw,
                    section: $section,
                };
            )*
        }

        /// Every key this implementation knows, in RFC order.
        pub const KEYS: &[KeyDef] = &[$(defs::$ident,)*];

        impl Key {
            /// The key as it is written on the wire.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$ident => $name,)*
                }
            }

            /// Its row of the key table.
            #[must_use]
            pub const fn def(self) -> &'static KeyDef {
                match self {
                    $(Self::$ident => &defs::$ident,)*
                }
            }
        }
    };
}

key_table! {
    AuthMethod = "AuthMethod", KeyKind::Security, Some("None"), Security, Both, discovery = true, session_wide = false, "RFC 7143 §12.1";
    ChapA = "CHAP_A", KeyKind::Security, None, Security, Both, discovery = true, session_wide = false, "RFC 7143 §12.1.3";
    ChapI = "CHAP_I", KeyKind::Security, None, Security, Both, discovery = true, session_wide = false, "RFC 7143 §12.1.3";
    ChapC = "CHAP_C", KeyKind::Security, None, Security, Both, discovery = true, session_wide = false, "RFC 7143 §12.1.3";
    ChapN = "CHAP_N", KeyKind::Security, None, Security, Both, discovery = true, session_wide = false, "RFC 7143 §12.1.3";
    ChapR = "CHAP_R", KeyKind::Security, None, Security, Both, discovery = true, session_wide = false, "RFC 7143 §12.1.3";
    HeaderDigest = "HeaderDigest", KeyKind::List(DIGESTS), Some("None"), Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.1";
    DataDigest = "DataDigest", KeyKind::List(DIGESTS), Some("None"), Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.1";
    MaxConnections = "MaxConnections", KeyKind::NumericalMin { min: 1, max: 65535 }, Some("1"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.2";
    SendTargets = "SendTargets", KeyKind::FullFeatureOnly, None, FullFeature, Initiator, discovery = true, session_wide = true, "RFC 7143 §13.3";
    TargetName = "TargetName", KeyKind::DeclarativeText, None, AnyLogin, Initiator, discovery = true, session_wide = true, "RFC 7143 §13.4";
    InitiatorName = "InitiatorName", KeyKind::DeclarativeText, None, AnyLogin, Initiator, discovery = true, session_wide = true, "RFC 7143 §13.5";
    TargetAlias = "TargetAlias", KeyKind::DeclarativeText, None, All, Target, discovery = true, session_wide = true, "RFC 7143 §13.6";
    InitiatorAlias = "InitiatorAlias", KeyKind::DeclarativeText, None, All, Initiator, discovery = true, session_wide = true, "RFC 7143 §13.7";
    TargetAddress = "TargetAddress", KeyKind::DeclarativeText, None, All, Target, discovery = true, session_wide = true, "RFC 7143 §13.8";
    TargetPortalGroupTag = "TargetPortalGroupTag", KeyKind::DeclarativeNumber { min: 0, max: 65535 }, None, AnyLogin, Target, discovery = true, session_wide = true, "RFC 7143 §13.9";
    InitialR2T = "InitialR2T", KeyKind::BooleanOr, Some("Yes"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.10";
    ImmediateData = "ImmediateData", KeyKind::BooleanAnd, Some("Yes"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.11";
    MaxRecvDataSegmentLength = "MaxRecvDataSegmentLength", KeyKind::DeclarativeNumber { min: 512, max: MAX_24 }, Some("8192"), Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.12";
    MaxBurstLength = "MaxBurstLength", KeyKind::NumericalMin { min: 512, max: MAX_24 }, Some("262144"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.13";
    FirstBurstLength = "FirstBurstLength", KeyKind::NumericalMin { min: 512, max: MAX_24 }, Some("65536"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.14";
    DefaultTime2Wait = "DefaultTime2Wait", KeyKind::NumericalMax { min: 0, max: 3600 }, Some("2"), Operational, Both, discovery = true, session_wide = true, "RFC 7143 §13.15";
    DefaultTime2Retain = "DefaultTime2Retain", KeyKind::NumericalMin { min: 0, max: 3600 }, Some("20"), Operational, Both, discovery = true, session_wide = true, "RFC 7143 §13.16";
    MaxOutstandingR2T = "MaxOutstandingR2T", KeyKind::NumericalMin { min: 1, max: 65535 }, Some("1"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.17";
    DataPduInOrder = "DataPDUInOrder", KeyKind::BooleanOr, Some("Yes"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.18";
    DataSequenceInOrder = "DataSequenceInOrder", KeyKind::BooleanOr, Some("Yes"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.19";
    ErrorRecoveryLevel = "ErrorRecoveryLevel", KeyKind::NumericalMin { min: 0, max: 2 }, Some("0"), Operational, Both, discovery = true, session_wide = true, "RFC 7143 §13.20";
    SessionType = "SessionType", KeyKind::DeclarativeText, Some("Normal"), AnyLogin, Initiator, discovery = true, session_wide = true, "RFC 7143 §13.21";
    TaskReporting = "TaskReporting", KeyKind::List(&["RFC3720", "ResponseFence", "FastAbort"]), Some("RFC3720"), Operational, Both, discovery = false, session_wide = true, "RFC 7143 §13.23";
    IscsiProtocolLevel = "iSCSIProtocolLevel", KeyKind::NumericalMin { min: 0, max: 31 }, Some("0"), Operational, Both, discovery = true, session_wide = true, "RFC 7144 §2.1";
    IfMarker = "IFMarker", KeyKind::Obsolete, None, Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.26";
    OfMarker = "OFMarker", KeyKind::Obsolete, None, Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.26";
    IfMarkInt = "IFMarkInt", KeyKind::Obsolete, None, Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.26";
    OfMarkInt = "OFMarkInt", KeyKind::Obsolete, None, Operational, Both, discovery = true, session_wide = false, "RFC 7143 §13.26";
}

/// The table row of `name`, if the key is known.
#[must_use]
pub fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

impl Key {
    /// The key named `name` on the wire, if this implementation knows it.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        lookup(name).map(|d| d.key)
    }
}

impl core::fmt::Display for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// True for the keys of the security negotiation stage (AuthMethod and
/// CHAP_A/I/C/N/R; RFC 7143 §12), which the authentication code handles
/// rather than the negotiator.
#[must_use]
pub fn is_security(name: &str) -> bool {
    lookup(name).is_some_and(|k| k.kind == KeyKind::Security)
}

/// Private (`X-`) and public (`X#`) extension keys (RFC 7143 §13.22, §13.25):
/// unknown ones are answered NotUnderstood.
#[must_use]
pub fn is_extension(name: &str) -> bool {
    name.starts_with("X-") || name.starts_with("X#")
}

/// The constant a responder sends for a key it does not know (RFC 7143 §6.2).
pub const NOT_UNDERSTOOD: &str = "NotUnderstood";
/// The constant a responder sends for a key that does not apply (RFC 7143 §6.2).
pub const IRRELEVANT: &str = "Irrelevant";
/// The constant a responder sends for an unacceptable offer (RFC 7143 §6.2).
pub const REJECT: &str = "Reject";

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_is_its_row_and_its_name() {
        for def in KEYS {
            assert_eq!(def.key.def(), def, "{}", def.name);
            assert_eq!(def.key.name(), def.name);
            assert_eq!(Key::from_name(def.name), Some(def.key));
            assert_eq!(def.key.to_string(), def.name);
        }
        assert_eq!(Key::from_name("MaxBurstLenght"), None);
        assert_eq!(Key::DataPduInOrder.name(), "DataPDUInOrder");
        assert_eq!(Key::IscsiProtocolLevel.name(), "iSCSIProtocolLevel");
    }

    use super::*;

    #[test]
    fn table_covers_every_rfc7143_key_once() {
        let required = [
            "HeaderDigest",
            "DataDigest",
            "MaxConnections",
            "SendTargets",
            "TargetName",
            "InitiatorName",
            "TargetAlias",
            "InitiatorAlias",
            "TargetAddress",
            "TargetPortalGroupTag",
            "InitialR2T",
            "ImmediateData",
            "MaxRecvDataSegmentLength",
            "MaxBurstLength",
            "FirstBurstLength",
            "DefaultTime2Wait",
            "DefaultTime2Retain",
            "MaxOutstandingR2T",
            "DataPDUInOrder",
            "DataSequenceInOrder",
            "ErrorRecoveryLevel",
            "SessionType",
            "TaskReporting",
            "AuthMethod",
            "CHAP_A",
            "CHAP_I",
            "CHAP_C",
            "CHAP_N",
            "CHAP_R",
        ];
        for name in required {
            assert!(lookup(name).is_some(), "{name} missing");
        }
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|o| o.name != k.name),
                "{} twice",
                k.name
            );
            assert!(
                k.section.starts_with("RFC 714"),
                "{} cites no section",
                k.name
            );
            if let Some(d) = k.default {
                match k.kind {
                    KeyKind::NumericalMin { min, max }
                    | KeyKind::NumericalMax { min, max }
                    | KeyKind::DeclarativeNumber { min, max } => {
                        let v: u64 = d.parse().unwrap();
                        assert!((min..=max).contains(&v), "{} default out of range", k.name);
                    }
                    KeyKind::List(values) => assert!(values.contains(&d), "{}", k.name),
                    KeyKind::BooleanOr | KeyKind::BooleanAnd => assert!(d == "Yes" || d == "No"),
                    _ => {}
                }
            }
        }
        assert!(is_extension("X-com.example.Foo"));
        assert!(is_extension("X#Bar"));
        assert!(!is_extension("Xyz"));
    }
}
