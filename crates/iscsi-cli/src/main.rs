//! `iscsi`: discover, probe, log into and use iSCSI targets.
//!
//! Exit codes: 0 success, 1 other failure, 2 bad arguments, 3 unreachable,
//! 4 not an iSCSI target, 5 login refused or failed, 6 timeout, 7 SCSI or
//! data error.

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool's results go to stdout"
)]

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use iscsi_cli::probe::{ProbeOptions, probe};
use iscsi_initiator::client::{self, Error, LoginOptions, Session, discover, login};
use iscsi_initiator::url::{IscsiUrl, Portal};
use iscsi_login::{ChapAlgorithm, DigestPolicy, InitiatorAuth, OperationalConfig};
use serde::Serialize;

/// mimalloc keeps freed buffers for reuse (large Data-In buffers included).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that ends the program quietly when stdout is closed early
/// (`iscsi ... | head`), as a Unix filter should, instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("iscsi: stdout: {e}");
            std::process::exit(1);
        }
    }};
}

/// Discover, probe, log into and use iSCSI targets (RFC 7143).
#[derive(Parser, Debug)]
#[command(name = "iscsi", version, about, long_about = None, after_help = EXIT_CODES)]
struct Args {
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// InitiatorName to log in with.
    #[arg(long, global = true, default_value = client::DEFAULT_INITIATOR)]
    initiator_name: String,
    /// Time allowed to connect and log in, ms.
    #[arg(long, global = true, default_value_t = 10_000)]
    timeout: u64,
    /// MaxRecvDataSegmentLength to declare, bytes (512 to 16777215).
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(512..=16_777_215))]
    max_recv_data_segment_length: Option<u32>,
    /// Require CRC32C header digests.
    #[arg(long, global = true)]
    header_digest: bool,
    /// Require CRC32C data digests.
    #[arg(long, global = true)]
    data_digest: bool,
    /// CHAP algorithms to offer, in order of preference, comma-separated:
    /// SHA3-256, SHA256, SHA1, MD5 or their CHAP_A numbers 8, 7, 6, 5
    /// [default: all, strongest first].
    #[arg(long, global = true, value_delimiter = ',', value_parser = chap_algorithm)]
    chap_algorithms: Vec<ChapAlgorithm>,
    #[command(subcommand)]
    command: Cmd,
}

const EXIT_CODES: &str = "Exit codes: 0 success, 1 other failure, 2 bad arguments, 3 unreachable, 4 not an iSCSI target, 5 login refused or failed, 6 timeout, 7 SCSI or data error.
Secrets: in the URL (iscsi://user%secret@host/iqn/lun), or with --chap USER and the secret from $ISCSI_SECRET or --secret-file.";

/// CHAP options of portal commands.
#[derive(clap::Args, Debug, Clone)]
struct Chap {
    /// CHAP user name.
    #[arg(long)]
    chap: Option<String>,
    /// Environment variable holding the CHAP secret.
    #[arg(long, default_value = "ISCSI_SECRET")]
    secret_env: String,
    /// File holding the CHAP secret (first line).
    #[arg(long)]
    secret_file: Option<std::path::PathBuf>,
    /// Mutual CHAP: the target's user name (its secret from $ISCSI_TARGET_SECRET).
    #[arg(long)]
    target_user: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the targets a portal offers (SendTargets=All).
    Discover {
        /// The portal: host or host:port (default port 3260)
        portal: String,
        #[command(flatten)]
        chap: Chap,
    },
    /// List targets with their LUNs, sizes and vendors.
    Ls {
        /// The portal: host or host:port (default port 3260)
        portal: String,
        #[command(flatten)]
        chap: Chap,
    },
    /// Log into a portal (Discovery, or Normal with --target) and report.
    Probe {
        /// The portal: host or host:port (default port 3260)
        portal: String,
        /// Log into this target (Normal session).
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        chap: Chap,
    },
    /// INQUIRY: standard data, or a VPD page.
    Inquiry {
        /// `iscsi://[user[%secret]@]host[:port]/iqn/lun`
        url: String,
        /// VPD page code (0x83, 131, ...).
        #[arg(long, value_parser = parse_u8)]
        vpd: Option<u8>,
    },
    /// READ CAPACITY: blocks, block size, bytes.
    Readcap {
        /// iscsi://.../lun
        url: String,
    },
    /// Read blocks (hex dump, or to a file).
    Read {
        /// iscsi://.../lun
        url: String,
        /// First block.
        #[arg(long, default_value_t = 0)]
        lba: u64,
        /// Number of blocks.
        #[arg(long, default_value_t = 1)]
        blocks: u32,
        /// Write the data to this file instead of a hex dump.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Write blocks from a file or a byte pattern.
    Write {
        /// iscsi://.../lun
        url: String,
        /// First block.
        #[arg(long, default_value_t = 0)]
        lba: u64,
        /// Data file (whole blocks).
        #[arg(long, short)]
        input: Option<std::path::PathBuf>,
        /// Fill byte (with --blocks).
        #[arg(long, value_parser = parse_u8)]
        pattern: Option<u8>,
        /// Number of blocks of the pattern.
        #[arg(long)]
        blocks: Option<u32>,
    },
    /// Copy between a local file and a LUN: `if=SRC of=DST [bs=1M] [count=N] [--verify]`.
    Dd {
        /// if=..., of=..., bs=..., count=..., skip=..., seek=... (one side an iscsi:// URL)
        operands: Vec<String>,
        /// Read the data back and compare.
        #[arg(long)]
        verify: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Measure IOPS, throughput and latency.
    Bench {
        /// iscsi://.../lun
        url: String,
        /// read, write, randread or randwrite.
        #[arg(long, default_value = "randread")]
        rw: String,
        /// I/O size, e.g. 4k, 128k.
        #[arg(long, default_value = "4k")]
        bs: String,
        /// Commands in flight.
        #[arg(long, default_value_t = 32)]
        qd: usize,
        /// Duration, seconds.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Span of the LUN used, e.g. 1G (default: all of it).
        #[arg(long)]
        span: Option<String>,
    },
    /// Serve the probe API over HTTP: POST /api/iscsi/discover and
    /// /api/iscsi/login, GET /healthz and /openapi.json.
    ProbeServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8260")]
        listen: std::net::SocketAddr,
        /// Networks probes may connect to, as CIDR (repeatable; default
        /// 127.0.0.0/8 and ::1/128). Names are resolved once and the
        /// address is checked, then connected to.
        #[arg(long = "allow", value_name = "CIDR")]
        allow: Vec<ipnet::IpNet>,
        /// Probes running at once.
        #[arg(long, default_value_t = 16)]
        max_concurrent: usize,
    },
}

fn parse_u8(s: &str) -> Result<u8, String> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u8::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    v.map_err(|_| format!("{s:?} is not a byte (0-255 or 0x00-0xff)"))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t.as_str(), 1),
    };
    num.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n * mult)
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 4k, 1M)"))
}

/// A failure with its exit code.
struct Fail {
    code: u8,
    message: String,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Unreachable { .. } => 3,
            Error::NotIscsi(_) => 4,
            Error::LoginRefused { .. } | Error::Redirected { .. } | Error::Login(_) => 5,
            Error::Timeout(_) => 6,
            Error::Scsi { .. } | Error::Task(_) | Error::BadData(_) | Error::Rejected(_) => 7,
            _ => 1,
        };
        Self {
            code,
            message: e.to_string(),
        }
    }
}

fn bad_args(message: impl Into<String>) -> Fail {
    Fail {
        code: 2,
        message: message.into(),
    }
}

fn io_fail(what: &str, e: &std::io::Error) -> Fail {
    Fail {
        code: 1,
        message: format!("{what}: {e}"),
    }
}

fn secret(chap: &Chap, env: &str) -> Result<String, Fail> {
    if let Some(file) = &chap.secret_file {
        let text =
            std::fs::read_to_string(file).map_err(|e| io_fail(&file.display().to_string(), &e))?;
        return Ok(text.lines().next().unwrap_or("").to_owned());
    }
    std::env::var(env)
        .map_err(|_| bad_args(format!("the CHAP secret: set ${env} or use --secret-file")))
}

fn portal_options(
    args: &Args,
    portal: &str,
    chap: &Chap,
    target: Option<&str>,
) -> Result<LoginOptions, Fail> {
    let portal = Portal::parse(portal).map_err(|e| bad_args(e.to_string()))?;
    let mut o = match target {
        Some(t) => LoginOptions::normal(portal, t),
        None => LoginOptions::discovery(portal),
    }
    .with_initiator_name(args.initiator_name.clone())
    .with_timeout(Duration::from_millis(args.timeout))
    .with_operational(operational(args, OperationalConfig::default()));
    if let Some(user) = &chap.chap {
        let creds = client::credentials(user, &secret(chap, &chap.secret_env)?)?;
        let auth = match &chap.target_user {
            Some(tu) => {
                let ts = std::env::var("ISCSI_TARGET_SECRET")
                    .map_err(|_| bad_args("mutual CHAP: set $ISCSI_TARGET_SECRET"))?;
                InitiatorAuth::mutual_chap(creds, client::credentials(tu, &ts)?)
                    .map_err(|_| bad_args("mutual CHAP needs two different secrets"))?
            }
            None => InitiatorAuth::chap(creds),
        };
        o = o.with_auth(offered(args, auth));
    }
    Ok(o)
}

/// One `--chap-algorithms` entry.
fn chap_algorithm(name: &str) -> Result<ChapAlgorithm, String> {
    ChapAlgorithm::from_name(name).ok_or_else(|| {
        format!("{name:?} is not a CHAP algorithm (SHA3-256, SHA256, SHA1, MD5 or 8, 7, 6, 5)")
    })
}

/// `auth` restricted to `--chap-algorithms`, when given.
fn offered(args: &Args, auth: InitiatorAuth) -> InitiatorAuth {
    if args.chap_algorithms.is_empty() {
        auth
    } else {
        auth.with_algorithms(&args.chap_algorithms)
    }
}

/// The operational proposals the global options ask for, on top of `base`.
fn operational(args: &Args, base: OperationalConfig) -> OperationalConfig {
    let mut o = base;
    if let Some(n) = args.max_recv_data_segment_length {
        o = o.with_max_recv_data_segment_length(n);
    }
    if args.header_digest {
        o = o.with_header_digest(DigestPolicy::Require);
    }
    if args.data_digest {
        o = o.with_data_digest(DigestPolicy::Require);
    }
    o
}

async fn session_for(args: &Args, url: &str) -> Result<(Session, IscsiUrl), Fail> {
    let url = IscsiUrl::parse(url).map_err(|e| bad_args(e.to_string()))?;
    let mut o = LoginOptions::from_url(&url)?
        .with_initiator_name(args.initiator_name.clone())
        .with_timeout(Duration::from_millis(args.timeout));
    o.operational = operational(args, o.operational);
    if url.user.is_some() && url.secret.is_none() {
        let s = std::env::var("ISCSI_SECRET")
            .map_err(|_| bad_args("no secret in the URL: set $ISCSI_SECRET"))?;
        o = o.with_auth(InitiatorAuth::chap(client::credentials(
            url.user.as_deref().unwrap_or(""),
            &s,
        )?));
    }
    o.auth = offered(args, o.auth);
    let session = login(&o).await?;
    session.test_unit_ready(url.lun).await?;
    Ok((session, url))
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => out!("{s}"),
        Err(e) => eprintln!("iscsi: JSON: {e}"),
    }
}

fn main() -> ExitCode {
    // No transparent huge pages: mimalloc asks for them, and faulting in a
    // fresh 2 MiB page (with direct compaction) stalls I/O for milliseconds.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ISCSI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("iscsi: cannot start the runtime");
        return ExitCode::FAILURE;
    };
    match rt.block_on(run(&args)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if args.json {
                print_json(
                    &serde_json::json!({ "success": false, "error": f.message, "exitCode": f.code }),
                );
            } else {
                eprintln!("iscsi: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LunInfo {
    lun: u16,
    blocks: Option<u64>,
    block_size: Option<u32>,
    bytes: Option<u64>,
    vendor: Option<String>,
    product: Option<String>,
    device_type: Option<u8>,
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetInfo {
    name: String,
    addresses: Vec<String>,
    luns: Vec<LunInfo>,
    error: Option<String>,
}

async fn run(args: &Args) -> Result<u8, Fail> {
    match &args.command {
        Cmd::Discover { portal, chap } => {
            let d = discover(&portal_options(args, portal, chap, None)?).await?;
            if args.json {
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Out<'a> {
                    targets: Vec<BTreeMap<&'static str, serde_json::Value>>,
                    target_count: usize,
                    text_pairs: Vec<(&'a str, &'a str)>,
                }
                let targets = d
                    .targets
                    .iter()
                    .map(|t| {
                        BTreeMap::from([
                            ("name", serde_json::json!(t.name)),
                            ("addresses", serde_json::json!(t.addresses)),
                        ])
                    })
                    .collect();
                print_json(&Out {
                    targets,
                    target_count: d.targets.len(),
                    text_pairs: d.pairs.iter().collect(),
                });
            } else {
                for t in &d.targets {
                    out!("{}", t.name);
                    for a in &t.addresses {
                        out!("    {a}");
                    }
                }
            }
            Ok(0)
        }
        Cmd::Ls { portal, chap } => {
            let base = portal_options(args, portal, chap, None)?;
            let d = discover(&base).await?;
            let mut out = Vec::new();
            for t in &d.targets {
                let mut o = base.clone();
                o.target = Some(t.name.clone());
                let mut info = TargetInfo {
                    name: t.name.clone(),
                    addresses: t.addresses.clone(),
                    luns: Vec::new(),
                    error: None,
                };
                match login(&o).await {
                    Ok(s) => {
                        let luns = s.report_luns().await.unwrap_or_else(|_| vec![0]);
                        for lun in luns {
                            let _ = s.test_unit_ready(lun).await;
                            let mut li = LunInfo {
                                lun,
                                blocks: None,
                                block_size: None,
                                bytes: None,
                                vendor: None,
                                product: None,
                                device_type: None,
                                error: None,
                            };
                            match s.inquiry(lun).await {
                                Ok(inq) => {
                                    li.vendor = Some(inq.vendor);
                                    li.product = Some(inq.product);
                                    li.device_type = Some(inq.device_type);
                                }
                                Err(e) => li.error = Some(e.to_string()),
                            }
                            if li.device_type == Some(0) {
                                match s.read_capacity(lun).await {
                                    Ok((b, bs)) => {
                                        li.blocks = Some(b);
                                        li.block_size = Some(bs);
                                        li.bytes = Some(b * u64::from(bs));
                                    }
                                    Err(e) => li.error = Some(e.to_string()),
                                }
                            }
                            info.luns.push(li);
                        }
                        let _ = s.logout().await;
                    }
                    Err(e) => info.error = Some(e.to_string()),
                }
                out.push(info);
            }
            if args.json {
                print_json(&out);
            } else {
                for t in &out {
                    out!("{} ({})", t.name, t.addresses.join(", "));
                    if let Some(e) = &t.error {
                        out!("    login failed: {e}");
                    }
                    for l in &t.luns {
                        let size = l.bytes.map_or_else(|| "-".to_owned(), human);
                        out!(
                            "    LUN {:<4} {:>10}  {} {}{}",
                            l.lun,
                            size,
                            l.vendor.as_deref().unwrap_or("?"),
                            l.product.as_deref().unwrap_or("?"),
                            l.error
                                .as_ref()
                                .map(|e| format!("  ({e})"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
            Ok(0)
        }
        Cmd::Probe {
            portal,
            target,
            chap,
        } => {
            let portal = Portal::parse(portal).map_err(|e| bad_args(e.to_string()))?;
            let mut o = ProbeOptions::new(portal);
            o.initiator_name.clone_from(&args.initiator_name);
            o.target.clone_from(target);
            o.timeout = Duration::from_millis(args.timeout);
            o.operational = operational(args, OperationalConfig::default());
            o.chap_algorithms.clone_from(&args.chap_algorithms);
            if let Some(user) = &chap.chap {
                o.chap = Some((user.clone(), secret(chap, &chap.secret_env)?));
                if let Some(tu) = &chap.target_user {
                    let ts = std::env::var("ISCSI_TARGET_SECRET")
                        .map_err(|_| bad_args("mutual CHAP: set $ISCSI_TARGET_SECRET"))?;
                    o.mutual = Some((tu.clone(), ts));
                }
            }
            let report = probe(&o).await;
            if args.json {
                print_json(&report);
            } else if report.success {
                out!(
                    "{}:{} is an iSCSI portal: login {} in {:.1} ms (TSIH {}, ISID {}){}",
                    report.host,
                    report.port,
                    report.login_status.as_deref().unwrap_or("?"),
                    report.rtt.unwrap_or(0.0),
                    report.tsih.unwrap_or(0),
                    report.session_id.as_deref().unwrap_or("?"),
                    match (report.chap, report.mutual_chap) {
                        (_, true) => format!(
                            ", mutual CHAP {}",
                            report.chap_algorithm.as_deref().unwrap_or("")
                        ),
                        (true, false) =>
                            format!(", CHAP {}", report.chap_algorithm.as_deref().unwrap_or("")),
                        _ => String::new(),
                    }
                );
                for t in &report.targets {
                    out!("    {} {}", t.name, t.addresses.join(" "));
                }
            } else {
                out!(
                    "{}:{}: {}",
                    report.host,
                    report.port,
                    report.error.as_deref().unwrap_or("failed")
                );
            }
            Ok(report.exit_code())
        }
        Cmd::Inquiry { url, vpd } => {
            let (s, url) = session_for(args, url).await?;
            match vpd {
                Some(page) => {
                    let data = s.vpd(url.lun, *page).await?;
                    let parsed = iscsi_scsi::initiator::VpdPage::parse(&data);
                    if args.json {
                        print_json(
                            &serde_json::json!({ "page": page, "hex": hex(&data), "decoded": parsed.map(|p| format!("{p:?}")).ok() }),
                        );
                    } else {
                        use iscsi_scsi::initiator::VpdPage;
                        match parsed {
                            Ok(VpdPage::SupportedPages(p)) => {
                                let codes: Vec<String> =
                                    p.pages.iter().map(|c| format!("0x{c:02x}")).collect();
                                out!("Supported VPD pages: {}", codes.join(" "));
                            }
                            Ok(VpdPage::UnitSerialNumber(p)) => {
                                out!("Unit serial number: {}", p.serial);
                            }
                            Ok(VpdPage::DeviceIdentification(p)) => {
                                for d in &p.designators {
                                    out!("{:?} {:?}: {d}", d.association, d.designator_type);
                                }
                            }
                            Ok(VpdPage::Other { .. }) | Err(_) => dump(&data),
                            Ok(p) => out!("{p:#?}"),
                        }
                    }
                }
                None => {
                    let inq = s.inquiry(url.lun).await?;
                    if args.json {
                        print_json(&serde_json::json!({
                            "peripheralDeviceType": inq.device_type,
                            "vendor": inq.vendor, "product": inq.product, "revision": inq.revision,
                            "version": inq.version, "versionDescriptors": inq.version_descriptors,
                            "removable": inq.rmb, "cmdque": inq.cmdque,
                        }));
                    } else {
                        let yn = |b: bool| if b { "yes" } else { "no" };
                        out!("Vendor:      {}", inq.vendor);
                        out!("Product:     {}", inq.product);
                        out!("Revision:    {}", inq.revision);
                        out!(
                            "Device type: 0x{:02x} ({}), qualifier {}",
                            inq.device_type,
                            device_type_name(inq.device_type),
                            inq.peripheral_qualifier
                        );
                        out!(
                            "Version:     0x{:02x}{}",
                            inq.version,
                            match inq.version {
                                5 => " (SPC-3)",
                                6 => " (SPC-4)",
                                7 => " (SPC-5)",
                                _ => "",
                            }
                        );
                        out!(
                            "Flags:       removable {}, CmdQue {}, HiSup {}, TPGS {}, 3PC {}, Protect {}",
                            yn(inq.rmb),
                            yn(inq.cmdque),
                            yn(inq.hisup),
                            inq.tpgs,
                            yn(inq.three_pc),
                            yn(inq.protect)
                        );
                        let descriptors: Vec<String> = inq
                            .version_descriptors
                            .iter()
                            .map(|d| format!("0x{d:04x}"))
                            .collect();
                        out!("Versions:    {}", descriptors.join(" "));
                    }
                }
            }
            let _ = s.logout().await;
            Ok(0)
        }
        Cmd::Readcap { url } => {
            let (s, url) = session_for(args, url).await?;
            let (blocks, bs) = s.read_capacity(url.lun).await?;
            let bytes = blocks * u64::from(bs);
            if args.json {
                print_json(
                    &serde_json::json!({ "blocks": blocks, "blockSize": bs, "bytes": bytes }),
                );
            } else {
                out!(
                    "{blocks} blocks of {bs} bytes = {bytes} bytes ({})",
                    human(bytes)
                );
            }
            let _ = s.logout().await;
            Ok(0)
        }
        Cmd::Read {
            url,
            lba,
            blocks,
            output,
        } => {
            let (s, url) = session_for(args, url).await?;
            let (_, bs) = s.read_capacity(url.lun).await?;
            let data = s.read_blocks(url.lun, *lba, *blocks, bs).await?;
            match output {
                Some(path) => std::fs::write(path, &data)
                    .map_err(|e| io_fail(&path.display().to_string(), &e))?,
                None if args.json => print_json(
                    &serde_json::json!({ "lba": lba, "blocks": blocks, "hex": hex(&data) }),
                ),
                None => dump(&data),
            }
            let _ = s.logout().await;
            Ok(0)
        }
        Cmd::Write {
            url,
            lba,
            input,
            pattern,
            blocks,
        } => {
            let (s, url) = session_for(args, url).await?;
            let (_, bs) = s.read_capacity(url.lun).await?;
            let data = match (input, pattern, blocks) {
                (Some(path), None, None) => {
                    std::fs::read(path).map_err(|e| io_fail(&path.display().to_string(), &e))?
                }
                (None, Some(p), Some(n)) => vec![*p; *n as usize * bs as usize],
                _ => {
                    return Err(bad_args(
                        "give --input FILE, or --pattern BYTE with --blocks N",
                    ));
                }
            };
            if data.is_empty() || data.len() % bs as usize != 0 {
                return Err(bad_args(format!(
                    "{} bytes is not a whole number of {bs}-byte blocks",
                    data.len()
                )));
            }
            let n = data.len();
            s.write_blocks(url.lun, *lba, Bytes::from(data), bs).await?;
            if args.json {
                print_json(&serde_json::json!({ "lba": lba, "bytes": n }));
            } else {
                out!("wrote {n} bytes at LBA {lba}");
            }
            let _ = s.logout().await;
            Ok(0)
        }
        Cmd::Dd {
            operands,
            verify,
            quiet,
        } => dd::dd(args, operands, *verify, *quiet).await,
        Cmd::Bench {
            url,
            rw,
            bs,
            qd,
            seconds,
            span,
        } => bench::bench(args, url, rw, bs, *qd, *seconds, span.as_deref()).await,
        Cmd::ProbeServer {
            listen,
            allow,
            max_concurrent,
        } => probe_server(args, *listen, allow, *max_concurrent).await,
    }
}

async fn probe_server(
    args: &Args,
    listen: std::net::SocketAddr,
    allow: &[ipnet::IpNet],
    max_concurrent: usize,
) -> Result<u8, Fail> {
    use iscsi_cli::probe_server::{ServerConfig, loopback, serve};
    if max_concurrent == 0 {
        return Err(bad_args("--max-concurrent must be at least 1"));
    }
    let mut config = ServerConfig::default();
    config.allow = if allow.is_empty() {
        loopback()
    } else {
        allow.to_vec()
    };
    config.max_concurrent = max_concurrent;
    config
        .default_initiator_name
        .clone_from(&args.initiator_name);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Fail {
            code: 1,
            message: format!("cannot listen on {listen}: {e}"),
        })?;
    let bound = listener.local_addr().map_err(|e| Fail {
        code: 1,
        message: e.to_string(),
    })?;
    let allowed: Vec<String> = config.allow.iter().map(ToString::to_string).collect();
    eprintln!(
        "iscsi probe-server: listening on http://{bound} (probes allowed to {})",
        allowed.join(", ")
    );
    serve(listener, config, shutdown_signal())
        .await
        .map_err(|e| Fail {
            code: 1,
            message: format!("probe-server: {e}"),
        })?;
    Ok(0)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS.get(i).unwrap_or(&"B"))
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn dump(data: &[u8]) {
    for (i, chunk) in data.chunks(16).enumerate() {
        let h: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let a: String = chunk
            .iter()
            .map(|b| {
                if b.is_ascii_graphic() || *b == b' ' {
                    *b as char
                } else {
                    '.'
                }
            })
            .collect();
        out!("{:08x}  {:<47}  {a}", i * 16, h.join(" "));
    }
}

/// The SPC-4 Table 141 name of a peripheral device type.
fn device_type_name(t: u8) -> &'static str {
    match t {
        0x00 => "direct-access block device",
        0x01 => "sequential-access device",
        0x05 => "CD/DVD device",
        0x07 => "optical memory device",
        0x08 => "media changer",
        0x0c => "storage array controller",
        0x0d => "enclosure services device",
        0x0e => "simplified direct-access device",
        0x1f => "unknown or no device type",
        _ => "other",
    }
}

mod bench;
mod dd;
