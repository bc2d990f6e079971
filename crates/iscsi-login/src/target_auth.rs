//! The target's side of the security stage (RFC 7143 §12.1): AuthMethod,
//! then the CHAP exchange (§12.1.3) with or without mutual CHAP, as a
//! small machine [`TargetLogin`](crate::TargetLogin) feeds the security
//! keys of each Login Request.

use iscsi_pdu::text::{encode_hex, parse_binary, parse_numerical};

use crate::LoginEvent;
use crate::chap::{self, ChallengeSource, ChapAlgorithm, MAX_CHALLENGE_LEN, challenge_len};
use crate::error::{AuthError, LoginError};
use crate::params::AuthOutcome;
use crate::target::AuthConfig;

#[derive(Debug)]
enum AuthState {
    Start,
    WaitAlgorithm,
    WaitResponse {
        algorithm: ChapAlgorithm,
        identifier: u8,
        challenge: Vec<u8>,
    },
    Done(AuthOutcome),
}

/// One pair to send.
fn pair(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

/// The target's authentication of one login; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct TargetAuth {
    /// What the target (or discovery) requires, known once the first
    /// Login Request named the target.
    required: AuthConfig,
    state: AuthState,
}

impl TargetAuth {
    /// Nothing required yet, nothing exchanged.
    pub(crate) fn new() -> Self {
        Self {
            required: AuthConfig::none(),
            state: AuthState::Start,
        }
    }

    /// Sets what authentication is required (from the target's
    /// configuration or the discovery settings).
    pub(crate) fn require(&mut self, required: AuthConfig) {
        self.required = required;
    }

    /// The initiator skipped the security stage, or left it without
    /// AuthMethod: AuthMethod=None applies unless CHAP is required.
    ///
    /// # Errors
    /// [`AuthError::Required`] when CHAP is.
    pub(crate) fn skip(&mut self) -> Result<(), AuthError> {
        if !matches!(self.state, AuthState::Start) {
            return Ok(());
        }
        if self.required.chap.is_some() {
            return Err(AuthError::Required);
        }
        self.state = AuthState::Done(AuthOutcome::None);
        Ok(())
    }

    /// True once authentication succeeded (or None was agreed).
    pub(crate) const fn is_done(&self) -> bool {
        matches!(self.state, AuthState::Done(_))
    }

    /// How the initiator authenticated; `None` while unfinished.
    pub(crate) fn outcome(&self) -> AuthOutcome {
        match &self.state {
            AuthState::Done(outcome) => outcome.clone(),
            AuthState::Start | AuthState::WaitAlgorithm | AuthState::WaitResponse { .. } => {
                AuthOutcome::None
            }
        }
    }

    /// One batch of security keys from a Login Request: our answers go to
    /// `replies`; [`LoginEvent::Authenticated`] when CHAP succeeded.
    ///
    /// # Errors
    /// The authentication failed (a [`LoginError::Auth`] or a negotiation
    /// error for a repeated AuthMethod).
    pub(crate) fn handle(
        &mut self,
        keys: &[(&str, &str)],
        challenges: &mut dyn ChallengeSource,
        replies: &mut Vec<(String, String)>,
    ) -> Result<Option<LoginEvent>, LoginError> {
        let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        if let Some(offered) = get("AuthMethod") {
            if !matches!(self.state, AuthState::Start) {
                return Err(LoginError::negotiation(
                    "AuthMethod",
                    "the key was sent twice in one login (RFC 7143 §6.2)",
                ));
            }
            let methods: Vec<&str> = offered.split(',').collect();
            if self.required.chap.is_some() {
                if !methods.contains(&"CHAP") {
                    return Err(AuthError::Required.into());
                }
                replies.push(pair("AuthMethod", "CHAP"));
                self.state = AuthState::WaitAlgorithm;
            } else if methods.contains(&"None") {
                replies.push(pair("AuthMethod", "None"));
                self.state = AuthState::Done(AuthOutcome::None);
            } else {
                return Err(AuthError::NoCommonMethod {
                    offered: offered.to_owned(),
                }
                .into());
            }
        }
        if let Some(offered) = get("CHAP_A") {
            if !matches!(self.state, AuthState::WaitAlgorithm) {
                return Err(AuthError::Unexpected("CHAP_A").into());
            }
            let algorithm =
                chap::select_algorithm(offered, &self.required.algorithms).ok_or_else(|| {
                    AuthError::NoCommonAlgorithm {
                        offered: offered.to_owned(),
                    }
                })?;
            let mut identifier = [0u8; 1];
            challenges.fill(&mut identifier);
            let mut challenge = vec![0u8; challenge_len(algorithm)];
            challenges.fill(&mut challenge);
            replies.push(pair("CHAP_A", algorithm.code().to_string()));
            replies.push(pair("CHAP_I", identifier[0].to_string()));
            replies.push(pair("CHAP_C", encode_hex(&challenge)));
            self.state = AuthState::WaitResponse {
                algorithm,
                identifier: identifier[0],
                challenge,
            };
        }
        let (name, response) = (get("CHAP_N"), get("CHAP_R"));
        let (mutual_id, mutual_challenge) = (get("CHAP_I"), get("CHAP_C"));
        if name.is_none() && response.is_none() {
            if mutual_id.is_some() || mutual_challenge.is_some() {
                return Err(AuthError::Unexpected("CHAP_C").into());
            }
            return Ok(None);
        }
        let AuthState::WaitResponse {
            algorithm,
            identifier,
            challenge,
        } = &self.state
        else {
            return Err(AuthError::Unexpected("CHAP_R").into());
        };
        let algorithm = *algorithm;
        let name = name.ok_or(AuthError::MissingKey("CHAP_N"))?;
        let response = response.ok_or(AuthError::MissingKey("CHAP_R"))?;
        let response = parse_binary(response).map_err(|_| AuthError::Malformed("CHAP_R"))?;
        let Some(expected) = &self.required.chap else {
            return Err(AuthError::Unexpected("CHAP_R").into());
        };
        let name_ok = bool::from(subtle::ConstantTimeEq::ct_eq(
            name.as_bytes(),
            expected.user.as_bytes(),
        ));
        let response_ok = algorithm.verify(*identifier, &expected.secret, challenge, &response);
        if !(name_ok && response_ok) {
            return Err(AuthError::WrongCredentials.into());
        }
        let mutual = match (mutual_id, mutual_challenge) {
            (None, None) => false,
            (Some(_), None) => return Err(AuthError::MissingKey("CHAP_C").into()),
            (None, Some(_)) => return Err(AuthError::MissingKey("CHAP_I").into()),
            (Some(id), Some(their_challenge)) => {
                let id = parse_numerical(id)
                    .ok()
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or(AuthError::Malformed("CHAP_I"))?;
                let their_challenge =
                    parse_binary(their_challenge).map_err(|_| AuthError::Malformed("CHAP_C"))?;
                if their_challenge.is_empty() || their_challenge.len() > MAX_CHALLENGE_LEN {
                    return Err(AuthError::ChallengeLength(their_challenge.len()).into());
                }
                if their_challenge == *challenge {
                    return Err(AuthError::Reflection.into());
                }
                let ours = self
                    .required
                    .mutual
                    .as_ref()
                    .ok_or(AuthError::MutualNotConfigured)?;
                let answer = algorithm.response(id, &ours.secret, &their_challenge);
                replies.push(pair("CHAP_N", ours.user.clone()));
                replies.push(pair("CHAP_R", encode_hex(&answer)));
                true
            }
        };
        self.state = AuthState::Done(AuthOutcome::Chap {
            algorithm,
            user: name.to_owned(),
            mutual,
        });
        Ok(Some(LoginEvent::Authenticated {
            user: name.to_owned(),
            algorithm,
            mutual,
        }))
    }
}
