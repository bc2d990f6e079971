//! `iscsi-target`: serve block storage over iSCSI.
//!
//! With no arguments it serves the embedded default: target
//! `iqn.2026-11.rs.iscsi:ram0`, one 1 GiB RAM LUN 0 on 127.0.0.1:3260.
//! `iscsi-target ctl METHOD [key=value ...]` talks to a running one's
//! admin interface.

mod ctl;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iscsi_login::{ChapCredentials, Secret};
use iscsi_target::config::{Backing, Config, LunConfig, Portal, default_admin_socket, parse_size};
use iscsi_target::server::Server;

/// mimalloc keeps freed buffers for reuse; with glibc's malloc each 128 KiB
/// read buffer was a fresh mapping, zeroed through page faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serve block storage over iSCSI (RFC 7143).
#[derive(Parser, Debug)]
#[command(
    name = "iscsi-target",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Args,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Call a running target's admin interface (JSON-RPC on its Unix
    /// socket): targets, LUNs, ACLs, CHAP, portals, sessions, the saved
    /// configuration.
    Ctl(ctl::CtlArgs),
    /// Convert LIO's saved configuration (targetcli's
    /// /etc/target/saveconfig.json, rtslib-fb's format) to this target's
    /// TOML; what cannot be carried over is listed on standard error.
    ImportLio {
        /// The saveconfig.json file.
        file: PathBuf,
        /// Write the TOML here (replaced atomically) instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

/// Serving.
#[derive(clap::Args, Debug)]
struct Args {
    /// TOML configuration (see target.example.toml). Without it, the
    /// embedded default: iqn.2026-11.rs.iscsi:ram0 with a 1 GiB RAM LUN.
    #[arg(long, short = 'c', env = "ISCSI_TARGET_CONFIG")]
    config: Option<PathBuf>,
    /// Listen on this address:port (repeatable; replaces the configured portals).
    #[arg(long, short = 'l')]
    listen: Vec<SocketAddr>,
    /// Target name for the LUNs given with --lun (default: the embedded
    /// default's name).
    #[arg(long)]
    target_name: Option<String>,
    /// A LUN of the first target: `memory`, `memory:SIZE`, `file:PATH` or
    /// `rbd:POOL/IMAGE` (the Ceph cluster of `$CEPH_CONF` or
    /// /etc/ceph/ceph.conf) (repeatable; numbered from 0; replaces the
    /// first target's LUNs).
    #[arg(long)]
    lun: Vec<String>,
    /// Size of RAM LUNs and of new files given with --lun, e.g. 1G.
    #[arg(long)]
    size: Option<String>,
    /// Logical block size of LUNs given with --lun: 512 or 4096.
    #[arg(long, default_value_t = 512)]
    block_size: u32,
    /// Make LUNs given with --lun read-only.
    #[arg(long)]
    read_only: bool,
    /// Require CHAP for the first target: USER:SECRET (the secret may also
    /// come from ISCSI_CHAP_SECRET when given as USER: ).
    #[arg(long, env = "ISCSI_TARGET_CHAP")]
    chap: Option<String>,
    /// Mutual CHAP credentials of the first target: USER:SECRET.
    #[arg(long)]
    mutual_chap: Option<String>,
    /// Accept CHAP secrets shorter than 12 bytes.
    #[arg(long)]
    allow_short_secrets: bool,
    /// Serve the admin interface (JSON-RPC 2.0, `iscsi-target ctl`) on this
    /// Unix socket, mode 0600; `none` turns it off [default: the
    /// configuration's `[admin] socket`, else /run/iscsi-target/admin.sock
    /// as root, $XDG_RUNTIME_DIR/iscsi-target/admin.sock otherwise].
    #[arg(long, env = "ISCSI_TARGET_ADMIN_SOCKET")]
    admin_socket: Option<PathBuf>,
    /// Serve metrics in the Prometheus text format at
    /// http://ADDRESS/metrics, e.g. 127.0.0.1:9465 [default: the
    /// configuration's `[metrics] listen`, else none].
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Log filter (tracing EnvFilter syntax), e.g. info, debug, iscsi_target=trace.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
    /// Where the log goes: text on stderr, or the systemd journal with
    /// structured fields (auto: the journal when run by systemd).
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
}

fn credentials(spec: &str, allow_short: bool, what: &str) -> Result<ChapCredentials, String> {
    let (user, secret) = spec
        .split_once(':')
        .ok_or_else(|| format!("{what}: expected USER:SECRET"))?;
    let secret = if secret.is_empty() {
        std::env::var("ISCSI_CHAP_SECRET")
            .map_err(|_| format!("{what}: no secret after ':' and ISCSI_CHAP_SECRET is not set"))?
    } else {
        secret.to_owned()
    };
    let secret = if allow_short {
        Secret::new_allow_short(secret)
    } else {
        Secret::new(secret)
    };
    Ok(ChapCredentials::new(
        user,
        secret.map_err(|e| format!("{what}: {e}"))?,
    ))
}

fn build_config(args: &Args) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::embedded_default(),
    };
    if !args.listen.is_empty() {
        let group = config.portals.first().map_or(1, |p| p.group);
        config.portals = args
            .listen
            .iter()
            .map(|a| {
                let mut p = Config::embedded_default().portals.remove(0);
                p.address = *a;
                p.group = group;
                p
            })
            .collect::<Vec<Portal>>();
    }
    let size = args
        .size
        .as_deref()
        .map(parse_size)
        .transpose()
        .map_err(|e| format!("--size: {e}"))?;
    let Some(first) = config.targets.first_mut() else {
        return Err("no target configured".to_owned());
    };
    if let Some(name) = &args.target_name {
        first.name.clone_from(name);
    }
    if !args.lun.is_empty() {
        first.luns.clear();
        for (i, spec) in args.lun.iter().enumerate() {
            let (kind, rest) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
            let (backing, lun_size) = match kind {
                "memory" => {
                    let s = if rest.is_empty() {
                        size.unwrap_or(iscsi_target::config::DEFAULT_SIZE)
                    } else {
                        parse_size(rest).map_err(|e| format!("--lun {spec}: {e}"))?
                    };
                    (Backing::Memory, Some(s))
                }
                "file" if !rest.is_empty() => (Backing::File(PathBuf::from(rest)), size),
                "rbd" => (
                    Backing::Rbd(
                        iscsi_target::config::RbdBacking::parse(rest)
                            .map_err(|e| format!("--lun {spec}: {e}"))?,
                    ),
                    None,
                ),
                _ => {
                    return Err(format!(
                        "--lun {spec}: expected memory, memory:SIZE, file:PATH or rbd:POOL/IMAGE"
                    ));
                }
            };
            let mut lun =
                LunConfig::memory(u16::try_from(i).unwrap_or(u16::MAX), lun_size.unwrap_or(0));
            lun.backing = backing;
            lun.size = lun_size;
            lun.block_size = args.block_size;
            lun.physical_block_size = args.block_size;
            lun.read_only = args.read_only;
            first.luns.push(lun);
        }
    } else if let Some(s) = size {
        for l in &mut first.luns {
            if l.backing == Backing::Memory {
                l.size = Some(s);
            }
        }
    }
    if let Some(spec) = &args.chap {
        first.chap = Some(credentials(spec, args.allow_short_secrets, "--chap")?);
    }
    if let Some(spec) = &args.mutual_chap {
        first.mutual_chap = Some(credentials(
            spec,
            args.allow_short_secrets,
            "--mutual-chap",
        )?);
    }
    Ok(config)
}

fn main() -> ExitCode {
    // No transparent huge pages: mimalloc asks for them, and the first write
    // to each new region of a RAM LUN then zeroed a 2 MiB page, with direct
    // compaction stalls of up to tens of ms (4 KiB random writes to a fresh
    // 1 GiB RAM LUN: 6.6 K IOPS with THP, see the commit message).
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("iscsi-target: cannot turn off transparent huge pages ({e}); continuing");
    }
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Ctl(ctl)) => return ctl::run(ctl),
        Some(Command::ImportLio { file, output }) => return import_lio(file, output.as_deref()),
        None => {}
    }
    let args = cli.serve;
    init_logging(&args);
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iscsi-target: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("iscsi-target: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut signals = Signals::new();
        let server = match Server::start(config.clone()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("iscsi-target: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = serve_admin(&args, &config, &server) {
            eprintln!("iscsi-target: {e}");
            let _ = server.shutdown().await;
            return ExitCode::FAILURE;
        }
        if let Some(address) = args.metrics.or(config.metrics) {
            match server.serve_metrics(address) {
                Ok(bound) => eprintln!("iscsi-target: metrics at http://{bound}/metrics"),
                Err(e) => {
                    eprintln!("iscsi-target: metrics endpoint {address}: {e}");
                    let _ = server.shutdown().await;
                    return ExitCode::FAILURE;
                }
            }
        }
        for t in &config.targets {
            for addr in server.addresses() {
                let host = match addr {
                    SocketAddr::V4(a) if a.port() == 3260 => a.ip().to_string(),
                    SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
                    SocketAddr::V6(a) if a.port() == 3260 => format!("[{}]", a.ip()),
                    SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
                };
                let lun = t.luns.first().map_or(0, |l| l.id);
                eprintln!("iscsi-target: serving iscsi://{host}/{}/{lun}", t.name);
            }
        }
        // Type=notify: systemd starts what depends on us now.
        notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&format!(
                "serving {} target(s) on {}",
                config.targets.len(),
                server
                    .addresses()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ]);
        while signals.next().await == Signal::Reload {
            notify(&[sd_notify::NotifyState::Reloading]);
            reload(&args, &server);
            notify(&[sd_notify::NotifyState::Ready]);
        }
        notify(&[sd_notify::NotifyState::Stopping]);
        eprintln!("iscsi-target: shutting down (sessions are asked to log out)");
        match server.shutdown().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("iscsi-target: flushing backends failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `iscsi-target import-lio FILE [-o OUT]`.
#[allow(
    clippy::print_stdout,
    reason = "the converted configuration goes to standard output without -o"
)]
fn import_lio(file: &std::path::Path, output: Option<&std::path::Path>) -> ExitCode {
    let result = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: {e}", file.display()))
        .and_then(|json| iscsi_target::config::from_lio(&json))
        .and_then(|import| {
            let header = format!(
                "# Converted by `iscsi-target import-lio` from {}.\n",
                file.display()
            );
            let toml = iscsi_target::config::render(None, &import.config)?;
            Ok((import, format!("{header}{toml}")))
        });
    let (import, toml) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("iscsi-target import-lio: {e}");
            return ExitCode::from(2);
        }
    };
    for note in &import.not_carried {
        eprintln!("iscsi-target import-lio: not carried over: {note}");
    }
    let luns: usize = import.config.targets.iter().map(|t| t.luns.len()).sum();
    let summary = format!(
        "{} target(s), {luns} LUN(s), {} portal(s) carried over; {} thing(s) not",
        import.config.targets.len(),
        import.config.portals.len(),
        import.not_carried.len()
    );
    match output {
        Some(path) => {
            if let Err(e) = iscsi_target::config::write_atomically(path, toml.as_bytes()) {
                eprintln!(
                    "iscsi-target import-lio: cannot write {}: {e}",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            eprintln!(
                "iscsi-target import-lio: {summary}; wrote {} (serve it with --config)",
                path.display()
            );
        }
        None => {
            print!("{toml}");
            eprintln!("iscsi-target import-lio: {summary}");
        }
    }
    ExitCode::SUCCESS
}

/// Starts the admin interface where the command line, the configuration
/// or the default says. A socket named on purpose that cannot be served is
/// an error; the default one only a warning (another target may hold it).
fn serve_admin(args: &Args, config: &Config, server: &Server) -> Result<(), String> {
    let named = args
        .admin_socket
        .clone()
        .or_else(|| config.admin_socket.clone());
    let explicit = named.is_some();
    let Some(path) = named.or_else(default_admin_socket) else {
        eprintln!("iscsi-target: no admin interface (no XDG_RUNTIME_DIR; give --admin-socket)");
        return Ok(());
    };
    if path.as_os_str().is_empty() || path.as_os_str() == "none" {
        return Ok(());
    }
    match server.serve_admin(&path) {
        Ok(()) => {
            eprintln!("iscsi-target: admin interface on {}", path.display());
            Ok(())
        }
        Err(e) if explicit => Err(format!("admin socket {}: {e}", path.display())),
        Err(e) => {
            eprintln!(
                "iscsi-target: no admin interface: {}: {e} (give --admin-socket to choose another)",
                path.display()
            );
            Ok(())
        }
    }
}

/// Tells systemd (`$NOTIFY_SOCKET`, Type=notify) how the service is;
/// nothing without it.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Logs to standard error as text, or to the systemd journal with its
/// fields (`--log-format journal`, or `auto` under systemd: stderr is
/// then the journal's stream, `$JOURNAL_STREAM`).
fn init_logging(args: &Args) {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let journal = match args.log_format {
        LogFormat::Journal => true,
        LogFormat::Plain => false,
        LogFormat::Auto => std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    if journal {
        match tracing_journald::layer() {
            Ok(layer) => {
                registry
                    .with(layer.with_syslog_identifier("iscsi-target".to_owned()))
                    .init();
                return;
            }
            Err(e) => eprintln!("iscsi-target: cannot log to the journal ({e}); logging to stderr"),
        }
    }
    registry
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
}

/// Where the log goes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// The journal when run by systemd (`$JOURNAL_STREAM` set), else text.
    Auto,
    /// Text lines on standard error.
    Plain,
    /// The systemd journal, each event's fields as journal fields.
    Journal,
}

/// What a signal asks for.
#[derive(Debug, PartialEq, Eq)]
enum Signal {
    /// SIGTERM or SIGINT: shut down gracefully.
    Stop,
    /// SIGHUP: read the configuration again.
    Reload,
}

/// The signals the server answers, registered before it starts serving:
/// a SIGHUP that came before its handler would end the process (the
/// default action), e.g. a `systemctl reload` right after READY=1.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// The next signal's request.
    async fn next(&mut self) -> Signal {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
            match s {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            Some(()) = recv(&mut self.term) => Signal::Stop,
            Some(()) = recv(&mut self.int) => Signal::Stop,
            Some(()) = recv(&mut self.hup) => Signal::Reload,
            else => Signal::Stop,
        }
    }
}

/// SIGHUP: reads the configuration again (with the same command-line
/// overrides) and applies what can change live; says what it did.
fn reload(args: &Args, server: &Server) {
    let Some(path) = &args.config else {
        eprintln!(
            "iscsi-target: SIGHUP: no configuration file to read again (serving the embedded default)"
        );
        return;
    };
    let config = match build_config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iscsi-target: SIGHUP: {e}; keeping the running configuration");
            return;
        }
    };
    let changes = server.reload(&config);
    if changes.is_empty() {
        eprintln!(
            "iscsi-target: SIGHUP: {} read again; nothing changed",
            path.display()
        );
    }
    for change in changes {
        eprintln!("iscsi-target: SIGHUP: {change}");
    }
}
