//! The target's configuration: a TOML file (see `target.example.toml`),
//! command-line overrides, and the embedded default (one 1 GiB RAM LUN on
//! 127.0.0.1:3260). Every error names the file, line and key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use iscsi_login::{ChapCredentials, DigestPolicy, Secret};
use iscsi_scsi::data::AccessState;
use serde::Deserialize;
use toml::Spanned;

mod lio;
mod save;

pub use lio::{LioImport, from_lio};
pub use save::{render, write_atomically};

/// The IQN of the embedded default target.
pub const DEFAULT_TARGET: &str = "iqn.2026-11.rs.iscsi:ram0";
/// The portal of the embedded default.
pub const DEFAULT_PORTAL: &str = "127.0.0.1:3260";
/// Size of the embedded default RAM LUN, bytes (1 GiB).
pub const DEFAULT_SIZE: u64 = 1 << 30;
/// SANITIZE pace of a LUN, bytes a second (128 MiB/s): a sanitize of a
/// 1 GiB LUN takes 8 s and leaves the backend to the other LUNs' I/O.
pub const DEFAULT_SANITIZE_RATE: u64 = 128 << 20;

/// A configuration error with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The file (or `<command line>`).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// The key, dotted (`target[0].lun[1].size`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Where a LUN's blocks live.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backing {
    /// A sparse RAM disk.
    Memory,
    /// A file or block device.
    File(PathBuf),
    /// A Ceph RBD image (`backing = "rbd:POOL/IMAGE"`); needs the `rbd`
    /// feature (on by default) and librbd at run time.
    Rbd(RbdBacking),
}

/// A Ceph RBD image and how to reach its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RbdBacking {
    /// The RADOS pool.
    pub pool: String,
    /// The image in it.
    pub image: String,
    /// `ceph_conf`: the cluster's configuration file; librados' default
    /// search (`$CEPH_CONF`, `/etc/ceph/ceph.conf`) when absent.
    pub conf: Option<PathBuf>,
    /// `ceph_client`: the client id without `client.` (`admin` when
    /// absent).
    pub client: Option<String>,
    /// `ceph_keyring`: the keyring with the client's key; the
    /// configuration's when absent.
    pub keyring: Option<PathBuf>,
}

impl RbdBacking {
    /// `POOL/IMAGE`, or `IMAGE` in pool `rbd` (as the `rbd` tool reads
    /// them), with the cluster found the default way.
    ///
    /// # Errors
    /// What is wrong with `spec`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (pool, image) = spec.split_once('/').unwrap_or(("rbd", spec));
        let ok = |p: &str| !p.is_empty() && !p.contains(['/', '@', '\0']);
        if !ok(pool) || !ok(image) {
            return Err(format!(
                "rbd:{spec}: expected rbd:POOL/IMAGE (no snapshot, no empty names)"
            ));
        }
        Ok(Self {
            pool: pool.to_owned(),
            image: image.to_owned(),
            conf: None,
            client: None,
            keyring: None,
        })
    }
}

impl fmt::Display for RbdBacking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rbd:{}/{}", self.pool, self.image)
    }
}

/// One LUN.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LunConfig {
    /// The LUN number (0–16383).
    pub id: u16,
    /// The storage.
    pub backing: Backing,
    /// Size in bytes (memory: required; file: creates or grows a regular file).
    pub size: Option<u64>,
    /// Logical block size, bytes.
    pub block_size: u32,
    /// Physical block size, bytes: `block_size` times a power of two up to
    /// 2^15 (reported as LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT in READ
    /// CAPACITY(16), SBC-3 §5.16.2); equal to `block_size` by default.
    pub physical_block_size: u32,
    /// Refuse writes.
    pub read_only: bool,
    /// The most bytes a second a SANITIZE writes (0: unpaced).
    pub sanitize_rate: u64,
    /// Unit serial number (VPD 0x80); generated when absent.
    pub serial: Option<String>,
    /// INQUIRY product identification.
    pub product: Option<String>,
}

impl LunConfig {
    /// A RAM LUN of `size` bytes with 512-byte blocks.
    #[must_use]
    pub fn memory(id: u16, size: u64) -> Self {
        Self {
            id,
            backing: Backing::Memory,
            size: Some(size),
            block_size: 512,
            physical_block_size: 512,
            read_only: false,
            sanitize_rate: DEFAULT_SANITIZE_RATE,
            serial: None,
            product: None,
        }
    }

    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: log2 of
    /// `physical_block_size / block_size` (0 when they are equal).
    #[must_use]
    pub fn lbppbe(&self) -> u8 {
        let ratio = (self.physical_block_size / self.block_size.max(1)).max(1);
        u8::try_from(ratio.ilog2()).unwrap_or(0)
    }
}

/// One target.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TargetConfig {
    /// The IQN.
    pub name: String,
    /// TargetAlias.
    pub alias: Option<String>,
    /// The ACL: initiator names allowed to log in. `None` (no `allow`
    /// key) admits every initiator; `Some([])` admits none.
    pub allow: Option<Vec<String>>,
    /// CHAP the initiator must pass.
    pub chap: Option<ChapCredentials>,
    /// The target's credentials for mutual CHAP.
    pub mutual_chap: Option<ChapCredentials>,
    /// LUNs (LUN 0 always exists: added as a 64 MiB RAM LUN when absent).
    pub luns: Vec<LunConfig>,
}

/// A listening address with its portal group tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Portal {
    /// Address and port (IPv4 or IPv6).
    pub address: SocketAddr,
    /// TargetPortalGroupTag; also the target port group (ALUA) and the
    /// relative target port identifier the LUNs report.
    pub group: u16,
    /// The asymmetric access state of the portal's group (SPC-4
    /// §5.15.2.4) at start; every portal of a group names the same.
    pub alua_state: AccessState,
}

/// The `alua_state` names of the configuration file.
pub const ALUA_STATES: [(&str, AccessState); 5] = [
    ("active_optimized", AccessState::ActiveOptimized),
    ("active_non_optimized", AccessState::ActiveNonOptimized),
    ("standby", AccessState::Standby),
    ("unavailable", AccessState::Unavailable),
    ("transitioning", AccessState::Transitioning),
];

/// Limits and operational values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Concurrent TCP connections (beyond: login answered 0x0206).
    pub max_connections: usize,
    /// Concurrent sessions (beyond: 0x0302).
    pub max_sessions: usize,
    /// Time allowed for a login, ms.
    pub login_timeout_ms: u64,
    /// Idle time before a NOP-In ping, ms (0: off).
    pub nop_in_interval_ms: u64,
    /// Time a ping may stay unanswered, ms.
    pub nop_in_timeout_ms: u64,
    /// Commands in flight per session.
    pub queue_depth: u32,
    /// MaxRecvDataSegmentLength the target declares, bytes.
    pub max_recv_data_segment_length: u32,
    /// MaxBurstLength, bytes.
    pub max_burst_length: u32,
    /// FirstBurstLength, bytes.
    pub first_burst_length: u32,
    /// MaxOutstandingR2T.
    pub max_outstanding_r2t: u16,
    /// ImmediateData.
    pub immediate_data: bool,
    /// InitialR2T.
    pub initial_r2t: bool,
    /// HeaderDigest.
    pub header_digest: DigestPolicy,
    /// DataDigest.
    pub data_digest: DigestPolicy,
    /// Seconds sessions get to log out on shutdown.
    pub shutdown_grace_s: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_sessions: 128,
            login_timeout_ms: 15_000,
            nop_in_interval_ms: 30_000,
            nop_in_timeout_ms: 30_000,
            queue_depth: 128,
            max_recv_data_segment_length: 262_144,
            max_burst_length: 1_048_576,
            first_burst_length: 262_144,
            max_outstanding_r2t: 1,
            immediate_data: true,
            initial_r2t: false,
            header_digest: DigestPolicy::Allow,
            data_digest: DigestPolicy::Allow,
            shutdown_grace_s: 5,
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Portals.
    pub portals: Vec<Portal>,
    /// Targets.
    pub targets: Vec<TargetConfig>,
    /// Limits.
    pub limits: Limits,
    /// CHAP for Discovery sessions.
    pub discovery_chap: Option<ChapCredentials>,
    /// Mutual CHAP credentials for Discovery sessions.
    pub discovery_mutual_chap: Option<ChapCredentials>,
    /// Where LUNs keep persistent reservations an initiator asked to
    /// survive power loss (APTPL, SPC-4 §5.7.5), one file per LUN.
    /// [`Config::load`] puts it beside the file: `target.toml` keeps them
    /// in `target.pr/`. `None` (the embedded default): APTPL is refused.
    pub pr_dir: Option<PathBuf>,
    /// The file it was read from ([`Config::load`]); where `config_save`
    /// writes.
    pub path: Option<PathBuf>,
    /// The admin interface's Unix socket (`[admin] socket`). `None`: the
    /// default, [`default_admin_socket`]; an empty path: none.
    pub admin_socket: Option<PathBuf>,
    /// Where to serve metrics in the Prometheus text format
    /// (`[metrics] listen`, `http://ADDRESS/metrics`); `None`: nowhere.
    pub metrics: Option<SocketAddr>,
}

/// Where the admin interface listens unless told otherwise:
/// `/run/iscsi-target/admin.sock` for root, else
/// `$XDG_RUNTIME_DIR/iscsi-target/admin.sock`; `None` for a user without
/// a runtime directory.
#[must_use]
pub fn default_admin_socket() -> Option<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Some(PathBuf::from("/run/iscsi-target/admin.sock"));
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("iscsi-target/admin.sock"))
}

impl Config {
    /// The embedded default: `iqn.2026-11.rs.iscsi:ram0`, one 1 GiB RAM
    /// LUN 0, on 127.0.0.1:3260, no authentication.
    #[must_use]
    pub fn embedded_default() -> Self {
        Self {
            portals: vec![Portal {
                address: SocketAddr::from(([127, 0, 0, 1], 3260)),
                group: 1,
                alua_state: AccessState::ActiveOptimized,
            }],
            targets: vec![TargetConfig {
                name: DEFAULT_TARGET.to_owned(),
                alias: Some("ram0".to_owned()),
                allow: None,
                chap: None,
                mutual_chap: None,
                luns: vec![LunConfig::memory(0, DEFAULT_SIZE)],
            }],
            limits: Limits::default(),
            discovery_chap: None,
            discovery_mutual_chap: None,
            pr_dir: None,
            path: None,
            admin_socket: None,
            metrics: None,
        }
    }

    /// Reads and checks a TOML file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line and key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            key: String::new(),
            message: e.to_string(),
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.pr_dir = Some(path.with_extension("pr"));
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// Parses TOML `text` that came from `file`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line and key.
    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            ConfigError {
                file: file.to_owned(),
                line,
                key: String::new(),
                message: e.message().to_owned(),
            }
        })?;
        let ctx = Ctx { text, file };
        raw.check(&ctx)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |t| t.matches('\n').count() + 1)
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn err<T>(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: impl fmt::Display,
        message: impl fmt::Display,
    ) -> Result<T, ConfigError> {
        Err(ConfigError {
            file: self.file.to_owned(),
            line: span.map_or(0, |s| line_of(self.text, s.start)),
            key: key.to_string(),
            message: message.to_string(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    portal: Vec<RawPortal>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    discovery: Option<RawDiscovery>,
    #[serde(default)]
    target: Vec<RawTarget>,
    #[serde(default)]
    admin: Option<RawAdmin>,
    #[serde(default)]
    metrics: Option<RawMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    socket: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortal {
    address: Spanned<String>,
    #[serde(default = "one")]
    group: u16,
    alua_state: Option<Spanned<String>>,
}

const fn one() -> u16 {
    1
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_connections: Option<usize>,
    max_sessions: Option<usize>,
    login_timeout_ms: Option<u64>,
    nop_in_interval_ms: Option<u64>,
    nop_in_timeout_ms: Option<u64>,
    queue_depth: Option<Spanned<u32>>,
    max_recv_data_segment_length: Option<Spanned<u32>>,
    max_burst_length: Option<Spanned<u32>>,
    first_burst_length: Option<Spanned<u32>>,
    max_outstanding_r2t: Option<Spanned<u16>>,
    immediate_data: Option<bool>,
    initial_r2t: Option<bool>,
    header_digest: Option<Spanned<String>>,
    data_digest: Option<Spanned<String>>,
    shutdown_grace_s: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChap {
    user: String,
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    chap: Option<Spanned<RawChap>>,
    mutual_chap: Option<Spanned<RawChap>>,
    #[serde(default)]
    allow_short_secrets: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Spanned<String>,
    alias: Option<String>,
    allow: Option<Spanned<Vec<String>>>,
    chap: Option<Spanned<RawChap>>,
    mutual_chap: Option<Spanned<RawChap>>,
    #[serde(default)]
    allow_short_secrets: bool,
    #[serde(default)]
    lun: Vec<Spanned<RawLun>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLun {
    id: Spanned<u32>,
    #[serde(default)]
    backing: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    size: Option<Spanned<RawSize>>,
    #[serde(default)]
    block_size: Option<Spanned<u32>>,
    #[serde(default)]
    physical_block_size: Option<Spanned<u32>>,
    sanitize_rate: Option<Spanned<RawSize>>,
    #[serde(default)]
    read_only: bool,
    serial: Option<String>,
    product: Option<String>,
    ceph_conf: Option<Spanned<String>>,
    ceph_client: Option<Spanned<String>>,
    ceph_keyring: Option<Spanned<String>>,
}

/// Checks an iSCSI name (RFC 7143 §4.2.7): `iqn.`, `eui.` or `naa.`
/// format, at most 223 bytes, no spaces or control characters.
///
/// # Errors
/// What is wrong, naming the value.
pub fn check_iscsi_name(name: &str) -> Result<(), String> {
    let prefixed = name.starts_with("iqn.") || name.starts_with("eui.") || name.starts_with("naa.");
    if !prefixed || name.len() > 223 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{name:?} is not an iSCSI name (iqn., eui. or naa., at most 223 bytes, no spaces)"
        ));
    }
    Ok(())
}

/// Whether two optional CHAP credentials are the same user and secret
/// (the secrets compared in constant time).
pub(crate) fn same_chap(a: Option<&ChapCredentials>, b: Option<&ChapCredentials>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.user == b.user && a.secret.ct_eq(&b.secret),
        _ => false,
    }
}

/// Writes `bytes` in the largest binary unit that divides it exactly
/// (`1G`, `64M`, `512K`), else as a number of bytes; [`parse_size`] reads
/// it back.
#[must_use]
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

impl LunConfig {
    /// Checks what the configuration file checks of a LUN: the number,
    /// the block sizes, a size that is a positive multiple of the block
    /// size, a size for a RAM LUN.
    ///
    /// # Errors
    /// What is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.id > 16383 {
            return Err(format!("LUN {} is outside 0..=16383", self.id));
        }
        if !matches!(self.block_size, 512 | 4096) {
            return Err(format!("block size {} is not 512 or 4096", self.block_size));
        }
        let ratio = self.physical_block_size / self.block_size;
        if !self.physical_block_size.is_multiple_of(self.block_size)
            || !ratio.is_power_of_two()
            || ratio > 1 << 15
        {
            return Err(format!(
                "physical block size {} is not the {}-byte block size times a power of two up to 32768",
                self.physical_block_size, self.block_size
            ));
        }
        match self.size {
            None if self.backing == Backing::Memory => Err("a memory LUN needs a size".to_owned()),
            Some(size) if size == 0 || size % u64::from(self.block_size) != 0 => Err(format!(
                "{size} bytes is not a positive multiple of the {}-byte block size",
                self.block_size
            )),
            _ => Ok(()),
        }
    }
}

/// Parses `1024`, `64M`, `1G`, `1.5T`, `512K`, `4096B` (binary units).
///
/// # Errors
/// A message for unparseable sizes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((t, ""), |i| t.split_at(i));
    let factor: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => {
            return Err(format!(
                "{text:?} is not a size (use e.g. 512M, 1G, 2T or bytes)"
            ));
        }
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (use e.g. 512M, 1G, 2T or bytes)"))?;
    if value.is_nan() || value <= 0.0 || !value.is_finite() {
        return Err(format!("{text:?} must be a positive size"));
    }
    Ok((value * factor as f64) as u64)
}

fn digest(
    ctx: &Ctx<'_>,
    value: Option<Spanned<String>>,
    key: &str,
    default: DigestPolicy,
) -> Result<DigestPolicy, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match v.get_ref().as_str() {
        "off" | "none" => Ok(DigestPolicy::Off),
        "allow" => Ok(DigestPolicy::Allow),
        "prefer" => Ok(DigestPolicy::Prefer),
        "require" | "crc32c" => Ok(DigestPolicy::Require),
        other => ctx.err(
            Some(v.span()),
            key,
            format!("{other:?} is not one of off, allow, prefer, require"),
        ),
    }
}

fn chap(
    ctx: &Ctx<'_>,
    raw: Option<Spanned<RawChap>>,
    key: &str,
    allow_short: bool,
) -> Result<Option<ChapCredentials>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let span = raw.span();
    let raw = raw.into_inner();
    let secret = match (raw.secret, raw.secret_file, raw.secret_env) {
        (Some(s), None, None) => s.into_inner(),
        (None, Some(f), None) => {
            let path = f.get_ref().clone();
            std::fs::read_to_string(&path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .or_else(|e| {
                    ctx.err(
                        Some(f.span()),
                        format!("{key}.secret_file"),
                        format!("{path}: {e}"),
                    )
                })?
        }
        (None, None, Some(var)) => match std::env::var(var.get_ref()) {
            Ok(v) => v,
            Err(_) => {
                return ctx.err(
                    Some(var.span()),
                    format!("{key}.secret_env"),
                    format!("environment variable {} is not set", var.get_ref()),
                );
            }
        },
        _ => {
            return ctx.err(
                Some(span),
                key,
                "give exactly one of secret, secret_file, secret_env",
            );
        }
    };
    let secret = if allow_short {
        Secret::new_allow_short(secret)
    } else {
        Secret::new(secret)
    };
    match secret {
        Ok(s) => Ok(Some(ChapCredentials::new(raw.user, s))),
        Err(e) => ctx.err(Some(span), format!("{key}.secret"), e),
    }
}

impl RawConfig {
    fn check(self, ctx: &Ctx<'_>) -> Result<Config, ConfigError> {
        let mut portals = Vec::new();
        for (i, p) in self.portal.into_iter().enumerate() {
            let address: SocketAddr = match p.address.get_ref().parse() {
                Ok(a) => a,
                Err(_) => {
                    return ctx.err(
                        Some(p.address.span()),
                        format!("portal[{i}].address"),
                        format!(
                            "{:?} is not an address:port (IPv6 as [::1]:3260)",
                            p.address.get_ref()
                        ),
                    );
                }
            };
            // A portal without a state takes its group's.
            let inherited = portals
                .iter()
                .find(|o: &&Portal| o.group == p.group)
                .map_or(AccessState::ActiveOptimized, |o| o.alua_state);
            let alua_state = match &p.alua_state {
                None => inherited,
                Some(s) => match ALUA_STATES.iter().find(|(name, _)| name == s.get_ref()) {
                    Some((_, state)) => *state,
                    None => {
                        return ctx.err(
                            Some(s.span()),
                            format!("portal[{i}].alua_state"),
                            format!(
                                "{:?} is not a state: active_optimized, active_non_optimized, standby, unavailable or transitioning",
                                s.get_ref()
                            ),
                        );
                    }
                },
            };
            let group: &[Portal] = &portals;
            if let Some(other) = group
                .iter()
                .find(|o| o.group == p.group && o.alua_state != alua_state)
            {
                return ctx.err(
                    p.alua_state.as_ref().map(Spanned::span),
                    format!("portal[{i}].alua_state"),
                    format!(
                        "portal group {} is already {:?} (portal {})",
                        p.group, other.alua_state, other.address
                    ),
                );
            }
            portals.push(Portal {
                address,
                group: p.group,
                alua_state,
            });
        }
        if portals.is_empty() {
            portals = Config::embedded_default().portals;
        }
        let raw = self.limits.unwrap_or_default();
        let d = Limits::default();
        let bounded = |v: Option<Spanned<u32>>,
                       key: &str,
                       min: u32,
                       max: u32,
                       default: u32|
         -> Result<u32, ConfigError> {
            match v {
                None => Ok(default),
                Some(v) if (min..=max).contains(v.get_ref()) => Ok(*v.get_ref()),
                Some(v) => ctx.err(
                    Some(v.span()),
                    format!("limits.{key}"),
                    format!("{} is outside {min}..={max}", v.get_ref()),
                ),
            }
        };
        let max_24 = (1 << 24) - 1;
        let limits = Limits {
            max_connections: raw.max_connections.unwrap_or(d.max_connections),
            max_sessions: raw.max_sessions.unwrap_or(d.max_sessions),
            login_timeout_ms: raw.login_timeout_ms.unwrap_or(d.login_timeout_ms),
            nop_in_interval_ms: raw.nop_in_interval_ms.unwrap_or(d.nop_in_interval_ms),
            nop_in_timeout_ms: raw.nop_in_timeout_ms.unwrap_or(d.nop_in_timeout_ms),
            queue_depth: bounded(raw.queue_depth, "queue_depth", 1, 4096, d.queue_depth)?,
            max_recv_data_segment_length: bounded(
                raw.max_recv_data_segment_length,
                "max_recv_data_segment_length",
                512,
                max_24,
                d.max_recv_data_segment_length,
            )?,
            max_burst_length: bounded(
                raw.max_burst_length,
                "max_burst_length",
                512,
                max_24,
                d.max_burst_length,
            )?,
            first_burst_length: bounded(
                raw.first_burst_length,
                "first_burst_length",
                512,
                max_24,
                d.first_burst_length,
            )?,
            max_outstanding_r2t: match raw.max_outstanding_r2t {
                None => d.max_outstanding_r2t,
                Some(v) if *v.get_ref() >= 1 => *v.get_ref(),
                Some(v) => {
                    return ctx.err(
                        Some(v.span()),
                        "limits.max_outstanding_r2t",
                        "must be at least 1",
                    );
                }
            },
            immediate_data: raw.immediate_data.unwrap_or(d.immediate_data),
            initial_r2t: raw.initial_r2t.unwrap_or(d.initial_r2t),
            header_digest: digest(
                ctx,
                raw.header_digest,
                "limits.header_digest",
                d.header_digest,
            )?,
            data_digest: digest(ctx, raw.data_digest, "limits.data_digest", d.data_digest)?,
            shutdown_grace_s: raw.shutdown_grace_s.unwrap_or(d.shutdown_grace_s),
        };
        if limits.first_burst_length > limits.max_burst_length {
            return ctx.err(
                None,
                "limits.first_burst_length",
                "must not exceed max_burst_length (RFC 7143 §13.14)",
            );
        }
        let discovery = self.discovery.unwrap_or_default();
        let discovery_chap = chap(
            ctx,
            discovery.chap,
            "discovery.chap",
            discovery.allow_short_secrets,
        )?;
        let discovery_mutual_chap = chap(
            ctx,
            discovery.mutual_chap,
            "discovery.mutual_chap",
            discovery.allow_short_secrets,
        )?;

        let mut targets: Vec<TargetConfig> = Vec::new();
        for (ti, t) in self.target.into_iter().enumerate() {
            let key = format!("target[{ti}]");
            let name = t.name.get_ref().clone();
            if let Err(message) = check_iscsi_name(&name) {
                return ctx.err(Some(t.name.span()), format!("{key}.name"), message);
            }
            if targets.iter().any(|o| o.name == name) {
                return ctx.err(
                    Some(t.name.span()),
                    format!("{key}.name"),
                    "a target with this name is already defined",
                );
            }
            let chap_creds = chap(ctx, t.chap, &format!("{key}.chap"), t.allow_short_secrets)?;
            let mutual = chap(
                ctx,
                t.mutual_chap,
                &format!("{key}.mutual_chap"),
                t.allow_short_secrets,
            )?;
            if mutual.is_some() && chap_creds.is_none() {
                return ctx.err(
                    Some(t.name.span()),
                    format!("{key}.mutual_chap"),
                    "mutual CHAP needs chap too",
                );
            }
            if let (Some(a), Some(b)) = (&chap_creds, &mutual)
                && a.secret.ct_eq(&b.secret)
            {
                return ctx.err(
                    Some(t.name.span()),
                    format!("{key}.mutual_chap"),
                    "must use a secret different from chap's (RFC 7143 §12.1.3)",
                );
            }
            let mut luns: Vec<LunConfig> = Vec::new();
            for (li, lun) in t.lun.into_iter().enumerate() {
                let span = lun.span();
                let mut lun = lun.into_inner();
                let lkey = format!("{key}.lun[{li}]");
                let id = *lun.id.get_ref();
                if id > 16383 {
                    return ctx.err(
                        Some(lun.id.span()),
                        format!("{lkey}.id"),
                        "LUNs are 0..=16383",
                    );
                }
                let id = u16::try_from(id).unwrap_or(0);
                if luns.iter().any(|l| l.id == id) {
                    return ctx.err(
                        Some(lun.id.span()),
                        format!("{lkey}.id"),
                        format!("LUN {id} is defined twice"),
                    );
                }
                let backing = match (
                    lun.backing.as_ref().map(|b| b.get_ref().as_str()),
                    &lun.path,
                ) {
                    (None | Some("memory"), None) => Backing::Memory,
                    (None | Some("file"), Some(p)) => Backing::File(PathBuf::from(p.get_ref())),
                    (Some("memory"), Some(p)) => {
                        return ctx.err(
                            Some(p.span()),
                            format!("{lkey}.path"),
                            "a memory LUN has no path",
                        );
                    }
                    (Some("file"), None) => {
                        return ctx.err(
                            Some(span),
                            format!("{lkey}.path"),
                            "a file LUN needs a path",
                        );
                    }
                    (Some(other), path) if other.starts_with("rbd:") => {
                        let bspan = lun.backing.as_ref().map(Spanned::span);
                        if let Some(p) = path {
                            return ctx.err(
                                Some(p.span()),
                                format!("{lkey}.path"),
                                "an rbd LUN has no path (its image is in the backing)",
                            );
                        }
                        if let Some(s) = &lun.size {
                            return ctx.err(
                                Some(s.span()),
                                format!("{lkey}.size"),
                                "an rbd LUN is the size of its image (grow it with `rbd resize`)",
                            );
                        }
                        let spec = other.strip_prefix("rbd:").unwrap_or(other);
                        let mut rbd = RbdBacking::parse(spec)
                            .or_else(|m| ctx.err(bspan, format!("{lkey}.backing"), m))?;
                        rbd.conf = lun.ceph_conf.take().map(|c| PathBuf::from(c.into_inner()));
                        rbd.client = lun.ceph_client.take().map(Spanned::into_inner);
                        rbd.keyring = lun
                            .ceph_keyring
                            .take()
                            .map(|k| PathBuf::from(k.into_inner()));
                        Backing::Rbd(rbd)
                    }
                    (Some(other), _) => {
                        return ctx.err(
                            lun.backing.as_ref().map(Spanned::span),
                            format!("{lkey}.backing"),
                            format!("{other:?} is not memory, file or rbd:POOL/IMAGE"),
                        );
                    }
                };
                let ceph_key = [&lun.ceph_conf, &lun.ceph_client, &lun.ceph_keyring]
                    .into_iter()
                    .zip(["ceph_conf", "ceph_client", "ceph_keyring"])
                    .find_map(|(v, k)| v.as_ref().map(|v| (v.span(), k)));
                if let Some((kspan, key)) = ceph_key {
                    return ctx.err(
                        Some(kspan),
                        format!("{lkey}.{key}"),
                        "only an rbd LUN (backing = \"rbd:POOL/IMAGE\") has Ceph keys",
                    );
                }
                let size = match lun.size {
                    None => None,
                    Some(s) => {
                        let sspan = s.span();
                        match s.into_inner() {
                            RawSize::Bytes(b) => Some(b),
                            RawSize::Text(t) => Some(parse_size(&t).or_else(|m| {
                                ctx.err(Some(sspan.clone()), format!("{lkey}.size"), m)
                            })?),
                        }
                    }
                };
                let block_size = match lun.block_size {
                    None => 512,
                    Some(b) if matches!(b.get_ref(), 512 | 4096) => *b.get_ref(),
                    Some(b) => {
                        return ctx.err(
                            Some(b.span()),
                            format!("{lkey}.block_size"),
                            "must be 512 or 4096",
                        );
                    }
                };
                let sanitize_rate = match lun.sanitize_rate {
                    None => DEFAULT_SANITIZE_RATE,
                    Some(s) => {
                        let sspan = s.span();
                        match s.into_inner() {
                            RawSize::Bytes(b) => b,
                            RawSize::Text(t) => parse_size(&t).or_else(|m| {
                                ctx.err(Some(sspan), format!("{lkey}.sanitize_rate"), m)
                            })?,
                        }
                    }
                };
                let physical_block_size = match lun.physical_block_size {
                    None => block_size,
                    Some(p) => {
                        let bytes = *p.get_ref();
                        let ratio = bytes / block_size;
                        if bytes % block_size != 0 || !ratio.is_power_of_two() || ratio > 1 << 15 {
                            return ctx.err(
                                Some(p.span()),
                                format!("{lkey}.physical_block_size"),
                                format!("must be the {block_size}-byte block size times a power of two up to 32768"),
                            );
                        }
                        bytes
                    }
                };
                if backing == Backing::Memory && size.is_none() {
                    return ctx.err(
                        Some(span),
                        format!("{lkey}.size"),
                        "a memory LUN needs a size",
                    );
                }
                if let Some(size) = size
                    && (size == 0 || size % u64::from(block_size) != 0)
                {
                    return ctx.err(Some(span), format!("{lkey}.size"), format!("{size} bytes is not a positive multiple of the {block_size}-byte block size"));
                }
                luns.push(LunConfig {
                    id,
                    backing,
                    size,
                    block_size,
                    physical_block_size,
                    read_only: lun.read_only,
                    sanitize_rate,
                    serial: lun.serial,
                    product: lun.product,
                });
            }
            targets.push(TargetConfig {
                name,
                alias: t.alias,
                allow: match t.allow {
                    None => None,
                    Some(list) => {
                        let span = list.span();
                        let list = list.into_inner();
                        if let Some(bad) = list.iter().find_map(|n| check_iscsi_name(n).err()) {
                            return ctx.err(Some(span), format!("{key}.allow"), bad);
                        }
                        Some(list)
                    }
                },
                chap: chap_creds,
                mutual_chap: mutual,
                luns,
            });
        }
        if targets.is_empty() {
            return ctx.err(None, "target", "at least one [[target]] is needed");
        }
        let metrics = match self.metrics.and_then(|m| m.listen) {
            None => None,
            Some(listen) => match listen.get_ref().parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    return ctx.err(
                        Some(listen.span()),
                        "metrics.listen",
                        format!(
                            "{:?} is not an address:port (e.g. 127.0.0.1:9465)",
                            listen.get_ref()
                        ),
                    );
                }
            },
        };
        Ok(Config {
            portals,
            targets,
            limits,
            discovery_chap,
            discovery_mutual_chap,
            pr_dir: None,
            path: None,
            admin_socket: self.admin.and_then(|a| a.socket).map(PathBuf::from),
            metrics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../target.example.toml");
        let c = Config::parse(text, "target.example.toml").unwrap();
        assert_eq!(c.portals.len(), 2);
        assert!(c.portals[1].address.is_ipv6());
        assert_eq!(c.targets.len(), 2);
        assert!(c.targets[1].chap.is_some());
        assert!(c.targets[1].mutual_chap.is_some());
        assert_eq!(c.targets[0].luns[0].size, Some(1 << 30));
        assert!(matches!(c.targets[1].luns[0].backing, Backing::File(_)));
        assert_eq!(c.limits.max_burst_length, 1_048_576);
        assert_eq!(c.targets[0].luns[0].physical_block_size, 4096);
        assert_eq!(c.targets[0].luns[0].lbppbe(), 3);
        assert_eq!(c.targets[1].luns[0].lbppbe(), 0);
    }

    #[test]
    fn portal_groups_have_one_alua_state() {
        let text = "[[portal]]\naddress = \"127.0.0.1:3260\"\ngroup = 1\n\
                    [[portal]]\naddress = \"127.0.0.1:3261\"\ngroup = 2\nalua_state = \"standby\"\n\
                    [[portal]]\naddress = \"127.0.0.1:3262\"\ngroup = 2\n";
        let target = "[[target]]\nname = \"iqn.2026-11.x:y\"\n";
        let c = Config::parse(&format!("{text}{target}"), "t.toml").unwrap();
        let states: Vec<_> = c.portals.iter().map(|p| p.alua_state).collect();
        assert_eq!(
            states,
            [
                AccessState::ActiveOptimized,
                AccessState::Standby,
                AccessState::Standby
            ]
        );
        let e = Config::parse(
            &format!("{text}[[portal]]\naddress = \"127.0.0.1:3263\"\ngroup = 2\nalua_state = \"unavailable\"\n{target}"),
            "t.toml",
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (14, "portal[3].alua_state"));
        let e = Config::parse(
            "[[portal]]\naddress = \"127.0.0.1:1\"\nalua_state = \"asleep\"\n",
            "t.toml",
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "portal[0].alua_state"));
    }

    #[test]
    fn physical_block_size_is_a_power_of_two_multiple() {
        let lun = |extra: &str| {
            format!(
                "[[target]]\nname = \"iqn.x\"\n[[target.lun]]\nid = 0\nsize = \"1M\"\n{extra}\n"
            )
        };
        let c = Config::parse(&lun("physical_block_size = 2048"), "t.toml").unwrap();
        assert_eq!(c.targets[0].luns[0].lbppbe(), 2);
        for bad in [
            "physical_block_size = 1536",
            "physical_block_size = 256",
            "block_size = 4096\nphysical_block_size = 512",
        ] {
            let e = Config::parse(&lun(bad), "t.toml").unwrap_err();
            assert_eq!(e.key, "target[0].lun[0].physical_block_size", "{bad}: {e}");
            assert_eq!(e.line, 6 + bad.matches('\n').count(), "{bad}: {e}");
        }
    }

    #[test]
    fn rbd_luns_name_their_image_and_cluster() {
        let text = "[[target]]\nname = \"iqn.2026-12.x:y\"\n\n[[target.lun]]\nid = 0\n\
            backing = \"rbd:pool1/img\"\nceph_conf = \"/etc/ceph/c.conf\"\n\
            ceph_client = \"iscsi\"\nceph_keyring = \"/etc/ceph/k\"\n\n\
            [[target.lun]]\nid = 1\nbacking = \"rbd:img2\"\nblock_size = 4096\n";
        let c = Config::parse(text, "t.toml").unwrap();
        let Backing::Rbd(rbd) = &c.targets[0].luns[0].backing else {
            panic!("{:?}", c.targets[0].luns[0].backing)
        };
        assert_eq!((rbd.pool.as_str(), rbd.image.as_str()), ("pool1", "img"));
        assert_eq!(rbd.conf.as_deref(), Some(Path::new("/etc/ceph/c.conf")));
        assert_eq!(rbd.client.as_deref(), Some("iscsi"));
        assert_eq!(rbd.keyring.as_deref(), Some(Path::new("/etc/ceph/k")));
        assert_eq!(rbd.to_string(), "rbd:pool1/img");
        let Backing::Rbd(rbd) = &c.targets[0].luns[1].backing else {
            panic!()
        };
        assert_eq!((rbd.pool.as_str(), rbd.conf.as_ref()), ("rbd", None));
        for (lun, line, key, says) in [
            ("backing = \"rbd:p/i@snap\"", 6, "backing", "rbd:POOL/IMAGE"),
            (
                "backing = \"rbd:p/i\"\nsize = \"1G\"",
                7,
                "size",
                "rbd resize",
            ),
            ("backing = \"rbd:p/i\"\npath = \"/x\"", 7, "path", "no path"),
            (
                "size = \"1G\"\nceph_conf = \"/c\"",
                7,
                "ceph_conf",
                "only an rbd LUN",
            ),
        ] {
            let text = format!(
                "[[target]]\nname = \"iqn.2026-12.x:y\"\n\n[[target.lun]]\nid = 0\n{lun}\n"
            );
            let e = Config::parse(&text, "t.toml").unwrap_err();
            assert_eq!(
                (e.line, e.key.as_str()),
                (line, &*format!("target[0].lun[0].{key}")),
                "{e}"
            );
            assert!(e.message.contains(says), "{e}");
        }
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let text =
            "[[target]]\nname = \"iqn.2026-11.x:y\"\n\n[[target.lun]]\nid = 0\nsize = \"12Q\"\n";
        let e = Config::parse(text, "t.toml").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.key.as_str()),
            ("t.toml", 6, "target[0].lun[0].size")
        );
        assert_eq!(
            e.to_string(),
            "t.toml:6: target[0].lun[0].size: \"12Q\" is not a size (use e.g. 512M, 1G, 2T or bytes)"
        );
        let e = Config::parse("[limits]\nmax_burst_length = 12\n", "t.toml").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "limits.max_burst_length"));
        let e = Config::parse("[limits]\nbogus = 1\n", "t.toml").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown field"), "{e}");
        let e = Config::parse(
            "[[target]]\nname = \"iqn.x\"\nchap = { user = \"u\", secret = \"short\" }\n",
            "t.toml",
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "target[0].chap.secret"));
        let e = Config::parse(
            "[[portal]]\naddress = \"nowhere\"\n[[target]]\nname = \"iqn.x\"\n",
            "t.toml",
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "portal[0].address"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bytes in [1 << 30, 64 << 20, 1536, 4096, 3 << 40, 1000] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes), "{bytes}");
        }
        assert_eq!(format_size(64 << 20), "64M");
        assert_eq!(format_size(1000), "1000");
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("lots").is_err());
    }
}
