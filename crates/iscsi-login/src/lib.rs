//! # iscsi-login: the iSCSI login phase, sans-IO
//!
//! Both roles of the login phase (RFC 7143 §6.3, §11.12, §11.13): stages and
//! transitions, every key of RFC 7143 §13 with its negotiation rule
//! ([`keys::KEYS`]), and CHAP authentication (RFC 1994, RFC 7143 §12.1.3)
//! one-way or mutual, with MD5, SHA-1, SHA-256 and SHA3-256.
//!
//! What it does not do: sockets, timers, randomness, or anything after
//! login. The machines take parsed Login PDUs (from `iscsi-pdu`) and return
//! the PDUs to send and events; challenges come from an injected
//! [`ChallengeSource`]; what only the deployment knows (which targets exist,
//! who may log in, which secrets apply) comes from a [`TargetPolicy`].
//!
//! ## The run loop
//!
//! After every `handle_pdu`, drain `poll_transmit` and `poll_event` until
//! both are `None`:
//!
//! ```
//! use iscsi_login::{
//!     AuthConfig, FixedChallengeSource, InitiatorLogin, InitiatorLoginConfig, LoginEvent,
//!     TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy,
//! };
//! use iscsi_pdu::{Isid, Tsih};
//!
//! struct OneTarget;
//! impl TargetPolicy for OneTarget {
//!     fn target(&self, name: &str) -> TargetLookup {
//!         if name == "iqn.2026-11.rs.iscsi:ram0" {
//!             TargetLookup::Found { auth: AuthConfig::none(), alias: None }
//!         } else {
//!             TargetLookup::NotFound
//!         }
//!     }
//! }
//!
//! let config = InitiatorLoginConfig::normal(
//!     "iqn.2026-11.rs.iscsi:client", "iqn.2026-11.rs.iscsi:ram0", Isid::random(0x12345, 0));
//! let mut initiator = InitiatorLogin::new(config, Box::new(FixedChallengeSource::new(1)));
//! let mut target = TargetLogin::new(TargetLoginConfig::default(), Box::new(FixedChallengeSource::new(2)));
//!
//! let mut params = None;
//! while let Some(request) = initiator.poll_transmit() {
//!     target.handle_pdu(&request, &OneTarget)?;
//!     while let Some(event) = target.poll_event() {
//!         // The deployment registers the session and names it.
//!         if let LoginEvent::SessionRequested(_) = event { target.accept_session(Tsih(1))?; }
//!     }
//!     while let Some(response) = target.poll_transmit() {
//!         initiator.handle_pdu(&response)?;
//!     }
//!     while let Some(event) = initiator.poll_event() {
//!         if let LoginEvent::Complete(p) = event { params = Some(p); }
//!     }
//! }
//! let params = params.expect("login completes");
//! assert_eq!(params.tsih, Tsih(1));
//! assert_eq!(params.max_burst_length, 1_048_576);
//! # Ok::<(), iscsi_login::LoginError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod chap;
mod error;
mod initiator;
mod initiator_auth;
pub mod keys;
mod negotiation;
mod params;
mod target;
mod target_auth;
mod text;
mod value;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests;

#[cfg(feature = "os-rng")]
pub use chap::OsChallengeSource;
pub use chap::{
    ChallengeSource, ChapAlgorithm, ChapCredentials, FixedChallengeSource, Secret, SecretError,
};
pub use error::{AuthError, LoginError, Violation};
pub use initiator::{InitiatorAuth, InitiatorLogin, InitiatorLoginConfig, refused_status};
pub use keys::Key;
pub use params::{
    AuthOutcome, DigestPolicy, OperationalConfig, SessionParams, SessionType, TaskReporting,
};
pub use target::{AuthConfig, TargetLogin, TargetLoginConfig, TargetLookup, TargetPolicy};

use iscsi_pdu::{LoginStage, LoginStatus};

/// What a login machine reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginEvent {
    /// The login moved to another stage.
    StageChanged {
        /// The stage left.
        from: LoginStage,
        /// The stage entered.
        to: LoginStage,
    },
    /// CHAP succeeded.
    Authenticated {
        /// The initiator's CHAP_N.
        user: String,
        /// The algorithm used.
        algorithm: ChapAlgorithm,
        /// Whether the target proved itself too.
        mutual: bool,
    },
    /// Target only: the initiator asked for the full-feature phase and the
    /// parameters are settled (TSIH still 0). The deployment registers the
    /// session — reinstating one with the same InitiatorName and ISID
    /// (RFC 7143 §6.3.5) — and answers with
    /// [`TargetLogin::accept_session`] or [`TargetLogin::refuse_session`].
    SessionRequested(Box<SessionParams>),
    /// Full feature phase reached.
    Complete(Box<SessionParams>),
    /// The login failed with this status.
    Failed {
        /// The status sent (target) or received / implied (initiator).
        status: LoginStatus,
        /// Why.
        reason: String,
    },
}
