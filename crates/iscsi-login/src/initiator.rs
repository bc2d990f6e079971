//! The initiator side of login: [`InitiatorLogin`].

use std::collections::VecDeque;

use iscsi_pdu::text::{TextPairs, encode_hex, parse_binary, parse_numerical};
use iscsi_pdu::{
    Bhs, Cid, CmdSn, ISCSI_VERSION, Isid, Itt, LoginRequest, LoginResponse, LoginStage,
    LoginStatus, Pdu, PduBuf, StatSn, Tsih,
};

use crate::LoginEvent;
use crate::chap::{
    ChallengeSource, ChapAlgorithm, ChapCredentials, MAX_CHALLENGE_LEN, challenge_len,
};
use crate::error::{AuthError, LoginError, Violation};
use crate::keys::Key;
use crate::negotiation::{Negotiator, Role, Stage};
use crate::params::{AuthOutcome, OperationalConfig, SessionParams, SessionType};
use crate::text::{Incoming, LOGIN_SEGMENT_LIMIT, MAX_LOGIN_PDUS, Outgoing};

/// How the initiator authenticates.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum InitiatorAuth {
    /// No authentication: the security stage is skipped.
    #[default]
    None,
    /// CHAP.
    Chap {
        /// The initiator's CHAP_N and secret.
        credentials: ChapCredentials,
        /// For mutual CHAP: the user name and secret the target must prove.
        target: Option<ChapCredentials>,
        /// Algorithms offered in CHAP_A, in order of preference.
        algorithms: Vec<ChapAlgorithm>,
    },
}

impl InitiatorAuth {
    /// One-way CHAP offering every algorithm, strongest first.
    #[must_use]
    pub fn chap(credentials: ChapCredentials) -> Self {
        Self::Chap {
            credentials,
            target: None,
            algorithms: ChapAlgorithm::ALL.to_vec(),
        }
    }

    /// Mutual CHAP offering every algorithm.
    ///
    /// # Errors
    /// [`crate::chap::SecretError::SameSecretBothWays`] for equal secrets.
    pub fn mutual_chap(
        credentials: ChapCredentials,
        target: ChapCredentials,
    ) -> Result<Self, crate::chap::SecretError> {
        if credentials.secret.ct_eq(&target.secret) {
            return Err(crate::chap::SecretError::SameSecretBothWays);
        }
        Ok(Self::Chap {
            credentials,
            target: Some(target),
            algorithms: ChapAlgorithm::ALL.to_vec(),
        })
    }

    /// The same authentication offering only `algorithms` (in this order).
    #[must_use]
    pub fn with_algorithms(self, algorithms: &[ChapAlgorithm]) -> Self {
        match self {
            Self::None => Self::None,
            Self::Chap {
                credentials,
                target,
                ..
            } => Self::Chap {
                credentials,
                target,
                algorithms: algorithms.to_vec(),
            },
        }
    }
}

/// Everything the initiator needs to log in.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InitiatorLoginConfig {
    /// InitiatorName (an iqn./eui./naa. name).
    pub initiator_name: String,
    /// InitiatorAlias to declare, if any.
    pub initiator_alias: Option<String>,
    /// TargetName (Normal sessions).
    pub target_name: Option<String>,
    /// SessionType.
    pub session_type: SessionType,
    /// Authentication.
    pub auth: InitiatorAuth,
    /// Operational values to propose.
    pub operational: OperationalConfig,
    /// ISID: a fresh random one per session ([`Isid::random`]).
    pub isid: Isid,
    /// TSIH: 0 for a new session.
    pub tsih: Tsih,
    /// CID.
    pub cid: Cid,
    /// ITT of the login requests.
    pub itt: Itt,
    /// CmdSN of the login requests (and of the first command after login).
    pub cmd_sn: CmdSn,
    /// ExpStatSN of the first Login Request.
    pub exp_stat_sn: StatSn,
}

impl InitiatorLoginConfig {
    /// A Normal session to `target_name`.
    #[must_use]
    pub fn normal(
        initiator_name: impl Into<String>,
        target_name: impl Into<String>,
        isid: Isid,
    ) -> Self {
        Self {
            target_name: Some(target_name.into()),
            ..Self::discovery(initiator_name, isid)
        }
        .with_session_type(SessionType::Normal)
    }

    /// A Discovery session.
    #[must_use]
    pub fn discovery(initiator_name: impl Into<String>, isid: Isid) -> Self {
        Self {
            initiator_name: initiator_name.into(),
            initiator_alias: None,
            target_name: None,
            session_type: SessionType::Discovery,
            auth: InitiatorAuth::None,
            operational: OperationalConfig::default(),
            isid,
            tsih: Tsih::NEW_SESSION,
            cid: Cid(0),
            itt: Itt(0),
            cmd_sn: CmdSn(1),
            exp_stat_sn: StatSn(0),
        }
    }

    /// With another session type.
    #[must_use]
    pub fn with_session_type(mut self, session_type: SessionType) -> Self {
        self.session_type = session_type;
        self
    }

    /// With authentication.
    #[must_use]
    pub fn with_auth(mut self, auth: InitiatorAuth) -> Self {
        self.auth = auth;
        self
    }

    /// With other operational proposals.
    #[must_use]
    pub fn with_operational(mut self, operational: OperationalConfig) -> Self {
        self.operational = operational;
        self
    }
}

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

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    Running,
    Complete,
    Failed,
}

/// The initiator's login state machine (RFC 7143 §6.3, §11.12, §11.13).
///
/// Created with the first Login Request already queued: drain
/// [`poll_transmit`](Self::poll_transmit), send, feed each received PDU to
/// [`handle_pdu`](Self::handle_pdu), and after every call drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event)
/// until both return `None`. [`LoginEvent::Complete`] carries the
/// [`SessionParams`]; an `Err` from `handle_pdu` ends the login (close the
/// connection).
pub struct InitiatorLogin {
    config: InitiatorLoginConfig,
    challenges: Box<dyn ChallengeSource>,
    phase: Phase,
    stage: LoginStage,
    /// T/NSG of the last request sent.
    requested: Option<LoginStage>,
    exp_stat_sn: StatSn,
    pdus: u32,
    negotiator: Negotiator,
    incoming: Incoming,
    outgoing: Outgoing,
    deferred_transit: Option<LoginStage>,
    auth: AuthState,
    received: TextPairs,
    last_response: Option<LoginResponse>,
    transmit: VecDeque<PduBuf>,
    events: VecDeque<LoginEvent>,
}

impl core::fmt::Debug for InitiatorLogin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InitiatorLogin")
            .field("phase", &self.phase)
            .field("stage", &self.stage)
            .field("target_name", &self.config.target_name)
            .finish_non_exhaustive()
    }
}

impl InitiatorLogin {
    /// Starts a login; the first Login Request is ready in
    /// [`poll_transmit`](Self::poll_transmit).
    #[must_use]
    pub fn new(config: InitiatorLoginConfig, challenges: Box<dyn ChallengeSource>) -> Self {
        let mut negotiator = Negotiator::new(Role::Initiator, config.operational.clone());
        negotiator.session_type = config.session_type;
        let mut me = Self {
            exp_stat_sn: config.exp_stat_sn,
            config,
            challenges,
            phase: Phase::Running,
            stage: LoginStage::SECURITY_NEGOTIATION,
            requested: None,
            pdus: 0,
            negotiator,
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            deferred_transit: None,
            auth: AuthState::Done(AuthOutcome::None),
            received: TextPairs::new(),
            last_response: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        };
        me.start();
        me
    }

    fn start(&mut self) {
        let mut pairs = vec![(
            "InitiatorName".to_owned(),
            self.config.initiator_name.clone(),
        )];
        if let Some(alias) = &self.config.initiator_alias {
            pairs.push(("InitiatorAlias".to_owned(), alias.clone()));
        }
        if let Some(target) = &self.config.target_name
            && self.config.session_type == SessionType::Normal
        {
            pairs.push(("TargetName".to_owned(), target.clone()));
        }
        pairs.push((
            "SessionType".to_owned(),
            self.config.session_type.as_str().to_owned(),
        ));
        match &self.config.auth {
            InitiatorAuth::Chap { target, .. } => {
                let methods = if target.is_some() {
                    "CHAP"
                } else {
                    "CHAP,None"
                };
                pairs.push(("AuthMethod".to_owned(), methods.to_owned()));
                self.auth = AuthState::WaitMethod;
                self.stage = LoginStage::SECURITY_NEGOTIATION;
                self.send(&pairs, Some(LoginStage::OPERATIONAL_NEGOTIATION));
            }
            InitiatorAuth::None => {
                self.stage = LoginStage::OPERATIONAL_NEGOTIATION;
                pairs.extend(self.operational_offers());
                self.send(&pairs, Some(LoginStage::FULL_FEATURE_PHASE));
            }
        }
    }

    fn operational_offers(&mut self) -> Vec<(String, String)> {
        self.negotiator.declare(
            Key::MaxRecvDataSegmentLength,
            self.config
                .operational
                .max_recv_data_segment_length
                .to_string(),
        );
        for &key in Negotiator::INITIATOR_OFFERS {
            self.negotiator.offer(key);
        }
        self.negotiator.take_replies()
    }

    /// The next Login Request to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<PduBuf> {
        self.transmit.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LoginEvent> {
        self.events.pop_front()
    }

    /// True once full feature phase is reached.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    /// Every key=value pair the target sent during login, in order,
    /// duplicates kept.
    #[must_use]
    pub fn received_text(&self) -> &TextPairs {
        &self.received
    }

    /// The last Login Response received.
    #[must_use]
    pub fn last_response(&self) -> Option<&LoginResponse> {
        self.last_response.as_ref()
    }

    /// The ExpStatSN the next request carries.
    #[must_use]
    pub const fn exp_stat_sn(&self) -> StatSn {
        self.exp_stat_sn
    }

    /// Handles one PDU received during login.
    ///
    /// # Errors
    /// The login failed: [`LoginError::Refused`] with the target's status,
    /// or a local error (negotiation, authentication, violation); close the
    /// connection.
    pub fn handle_pdu<B: AsRef<[u8]>>(&mut self, pdu: &Pdu<B>) -> Result<(), LoginError> {
        if self.phase != Phase::Running {
            return Err(Violation::AfterEnd.into());
        }
        let result = match pdu.bhs {
            Bhs::LoginResponse(h) => self.handle_response(&h, pdu.data.as_ref()),
            _ => Err(Violation::NotALoginPdu.into()),
        };
        if let Err(e) = &result {
            self.phase = Phase::Failed;
            self.events.push_back(LoginEvent::Failed {
                status: e.status(),
                reason: e.to_string(),
            });
        }
        result
    }

    fn handle_response(&mut self, h: &LoginResponse, data: &[u8]) -> Result<(), LoginError> {
        self.pdus += 1;
        self.last_response = Some(*h);
        if self.pdus > MAX_LOGIN_PDUS {
            return Err(Violation::TooManyPdus.into());
        }
        if !h.status.is_success() {
            let pairs = TextPairs::parse(data).unwrap_or_default();
            for (k, v) in pairs.iter() {
                self.received.push(k, v);
            }
            let moved = matches!(
                h.status,
                LoginStatus::TARGET_MOVED_TEMPORARILY | LoginStatus::TARGET_MOVED_PERMANENTLY
            );
            return Err(match pairs.get("TargetAddress") {
                Some(address) if moved => LoginError::redirected(
                    address,
                    h.status == LoginStatus::TARGET_MOVED_PERMANENTLY,
                ),
                Some(address) => LoginError::refused(h.status, format!("TargetAddress={address}")),
                None if moved => LoginError::refused(h.status, "no TargetAddress given"),
                None => LoginError::refused(h.status, ""),
            });
        }
        if h.version_active != ISCSI_VERSION {
            return Err(Violation::Version.into());
        }
        if h.isid != self.config.isid {
            return Err(Violation::IdentityChanged.into());
        }
        if h.csg != self.stage {
            return Err(Violation::StageMismatch.into());
        }
        if h.transit {
            let Some(asked) = self.requested else {
                return Err(Violation::UnrequestedTransit.into());
            };
            if h.nsg.get() > asked.get() || h.nsg.get() <= self.stage.get() {
                return Err(Violation::UnrequestedTransit.into());
            }
        }
        self.exp_stat_sn = h.stat_sn.next();

        if self.outgoing.pending() {
            if h.transit || !data.is_empty() {
                return Err(Violation::UnrequestedTransit.into());
            }
            self.send_chunk(self.deferred_transit);
            return Ok(());
        }
        let Some(pairs) = self.incoming.push(data, h.continue_bit)? else {
            // Ask for the rest of a continued response with an empty request.
            self.send(&[], None);
            return Ok(());
        };
        for (k, v) in pairs.iter() {
            self.received.push(k, v);
        }
        let pairs = pairs.into_vec();
        let stage = if self.stage == LoginStage::SECURITY_NEGOTIATION {
            Stage::Security
        } else {
            Stage::Operational
        };
        let mut security = Vec::new();
        for (key, value) in &pairs {
            if crate::keys::is_security(key) {
                if stage != Stage::Security {
                    return Err(LoginError::negotiation(
                        key.as_str(),
                        "security keys may only be sent in the security stage",
                    ));
                }
                security.push((key.as_str(), value.as_str()));
            } else {
                self.negotiator.receive(key, value, stage)?;
            }
        }
        let mut auth_replies = Vec::new();
        if stage == Stage::Security {
            auth_replies = self.authenticate(&security, h.transit)?;
        }

        if h.transit {
            let from = self.stage;
            self.stage = h.nsg;
            self.events
                .push_back(LoginEvent::StageChanged { from, to: h.nsg });
            if h.nsg == LoginStage::FULL_FEATURE_PHASE {
                return self.complete(h);
            }
            // Security → operational: propose everything.
            let mut out = self.negotiator.take_replies();
            out.extend(self.operational_offers());
            self.send(&out, Some(LoginStage::FULL_FEATURE_PHASE));
            return Ok(());
        }

        let mut out = self.negotiator.take_replies();
        out.extend(auth_replies);
        let transit = match (&self.auth, stage) {
            (AuthState::WaitChallenge | AuthState::WaitMethod, Stage::Security) => None,
            (_, Stage::Security) => Some(LoginStage::OPERATIONAL_NEGOTIATION),
            (_, Stage::Operational) => Some(LoginStage::FULL_FEATURE_PHASE),
        };
        self.send(&out, transit);
        Ok(())
    }

    /// One batch of the target's security keys. Returns our CHAP keys to send.
    fn authenticate(
        &mut self,
        keys: &[(&str, &str)],
        transit: bool,
    ) -> Result<Vec<(String, String)>, LoginError> {
        let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let InitiatorAuth::Chap {
            credentials,
            target,
            algorithms,
        } = &self.config.auth
        else {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            return Err(AuthError::Unexpected("AuthMethod").into());
        };
        let mut out = Vec::new();
        if let Some(method) = get("AuthMethod") {
            if !matches!(self.auth, AuthState::WaitMethod) {
                return Err(AuthError::Unexpected("AuthMethod").into());
            }
            match method {
                "CHAP" => {
                    let list: Vec<String> =
                        algorithms.iter().map(|a| a.code().to_string()).collect();
                    out.push(("CHAP_A".to_owned(), list.join(",")));
                    self.auth = AuthState::WaitChallenge;
                }
                "None" if target.is_none() => self.auth = AuthState::Done(AuthOutcome::None),
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
            if !matches!(self.auth, AuthState::WaitChallenge) {
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
                self.challenges.fill(&mut our_id);
                let mut ours = vec![0u8; challenge_len(algorithm)];
                // Never send back the target's own challenge (reflection).
                while ours == challenge || ours.iter().all(|b| *b == 0) {
                    self.challenges.fill(&mut ours);
                }
                out.push(("CHAP_I".to_owned(), our_id[0].to_string()));
                out.push(("CHAP_C".to_owned(), encode_hex(&ours)));
                Some((our_id[0], ours))
            } else {
                None
            };
            self.auth = AuthState::WaitResult { algorithm, mutual };
            if transit {
                // The challenge came with the T bit: the target would let us
                // through before it has seen our CHAP_R.
                return Err(AuthError::Unexpected("T bit").into());
            }
            return Ok(out);
        }
        if let AuthState::WaitResult { algorithm, mutual } = &self.auth
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
            self.events.push_back(LoginEvent::Authenticated {
                user: credentials.user.clone(),
                algorithm,
                mutual: is_mutual,
            });
            self.auth = AuthState::Done(AuthOutcome::Chap {
                algorithm,
                user: credentials.user.clone(),
                mutual: is_mutual,
            });
        } else if get("CHAP_N").is_some() || get("CHAP_R").is_some() {
            return Err(AuthError::Unexpected("CHAP_R").into());
        }
        if transit && !matches!(self.auth, AuthState::Done(_)) {
            // The target let us through without finishing CHAP.
            return Err(AuthError::Unexpected("T bit").into());
        }
        Ok(out)
    }

    fn complete(&mut self, h: &LoginResponse) -> Result<(), LoginError> {
        self.negotiator.settle_unanswered();
        let mut params = SessionParams::with_defaults(
            self.config.session_type,
            self.config.initiator_name.clone(),
            self.config.isid,
            self.config.cid,
        );
        params
            .initiator_alias
            .clone_from(&self.config.initiator_alias);
        params.target_name.clone_from(&self.config.target_name);
        params.tsih = h.tsih;
        params.auth = match &self.auth {
            AuthState::Done(outcome) => outcome.clone(),
            _ => AuthOutcome::None,
        };
        params.cmd_sn = self.config.cmd_sn;
        params.exp_cmd_sn = h.exp_cmd_sn;
        params.max_cmd_sn = h.max_cmd_sn;
        params.next_stat_sn = h.stat_sn.next();
        self.negotiator.apply(&mut params)?;
        self.phase = Phase::Complete;
        self.events
            .push_back(LoginEvent::Complete(Box::new(params)));
        Ok(())
    }

    fn send(&mut self, pairs: &[(String, String)], transit: Option<LoginStage>) {
        self.outgoing.set(pairs);
        self.deferred_transit = transit;
        self.send_chunk(transit);
    }

    fn send_chunk(&mut self, transit: Option<LoginStage>) {
        let (data, more) = self.outgoing.next_chunk(LOGIN_SEGMENT_LIMIT);
        let transit = if more { None } else { transit };
        self.requested = transit;
        let req = LoginRequest {
            transit: transit.is_some(),
            continue_bit: more,
            csg: self.stage,
            nsg: transit.unwrap_or(LoginStage::SECURITY_NEGOTIATION),
            version_max: ISCSI_VERSION,
            version_min: ISCSI_VERSION,
            isid: self.config.isid,
            tsih: self.config.tsih,
            itt: self.config.itt,
            cid: self.config.cid,
            cmd_sn: self.config.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
        };
        self.transmit.push_back(Pdu::new(req, data));
    }
}

/// Status a refused login ended with, for callers that only need that.
#[must_use]
pub fn refused_status(error: &LoginError) -> Option<LoginStatus> {
    match error {
        LoginError::Refused { .. } | LoginError::Redirected { .. } => Some(error.status()),
        _ => None,
    }
}
