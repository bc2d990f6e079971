//! iSCSI URLs as libiscsi and QEMU write them:
//! `iscsi://[user[%secret]@]host[:port]/target-iqn/lun`, and portals
//! `host[:port]`.

use core::fmt;

/// The iSCSI port (RFC 7143 §4.2.1).
pub const DEFAULT_PORT: u16 = 3260;

/// A URL or portal that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `iscsi://`.
    #[error("{0:?} does not start with iscsi://")]
    Scheme(String),
    /// No host.
    #[error("no host in {0:?}")]
    Host(String),
    /// A port outside 1–65535.
    #[error("port {0:?} is not in 1..=65535")]
    Port(String),
    /// No target name.
    #[error("no target name in {0:?} (iscsi://host[:port]/iqn.../lun)")]
    Target(String),
    /// A LUN that is not a number in 0–16383.
    #[error("LUN {0:?} is not a number in 0..=16383")]
    Lun(String),
}

/// A portal: host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Portal {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port, 1–65535.
    pub port: u16,
}

impl Portal {
    /// A portal.
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`, optionally
    /// written as a URL without a target: `iscsi://host:port/`.
    ///
    /// # Errors
    /// [`UrlError::Host`] or [`UrlError::Port`] (a port outside 1–65535 is
    /// refused before any connection is tried).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let text = text.trim();
        let text = text
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("iscsi://"))
            .and_then(|_| text.get(8..))
            .map_or(text, |rest| rest.strip_suffix('/').unwrap_or(rest));
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| UrlError::Host(text.to_owned()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(UrlError::Host(text.to_owned())),
            };
            (host, port)
        } else if text.matches(':').count() > 1 {
            // A bare IPv6 address.
            (text, None)
        } else {
            match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        if host.is_empty() || host.contains(|c: char| c == '/' || c == '@' || c.is_whitespace()) {
            return Err(UrlError::Host(text.to_owned()));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => {
                    u16::try_from(n).map_err(|_| UrlError::Port(p.to_owned()))?
                }
                _ => return Err(UrlError::Port(p.to_owned())),
            },
        };
        Ok(Self::new(host, port))
    }

    /// `host:port` for connecting (IPv6 in brackets).
    #[must_use]
    pub fn socket_text(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Portal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.socket_text())
    }
}

/// A parsed `iscsi://` URL.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IscsiUrl {
    /// The portal.
    pub portal: Portal,
    /// The target name.
    pub target: String,
    /// The LUN (0 when the URL has none).
    pub lun: u16,
    /// CHAP user.
    pub user: Option<String>,
    /// CHAP secret (never printed by `Debug` or `Display`).
    pub secret: Option<String>,
    /// Query parameters (`target_user`, `target_password`, `header_digest`, ...).
    pub query: Vec<(String, String)>,
}

impl fmt::Debug for IscsiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IscsiUrl({self})")
    }
}

impl fmt::Display for IscsiUrl {
    /// The URL with the secret and any password left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("iscsi://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        write!(f, "{}/{}/{}", self.portal, self.target, self.lun)
    }
}

impl IscsiUrl {
    /// Parses a URL.
    ///
    /// # Errors
    /// [`UrlError`] naming what is missing or wrong.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let rest = text
            .strip_prefix("iscsi://")
            .ok_or_else(|| UrlError::Scheme(text.to_owned()))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((c, r)) => (Some(c), r),
            None => (None, rest),
        };
        let (user, secret) = match credentials {
            Some(c) => match c.split_once('%') {
                Some((u, s)) => (Some(u.to_owned()), Some(s.to_owned())),
                None => (Some(c.to_owned()), None),
            },
            None => (None, None),
        };
        let (portal, path) = rest
            .split_once('/')
            .ok_or_else(|| UrlError::Target(text.to_owned()))?;
        let portal = Portal::parse(portal)?;
        let (target, lun) = match path.rsplit_once('/') {
            Some((t, l)) if !t.is_empty() => (t, Some(l)),
            _ => (path.trim_end_matches('/'), None),
        };
        if target.is_empty() {
            return Err(UrlError::Target(text.to_owned()));
        }
        let lun = match lun {
            None | Some("") => 0,
            Some(l) => match l.parse::<u16>() {
                Ok(n) if n <= 16383 => n,
                _ => return Err(UrlError::Lun(l.to_owned())),
            },
        };
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (p.to_owned(), String::new()),
            })
            .collect();
        Ok(Self {
            portal,
            target: target.to_owned(),
            lun,
            user,
            secret,
            query,
        })
    }

    /// A query parameter.
    #[must_use]
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_libiscsi_writes_them() {
        let u = IscsiUrl::parse("iscsi://alice%s3cret@10.0.0.1:3261/iqn.2026-11.x:disk/3").unwrap();
        assert_eq!(u.portal, Portal::new("10.0.0.1", 3261));
        assert_eq!((u.target.as_str(), u.lun), ("iqn.2026-11.x:disk", 3));
        assert_eq!(
            (u.user.as_deref(), u.secret.as_deref()),
            (Some("alice"), Some("s3cret"))
        );
        assert_eq!(
            u.to_string(),
            "iscsi://alice@10.0.0.1:3261/iqn.2026-11.x:disk/3"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
        let u = IscsiUrl::parse("iscsi://[::1]/iqn.x:y?target_user=t&target_password=p").unwrap();
        assert_eq!(
            (u.portal.host.as_str(), u.portal.port, u.lun),
            ("::1", 3260, 0)
        );
        assert_eq!(u.param("target_user"), Some("t"));
        let u = IscsiUrl::parse("iscsi://h/iqn.x:y/").unwrap();
        assert_eq!(u.lun, 0);
        assert!(IscsiUrl::parse("http://h/iqn/0").is_err());
        assert!(matches!(
            IscsiUrl::parse("iscsi://h"),
            Err(UrlError::Target(_))
        ));
        assert!(matches!(
            IscsiUrl::parse("iscsi://h/iqn.x/99999"),
            Err(UrlError::Lun(_))
        ));
    }

    #[test]
    fn port_range_is_checked_before_connecting() {
        assert_eq!(Portal::parse("nas:3260").unwrap(), Portal::new("nas", 3260));
        assert_eq!(Portal::parse("nas").unwrap().port, 3260);
        assert_eq!(
            Portal::parse("iscsi://nas:3261/").unwrap(),
            Portal::new("nas", 3261)
        );
        assert_eq!(
            Portal::parse("ISCSI://[::1]").unwrap(),
            Portal::new("::1", 3260)
        );
        assert!(Portal::parse("iscsi://nas/iqn.x/0").is_err());
        assert_eq!(
            Portal::parse("[fe80::1]:860").unwrap(),
            Portal::new("fe80::1", 860)
        );
        assert_eq!(Portal::parse("fe80::1").unwrap().host, "fe80::1");
        for bad in ["nas:0", "nas:65536", "nas:-1", "nas:x", ":3260", "[::1]x"] {
            assert!(Portal::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(Portal::parse("nas:70000"), Err(UrlError::Port(_))));
    }
}
