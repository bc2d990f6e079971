//! How a command fails before it produced a response: the logical unit,
//! the mode pages and the reservations share it.

use crate::sense::Sense;

/// Failure of a command before it produced a response.
#[derive(Debug)]
pub(crate) enum Fail {
    Check(Sense),
    /// MEDIUM ERROR sense and the backend error behind it.
    Medium(Sense, String),
    Conflict,
}

impl From<Sense> for Fail {
    fn from(s: Sense) -> Self {
        Self::Check(s)
    }
}
