//! The initiator's side of the security stage (RFC 7143 §12.1): it offers
//! AuthMethod, answers the target's CHAP challenge, and for mutual CHAP
//! challenges the target and checks its answer, as a small machine
//! [`InitiatorLogin`](crate::InitiatorLogin) feeds the security keys of
//! each Login Response.

use iscsi_pdu::text::{encode_hex, parse_binary, parse_numerical};

use crate::LoginEvent;
use crate::chap::{ChallengeSource, ChapAlgorithm, MAX_CHALLENGE_LEN, challenge_len};
use crate::error::{AuthError, LoginError};
use crate::initiator::InitiatorAuth;
use crate::params::AuthOutcome;

#[derive(Debug)]
enum AuthState {
    /// AuthMethod sent, waiting for the target's choice.
    WaitMethod,
    /// CHAP_A sent.
    WaitChallenge,
    /// CHAP_R sent; for mutual CHAP, our identifier and challenge.
    WaitResult {
        algorithm: ChapAlgorithm,
        mutual: Option<(u8, Vec<u8>)>,
    },
    Done(AuthOutcome),
}

/// Key=value pairs to send, in order.
type Pairs = Vec<(String, String)>;

/// The initiator's authentication of one login; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct InitiatorAuthentication {
    config: InitiatorAuth,
    state: AuthState,
}

impl InitiatorAuthentication {
    /// Authentication as `config` says; with CHAP, AuthMethod is to be sent.
    pub(crate) fn new(config: InitiatorAuth) -> Self {
        let state = match config {
            InitiatorAuth::Chap { .. } => AuthState::WaitMethod,
            InitiatorAuth::None => AuthState::Done(AuthOutcome::None),
        };
        Self { config, state }
    }

    /// The AuthMethod value to offer: `CHAP` for mutual CHAP (the target
    /// must prove itself), `CHAP,None` for one-way CHAP, `None` without.
    pub(crate) fn auth_method(&self) -> Option<&'static str> {
        match &self.config {
            InitiatorAuth::Chap {
                target: Some(_), ..
            } => Some("CHAP"),
            InitiatorAuth::Chap { target: None, .. } => Some("CHAP,None"),
            InitiatorAuth::None => None,
        }
    }

    /// True while the target still has to choose a method or send its
    /// challenge: the security stage cannot end yet.
    pub(crate) const fn awaits_target(&self) -> bool {
        matches!(self.state, AuthState::WaitMethod | AuthState::WaitChallenge)
    }

    /// How this side authenticated; `None` while unfinished.
    pub(crate) fn outcome(&self) -> AuthOutcome {
        match &self.state {
            AuthState::Done(outcome) => outcome.clone(),
            _ => AuthOutcome::None,
        }
    }

    /// One batch of the target's security keys (`transit`: the response's
    /// T bit). Returns our CHAP keys to send and, when CHAP succeeded,
    /// [`LoginEvent::Authenticated`].
    ///
    /// # Errors
    /// The exchange failed: a [`LoginError::Auth`] naming why.
    pub(crate) fn handle(
        &mut self,
        keys: &[(&str, &str)],
        transit: bool,
        challenges: &mut dyn ChallengeSource,
    ) -> Result<(Pairs, Option<LoginEvent>), LoginError> {
        let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let InitiatorAuth::Chap {
            credentials,
            target,
            algorithms,
        } = &self.config
        else {
            if keys.is_empty() {
                return Ok((Vec::new(), None));
            }
            return Err(AuthError::Unexpected("AuthMethod").into());
        };
        let mut out = Vec::new();
        if let Some(method) = get("AuthMethod") {
            if !matches!(self.state, AuthState::WaitMethod) {
                return Err(AuthError::Unexpected("AuthMethod").into());
            }
            match method {
                "CHAP" => {
                    let list: Vec<String> =
                        algorithms.iter().map(|a| a.code().to_string()).collect();
                    out.push(("CHAP_A".to_owned(), list.join(",")));
                    self.state = AuthState::WaitChallenge;
                }
                "None" if target.is_none() => self.state = AuthState::Done(AuthOutcome::None),
                "None" => return Err(AuthError::TargetSkippedMutual.into()),
                other => {
                    return Err(AuthError::NoCommonMethod {
                        offered: other.to_owned(),
                    }
                    .into());
                }
            }
        }
        if let Some(a) = get("CHAP_A") {
            if !matches!(self.state, AuthState::WaitChallenge) {
                return Err(AuthError::Unexpected("CHAP_A").into());
            }
            let algorithm = parse_numerical(a)
                .ok()
                .and_then(ChapAlgorithm::from_code)
                .filter(|alg| algorithms.contains(alg))
                .ok_or_else(|| AuthError::NoCommonAlgorithm {
                    offered: a.to_owned(),
                })?;
            let id = get("CHAP_I")
                .and_then(|v| parse_numerical(v).ok())
                .and_then(|v| u8::try_from(v).ok())
                .ok_or(AuthError::MissingKey("CHAP_I"))?;
            let challenge = get("CHAP_C").ok_or(AuthError::MissingKey("CHAP_C"))?;
            let challenge = parse_binary(challenge).map_err(|_| AuthError::Malformed("CHAP_C"))?;
            if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_LEN {
                return Err(AuthError::ChallengeLength(challenge.len()).into());
            }
            let response = algorithm.response(id, &credentials.secret, &challenge);
            out.push(("CHAP_N".to_owned(), credentials.user.clone()));
            out.push(("CHAP_R".to_owned(), encode_hex(&response)));
            let mutual = if target.is_some() {
                let mut our_id = [0u8; 1];
                challenges.fill(&mut our_id);
                let mut ours = vec![0u8; challenge_len(algorithm)];
                // Never send back the target's own challenge (reflection).
                while ours == challenge || ours.iter().all(|b| *b == 0) {
                    challenges.fill(&mut ours);
                }
                out.push(("CHAP_I".to_owned(), our_id[0].to_string()));
                out.push(("CHAP_C".to_owned(), encode_hex(&ours)));
                Some((our_id[0], ours))
            } else {
                None
            };
            self.state = AuthState::WaitResult { algorithm, mutual };
            if transit {
                // The challenge came with the T bit: the target would let us
                // through before it has seen our CHAP_R.
                return Err(AuthError::Unexpected("T bit").into());
            }
            return Ok((out, None));
        }
        let mut event = None;
        if let AuthState::WaitResult { algorithm, mutual } = &self.state
            && transit
        {
            let algorithm = *algorithm;
            let is_mutual = mutual.is_some();
            if let (Some((id, challenge)), Some(expected)) = (mutual, target) {
                let (Some(name), Some(response)) = (get("CHAP_N"), get("CHAP_R")) else {
                    return Err(AuthError::TargetSkippedMutual.into());
                };
                let response =
                    parse_binary(response).map_err(|_| AuthError::Malformed("CHAP_R"))?;
                let name_ok = bool::from(subtle::ConstantTimeEq::ct_eq(
                    name.as_bytes(),
                    expected.user.as_bytes(),
                ));
                if !name_ok || !algorithm.verify(*id, &expected.secret, challenge, &response) {
                    return Err(AuthError::TargetResponseWrong.into());
                }
            }
            event = Some(LoginEvent::Authenticated {
                user: credentials.user.clone(),
                algorithm,
                mutual: is_mutual,
            });
            self.state = AuthState::Done(AuthOutcome::Chap {
                algorithm,
                user: credentials.user.clone(),
                mutual: is_mutual,
            });
        } else if get("CHAP_N").is_some() || get("CHAP_R").is_some() {
            return Err(AuthError::Unexpected("CHAP_R").into());
        }
        if transit && !matches!(self.state, AuthState::Done(_)) {
            // The target let us through without finishing CHAP.
            return Err(AuthError::Unexpected("T bit").into());
        }
        Ok((out, event))
    }
}
