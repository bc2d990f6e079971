//! Text segments of Login and Text PDUs (RFC 7143 §6.1): `key=value` pairs,
//! each followed by one NUL byte, in order, duplicates kept (a SendTargets
//! answer repeats `TargetName` and `TargetAddress`), and the RFC's value
//! encodings (decimal, `0x` hex, `0b` base64, `Yes`/`No`, lists, ranges).
//!
//! This module parses a *whole* text: a negotiation that spans PDUs with the
//! C bit is reassembled by the caller first (a pair may be cut anywhere).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::BufMut;
use nom::bytes::complete::take_till;
use nom::{IResult, Parser};

/// Longest key name RFC 7143 §6.1 allows, bytes.
pub const MAX_KEY_NAME_LEN: usize = 63;
/// Longest simple value RFC 7143 §6.1 allows unless a key says otherwise,
/// bytes (of the value, not its encoding).
pub const MAX_SIMPLE_VALUE_LEN: usize = 255;
/// Text of one negotiation sequence every implementation must accept
/// (RFC 7143 §6.1), bytes; also the default cap on one encoded value.
pub const MIN_NEGOTIATION_TEXT: usize = 8192;

/// Limits applied while parsing a text segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct TextLimits {
    /// Longest key name, bytes. Default [`MAX_KEY_NAME_LEN`].
    pub max_key_len: usize,
    /// Longest encoded value, bytes. Default [`MIN_NEGOTIATION_TEXT`]: long
    /// enough for a 1024-byte CHAP challenge in hex; the key-specific limit
    /// (255 for simple values) is the negotiation layer's to apply.
    pub max_value_len: usize,
}

impl Default for TextLimits {
    fn default() -> Self {
        Self {
            max_key_len: MAX_KEY_NAME_LEN,
            max_value_len: MIN_NEGOTIATION_TEXT,
        }
    }
}

/// A text segment that is not a well-formed list of `key=value` pairs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// A pair has no `=`.
    #[error("text pair at byte {offset} has no '=': {snippet:?}")]
    #[non_exhaustive]
    MissingEquals {
        /// Offset of the pair in the segment.
        offset: usize,
        /// Its first bytes, lossily decoded, for the log.
        snippet: String,
    },
    /// A pair starts with `=`.
    #[error("text pair at byte {offset} has an empty key")]
    #[non_exhaustive]
    EmptyKey {
        /// Offset of the pair in the segment.
        offset: usize,
    },
    /// A key or value is not UTF-8.
    #[error("text pair at byte {offset} is not valid UTF-8")]
    #[non_exhaustive]
    NotUtf8 {
        /// Offset of the pair in the segment.
        offset: usize,
    },
    /// A key is over the limit.
    #[error("key {key:?}... is {length} bytes, over the {limit}-byte limit of RFC 7143 §6.1")]
    #[non_exhaustive]
    KeyTooLong {
        /// The key's first 63 bytes.
        key: String,
        /// Its length, bytes.
        length: usize,
        /// The limit, bytes.
        limit: usize,
    },
    /// A value is over the limit.
    #[error("value of {key} is {length} bytes, over the {limit}-byte limit")]
    #[non_exhaustive]
    ValueTooLong {
        /// The key.
        key: String,
        /// The value's length, bytes.
        length: usize,
        /// The limit, bytes.
        limit: usize,
    },
}

fn until_nul(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|c| c == 0).parse(input)
}

fn until_equals(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|c| c == b'=').parse(input)
}

/// Iterator over the pairs of a text segment; see [`parse_text`].
#[derive(Clone, Debug)]
pub struct TextPairsIter<'a> {
    rest: &'a [u8],
    offset: usize,
    limits: TextLimits,
    failed: bool,
}

impl<'a> TextPairsIter<'a> {
    /// Iterates over the pairs of `data` under `limits`.
    #[must_use]
    pub const fn new(data: &'a [u8], limits: TextLimits) -> Self {
        Self {
            rest: data,
            offset: 0,
            limits,
            failed: false,
        }
    }

    fn pair(&self, item: &'a [u8], offset: usize) -> Result<(&'a str, &'a str), TextError> {
        let Ok((value, key)) = until_equals(item) else {
            return Err(TextError::NotUtf8 { offset });
        };
        let Some(value) = value.strip_prefix(b"=") else {
            return Err(TextError::MissingEquals {
                offset,
                snippet: String::from_utf8_lossy(item.get(..32).unwrap_or(item)).into_owned(),
            });
        };
        let key = core::str::from_utf8(key).map_err(|_| TextError::NotUtf8 { offset })?;
        if key.is_empty() {
            return Err(TextError::EmptyKey { offset });
        }
        if key.len() > self.limits.max_key_len {
            return Err(TextError::KeyTooLong {
                key: key.chars().take(MAX_KEY_NAME_LEN).collect(),
                length: key.len(),
                limit: self.limits.max_key_len,
            });
        }
        let value = core::str::from_utf8(value).map_err(|_| TextError::NotUtf8 { offset })?;
        if value.len() > self.limits.max_value_len {
            return Err(TextError::ValueTooLong {
                key: key.to_owned(),
                length: value.len(),
                limit: self.limits.max_value_len,
            });
        }
        Ok((key, value))
    }
}

impl<'a> Iterator for TextPairsIter<'a> {
    type Item = Result<(&'a str, &'a str), TextError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed && !self.rest.is_empty() {
            let Ok((after, item)) = until_nul(self.rest) else {
                return None;
            };
            let offset = self.offset;
            // Step over the item and its NUL; a missing final NUL is
            // tolerated (some initiators omit it), empty items (padding
            // inside DataSegmentLength) are skipped.
            let consumed = item.len() + usize::from(!after.is_empty());
            self.rest = after.get(usize::from(!after.is_empty())..).unwrap_or(&[]);
            self.offset += consumed;
            if item.is_empty() {
                continue;
            }
            let result = self.pair(item, offset);
            self.failed = result.is_err();
            return Some(result);
        }
        None
    }
}

/// Parses a whole text segment into borrowed `(key, value)` pairs, in order,
/// duplicates kept, under the default [`TextLimits`].
///
/// # Errors
/// The first malformed pair.
pub fn parse_text(data: &[u8]) -> Result<Vec<(&str, &str)>, TextError> {
    TextPairsIter::new(data, TextLimits::default()).collect()
}

/// Writes `key=value\0` for each pair.
pub fn encode_text<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut impl BufMut) {
    for (key, value) in pairs {
        out.put_slice(key.as_bytes());
        out.put_u8(b'=');
        out.put_slice(value.as_bytes());
        out.put_u8(0);
    }
}

/// An owned, ordered list of text pairs with duplicates kept.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TextPairs {
    pairs: Vec<(String, String)>,
}

impl TextPairs {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self { pairs: Vec::new() }
    }

    /// Parses a whole text segment.
    ///
    /// # Errors
    /// The first malformed pair.
    pub fn parse(data: &[u8]) -> Result<Self, TextError> {
        Self::parse_with(data, TextLimits::default())
    }

    /// Parses a whole text segment under `limits`.
    ///
    /// # Errors
    /// The first malformed pair.
    pub fn parse_with(data: &[u8], limits: TextLimits) -> Result<Self, TextError> {
        let pairs = TextPairsIter::new(data, limits)
            .map(|p| p.map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect::<Result<_, _>>()?;
        Ok(Self { pairs })
    }

    /// Appends a pair.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((key.into(), value.into()));
    }

    /// The first value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn get_all<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when there are no pairs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Bytes of the encoded text.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum()
    }

    /// Writes `key=value\0` for each pair.
    pub fn encode(&self, out: &mut impl BufMut) {
        encode_text(self.iter(), out);
    }

    /// The encoded text.
    #[must_use]
    pub fn to_bytes(&self) -> bytes::Bytes {
        let mut out = bytes::BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }

    /// Consumes the list into its pairs.
    #[must_use]
    pub fn into_vec(self) -> Vec<(String, String)> {
        self.pairs
    }
}

impl fmt::Debug for TextPairs {
    /// CHAP secrets never travel in text, but responses and challenges do;
    /// they are shown as their length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(k, v)| {
                if k == "CHAP_R" || k == "CHAP_C" {
                    format!("{k}=<{} chars>", v.len())
                } else {
                    format!("{k}={v}")
                }
            }))
            .finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for TextPairs {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Self {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// A value that does not have the encoding its key requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not a decimal, hex or base64 number.
    #[error("{0:?} is not a numerical value (decimal, 0x hex or 0b base64)")]
    NotNumerical(String),
    /// A number too large for 64 bits.
    #[error("{0:?} does not fit in 64 bits")]
    TooLarge(String),
    /// Not `Yes` or `No`.
    #[error("{0:?} is not a boolean value (Yes or No)")]
    NotBoolean(String),
    /// Not a hex or base64 binary value.
    #[error("{0:?} is not a binary value (0x hex or 0b base64)")]
    NotBinary(String),
    /// Not `low~high`.
    #[error("{0:?} is not a numerical range (low~high with low <= high)")]
    NotRange(String),
}

/// Parses a numerical value (RFC 7143 §6.1): a decimal constant, a hex
/// constant (`0x`/`0X`) or a base64 constant (`0b`/`0B`) of at most 64 bits.
///
/// # Errors
/// [`ValueError::NotNumerical`] or [`ValueError::TooLarge`].
pub fn parse_numerical(value: &str) -> Result<u64, ValueError> {
    let not = || ValueError::NotNumerical(value.to_owned());
    if let Some(hex) = strip_prefix_ci(value, "0x") {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(not());
        }
        let digits = hex.trim_start_matches('0');
        if digits.len() > 16 {
            return Err(ValueError::TooLarge(value.to_owned()));
        }
        return u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
            .map_err(|_| not());
    }
    if strip_prefix_ci(value, "0b").is_some() {
        let bytes = parse_binary(value).map_err(|_| not())?;
        let significant: Vec<u8> = bytes.into_iter().skip_while(|b| *b == 0).collect();
        if significant.len() > 8 {
            return Err(ValueError::TooLarge(value.to_owned()));
        }
        return Ok(significant
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)));
    }
    if value.is_empty() || !value.bytes().all(|c| c.is_ascii_digit()) {
        return Err(not());
    }
    value
        .parse::<u64>()
        .map_err(|_| ValueError::TooLarge(value.to_owned()))
}

/// Parses `low~high` (RFC 7143 §6.1 numerical-range).
///
/// # Errors
/// [`ValueError::NotRange`].
pub fn parse_range(value: &str) -> Result<(u64, u64), ValueError> {
    let not = || ValueError::NotRange(value.to_owned());
    let (low, high) = value.split_once('~').ok_or_else(not)?;
    let low = parse_numerical(low).map_err(|_| not())?;
    let high = parse_numerical(high).map_err(|_| not())?;
    if low > high {
        return Err(not());
    }
    Ok((low, high))
}

/// Parses `Yes` or `No` (RFC 7143 §6.1 boolean-value).
///
/// # Errors
/// [`ValueError::NotBoolean`].
pub fn parse_boolean(value: &str) -> Result<bool, ValueError> {
    match value {
        "Yes" => Ok(true),
        "No" => Ok(false),
        _ => Err(ValueError::NotBoolean(value.to_owned())),
    }
}

/// The boolean as RFC 7143 writes it.
#[must_use]
pub const fn boolean(value: bool) -> &'static str {
    if value { "Yes" } else { "No" }
}

/// Parses a binary value: `0x` hex (an odd number of digits implies a leading
/// zero) or `0b` base64 (RFC 4648, padding optional).
///
/// # Errors
/// [`ValueError::NotBinary`].
pub fn parse_binary(value: &str) -> Result<Vec<u8>, ValueError> {
    let not = || ValueError::NotBinary(value.to_owned());
    if let Some(hex) = strip_prefix_ci(value, "0x") {
        if hex.is_empty() || !hex.is_ascii() {
            return Err(not());
        }
        let digits = hex.as_bytes();
        let mut out = Vec::with_capacity(digits.len().div_ceil(2));
        let (first, rest) = if digits.len() % 2 == 1 {
            digits.split_at(1)
        } else {
            digits.split_at(0)
        };
        if let Some(&d) = first.first() {
            out.push(hex_digit(d).ok_or_else(not)?);
        }
        for pair in rest.chunks_exact(2) {
            if let &[hi, lo] = pair {
                out.push(hex_digit(hi).ok_or_else(not)? << 4 | hex_digit(lo).ok_or_else(not)?);
            }
        }
        return Ok(out);
    }
    if let Some(b64) = strip_prefix_ci(value, "0b") {
        if b64.is_empty() {
            return Err(not());
        }
        let padded_input;
        let input = if b64.len() % 4 == 0 {
            b64
        } else {
            padded_input = format!("{b64}{}", "=".repeat((4 - b64.len() % 4) % 4));
            padded_input.as_str()
        };
        return BASE64.decode(input).map_err(|_| not());
    }
    Err(not())
}

const fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `0x` followed by lowercase hex digits, two per byte.
#[must_use]
pub fn encode_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `0b` followed by standard base64 with padding.
#[must_use]
pub fn encode_base64(bytes: &[u8]) -> String {
    format!("0b{}", BASE64.encode(bytes))
}

/// The items of a list-of-values (comma separated).
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',')
}

fn strip_prefix_ci<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        value.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_duplicates_are_kept() {
        let text = b"TargetName=iqn.a\0TargetAddress=10.0.0.1:3260,1\0TargetAddress=[::1]:3260,2\0\
                     TargetName=iqn.b\0TargetAddress=10.0.0.2:3260,1\0";
        let pairs = parse_text(text).unwrap();
        assert_eq!(pairs.len(), 5);
        assert_eq!(pairs[2], ("TargetAddress", "[::1]:3260,2"));
        let owned = TextPairs::parse(text).unwrap();
        assert_eq!(
            owned.get_all("TargetName").collect::<Vec<_>>(),
            ["iqn.a", "iqn.b"]
        );
        assert_eq!(owned.get("TargetAddress"), Some("10.0.0.1:3260,1"));
        assert_eq!(owned.to_bytes().as_ref(), &text[..]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(
            parse_text(b"A=1\0NoEquals\0"),
            Err(TextError::MissingEquals { offset: 4, .. })
        ));
        assert!(matches!(
            parse_text(b"=x\0"),
            Err(TextError::EmptyKey { offset: 0 })
        ));
        assert!(matches!(
            parse_text(b"K=\xff\0"),
            Err(TextError::NotUtf8 { offset: 0 })
        ));
        let long_key = format!("{}=1\0", "K".repeat(64));
        assert!(matches!(
            parse_text(long_key.as_bytes()),
            Err(TextError::KeyTooLong {
                length: 64,
                limit: 63,
                ..
            })
        ));
        let long_value = format!("K={}\0", "v".repeat(8193));
        assert!(matches!(
            parse_text(long_value.as_bytes()),
            Err(TextError::ValueTooLong { length: 8193, .. })
        ));
    }

    #[test]
    fn tolerates_missing_final_nul_and_padding() {
        assert_eq!(parse_text(b"A=1\0B=2").unwrap(), [("A", "1"), ("B", "2")]);
        assert_eq!(parse_text(b"A=1\0\0\0").unwrap(), [("A", "1")]);
        assert_eq!(parse_text(b"A=\0").unwrap(), [("A", "")]);
        assert_eq!(parse_text(b"A=b=c\0").unwrap(), [("A", "b=c")]);
        assert!(parse_text(b"").unwrap().is_empty());
    }

    #[test]
    fn value_encodings() {
        assert_eq!(parse_numerical("8192"), Ok(8192));
        assert_eq!(parse_numerical("0x2000"), Ok(8192));
        assert_eq!(parse_numerical("0X00000000000000002000"), Ok(8192));
        assert_eq!(parse_numerical("0bIAA="), Ok(8192));
        assert_eq!(parse_numerical("18446744073709551615"), Ok(u64::MAX));
        assert!(matches!(
            parse_numerical("18446744073709551616"),
            Err(ValueError::TooLarge(_))
        ));
        assert!(matches!(
            parse_numerical("0x1ffffffffffffffff"),
            Err(ValueError::TooLarge(_))
        ));
        assert!(parse_numerical("-1").is_err());
        assert!(parse_numerical("12a").is_err());
        assert!(parse_numerical("0x").is_err());
        assert_eq!(parse_range("1~5"), Ok((1, 5)));
        assert!(parse_range("5~1").is_err());
        assert_eq!(parse_boolean("Yes"), Ok(true));
        assert!(parse_boolean("yes").is_err());
        assert_eq!(parse_binary("0x0a0B"), Ok(vec![0x0a, 0x0b]));
        assert_eq!(parse_binary("0xabc"), Ok(vec![0x0a, 0xbc]));
        assert_eq!(parse_binary("0bAQID"), Ok(vec![1, 2, 3]));
        assert_eq!(parse_binary("0bAQ"), Ok(vec![1]));
        assert!(parse_binary("0xzz").is_err());
        assert!(parse_binary("1234").is_err());
        assert_eq!(encode_hex(&[0, 0xff]), "0x00ff");
        assert_eq!(encode_base64(&[1, 2, 3]), "0bAQID");
        assert_eq!(
            split_list("CRC32C,None").collect::<Vec<_>>(),
            ["CRC32C", "None"]
        );
    }

    #[test]
    fn debug_hides_chap_values() {
        let pairs: TextPairs = [("CHAP_N", "user"), ("CHAP_R", "0x0102")]
            .into_iter()
            .collect();
        assert_eq!(
            format!("{pairs:?}"),
            r#"["CHAP_N=user", "CHAP_R=<6 chars>"]"#
        );
    }
}
