//! `iscsi probe`: log into a portal and report what happened as JSON, with
//! the fields of the portofcall `/discover` and `/login` answers (and their
//! bugs fixed: fresh ISID, ExpStatSN echoed, Logout sent, continued
//! SendTargets answers read whole, duplicate keys kept in `textPairs`,
//! Rejects reported as Rejects).

use std::collections::BTreeMap;
use std::time::Duration;

use iscsi_login::InitiatorAuth;
use serde::Serialize;

use iscsi_initiator::client::{self, Error, LoginOptions, credentials, login, parse_send_targets};
use iscsi_initiator::session::send_targets;
use iscsi_initiator::url::Portal;

/// What to probe.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// The portal.
    pub portal: Portal,
    /// InitiatorName.
    pub initiator_name: String,
    /// A target to log into (Normal session); `None`: a Discovery session.
    pub target: Option<String>,
    /// CHAP user and secret.
    pub chap: Option<(String, String)>,
    /// Mutual CHAP: the target's user and secret.
    pub mutual: Option<(String, String)>,
    /// The CHAP algorithms to offer, in order; empty: all of
    /// [`iscsi_login::ChapAlgorithm::ALL`], strongest first.
    pub chap_algorithms: Vec<iscsi_login::ChapAlgorithm>,
    /// Time allowed for the whole probe.
    pub timeout: Duration,
    /// Operational proposals (digests, MaxRecvDataSegmentLength, ...).
    pub operational: iscsi_login::OperationalConfig,
}

impl ProbeOptions {
    /// Probe `portal` with a Discovery session and no authentication.
    #[must_use]
    pub fn new(portal: Portal) -> Self {
        Self {
            portal,
            initiator_name: client::DEFAULT_INITIATOR.to_owned(),
            target: None,
            chap: None,
            mutual: None,
            chap_algorithms: Vec::new(),
            timeout: Duration::from_secs(10),
            operational: iscsi_login::OperationalConfig::default(),
        }
    }
}

/// One target in the report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetEntry {
    /// TargetName.
    pub name: String,
    /// TargetAddress values.
    pub addresses: Vec<String>,
}

/// The report (field names as the portofcall API had them, camelCase).
#[derive(Clone, Debug, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProbeReport {
    /// True when the login (and discovery) succeeded.
    pub success: bool,
    /// The host probed.
    pub host: String,
    /// The port probed.
    pub port: u16,
    /// Connect + login time, ms.
    pub rtt: Option<f64>,
    /// True when the peer answered with iSCSI.
    #[serde(rename = "isISCSI")]
    pub is_iscsi: bool,
    /// The login status: code, RFC name and meaning.
    pub login_status: Option<String>,
    /// Status-Class.
    pub login_status_class: Option<u8>,
    /// Status-Detail.
    pub login_status_detail: Option<u8>,
    /// Version-max of the last Login Response.
    pub version_max: Option<u8>,
    /// Version-active of the last Login Response.
    pub version_active: Option<u8>,
    /// TSIH the target assigned.
    pub tsih: Option<u16>,
    /// The ISID used, 12 hex digits (fresh per probe).
    pub session_id: Option<String>,
    /// True when the login succeeded.
    pub authenticated: bool,
    /// True when CHAP was offered.
    pub chap: bool,
    /// True when the target proved itself (mutual CHAP).
    pub mutual_chap: bool,
    /// Session type used: Discovery or Normal.
    pub session_type: String,
    /// What the target said during login (last value per key; CHAP keys left out).
    pub negotiated_params: BTreeMap<String, String>,
    /// The targets found.
    pub targets: Vec<TargetEntry>,
    /// `targets.len()`.
    pub target_count: usize,
    /// What the target said, as ordered `[key, value]` pairs with duplicates
    /// kept: the SendTargets answer of a Discovery probe, the Login
    /// Responses' keys of a Normal one.
    pub text_pairs: Vec<(String, String)>,
    /// The CHAP algorithm the target chose (`MD5`, `SHA-1`, `SHA-256`,
    /// `SHA3-256`), when CHAP was used.
    pub chap_algorithm: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// The kind of failure: unreachable, not-iscsi, login-refused, login-error,
    /// rejected, timeout, error.
    pub error_kind: Option<String>,
}

impl ProbeReport {
    /// The exit code of `iscsi probe` for this report: 0 success, 3
    /// unreachable, 4 not iSCSI, 5 login refused or failed, 6 timeout, 1 other.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self.error_kind.as_deref() {
            None => 0,
            Some("unreachable") => 3,
            Some("not-iscsi") => 4,
            Some("login-refused" | "login-error" | "rejected") => 5,
            Some("timeout") => 6,
            Some(_) => 1,
        }
    }
}

/// The error-kind name of a client error.
#[must_use]
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Unreachable { .. } => "unreachable",
        Error::NotIscsi(_) => "not-iscsi",
        Error::LoginRefused { .. } | Error::Redirected { .. } => "login-refused",
        Error::Login(_) => "login-error",
        Error::Rejected(_) => "rejected",
        Error::Timeout(_) => "timeout",
        _ => "error",
    }
}

/// Probes a portal. Never fails: every outcome is a report.
pub async fn probe(options: &ProbeOptions) -> ProbeReport {
    let mut report = ProbeReport {
        host: options.portal.host.clone(),
        port: options.portal.port,
        chap: options.chap.is_some(),
        session_type: if options.target.is_some() {
            "Normal"
        } else {
            "Discovery"
        }
        .to_owned(),
        ..ProbeReport::default()
    };
    match tokio::time::timeout(options.timeout, run(options, &mut report)).await {
        Ok(Ok(())) => report.success = true,
        Ok(Err(e)) => fail(&mut report, &e),
        Err(_) => fail(&mut report, &Error::Timeout(options.timeout)),
    }
    report.target_count = report.targets.len();
    report
}

fn fail(report: &mut ProbeReport, e: &Error) {
    report.success = false;
    report.error = Some(e.to_string());
    report.error_kind = Some(error_kind(e).to_owned());
    match e {
        Error::LoginRefused { .. } | Error::Redirected { .. } => {
            let Some(status) = e.login_status() else {
                return;
            };
            report.is_iscsi = true;
            report.login_status = Some(status.to_string());
            report.login_status_class = Some(status.class_code());
            report.login_status_detail = Some(status.detail());
        }
        Error::Login(_) | Error::Rejected(_) => report.is_iscsi = true,
        _ => {}
    }
}

async fn run(options: &ProbeOptions, report: &mut ProbeReport) -> Result<(), Error> {
    let mut login_options = match &options.target {
        Some(t) => LoginOptions::normal(options.portal.clone(), t.clone()),
        None => LoginOptions::discovery(options.portal.clone()),
    };
    login_options = login_options
        .with_initiator_name(options.initiator_name.clone())
        .with_timeout(options.timeout)
        .with_operational(options.operational.clone());
    if let Some((user, secret)) = &options.chap {
        let creds = credentials(user, secret)?;
        let mut auth = match &options.mutual {
            Some((tu, ts)) => {
                InitiatorAuth::mutual_chap(creds, credentials(tu, ts)?).map_err(|_| {
                    Error::BadData("mutual CHAP needs two different secrets".to_owned())
                })?
            }
            None => InitiatorAuth::chap(creds),
        };
        if !options.chap_algorithms.is_empty() {
            auth = auth.with_algorithms(&options.chap_algorithms);
        }
        login_options = login_options.with_auth(auth);
    }
    let session = login(&login_options).await?;
    let info = session.login_info().clone();
    report.is_iscsi = true;
    report.authenticated = true;
    report.rtt = Some((info.rtt_ms * 1000.0).round() / 1000.0);
    report.session_id = Some(info.isid.to_string());
    report.mutual_chap = matches!(
        session.params().auth,
        iscsi_login::AuthOutcome::Chap { mutual: true, .. }
    );
    if let Some(h) = info.last_response {
        report.login_status = Some(h.status.to_string());
        report.login_status_class = Some(h.status.class_code());
        report.login_status_detail = Some(h.status.detail());
        report.version_max = Some(h.version_max);
        report.version_active = Some(h.version_active);
        report.tsih = Some(h.tsih.0);
    }
    for (k, v) in info.received.iter() {
        if !k.starts_with("CHAP_") {
            report.negotiated_params.insert(k.to_owned(), v.to_owned());
        }
    }
    report.chap_algorithm = info
        .received
        .get("CHAP_A")
        .and_then(|v| v.parse::<u64>().ok())
        .and_then(iscsi_login::ChapAlgorithm::from_code)
        .map(|a| a.name().to_owned());
    if let Some(target) = &options.target {
        // A Normal session: the login itself is the answer. No Text request:
        // tgtd does not take Text PDUs in a Normal session at all.
        let tpgt = info.received.get("TargetPortalGroupTag").unwrap_or("1");
        report.targets = vec![TargetEntry {
            name: target.clone(),
            addresses: vec![format!("{},{tpgt}", info.peer)],
        }];
        report.text_pairs = pairs_of(&info.received);
    } else {
        let pairs = session.text(send_targets("All")).await?;
        report.targets = parse_send_targets(&pairs)
            .into_iter()
            .map(|t| TargetEntry {
                name: t.name,
                addresses: t.addresses,
            })
            .collect();
        report.text_pairs = pairs_of(&pairs);
    }
    session.logout().await
}

fn pairs_of(pairs: &iscsi_pdu::text::TextPairs) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
