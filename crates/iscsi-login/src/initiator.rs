//! The initiator side of login: [`InitiatorLogin`].

use std::collections::VecDeque;

use iscsi_pdu::text::TextPairs;
use iscsi_pdu::{
    Bhs, Cid, CmdSn, ISCSI_VERSION, Isid, Itt, LoginRequest, LoginResponse, LoginStage,
    LoginStatus, Pdu, PduBuf, StatSn, Tsih,
};

use crate::LoginEvent;
use crate::chap::{ChallengeSource, ChapAlgorithm, ChapCredentials};
use crate::error::{LoginError, Violation};
use crate::initiator_auth::InitiatorAuthentication;
use crate::keys::Key;
use crate::negotiation::{Negotiator, Role, Stage};
use crate::params::{OperationalConfig, SessionParams, SessionType};
use crate::text::{Incoming, LOGIN_SEGMENT_LIMIT, MAX_LOGIN_PDUS, Outgoing};
use crate::value::Value;

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
    auth: InitiatorAuthentication,
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
        let auth = InitiatorAuthentication::new(config.auth.clone());
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
            auth,
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
        match self.auth.auth_method() {
            Some(methods) => {
                pairs.push(("AuthMethod".to_owned(), methods.to_owned()));
                self.stage = LoginStage::SECURITY_NEGOTIATION;
                self.send(&pairs, Some(LoginStage::OPERATIONAL_NEGOTIATION));
            }
            None => {
                self.stage = LoginStage::OPERATIONAL_NEGOTIATION;
                pairs.extend(self.operational_offers());
                self.send(&pairs, Some(LoginStage::FULL_FEATURE_PHASE));
            }
        }
    }

    fn operational_offers(&mut self) -> Vec<(String, String)> {
        self.negotiator.declare(
            Key::MaxRecvDataSegmentLength,
            &Value::Numerical(self.config.operational.max_recv_data_segment_length.into()),
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
            let (replies, event) =
                self.auth
                    .handle(&security, h.transit, self.challenges.as_mut())?;
            auth_replies = replies;
            self.events.extend(event);
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
        let transit = match (self.auth.awaits_target(), stage) {
            (true, Stage::Security) => None,
            (_, Stage::Security) => Some(LoginStage::OPERATIONAL_NEGOTIATION),
            (_, Stage::Operational) => Some(LoginStage::FULL_FEATURE_PHASE),
        };
        self.send(&out, transit);
        Ok(())
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
        params.auth = self.auth.outcome();
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
