//! CHAP (RFC 1994) as iSCSI uses it (RFC 7143 §12.1.3): algorithms 5 (MD5),
//! 6 (SHA-1), 7 (SHA-256) and 8 (SHA3-256) as IANA numbers them, secrets
//! that never print, responses compared in constant time, and challenges
//! from an injected [`ChallengeSource`].

use core::fmt;

use md5::Md5;
use sha1::Sha1;
use sha2::Sha256;
use sha3::Sha3_256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A CHAP algorithm (the CHAP_A value, IANA "PPP Authentication Algorithms").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ChapAlgorithm {
    /// 5: MD5, 16-byte response. The only one RFC 3720 required; every
    /// initiator offers it.
    Md5,
    /// 6: SHA-1, 20-byte response.
    Sha1,
    /// 7: SHA-256, 32-byte response.
    Sha256,
    /// 8: SHA3-256, 32-byte response.
    Sha3_256,
}

impl ChapAlgorithm {
    /// Every algorithm, strongest first (the order we offer them in).
    pub const ALL: [Self; 4] = [Self::Sha3_256, Self::Sha256, Self::Sha1, Self::Md5];

    /// The CHAP_A number.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Md5 => 5,
            Self::Sha1 => 6,
            Self::Sha256 => 7,
            Self::Sha3_256 => 8,
        }
    }

    /// The algorithm with this CHAP_A number.
    #[must_use]
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            5 => Some(Self::Md5),
            6 => Some(Self::Sha1),
            7 => Some(Self::Sha256),
            8 => Some(Self::Sha3_256),
            _ => None,
        }
    }

    /// The algorithm a user names: `MD5`, `SHA1`, `SHA256`, `SHA3-256`
    /// (case and a `-`/`_` after "SHA" ignored, as open-iscsi's
    /// `node.session.auth.chap_algs` writes them), or the CHAP_A number
    /// 5–8 (RFC 7143 §12.1.3, IANA "PPP Authentication Algorithms").
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let n: String = name
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        match n.as_str() {
            "MD5" | "5" => Some(Self::Md5),
            "SHA1" | "6" => Some(Self::Sha1),
            "SHA256" | "7" => Some(Self::Sha256),
            "SHA3256" | "8" => Some(Self::Sha3_256),
            _ => None,
        }
    }

    /// Digest (and response) length in bytes.
    #[must_use]
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 | Self::Sha3_256 => 32,
        }
    }

    /// Name for logs and tool output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha3_256 => "SHA3-256",
        }
    }

    /// The CHAP response: `H(identifier || secret || challenge)` (RFC 1994 §4.1).
    #[must_use]
    pub fn response(self, identifier: u8, secret: &Secret, challenge: &[u8]) -> Vec<u8> {
        fn run<D: sha2::Digest>(id: u8, secret: &[u8], challenge: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            d.update([id]);
            d.update(secret);
            d.update(challenge);
            d.finalize().to_vec()
        }
        let s = secret.expose();
        match self {
            Self::Md5 => run::<Md5>(identifier, s, challenge),
            Self::Sha1 => run::<Sha1>(identifier, s, challenge),
            Self::Sha256 => run::<Sha256>(identifier, s, challenge),
            Self::Sha3_256 => run::<Sha3_256>(identifier, s, challenge),
        }
    }

    /// Checks `received` against the expected response in constant time.
    #[must_use]
    pub fn verify(
        self,
        identifier: u8,
        secret: &Secret,
        challenge: &[u8],
        received: &[u8],
    ) -> bool {
        let expected = Zeroizing::new(self.response(identifier, secret, challenge));
        bool::from(expected.as_slice().ct_eq(received))
    }
}

impl fmt::Display for ChapAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// Shortest secret accepted without [`Secret::new_allow_short`]: 12 bytes
/// (96 bits), as RFC 7143 §12.1.3 requires of CHAP secrets.
pub const MIN_SECRET_LEN: usize = 12;

/// Longest challenge accepted from a peer, bytes (RFC 7143 §12.1.3).
pub const MAX_CHALLENGE_LEN: usize = 1024;

/// A CHAP secret. Its `Debug` never shows it, and it is wiped on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

/// A secret refused at configuration time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Under [`MIN_SECRET_LEN`] bytes.
    #[error(
        "CHAP secret is {0} bytes; RFC 7143 §12.1.3 requires at least 12 (allow shorter ones explicitly to interoperate with legacy peers)"
    )]
    TooShort(usize),
    /// Empty.
    #[error("CHAP secret is empty")]
    Empty,
    /// Over 255 bytes (longer than CHAP implementations accept).
    #[error("CHAP secret is {0} bytes; at most 255 are accepted")]
    TooLong(usize),
    /// The same secret for both directions of mutual CHAP.
    #[error("mutual CHAP must use different secrets in each direction (RFC 7143 §12.1.3)")]
    SameSecretBothWays,
}

impl Secret {
    /// A secret of at least 12 bytes.
    ///
    /// # Errors
    /// [`SecretError::TooShort`], [`SecretError::Empty`], [`SecretError::TooLong`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(if bytes.is_empty() {
                SecretError::Empty
            } else {
                SecretError::TooShort(bytes.len())
            });
        }
        Self::new_allow_short(bytes)
    }

    /// A secret of any non-empty length: for peers configured with short
    /// secrets (tgtd, libiscsi tests). Prefer [`Secret::new`].
    ///
    /// # Errors
    /// [`SecretError::Empty`], [`SecretError::TooLong`].
    pub fn new_allow_short(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        match bytes.len() {
            0 => Err(SecretError::Empty),
            n if n > 255 => Err(SecretError::TooLong(n)),
            _ => Ok(Self(bytes)),
        }
    }

    /// The secret bytes (only for computing responses).
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality (to refuse equal secrets for mutual CHAP).
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A CHAP user name with its secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChapCredentials {
    /// CHAP_N.
    pub user: String,
    /// The shared secret.
    pub secret: Secret,
}

impl ChapCredentials {
    /// Credentials for `user` with `secret`.
    #[must_use]
    pub fn new(user: impl Into<String>, secret: Secret) -> Self {
        Self {
            user: user.into(),
            secret,
        }
    }
}

/// Where CHAP identifiers and challenges come from. The runtime passes
/// [`OsChallengeSource`]; tests pass a fixed source so that exchanges are
/// reproducible. The login machines never read a clock or an RNG themselves.
pub trait ChallengeSource: Send {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Challenges from the operating system's RNG (`getrandom`).
#[cfg(feature = "os-rng")]
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct OsChallengeSource;

#[cfg(feature = "os-rng")]
impl OsChallengeSource {
    /// The OS RNG.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

#[cfg(feature = "os-rng")]
impl ChallengeSource for OsChallengeSource {
    fn fill(&mut self, buf: &mut [u8]) {
        // getrandom fails only where the OS has no RNG at all; a zeroed
        // challenge would still be refused by reflection checks, but that
        // cannot happen on the platforms this crate supports.
        if getrandom::fill(buf).is_err() {
            buf.fill(0);
        }
    }
}

/// A deterministic source for tests: repeats `seed` bytes, advancing by one
/// each call so that two challenges differ.
#[derive(Clone, Debug)]
pub struct FixedChallengeSource {
    next: u8,
}

impl FixedChallengeSource {
    /// A source starting at byte value `seed`.
    #[must_use]
    pub const fn new(seed: u8) -> Self {
        Self { next: seed }
    }
}

impl ChallengeSource for FixedChallengeSource {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
    }
}

/// Challenge length a target sends for `algorithm`: the digest size, at
/// least 16 bytes.
#[must_use]
pub const fn challenge_len(algorithm: ChapAlgorithm) -> usize {
    let n = algorithm.digest_len();
    if n < 16 { 16 } else { n }
}

/// Picks the first algorithm of the peer's `CHAP_A` list that `allowed`
/// contains (RFC 7143 §6.2 list negotiation). Unknown values are skipped.
#[must_use]
pub fn select_algorithm(offered: &str, allowed: &[ChapAlgorithm]) -> Option<ChapAlgorithm> {
    offered
        .split(',')
        .filter_map(|v| iscsi_pdu::text::parse_numerical(v).ok())
        .filter_map(ChapAlgorithm::from_code)
        .find(|a| allowed.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iscsi_pdu::text::encode_hex;

    /// Known answers: identifier 0x5a, secret "abcdefghijklmnop", challenge
    /// 0x00..0x0f, computed independently with Python's hashlib.
    #[test]
    fn known_answers_for_every_algorithm() {
        let secret = Secret::new(*b"abcdefghijklmnop").unwrap();
        let challenge: Vec<u8> = (0u8..16).collect();
        let got = |a: ChapAlgorithm| encode_hex(&a.response(0x5a, &secret, &challenge));
        assert_eq!(got(ChapAlgorithm::Md5), KAT_MD5.trim());
        assert_eq!(got(ChapAlgorithm::Sha1), KAT_SHA1.trim());
        assert_eq!(got(ChapAlgorithm::Sha256), KAT_SHA256.trim());
        assert_eq!(got(ChapAlgorithm::Sha3_256), KAT_SHA3_256.trim());
        for a in ChapAlgorithm::ALL {
            let r = a.response(0x5a, &secret, &challenge);
            assert_eq!(r.len(), a.digest_len());
            assert!(a.verify(0x5a, &secret, &challenge, &r));
            assert!(!a.verify(0x5b, &secret, &challenge, &r));
            assert!(!a.verify(0x5a, &secret, &challenge, &r[..r.len() - 1]));
        }
    }

    #[test]
    fn algorithms_by_name_and_number() {
        for a in ChapAlgorithm::ALL {
            assert_eq!(ChapAlgorithm::from_name(a.name()), Some(a));
            assert_eq!(ChapAlgorithm::from_name(&a.code().to_string()), Some(a));
        }
        // open-iscsi's spelling in node.session.auth.chap_algs
        assert_eq!(
            ChapAlgorithm::from_name("SHA3-256"),
            Some(ChapAlgorithm::Sha3_256)
        );
        assert_eq!(
            ChapAlgorithm::from_name("sha256"),
            Some(ChapAlgorithm::Sha256)
        );
        assert_eq!(ChapAlgorithm::from_name(" md5 "), Some(ChapAlgorithm::Md5));
        assert_eq!(ChapAlgorithm::from_name("sha512"), None);
        assert_eq!(ChapAlgorithm::from_name("4"), None);
        assert_eq!(ChapAlgorithm::from_name(""), None);
    }

    const KAT_MD5: &str = include_str!("../tests/kat/chap_md5.txt");
    const KAT_SHA1: &str = include_str!("../tests/kat/chap_sha1.txt");
    const KAT_SHA256: &str = include_str!("../tests/kat/chap_sha256.txt");
    const KAT_SHA3_256: &str = include_str!("../tests/kat/chap_sha3_256.txt");

    #[test]
    fn rfc1994_style_md5_vector() {
        // id 1, secret "secret", challenge "challenge", computed by hashlib.
        let secret = Secret::new_allow_short(*b"secret").unwrap();
        let r = ChapAlgorithm::Md5.response(1, &secret, b"challenge");
        assert_eq!(
            encode_hex(&r),
            include_str!("../tests/kat/chap_md5_short.txt").trim_ascii_end()
        );
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert_eq!(
            Secret::new(*b"short").unwrap_err(),
            SecretError::TooShort(5)
        );
        assert_eq!(Secret::new(Vec::new()).unwrap_err(), SecretError::Empty);
        assert!(Secret::new_allow_short(*b"short").is_ok());
        assert_eq!(
            Secret::new(vec![b'x'; 256]).unwrap_err(),
            SecretError::TooLong(256)
        );
        let s = Secret::new(*b"twelve bytes").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let creds = ChapCredentials::new("user", s);
        assert!(!format!("{creds:?}").contains("twelve"));
    }

    #[test]
    fn algorithm_selection_follows_the_offer_order() {
        let all = ChapAlgorithm::ALL;
        assert_eq!(select_algorithm("5", &all), Some(ChapAlgorithm::Md5));
        assert_eq!(select_algorithm("7,5", &all), Some(ChapAlgorithm::Sha256));
        assert_eq!(select_algorithm("99,x,6", &all), Some(ChapAlgorithm::Sha1));
        assert_eq!(select_algorithm("5", &[ChapAlgorithm::Sha256]), None);
        assert_eq!(challenge_len(ChapAlgorithm::Md5), 16);
        assert_eq!(challenge_len(ChapAlgorithm::Sha3_256), 32);
    }
}
