//! Typed key values (RFC 7143 §6.1, §6.2, §13): text from the peer is
//! parsed once, by its key's [`KeyKind`], where it arrives; the negotiator
//! keeps and compares [`Value`]s and writes text again only when a value
//! goes on the wire (`Display`, which gives the same text the negotiator
//! sent before values were typed).

use core::fmt;

use iscsi_pdu::text::{parse_boolean, parse_numerical};

use crate::keys::{Key, KeyDef, KeyKind};
use crate::params::TaskReporting;

/// A HeaderDigest or DataDigest value (RFC 7143 §13.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Digest {
    /// `None`: no digest.
    None,
    /// `CRC32C`: a CRC-32C digest (RFC 7143 §11.1).
    Crc32c,
}

impl Digest {
    const fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Crc32c => "CRC32C",
        }
    }
}

/// One value of a list-valued key (RFC 7143 §6.2 "list negotiation"):
/// HeaderDigest / DataDigest (§13.1) or TaskReporting (§13.23).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ListValue {
    /// A HeaderDigest or DataDigest value.
    Digest(Digest),
    /// A TaskReporting value.
    TaskReporting(TaskReporting),
}

impl ListValue {
    /// The value named `text` for the list key `key`; `None` for text that
    /// names no value of `key` this implementation knows (compared exactly,
    /// as RFC 7143 §6.1 makes values case-sensitive).
    pub(crate) fn parse(key: Key, text: &str) -> Option<Self> {
        match key {
            Key::HeaderDigest | Key::DataDigest => match text {
                "None" => Some(Self::Digest(Digest::None)),
                "CRC32C" => Some(Self::Digest(Digest::Crc32c)),
                _ => None,
            },
            Key::TaskReporting => TaskReporting::parse(text).map(Self::TaskReporting),
            _ => None,
        }
    }

    /// A comma-separated `<list-of-values>` offered for `key`, in the
    /// offerer's order; values this implementation does not know are left
    /// out (they could never be selected).
    pub(crate) fn parse_list(key: Key, text: &str) -> Vec<Self> {
        text.split(',')
            .filter_map(|item| Self::parse(key, item))
            .collect()
    }

    /// The value as it is written on the wire.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Digest(d) => d.as_str(),
            Self::TaskReporting(t) => t.as_str(),
        }
    }
}

/// A key's value, typed by its key's [`KeyKind`] (RFC 7143 §6.1 value
/// types: `<numerical-value>`, `<boolean-value>`, `<list-of-values>`,
/// `<text-value>`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Value {
    /// A numerical (or declarative numerical) key: lengths in bytes,
    /// times in seconds, counts (RFC 7143 §13.12–§13.20). Written in
    /// decimal.
    Numerical(u64),
    /// A boolean key: `Yes` or `No` (RFC 7143 §6.2.2).
    Boolean(bool),
    /// An offer for a list key: the values in order of preference, most
    /// preferred first (RFC 7143 §6.2).
    List(Vec<ListValue>),
    /// The one value of a list key in force: selected by the responder
    /// from the offer, or the key's default (RFC 7143 §6.2).
    Selected(ListValue),
    /// A text declaration: names, aliases, addresses (RFC 7143 §13.4–§13.8).
    Text(String),
}

/// Why text is not a value of its key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Invalid {
    /// Not a value of the key's type at all (`12ab` for a numerical key).
    Malformed,
    /// A number outside the key's range (RFC 7143 §13).
    OutOfRange,
    /// The key's kind carries no negotiated value (security, obsolete and
    /// full-feature-only keys).
    NotNegotiated,
}

impl Value {
    /// Parses `text` as a value of `def`: numbers within the key's range
    /// (decimal, hex `0x` or base64 `0b` forms, RFC 7143 §6.1), `Yes`/`No`,
    /// a list offer (see [`ListValue::parse_list`]) or a text declaration.
    pub(crate) fn parse(def: &KeyDef, text: &str) -> Result<Self, Invalid> {
        match def.kind {
            KeyKind::List(_) => Ok(Self::List(ListValue::parse_list(def.key, text))),
            KeyKind::NumericalMin { min, max }
            | KeyKind::NumericalMax { min, max }
            | KeyKind::DeclarativeNumber { min, max } => {
                let v = parse_numerical(text).map_err(|_| Invalid::Malformed)?;
                if (min..=max).contains(&v) {
                    Ok(Self::Numerical(v))
                } else {
                    Err(Invalid::OutOfRange)
                }
            }
            KeyKind::BooleanOr | KeyKind::BooleanAnd => parse_boolean(text)
                .map(Self::Boolean)
                .map_err(|_| Invalid::Malformed),
            KeyKind::DeclarativeText => Ok(Self::Text(text.to_owned())),
            KeyKind::Security | KeyKind::FullFeatureOnly | KeyKind::Obsolete => {
                Err(Invalid::NotNegotiated)
            }
        }
    }

    /// The value in force for `key` when nobody negotiates it (the table's
    /// default, [`KeyDef::default`]); `None` for keys without one.
    pub(crate) fn default_of(key: Key) -> Option<Self> {
        let def = key.def();
        let text = def.default?;
        match def.kind {
            KeyKind::List(_) => ListValue::parse(key, text).map(Self::Selected),
            _ => Self::parse(def, text).ok(),
        }
    }

    /// The number, for a numerical value.
    pub(crate) const fn as_numerical(&self) -> Option<u64> {
        match self {
            Self::Numerical(v) => Some(*v),
            _ => None,
        }
    }

    /// The boolean, for a boolean value.
    pub(crate) const fn as_boolean(&self) -> Option<bool> {
        match self {
            Self::Boolean(v) => Some(*v),
            _ => None,
        }
    }

    /// The values offered, for a list offer (empty otherwise).
    pub(crate) fn as_list(&self) -> &[ListValue] {
        match self {
            Self::List(values) => values,
            _ => &[],
        }
    }

    /// True when this variant is what a key of `kind` holds.
    pub(crate) const fn fits(&self, kind: KeyKind) -> bool {
        matches!(
            (self, kind),
            (Self::List(_) | Self::Selected(_), KeyKind::List(_))
                | (
                    Self::Numerical(_),
                    KeyKind::NumericalMin { .. }
                        | KeyKind::NumericalMax { .. }
                        | KeyKind::DeclarativeNumber { .. }
                )
                | (Self::Boolean(_), KeyKind::BooleanOr | KeyKind::BooleanAnd)
                | (Self::Text(_), KeyKind::DeclarativeText)
        )
    }
}

impl fmt::Display for Value {
    /// The value as it is written on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Numerical(v) => write!(f, "{v}"),
            Self::Boolean(v) => f.write_str(iscsi_pdu::text::boolean(*v)),
            Self::List(values) => {
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(v.as_str())?;
                }
                Ok(())
            }
            Self::Selected(v) => f.write_str(v.as_str()),
            Self::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KEYS;

    #[test]
    fn every_default_parses_to_its_kind_and_back() {
        for def in KEYS {
            let Some(text) = def.default else { continue };
            if matches!(def.kind, KeyKind::Security) {
                continue;
            }
            let value = Value::default_of(def.key).unwrap_or_else(|| panic!("{}", def.name));
            assert!(value.fits(def.kind), "{}", def.name);
            assert_eq!(value.to_string(), text, "{}", def.name);
        }
    }

    #[test]
    fn every_list_value_of_the_table_is_typed_and_round_trips() {
        for def in KEYS {
            let KeyKind::List(values) = def.kind else {
                continue;
            };
            for text in values {
                let v = ListValue::parse(def.key, text).unwrap_or_else(|| panic!("{text}"));
                assert_eq!(v.as_str(), *text);
            }
            let offer = values.join(",");
            let parsed = Value::parse(def, &offer).unwrap();
            assert_eq!(parsed.as_list().len(), values.len());
            assert_eq!(parsed.to_string(), offer);
            // Exact, case-sensitive matching; unknown values are left out.
            assert_eq!(ListValue::parse(def.key, "crc32c"), None);
            assert_eq!(ListValue::parse(def.key, ""), None);
            assert_eq!(
                Value::parse(def, &format!("Bogus,{}", values[0])).unwrap(),
                Value::List(vec![ListValue::parse(def.key, values[0]).unwrap()])
            );
        }
    }

    #[test]
    fn digest_offers_are_the_policy_values() {
        use crate::params::{DigestPolicy, OperationalConfig};
        for policy in [
            DigestPolicy::Off,
            DigestPolicy::Allow,
            DigestPolicy::Prefer,
            DigestPolicy::Require,
        ] {
            let config = OperationalConfig::default().with_header_digest(policy);
            let offer = config.value_of(Key::HeaderDigest).unwrap();
            assert!(offer.fits(Key::HeaderDigest.def().kind));
            assert_eq!(offer.to_string(), policy.values().join(","));
            assert_eq!(
                Value::parse(Key::HeaderDigest.def(), &offer.to_string()),
                Ok(offer)
            );
        }
    }

    #[test]
    fn numbers_are_range_checked_and_never_read_as_zero() {
        let mbl = Key::MaxBurstLength.def();
        assert_eq!(Value::parse(mbl, "65536"), Ok(Value::Numerical(65536)));
        assert_eq!(Value::parse(mbl, "0x10000"), Ok(Value::Numerical(65536)));
        assert_eq!(Value::parse(mbl, "0x10000").unwrap().to_string(), "65536");
        assert_eq!(Value::parse(mbl, "12ab"), Err(Invalid::Malformed));
        assert_eq!(Value::parse(mbl, ""), Err(Invalid::Malformed));
        assert_eq!(Value::parse(mbl, "-1"), Err(Invalid::Malformed));
        assert_eq!(
            Value::parse(mbl, "99999999999999999999"),
            Err(Invalid::Malformed)
        );
        assert_eq!(Value::parse(mbl, "511"), Err(Invalid::OutOfRange));
        assert_eq!(Value::parse(mbl, "16777216"), Err(Invalid::OutOfRange));
        let ir2t = Key::InitialR2T.def();
        assert_eq!(Value::parse(ir2t, "No"), Ok(Value::Boolean(false)));
        assert_eq!(Value::parse(ir2t, "yes"), Err(Invalid::Malformed));
        assert_eq!(
            Value::parse(Key::IfMarker.def(), "No"),
            Err(Invalid::NotNegotiated)
        );
    }
}
