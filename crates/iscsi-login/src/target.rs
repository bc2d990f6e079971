//! The target side of login: [`TargetLogin`].

use std::collections::VecDeque;

use bytes::Bytes;
use iscsi_pdu::{
    Bhs, Cid, ISCSI_VERSION, Isid, Itt, LoginRequest, LoginResponse, LoginStage, LoginStatus, Pdu,
    PduBuf, StatSn, Tsih,
};

use crate::LoginEvent;
use crate::chap::{ChallengeSource, ChapAlgorithm, ChapCredentials, SecretError};
use crate::error::{LoginError, Violation};
use crate::keys::Key;
use crate::negotiation::{Negotiator, Role, Stage};
use crate::params::{OperationalConfig, SessionParams, SessionType};
use crate::target_auth::TargetAuth;
use crate::text::{Incoming, LOGIN_SEGMENT_LIMIT, MAX_LOGIN_PDUS, Outgoing};
use crate::value::Value;

/// Authentication a target (or discovery) requires.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AuthConfig {
    /// CHAP credentials the initiator must prove; `None`: no authentication.
    pub chap: Option<ChapCredentials>,
    /// The target's own credentials, for initiators that ask for mutual CHAP.
    pub mutual: Option<ChapCredentials>,
    /// CHAP algorithms accepted, in the target's order of preference when
    /// the initiator lists several (the initiator's order wins, RFC 7143 §6.2).
    pub algorithms: Vec<ChapAlgorithm>,
}

impl AuthConfig {
    /// No authentication.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// One-way CHAP with every algorithm.
    #[must_use]
    pub fn chap(credentials: ChapCredentials) -> Self {
        Self {
            chap: Some(credentials),
            mutual: None,
            algorithms: ChapAlgorithm::ALL.to_vec(),
        }
    }

    /// Adds the target's credentials for mutual CHAP.
    ///
    /// # Errors
    /// [`crate::chap::SecretError::SameSecretBothWays`] when they equal the
    /// initiator's secret.
    pub fn with_mutual(mut self, target: ChapCredentials) -> Result<Self, SecretError> {
        if let Some(chap) = &self.chap
            && chap.secret.ct_eq(&target.secret)
        {
            return Err(SecretError::SameSecretBothWays);
        }
        self.mutual = Some(target);
        Ok(self)
    }

    /// Restricts the CHAP algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: &[ChapAlgorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }
}

/// What the deployment knows about a TargetName.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TargetLookup {
    /// The target exists.
    Found {
        /// Authentication it requires.
        auth: AuthConfig,
        /// TargetAlias to declare, if any.
        alias: Option<String>,
    },
    /// It existed and was removed (0x0204).
    Removed,
    /// No such target (0x0203).
    NotFound,
    /// It is served elsewhere (0x0101 temporarily, 0x0102 permanently); the
    /// response carries `TargetAddress=address`.
    Redirect {
        /// `host:port,tpgt`.
        address: String,
        /// 0x0102 when true.
        permanent: bool,
    },
}

/// What only the deployment knows, asked by [`TargetLogin`] while it runs
/// (RFC 7143 §11.13.5 statuses in brackets).
pub trait TargetPolicy {
    /// False while the service does not accept logins, e.g. shutting down (0x0301).
    fn accepting_logins(&self) -> bool {
        true
    }

    /// True when the connection limit is reached (0x0206 too many connections).
    fn connection_limit_reached(&self) -> bool {
        false
    }

    /// The target named by TargetName (0x0203 / 0x0204 / redirection).
    fn target(&self, name: &str) -> TargetLookup;

    /// May `initiator` log into `target` (0x0202)?
    fn authorize(&self, target: &str, initiator: &str) -> bool {
        let _ = (target, initiator);
        true
    }

    /// Authentication required for Discovery sessions.
    fn discovery_auth(&self) -> AuthConfig {
        AuthConfig::none()
    }

    /// For a login with TSIH ≠ 0: does that session exist (else 0x020A)?
    fn session_exists(&self, initiator: &str, isid: Isid, tsih: Tsih) -> bool {
        let _ = (initiator, isid, tsih);
        false
    }
}

/// Settings of the target side that do not depend on the initiator.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TargetLoginConfig {
    /// The operational values the target accepts and proposes.
    pub operational: OperationalConfig,
    /// TargetPortalGroupTag of the portal the connection arrived on.
    pub portal_group_tag: u16,
    /// StatSN of the first Login Response.
    pub initial_stat_sn: StatSn,
    /// Commands the target accepts beyond ExpCmdSN (MaxCmdSN = ExpCmdSN + window − 1).
    pub command_window: u32,
}

impl Default for TargetLoginConfig {
    fn default() -> Self {
        Self {
            operational: OperationalConfig::default(),
            portal_group_tag: 1,
            initial_stat_sn: StatSn(1),
            command_window: 64,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    AwaitFirst,
    Running,
    /// [`LoginEvent::SessionRequested`] was emitted; waiting for
    /// [`TargetLogin::accept_session`] or [`TargetLogin::refuse_session`].
    AwaitSession,
    Complete,
    Failed,
}

/// The final Login Response, held until the deployment gives a TSIH.
#[derive(Debug)]
struct PendingSession {
    request: LoginRequest,
    data: Bytes,
    params: SessionParams,
}

/// The identity fixed by the first Login Request.
#[derive(Debug, Clone, Copy, Default)]
struct Identity {
    isid: Isid,
    tsih: Tsih,
    cid: Cid,
}

/// The target's login state machine (RFC 7143 §6.3, §11.12, §11.13).
///
/// Feed it every PDU the connection receives during login with
/// [`handle_pdu`](Self::handle_pdu); after each call drain
/// [`poll_transmit`](Self::poll_transmit) (Login Responses to send, in order)
/// and [`poll_event`](Self::poll_event) until both return `None`. It never
/// touches a socket, clock or RNG: challenges come from the
/// [`ChallengeSource`] it was given, answers about targets and initiators
/// from a [`TargetPolicy`].
///
/// Creating the session is the deployment's decision, not a side effect:
/// when the initiator asks for the full-feature phase the machine emits
/// [`LoginEvent::SessionRequested`] and holds the final Login Response
/// until [`accept_session`](Self::accept_session) gives the TSIH (after the
/// deployment has reinstated or registered the session, RFC 7143 §6.3.5)
/// or [`refuse_session`](Self::refuse_session) gives the status.
///
/// When the login fails, the last PDU to transmit is the Login Response
/// carrying the status; send it, then close the connection. When it
/// succeeds, [`LoginEvent::Complete`] carries the [`SessionParams`].
pub struct TargetLogin {
    config: TargetLoginConfig,
    challenges: Box<dyn ChallengeSource>,
    phase: Phase,
    stage: LoginStage,
    id: Identity,
    stat_sn: StatSn,
    pdus: u32,
    negotiator: Negotiator,
    incoming: Incoming,
    outgoing: Outgoing,
    /// T/NSG to send with the last piece of a split response.
    deferred_transit: Option<LoginStage>,
    auth: TargetAuth,
    initiator_name: String,
    target_name: Option<String>,
    target_alias: Option<String>,
    entered_operational: bool,
    pending_session: Option<PendingSession>,
    transmit: VecDeque<PduBuf>,
    events: VecDeque<LoginEvent>,
}

impl core::fmt::Debug for TargetLogin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TargetLogin")
            .field("phase", &self.phase)
            .field("stage", &self.stage)
            .field("initiator_name", &self.initiator_name)
            .field("target_name", &self.target_name)
            .finish_non_exhaustive()
    }
}

impl TargetLogin {
    /// A target login for one new connection.
    #[must_use]
    pub fn new(config: TargetLoginConfig, challenges: Box<dyn ChallengeSource>) -> Self {
        let negotiator = Negotiator::new(Role::Target, config.operational.clone());
        Self {
            stat_sn: config.initial_stat_sn,
            config,
            challenges,
            phase: Phase::AwaitFirst,
            stage: LoginStage::SECURITY_NEGOTIATION,
            id: Identity::default(),
            pdus: 0,
            negotiator,
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            deferred_transit: None,
            auth: TargetAuth::new(),
            initiator_name: String::new(),
            target_name: None,
            target_alias: None,
            entered_operational: false,
            pending_session: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The next Login Response to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<PduBuf> {
        self.transmit.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LoginEvent> {
        self.events.pop_front()
    }

    /// True once the login succeeded.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.phase == Phase::Complete
    }

    /// True between [`LoginEvent::SessionRequested`] and the deployment's
    /// answer.
    #[must_use]
    pub fn awaits_session(&self) -> bool {
        self.phase == Phase::AwaitSession
    }

    /// True once the login failed.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// The StatSN the next response after login carries.
    #[must_use]
    pub const fn next_stat_sn(&self) -> StatSn {
        self.stat_sn
    }

    /// Handles one PDU received during login.
    ///
    /// # Errors
    /// The login failed; the response carrying [`LoginError::status`] is
    /// queued in [`poll_transmit`](Self::poll_transmit).
    pub fn handle_pdu<B: AsRef<[u8]>>(
        &mut self,
        pdu: &Pdu<B>,
        policy: &dyn TargetPolicy,
    ) -> Result<(), LoginError> {
        match self.phase {
            Phase::Complete | Phase::Failed => return Err(Violation::AfterEnd.into()),
            // The initiator waits for the answer to its last request.
            Phase::AwaitSession => {
                let h = self
                    .pending_session
                    .take()
                    .map_or_else(LoginRequest::default, |p| p.request);
                return Err(self.fail(&h, Violation::StageMismatch.into()));
            }
            Phase::AwaitFirst | Phase::Running => {}
        }
        match pdu.bhs {
            Bhs::LoginRequest(h) => {
                let result = self.handle_login(&h, pdu.data.as_ref(), policy);
                result.map_err(|e| self.fail(&h, e))
            }
            other => {
                let h = LoginRequest {
                    itt: other.itt(),
                    csg: self.stage,
                    isid: self.id.isid,
                    tsih: self.id.tsih,
                    ..LoginRequest::default()
                };
                Err(self.fail(&h, Violation::NotALoginPdu.into()))
            }
        }
    }

    /// Answers a PDU that could not be parsed (0x020B) and ends the login.
    pub fn handle_malformed(&mut self, itt: Itt, error: iscsi_pdu::PduError) -> LoginError {
        let h = LoginRequest {
            itt,
            csg: self.stage,
            isid: self.id.isid,
            tsih: self.id.tsih,
            ..LoginRequest::default()
        };
        self.fail(&h, error.into())
    }

    fn fail(&mut self, h: &LoginRequest, error: LoginError) -> LoginError {
        let status = error.status();
        let mut data = Bytes::new();
        if let LoginError::Redirected { address, .. } = &error {
            let mut buf = bytes::BytesMut::new();
            iscsi_pdu::text::encode_text([("TargetAddress", address.as_str())], &mut buf);
            data = buf.freeze();
        }
        let resp = LoginResponse {
            transit: false,
            continue_bit: false,
            csg: self.stage,
            nsg: LoginStage::SECURITY_NEGOTIATION,
            version_max: ISCSI_VERSION,
            version_active: ISCSI_VERSION,
            isid: h.isid,
            tsih: h.tsih,
            itt: h.itt,
            stat_sn: self.stat_sn,
            exp_cmd_sn: h.cmd_sn,
            max_cmd_sn: h.cmd_sn,
            status,
        };
        self.stat_sn = self.stat_sn.next();
        self.transmit.push_back(Pdu::new(resp, data));
        self.phase = Phase::Failed;
        self.events.push_back(LoginEvent::Failed {
            status,
            reason: error.to_string(),
        });
        error
    }

    fn handle_login(
        &mut self,
        h: &LoginRequest,
        data: &[u8],
        policy: &dyn TargetPolicy,
    ) -> Result<(), LoginError> {
        self.pdus += 1;
        if self.pdus > MAX_LOGIN_PDUS {
            return Err(Violation::TooManyPdus.into());
        }
        let first = self.phase == Phase::AwaitFirst;
        if first {
            if h.version_min > ISCSI_VERSION {
                return Err(Violation::Version.into());
            }
            self.id = Identity {
                isid: h.isid,
                tsih: h.tsih,
                cid: h.cid,
            };
            self.stage = h.csg;
            self.phase = Phase::Running;
        } else {
            if h.isid != self.id.isid || h.tsih != self.id.tsih || h.cid != self.id.cid {
                return Err(Violation::IdentityChanged.into());
            }
            if h.csg != self.stage {
                return Err(Violation::StageMismatch.into());
            }
        }

        // The initiator asks for the rest of a response we split.
        if self.outgoing.pending() {
            if !data.is_empty() || h.continue_bit {
                return Err(Violation::StageMismatch.into());
            }
            return self.send_chunk(h, self.deferred_transit);
        }

        let Some(pairs) = self.incoming.push(data, h.continue_bit)? else {
            // Acknowledge a continued request with an empty response.
            return self.respond(h, &[], None);
        };
        let pairs = pairs.into_vec();

        if first {
            self.identify(h, &pairs, policy)?;
        }

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

        let mut transit = None;
        if stage == Stage::Security {
            let mut replies = Vec::new();
            let event = self
                .auth
                .handle(&security, self.challenges.as_mut(), &mut replies);
            for (key, value) in replies {
                self.negotiator.reply(key, value);
            }
            self.events.extend(event?);
            if h.transit {
                // The initiator moves on without AuthMethod: None applies.
                self.auth.skip()?;
                if self.auth.is_done() {
                    transit = Some(h.nsg);
                }
            }
        } else {
            self.negotiator.clamp_first_burst();
            if !self.entered_operational {
                self.entered_operational = true;
                self.negotiator.declare(
                    Key::MaxRecvDataSegmentLength,
                    &Value::Numerical(self.config.operational.max_recv_data_segment_length.into()),
                );
                self.negotiator.target_offers();
            }
            if h.transit && !self.negotiator.awaiting_answers() {
                transit = Some(h.nsg);
            }
        }
        if let Some(nsg) = transit
            && (nsg == LoginStage::from_wire(2) || nsg.get() <= self.stage.get())
        {
            return Err(Violation::IllegalTransition.into());
        }
        let replies = self.negotiator.take_replies();
        self.respond(h, &replies, transit)
    }

    /// First-PDU checks: names, session type, target, ACL, TSIH.
    fn identify(
        &mut self,
        h: &LoginRequest,
        pairs: &[(String, String)],
        policy: &dyn TargetPolicy,
    ) -> Result<(), LoginError> {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let session_type = match get("SessionType") {
            None => SessionType::Normal,
            Some(v) => SessionType::parse(v).ok_or_else(|| {
                LoginError::refused(
                    LoginStatus::SESSION_TYPE_NOT_SUPPORTED,
                    format!("SessionType={v}"),
                )
            })?,
        };
        self.negotiator.session_type = session_type;
        let initiator = get("InitiatorName")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                LoginError::refused(LoginStatus::MISSING_PARAMETER, "InitiatorName is missing")
            })?;
        self.initiator_name = initiator.to_owned();
        if !policy.accepting_logins() {
            return Err(LoginError::refused(
                LoginStatus::SERVICE_UNAVAILABLE,
                "the target is not accepting logins",
            ));
        }
        if policy.connection_limit_reached() {
            return Err(LoginError::refused(
                LoginStatus::TOO_MANY_CONNECTIONS,
                "the target's connection limit is reached",
            ));
        }
        match session_type {
            SessionType::Discovery => {
                self.auth.require(policy.discovery_auth());
            }
            SessionType::Normal => {
                let target = get("TargetName").filter(|n| !n.is_empty()).ok_or_else(|| {
                    LoginError::refused(
                        LoginStatus::MISSING_PARAMETER,
                        "TargetName is missing in a Normal session",
                    )
                })?;
                match policy.target(target) {
                    TargetLookup::Found { auth, alias } => {
                        self.auth.require(auth);
                        self.target_alias = alias;
                    }
                    TargetLookup::NotFound => {
                        return Err(LoginError::refused(LoginStatus::NOT_FOUND, target));
                    }
                    TargetLookup::Removed => {
                        return Err(LoginError::refused(LoginStatus::TARGET_REMOVED, target));
                    }
                    TargetLookup::Redirect { address, permanent } => {
                        return Err(LoginError::redirected(address, permanent));
                    }
                }
                if !policy.authorize(target, initiator) {
                    return Err(LoginError::refused(
                        LoginStatus::AUTHORIZATION_FAILURE,
                        format!("{initiator} may not log into {target}"),
                    ));
                }
                self.target_name = Some(target.to_owned());
            }
        }
        if h.tsih != Tsih::NEW_SESSION {
            if !policy.session_exists(initiator, h.isid, h.tsih) {
                return Err(LoginError::refused(
                    LoginStatus::SESSION_DOES_NOT_EXIST,
                    format!("no session with TSIH {:#06x}", h.tsih.0),
                ));
            }
            return Err(LoginError::refused(
                LoginStatus::CANT_INCLUDE_IN_SESSION,
                "sessions have one connection (MaxConnections=1)",
            ));
        }
        if self.stage == LoginStage::OPERATIONAL_NEGOTIATION {
            // Security skipped.
            self.auth.skip()?;
        }
        if session_type == SessionType::Normal {
            self.negotiator.declare(
                Key::TargetPortalGroupTag,
                &Value::Numerical(self.config.portal_group_tag.into()),
            );
            if let Some(alias) = self.target_alias.clone() {
                self.negotiator
                    .declare(Key::TargetAlias, &Value::Text(alias));
            }
        }
        Ok(())
    }

    /// Queues the response to `h` carrying `pairs`; `transit` is the NSG to
    /// move to, if the target agrees to move.
    fn respond(
        &mut self,
        h: &LoginRequest,
        pairs: &[(String, String)],
        transit: Option<LoginStage>,
    ) -> Result<(), LoginError> {
        self.outgoing.set(pairs);
        self.deferred_transit = transit;
        self.send_chunk(h, transit)
    }

    fn send_chunk(
        &mut self,
        h: &LoginRequest,
        transit: Option<LoginStage>,
    ) -> Result<(), LoginError> {
        let (data, more) = self.outgoing.next_chunk(LOGIN_SEGMENT_LIMIT);
        // While pieces remain, the target cannot move on (RFC 7143 §11.13.2).
        let transit = if more { None } else { transit };
        if transit == Some(LoginStage::FULL_FEATURE_PHASE) {
            let params = self.settle(h)?;
            self.events
                .push_back(LoginEvent::SessionRequested(Box::new(params.clone())));
            self.pending_session = Some(PendingSession {
                request: *h,
                data,
                params,
            });
            self.phase = Phase::AwaitSession;
            return Ok(());
        }
        self.queue_response(h, data, more, transit, h.tsih, None);
        Ok(())
    }

    /// Ends a login that emitted [`LoginEvent::SessionRequested`]: the
    /// session is registered under `tsih` (never 0); the final Login
    /// Response is queued and [`LoginEvent::Complete`] follows.
    ///
    /// # Errors
    /// [`Violation::AfterEnd`] when no session was requested; TSIH 0 fails
    /// the login with 0x0302 (out of resources).
    pub fn accept_session(&mut self, tsih: Tsih) -> Result<(), LoginError> {
        let Some(pending) = self.pending_session.take() else {
            return Err(Violation::AfterEnd.into());
        };
        if tsih == Tsih::NEW_SESSION {
            return Err(self.fail(
                &pending.request,
                LoginError::refused(LoginStatus::OUT_OF_RESOURCES, "no session slot is free"),
            ));
        }
        let mut params = pending.params;
        params.tsih = tsih;
        self.queue_response(
            &pending.request,
            pending.data,
            false,
            Some(LoginStage::FULL_FEATURE_PHASE),
            tsih,
            Some(params),
        );
        Ok(())
    }

    /// Ends a login that emitted [`LoginEvent::SessionRequested`] with
    /// `status` (e.g. 0x0302 when no session can be added, 0x0301 while
    /// shutting down); the Login Response carrying it is queued.
    ///
    /// Returns the error the login ended with ([`Violation::AfterEnd`] when
    /// no session was requested).
    pub fn refuse_session(&mut self, status: LoginStatus, reason: impl Into<String>) -> LoginError {
        let Some(pending) = self.pending_session.take() else {
            return Violation::AfterEnd.into();
        };
        self.fail(&pending.request, LoginError::refused(status, reason))
    }

    /// Queues one successful Login Response.
    fn queue_response(
        &mut self,
        h: &LoginRequest,
        data: Bytes,
        more: bool,
        transit: Option<LoginStage>,
        tsih: Tsih,
        complete: Option<SessionParams>,
    ) {
        let window = self.config.command_window.max(1);
        let resp = LoginResponse {
            transit: transit.is_some(),
            continue_bit: more,
            csg: self.stage,
            nsg: transit.unwrap_or(LoginStage::SECURITY_NEGOTIATION),
            version_max: ISCSI_VERSION,
            version_active: ISCSI_VERSION,
            isid: h.isid,
            tsih,
            itt: h.itt,
            stat_sn: self.stat_sn,
            exp_cmd_sn: h.cmd_sn,
            max_cmd_sn: h.cmd_sn.add(window - 1),
            status: LoginStatus::SUCCESS,
        };
        self.stat_sn = self.stat_sn.next();
        self.transmit.push_back(Pdu::new(resp, data));
        if let Some(next) = transit {
            self.events.push_back(LoginEvent::StageChanged {
                from: self.stage,
                to: next,
            });
            self.stage = next;
        }
        if let Some(mut params) = complete {
            params.next_stat_sn = self.stat_sn;
            self.phase = Phase::Complete;
            self.events
                .push_back(LoginEvent::Complete(Box::new(params)));
        }
    }

    /// Settles the session's parameters (TSIH still 0).
    fn settle(&mut self, h: &LoginRequest) -> Result<SessionParams, LoginError> {
        self.negotiator.settle_unanswered();
        let auth = self.auth.outcome();
        let window = self.config.command_window.max(1);
        let mut params = SessionParams::with_defaults(
            self.negotiator.session_type,
            self.initiator_name.clone(),
            self.id.isid,
            self.id.cid,
        );
        params.target_name.clone_from(&self.target_name);
        params.target_portal_group_tag = Some(self.config.portal_group_tag);
        params.auth = auth;
        params.cmd_sn = h.cmd_sn;
        params.exp_cmd_sn = h.cmd_sn;
        params.max_cmd_sn = h.cmd_sn.add(window - 1);
        self.negotiator.apply(&mut params)?;
        params.target_alias.clone_from(&self.target_alias);
        Ok(params)
    }
}
