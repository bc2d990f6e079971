//! The targets `cargo xtask interop` talks to — ours (`iscsi-target`),
//! tgtd and LIO (through targetcli) — and the Debian packages of the
//! third-party peers. Every target listens on 127.0.0.1 only; every process
//! and file a peer creates is removed by its guard's `Drop`, also when a
//! check fails half-way.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, Result};

/// The unauthenticated target of ours, with a 1 GiB RAM LUN 0.
pub(crate) const RAM_IQN: &str = "iqn.2026-11.rs.iscsi:interop-ram";
/// Our target that requires one-way CHAP.
pub(crate) const CHAP_IQN: &str = "iqn.2026-11.rs.iscsi:interop-chap";
/// Our target that requires CHAP and offers mutual CHAP.
pub(crate) const MUTUAL_IQN: &str = "iqn.2026-11.rs.iscsi:interop-mutual";
/// The target tgtd serves.
pub(crate) const TGTD_IQN: &str = "iqn.2026-11.rs.iscsi:interop-tgtd";
/// tgtd's target that requires one-way CHAP.
pub(crate) const TGTD_CHAP_IQN: &str = "iqn.2026-11.rs.iscsi:interop-tgtd-chap";
/// tgtd's target that requires CHAP and answers mutual CHAP.
pub(crate) const TGTD_MUTUAL_IQN: &str = "iqn.2026-11.rs.iscsi:interop-tgtd-mutual";
/// LUN-less targets tgtd also serves, so that a SendTargets answer spans
/// several Text Responses at a small MaxRecvDataSegmentLength.
pub(crate) const TGTD_PADDING_TARGETS: u32 = 60;
/// The open target LIO serves.
pub(crate) const LIO_IQN: &str = "iqn.2026-11.rs.iscsi:interop-lio";
/// LIO's target whose ACL requires one-way CHAP.
pub(crate) const LIO_CHAP_IQN: &str = "iqn.2026-11.rs.iscsi:interop-lio-chap";
/// LIO's target whose ACL requires mutual CHAP.
pub(crate) const LIO_MUTUAL_IQN: &str = "iqn.2026-11.rs.iscsi:interop-lio-mutual";
/// CHAP user of the initiator.
pub(crate) const CHAP_USER: &str = "interop";
/// CHAP secret of the initiator (at least 12 bytes, RFC 7143 §12.1.3).
pub(crate) const CHAP_SECRET: &str = "interop-secret-1";
/// CHAP user the target answers with in mutual CHAP.
pub(crate) const TARGET_USER: &str = "interop-target";
/// CHAP secret of the target in mutual CHAP.
pub(crate) const TARGET_SECRET: &str = "interop-target-2";

/// One GiB, the size of the LUNs the conformance suite runs on.
pub(crate) const GIB: u64 = 1 << 30;

/// Programs of `libiscsi-bin` the checks use, with their package.
pub(crate) const LIBISCSI_TOOLS: &[(&str, &str)] = &[
    ("iscsi-ls", "libiscsi-bin"),
    ("iscsi-inq", "libiscsi-bin"),
    ("iscsi-readcapacity16", "libiscsi-bin"),
    ("iscsi-perf", "libiscsi-bin"),
    ("iscsi-test-cu", "libiscsi-bin"),
];
/// tgt's daemon and its administration tool.
pub(crate) const TGT_TOOLS: &[(&str, &str)] = &[("tgtd", "tgt"), ("tgtadm", "tgt")];
/// Where Debian's `qemu-block-extra` puts qemu's iscsi block driver.
pub(crate) const QEMU_BLOCK_ISCSI: &str = "/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so";
/// The apt source `cargo xtask interop` adds for `qemu-block-extra`.
const BACKPORTS_SOURCE: &str = "/etc/apt/sources.list.d/xtask-backports.sources";
/// The machine's own apt sources, where the mirror is read from.
pub(crate) const DEBIAN_SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

/// A LUN the checks can address.
#[derive(Clone, Debug)]
pub(crate) struct LunRef {
    /// Target name.
    pub(crate) iqn: String,
    /// LUN number.
    pub(crate) lun: u32,
    /// Capacity in bytes.
    pub(crate) size: u64,
}

/// What a peer target exposes to the checks.
#[derive(Clone, Debug)]
pub(crate) struct Exposed {
    /// The LUN for data and conformance tests, open to every initiator.
    pub(crate) data: LunRef,
    /// A LUN behind one-way CHAP ([`CHAP_USER`], [`CHAP_SECRET`]).
    pub(crate) chap: Option<LunRef>,
    /// A LUN behind CHAP that also authenticates as [`TARGET_USER`].
    pub(crate) mutual: Option<LunRef>,
    /// The INQUIRY vendor identification.
    pub(crate) vendor: &'static str,
    /// Further target names discovery must list (LUN-less padding).
    pub(crate) others: Vec<String>,
    /// Further portals (ports on 127.0.0.1) of the same targets.
    pub(crate) extra_ports: Vec<u16>,
    /// The InitiatorName the peer's ACLs admit, when it has ACLs.
    pub(crate) initiator_name: Option<&'static str>,
    /// A read-only LUN (iscsi-test-cu's ReadOnly suite), open to every
    /// initiator.
    pub(crate) read_only: Option<LunRef>,
}

impl Exposed {
    /// Every target name, in no particular order.
    pub(crate) fn names(&self) -> Vec<&str> {
        [
            Some(&self.data),
            self.chap.as_ref(),
            self.mutual.as_ref(),
            self.read_only.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|l| l.iqn.as_str())
        .collect()
    }
}

/// A running iSCSI target that checks run against.
pub(crate) trait Peer {
    /// Short name in step names and reports (`ours`, `tgtd`).
    fn label(&self) -> &'static str;
    /// TCP port on 127.0.0.1.
    fn port(&self) -> u16;
    /// What it serves.
    fn exposed(&self) -> &Exposed;
    /// `Err` (with the reason and log) when the process has exited.
    fn check_alive(&mut self) -> Result;

    /// Whether the conformance run is the storage's share of the suite
    /// only (a backend under test, not the protocol: see
    /// `interop::NOT_ON_RBD`); the other peers run it whole.
    fn storage_only(&self) -> bool {
        false
    }

    /// Our target, for the checks only it can pass (admin interface,
    /// metrics); `None` for third-party targets.
    fn ours(&mut self) -> Option<&mut OurTarget> {
        None
    }

    /// `iscsi://127.0.0.1:PORT`.
    fn portal_url(&self) -> String {
        format!("iscsi://127.0.0.1:{}", self.port())
    }

    /// `iscsi://[credentials@]127.0.0.1:PORT/IQN/LUN`.
    fn url(&self, lun: &LunRef, credentials: Option<(&str, &str)>) -> String {
        let auth = credentials.map_or_else(String::new, |(u, p)| format!("{u}%{p}@"));
        format!(
            "iscsi://{auth}127.0.0.1:{}/{}/{}",
            self.port(),
            lun.iqn,
            lun.lun
        )
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound and released).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind 127.0.0.1:0 to find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the bound port: {e}"))
}

/// Waits until 127.0.0.1:`port` accepts TCP connections; `alive` is asked
/// between attempts so that a process that died fails fast.
pub(crate) fn wait_for_port(
    port: u16,
    within: Duration,
    mut alive: impl FnMut() -> Result,
) -> Result<Duration> {
    let start = Instant::now();
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(start.elapsed());
        }
        alive()?;
        if start.elapsed() > within {
            return Err(format!(
                "127.0.0.1:{port} accepted no connection within {} s",
                within.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The last `n` lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(n).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// A log file for a child's stdout and stderr.
pub(crate) fn log_files(path: &Path) -> Result<(File, File)> {
    let out = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot duplicate {}: {e}", path.display()))?;
    Ok((out, err))
}

/// Whether a child still runs; `Err` describes how it ended.
pub(crate) fn child_alive(child: &mut Child, what: &str, log: &Path) -> Result {
    match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(format!(
            "{what} exited with {status}; last lines of {}:\n{}",
            log.display(),
            log_tail(log, 15)
        )),
        Err(e) => Err(format!("cannot query {what}: {e}")),
    }
}

/// Waits up to `within` for `child` to exit.
fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() < within => thread::sleep(Duration::from_millis(50)),
            _ => return None,
        }
    }
}

/// Kills and reaps `child` if it still runs (guards' last resort).
pub(crate) fn kill_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ---------------------------------------------------------------- ours

/// A target of a generated configuration, with one LUN 0.
#[derive(Clone, Copy)]
pub(crate) struct ConfigTarget {
    /// Target name.
    pub(crate) name: &'static str,
    /// TargetAlias.
    pub(crate) alias: &'static str,
    /// LUN size as the TOML file writes it.
    pub(crate) size: &'static str,
    /// Logical block size in bytes.
    pub(crate) block_size: u32,
    /// A file-backed LUN (`DIR/ALIAS.img`) instead of RAM.
    pub(crate) file: bool,
    /// One-way CHAP with [`CHAP_USER`].
    pub(crate) chap: bool,
    /// Mutual CHAP as [`TARGET_USER`].
    pub(crate) mutual: bool,
    /// Physical block size in bytes, when larger than the logical one.
    pub(crate) physical_block_size: Option<u32>,
    /// A read-only LUN.
    pub(crate) read_only: bool,
    /// An RBD-backed LUN: image `rbd/ALIAS` of the cluster whose
    /// configuration is `DIR/ceph/ceph.conf` (its size is the image's).
    pub(crate) rbd: bool,
}

const fn ram(name: &'static str, alias: &'static str, size: &'static str) -> ConfigTarget {
    ConfigTarget {
        name,
        alias,
        size,
        block_size: 512,
        file: false,
        chap: false,
        mutual: false,
        physical_block_size: None,
        read_only: false,
        rbd: false,
    }
}

/// Our read-only target (iscsi-test-cu's ReadOnly suite).
pub(crate) const READ_ONLY_IQN: &str = "iqn.2026-11.rs.iscsi:interop-ro";

/// The targets of `--peer ours`: open 1 GiB (512-byte logical blocks on
/// 4096-byte physical blocks, so the suite's LBPPB tests run), CHAP and
/// mutual CHAP (64 MiB), and a read-only 64 MiB LUN.
pub(crate) const OUR_TARGETS: [ConfigTarget; 4] = [
    ConfigTarget {
        physical_block_size: Some(4096),
        ..ram(RAM_IQN, "interop-ram", "1G")
    },
    ConfigTarget {
        chap: true,
        ..ram(CHAP_IQN, "interop-chap", "64M")
    },
    ConfigTarget {
        chap: true,
        mutual: true,
        ..ram(MUTUAL_IQN, "interop-mutual", "64M")
    },
    ConfigTarget {
        read_only: true,
        ..ram(READ_ONLY_IQN, "interop-ro", "64M")
    },
];

/// Our target with a 4096-byte logical block size (Linux peer).
pub(crate) const RAM4K_IQN: &str = "iqn.2026-11.rs.iscsi:interop-ram4k";
/// Our target with a file-backed LUN (Linux peer: restart under I/O).
pub(crate) const FILE_IQN: &str = "iqn.2026-11.rs.iscsi:interop-file";

/// The targets the Linux kernel initiator uses: those of `--peer ours`,
/// a 4096-byte-block RAM LUN and a file-backed LUN.
/// The size of the Linux guest's file LUN, and what the online resize
/// check grows it to (MiB: the guest checks the figure).
pub(crate) const FILE_SIZE: &str = "256M";
/// See [`FILE_SIZE`].
pub(crate) const FILE_GROWN: &str = "384M";

pub(crate) const LINUX_TARGETS: [ConfigTarget; 5] = [
    OUR_TARGETS[0],
    OUR_TARGETS[1],
    OUR_TARGETS[2],
    ConfigTarget {
        block_size: 4096,
        ..ram(RAM4K_IQN, "interop-ram4k", "512M")
    },
    ConfigTarget {
        file: true,
        ..ram(FILE_IQN, "interop-file", FILE_SIZE)
    },
];

/// An `iscsi-target` configuration (the format of
/// `crates/iscsi-target/target.example.toml`) of `targets` on
/// 127.0.0.1:`port` (portal group 1, active/optimized) and
/// 127.0.0.1:`extra_ports` (portal groups 2, 3, …, each with its ALUA
/// state); file-backed LUNs are `dir/ALIAS.img`.
pub(crate) fn config_for(
    port: u16,
    extra_ports: &[(u16, &str)],
    targets: &[ConfigTarget],
    dir: &Path,
) -> String {
    let mut out = String::from(
        "# Generated by `cargo xtask interop`: the targets of the interoperability checks.\n\n",
    );
    for ((port, state), group) in std::iter::once((port, "active_optimized"))
        .chain(extra_ports.iter().copied())
        .zip(1..)
    {
        let _ = write!(
            out,
            "[[portal]]\naddress = \"127.0.0.1:{port}\"\ngroup = {group}\nalua_state = \"{state}\"\n\n"
        );
    }
    // NOP-In pings after 90 s of silence, not 30 s: iscsi-test-cu's
    // Sanitize.Reset sleeps 60 s at a time without reading its socket, and
    // with 30 + 30 s a ping went unanswered at about the moment it woke, so
    // the connection was dropped or not by chance, and each drop cost the
    // run another minute of reconnecting and sleeping.
    let _ = write!(
        out,
        "[limits]\nheader_digest = \"allow\"\ndata_digest = \"allow\"\nshutdown_grace_s = 5\n\
         nop_in_interval_ms = 90000\n"
    );
    for t in targets {
        let _ = write!(
            out,
            "\n[[target]]\nname = \"{}\"\nalias = \"{}\"\n",
            t.name, t.alias
        );
        if t.chap {
            let _ = writeln!(
                out,
                "chap = {{ user = \"{CHAP_USER}\", secret = \"{CHAP_SECRET}\" }}"
            );
        }
        if t.mutual {
            let _ = writeln!(
                out,
                "mutual_chap = {{ user = \"{TARGET_USER}\", secret = \"{TARGET_SECRET}\" }}"
            );
        }
        let backing = if t.rbd {
            format!(
                "backing = \"rbd:rbd/{}\"\nceph_conf = \"{}\"",
                t.alias,
                dir.join("ceph/ceph.conf").display()
            )
        } else if t.file {
            format!(
                "backing = \"file\"\npath = \"{}\"\nsize = \"{}\"",
                dir.join(format!("{}.img", t.alias)).display(),
                t.size
            )
        } else {
            format!("backing = \"memory\"\nsize = \"{}\"", t.size)
        };
        let _ = write!(
            out,
            "\n[[target.lun]]\nid = 0\n{backing}\nblock_size = {}\n",
            t.block_size
        );
        if let Some(physical) = t.physical_block_size {
            let _ = writeln!(out, "physical_block_size = {physical}");
        }
        if t.read_only {
            out.push_str("read_only = true\n");
        }
    }
    out
}

/// Our `iscsi-target`, started on a free port with [`config_for`].
pub(crate) struct OurTarget {
    child: Child,
    binary: PathBuf,
    config: PathBuf,
    log_level: &'static str,
    port: u16,
    log: PathBuf,
    exposed: Exposed,
    /// Where its metrics are served (`--metrics`).
    metrics: SocketAddr,
}

impl OurTarget {
    /// Writes the configuration to `dir/target.toml`, starts `binary` and
    /// waits (10 s at most) until it accepts connections.
    pub(crate) fn start(binary: &Path, dir: &Path) -> Result<Self> {
        // A second portal group: the conformance suite's MultipathIO tests.
        Self::start_serving(binary, dir, &OUR_TARGETS, &["active_optimized"], "warn")
    }

    /// [`config_for`] `targets` on a free port and one more for each ALUA
    /// state of `extra_portals` (portal groups 2, 3, …), written to `dir/target.toml` (file LUNs in `dir`), served by
    /// `binary --log LOG_LEVEL` with its output in `dir/target.log`.
    pub(crate) fn start_serving(
        binary: &Path,
        dir: &Path,
        targets: &[ConfigTarget],
        extra_portals: &[&str],
        log_level: &'static str,
    ) -> Result<Self> {
        let port = free_port()?;
        let extra = extra_portals
            .iter()
            .map(|state| free_port().map(|p| (p, *state)))
            .collect::<Result<Vec<_>>>()?;
        let extra_ports: Vec<u16> = extra.iter().map(|(p, _)| *p).collect();
        let config = dir.join("target.toml");
        fs::write(&config, config_for(port, &extra, targets, dir))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let exposed = Exposed {
            data: LunRef {
                iqn: RAM_IQN.to_owned(),
                lun: 0,
                size: GIB,
            },
            chap: Some(LunRef {
                iqn: CHAP_IQN.to_owned(),
                lun: 0,
                size: 64 << 20,
            }),
            mutual: Some(LunRef {
                iqn: MUTUAL_IQN.to_owned(),
                lun: 0,
                size: 64 << 20,
            }),
            vendor: "RSISCSI",
            others: Vec::new(),
            extra_ports,
            initiator_name: None,
            read_only: targets.iter().find(|t| t.read_only).map(|t| LunRef {
                iqn: t.name.to_owned(),
                lun: 0,
                size: 64 << 20,
            }),
        };
        Self::start_with(
            binary,
            &config,
            port,
            log_level,
            exposed,
            &dir.join("target.log"),
        )
    }

    /// Starts `binary --config CONFIG --log LEVEL` (the configuration
    /// listens on 127.0.0.1:`port`) and waits until it accepts connections;
    /// `log` receives its output (a restart appends).
    pub(crate) fn start_with(
        binary: &Path,
        config: &Path,
        port: u16,
        log_level: &'static str,
        exposed: Exposed,
        log: &Path,
    ) -> Result<Self> {
        File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let child = Self::spawn(binary, config, log_level, log, metrics)?;
        let mut target = Self {
            child,
            binary: binary.to_path_buf(),
            config: config.to_path_buf(),
            log_level,
            port,
            log: log.to_path_buf(),
            exposed,
            metrics,
        };
        wait_for_port(port, Duration::from_secs(10), || target.check_alive())?;
        Ok(target)
    }

    /// The admin socket of a target started with `config`: beside it.
    fn admin_socket_of(config: &Path) -> PathBuf {
        config.with_file_name("admin.sock")
    }

    fn spawn(
        binary: &Path,
        config: &Path,
        log_level: &str,
        log: &Path,
        metrics: SocketAddr,
    ) -> Result<Child> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot duplicate {}: {e}", log.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("--config")
            .arg(config)
            .args(["--log", log_level])
            .arg("--admin-socket")
            .arg(Self::admin_socket_of(config))
            .args(["--metrics", &metrics.to_string()])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        let line = util::show(&cmd);
        eprintln!("$ {line}  (log: {})", log.display());
        cmd.spawn()
            .map_err(|e| format!("could not start `{line}`: {e}"))
    }

    /// Starts the same binary and configuration again, on the same port
    /// (after a crash or a stop); waits until it accepts connections.
    pub(crate) fn restart(&mut self) -> Result<Duration> {
        kill_child(&mut self.child);
        self.child = Self::spawn(
            &self.binary,
            &self.config,
            self.log_level,
            &self.log,
            self.metrics,
        )?;
        let port = self.port;
        wait_for_port(port, Duration::from_secs(10), || self.check_alive())
    }

    /// SIGKILL, as a crash would end it.
    pub(crate) fn kill9(&mut self) -> Result {
        self.child
            .kill()
            .map_err(|e| format!("cannot kill our target: {e}"))?;
        let _ = self.child.wait();
        Ok(())
    }

    /// Process id, for the report.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin interface's socket.
    pub(crate) fn admin_socket(&self) -> PathBuf {
        Self::admin_socket_of(&self.config)
    }

    /// Where the metrics are served.
    pub(crate) fn metrics(&self) -> SocketAddr {
        self.metrics
    }

    /// Sends SIGTERM and waits 15 s for a clean exit (status 0).
    pub(crate) fn terminate(&mut self) -> Result<String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!(
                "our target had already exited with {status}; see {}",
                self.log.display()
            ));
        }
        let start = Instant::now();
        util::capture(util::timed(5, "kill").args(["-TERM", &self.child.id().to_string()]))?
            .success()?;
        match wait_exit(&mut self.child, Duration::from_secs(15)) {
            Some(status) if status.success() => Ok(format!(
                "exited 0 {:.1} s after SIGTERM",
                start.elapsed().as_secs_f64()
            )),
            Some(status) => Err(format!(
                "exited with {status} after SIGTERM; last lines of {}:\n{}",
                self.log.display(),
                log_tail(&self.log, 15)
            )),
            None => {
                kill_child(&mut self.child);
                Err("did not exit within 15 s of SIGTERM (killed with SIGKILL)".to_owned())
            }
        }
    }

    /// Online resize the way an operator does it: rewrites `size = "FROM"`
    /// of target `iqn` in the configuration file as `size = "TO"`, sends
    /// SIGHUP and waits (10 s at most) for the target to log the resize.
    pub(crate) fn resize(&mut self, iqn: &str, from: &str, to: &str) -> Result<String> {
        let text = fs::read_to_string(&self.config)
            .map_err(|e| format!("cannot read {}: {e}", self.config.display()))?;
        let start = text
            .find(&format!("name = \"{iqn}\""))
            .ok_or_else(|| format!("{iqn} is not in {}", self.config.display()))?;
        let old = format!("size = \"{from}\"");
        let at = text[start..]
            .find(&old)
            .map(|i| start + i)
            .ok_or_else(|| format!("{iqn} has no {old}"))?;
        let text = format!("{}size = \"{to}\"{}", &text[..at], &text[at + old.len()..]);
        fs::write(&self.config, text)
            .map_err(|e| format!("cannot write {}: {e}", self.config.display()))?;
        let seen = log_tail(&self.log, 10_000).matches("resized from").count();
        util::capture(util::timed(5, "kill").args(["-HUP", &self.child.id().to_string()]))?
            .success()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let log = log_tail(&self.log, 10_000);
            if log.matches("resized from").count() > seen {
                let line = log
                    .lines()
                    .rev()
                    .find(|l| l.contains("resized from"))
                    .unwrap_or_default();
                return Ok(format!(
                    "{from} -> {to} in the file, SIGHUP: {}",
                    line.trim()
                ));
            }
            self.check_alive()?;
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "no resize logged within 10 s of SIGHUP; last lines of {}:\n{}",
            self.log.display(),
            log_tail(&self.log, 10)
        ))
    }

    /// [`Self::terminate`], consuming the guard.
    pub(crate) fn stop(mut self) -> Result<String> {
        self.terminate()
    }
}

impl Peer for OurTarget {
    fn label(&self) -> &'static str {
        "ours"
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn exposed(&self) -> &Exposed {
        &self.exposed
    }

    fn check_alive(&mut self) -> Result {
        child_alive(&mut self.child, "our iscsi-target", &self.log)
    }

    fn ours(&mut self) -> Option<&mut OurTarget> {
        Some(self)
    }
}

impl Drop for OurTarget {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

// ---------------------------------------------------------------- tgtd

/// A random number from the standard library's per-process hash keys.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A tgtd management channel number whose socket does not exist yet.
fn free_control_number() -> u16 {
    let mut n = random_u64();
    for _ in 0..32 {
        let ctl = 1000 + u16::try_from(n % 19_000).unwrap_or(0);
        if !Path::new(&format!("/var/run/tgtd/socket.{ctl}")).exists() {
            return ctl;
        }
        n = n.rotate_left(13).wrapping_add(7919);
    }
    1000 + u16::try_from(n % 19_000).unwrap_or(0)
}

/// Creates a fully allocated ("thick") file of `size` bytes: `fallocate`,
/// or zeros written from here when the file system cannot preallocate.
fn create_thick_file(path: &Path, size: u64) -> Result {
    let made = util::capture(
        util::timed(60, "fallocate")
            .args(["-l", &size.to_string()])
            .arg(path),
    )?;
    if made.status.success() {
        return Ok(());
    }
    eprintln!(
        "fallocate failed ({}); writing zeros instead",
        made.last_line()
    );
    let mut file =
        File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(1 << 20)).unwrap_or(1 << 20);
        file.write_all(&chunk[..n])
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| format!("cannot sync {}: {e}", path.display()))
}

/// tgt's RBD backing store (Debian package `tgt-rbd`).
const TGT_BS_RBD: &str = "/usr/lib/tgt/backing-store/bs_rbd.so";

/// tgtd with one target ([`TGTD_IQN`]): LUN 1 is a thick 1 GiB file in
/// /dev/shm (LUN 0 is tgt's controller), bound to every initiator.
pub(crate) struct Tgtd {
    child: Option<Child>,
    ctl: u16,
    port: u16,
    image: PathBuf,
    /// LUN 1 on an RBD image through tgt's `bs_rbd` (Debian `tgt-rbd`):
    /// `(POOL/IMAGE, ceph.conf)`, instead of the file in /dev/shm.
    rbd: Option<(String, PathBuf)>,
    log: PathBuf,
    exposed: Exposed,
    /// Target ids created, deleted again on shutdown.
    tids: Vec<u32>,
}

impl Tgtd {
    /// Starts and configures tgtd (`dir` receives its log).
    pub(crate) fn start(dir: &Path) -> Result<Self> {
        Self::start_on(dir, None)
    }

    /// tgtd whose LUNs are the RBD image `spec` (`POOL/IMAGE`) of the
    /// cluster configured in `conf`, through `bs_rbd`.
    pub(crate) fn start_rbd(dir: &Path, spec: &str, conf: &Path) -> Result<Self> {
        install(&[("tgtd", "tgt"), (TGT_BS_RBD, "tgt-rbd")])?;
        Self::start_on(dir, Some((spec.to_owned(), conf.to_path_buf())))
    }

    fn start_on(dir: &Path, rbd: Option<(String, PathBuf)>) -> Result<Self> {
        let port = free_port()?;
        let ctl = free_control_number();
        let mut tgtd = Self {
            child: None,
            ctl,
            port,
            image: PathBuf::from(format!(
                "/dev/shm/xtask-interop-tgtd-{}.img",
                std::process::id()
            )),
            rbd,
            log: dir.join("tgtd.log"),
            exposed: Exposed {
                data: LunRef {
                    iqn: TGTD_IQN.to_owned(),
                    lun: 1,
                    size: GIB,
                },
                chap: Some(LunRef {
                    iqn: TGTD_CHAP_IQN.to_owned(),
                    lun: 1,
                    size: GIB,
                }),
                mutual: Some(LunRef {
                    iqn: TGTD_MUTUAL_IQN.to_owned(),
                    lun: 1,
                    size: GIB,
                }),
                vendor: "IET",
                others: (0..TGTD_PADDING_TARGETS)
                    .map(|i| {
                        format!("{TGTD_IQN}-padding-target-with-a-long-name-to-fill-text-responses-{i:03}")
                    })
                    .collect(),
                extra_ports: vec![free_port()?],
                initiator_name: None,
                read_only: None,
            },
            tids: Vec::new(),
        };
        if tgtd.rbd.is_none() {
            create_thick_file(&tgtd.image, GIB)?;
        }
        let (out, err) = log_files(&tgtd.log)?;
        // Not under `timeout`: the guard must own tgtd's own pid to kill it.
        let mut cmd = Command::new("tgtd");
        cmd.args(["-f", "--iscsi"])
            .arg(format!("portal=127.0.0.1:{port}"))
            .args(["-C", &ctl.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let line = util::show(&cmd);
        eprintln!("$ {line}  (log: {})", tgtd.log.display());
        tgtd.child = Some(
            cmd.spawn()
                .map_err(|e| format!("could not start `{line}`: {e}"))?,
        );

        // Wait for the management channel.
        let start = Instant::now();
        loop {
            let out = Command::new("timeout")
                .args(["5", "tgtadm", "-C", &ctl.to_string()])
                .args(["--lld", "iscsi", "--mode", "target", "--op", "show"])
                .stdin(Stdio::null())
                .output();
            if out.is_ok_and(|o| o.status.success()) {
                break;
            }
            tgtd.check_alive()?;
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "tgtd's management channel {ctl} did not answer within 10 s"
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
        tgtd.configure()?;
        wait_for_port(port, Duration::from_secs(10), || tgtd.check_alive())?;
        Ok(tgtd)
    }

    /// Targets 1 (open), 2 (CHAP), 3 (mutual CHAP), all on the one image,
    /// then the padding targets, the accounts and the second portal.
    fn configure(&mut self) -> Result {
        let image = self.image.to_string_lossy().into_owned();
        let exposed = self.exposed.clone();
        let with_lun = [
            (1, exposed.data.iqn.as_str()),
            (2, TGTD_CHAP_IQN),
            (3, TGTD_MUTUAL_IQN),
        ];
        let padding = (4..).zip(exposed.others.iter().map(String::as_str));
        for (tid, name) in with_lun.into_iter().chain(padding) {
            let tid_text = u32::to_string(&tid);
            self.admin(&[
                "--mode",
                "target",
                "--op",
                "new",
                "--tid",
                &tid_text,
                "--targetname",
                name,
            ])?;
            self.tids.push(tid);
            if tid <= 3 {
                let mut lun = vec![
                    "--mode",
                    "logicalunit",
                    "--op",
                    "new",
                    "--tid",
                    &tid_text,
                    "--lun",
                    "1",
                ];
                let bsopts;
                match &self.rbd {
                    Some((spec, conf)) => {
                        bsopts = format!("conf={}", conf.display());
                        lun.extend([
                            "--bstype",
                            "rbd",
                            "--backing-store",
                            spec,
                            "--bsopts",
                            &bsopts,
                        ]);
                    }
                    None => lun.extend(["--backing-store", &image]),
                }
                self.admin(&lun)?;
            }
            self.admin(&[
                "--mode",
                "target",
                "--op",
                "bind",
                "--tid",
                &tid_text,
                "--initiator-address",
                "ALL",
            ])?;
        }
        for (user, secret) in [(CHAP_USER, CHAP_SECRET), (TARGET_USER, TARGET_SECRET)] {
            self.admin(&[
                "--mode",
                "account",
                "--op",
                "new",
                "--user",
                user,
                "--password",
                secret,
            ])?;
        }
        for tid in ["2", "3"] {
            self.admin(&[
                "--mode", "account", "--op", "bind", "--tid", tid, "--user", CHAP_USER,
            ])?;
        }
        self.admin(&[
            "--mode",
            "account",
            "--op",
            "bind",
            "--tid",
            "3",
            "--user",
            TARGET_USER,
            "--outgoing",
        ])?;
        // tgtd answers "None" to an offer of "CRC32C" alone unless the
        // target lists CRC32C; "None,CRC32C" keeps libiscsi's default offer
        // (None first) negotiating no digests, as in the conformance baseline.
        for key in ["HeaderDigest", "DataDigest"] {
            self.admin(&[
                "--mode",
                "target",
                "--op",
                "update",
                "--tid",
                "1",
                "--name",
                key,
                "--value",
                "None,CRC32C",
            ])?;
        }
        for port in &exposed.extra_ports {
            self.admin(&[
                "--mode",
                "portal",
                "--op",
                "new",
                "--param",
                &format!("portal=127.0.0.1:{port}"),
            ])?;
        }
        Ok(())
    }

    /// `tgtadm -C CTL --lld iscsi ARGS` (10 s at most).
    fn admin(&self, args: &[&str]) -> Result {
        util::capture(
            util::timed(10, "tgtadm")
                .args(["-C", &self.ctl.to_string(), "--lld", "iscsi"])
                .args(args),
        )?
        .success()
    }

    /// Process id of tgtd, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Management channel and image, for the report.
    pub(crate) fn describe(&self) -> String {
        format!(
            "control channel {}, thick 1 GiB {}, {} targets (open, CHAP, mutual CHAP, {} LUN-less), \
             second portal {:?}, MaxRecvDataSegmentLength 8192 (tgtd default)",
            self.ctl,
            self.image.display(),
            self.tids.len(),
            TGTD_PADDING_TARGETS,
            self.exposed.extra_ports
        )
    }

    /// tgtd ignores SIGTERM while it has targets: set it offline, delete
    /// the target and the system (it exits), SIGKILL after 5 s.
    fn shutdown(&mut self) -> Result<String> {
        let Some(child) = self.child.as_mut() else {
            return Ok("was not running".to_owned());
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "tgtd had already exited with {status}; see {}",
                self.log.display()
            ));
        }
        let mut steps = vec![self.admin(&[
            "--op", "update", "--mode", "sys", "--name", "State", "-v", "offline",
        ])];
        for tid in &self.tids {
            steps.push(self.admin(&[
                "--mode",
                "target",
                "--op",
                "delete",
                "--force",
                "--tid",
                &tid.to_string(),
            ]));
        }
        steps.push(self.admin(&["--op", "delete", "--mode", "system"]));
        let child = self.child.as_mut().ok_or("tgtd vanished")?;
        let ended = wait_exit(child, Duration::from_secs(5));
        kill_child(child);
        let failed: Vec<String> = steps
            .into_iter()
            .filter_map(std::result::Result::err)
            .collect();
        match (ended, failed.is_empty()) {
            (Some(_), true) => Ok("stopped through tgtadm".to_owned()),
            (None, true) => Ok("tgtadm shut it down, but it did not exit: killed".to_owned()),
            (_, false) => Ok(format!("killed after tgtadm failed: {}", failed.join("; "))),
        }
    }

    /// Stops tgtd and removes its image.
    pub(crate) fn stop(mut self) -> Result<String> {
        let detail = self.shutdown()?;
        if self.rbd.is_none() {
            fs::remove_file(&self.image)
                .map_err(|e| format!("cannot remove {}: {e}", self.image.display()))?;
        }
        Ok(detail)
    }
}

impl Peer for Tgtd {
    fn label(&self) -> &'static str {
        "tgtd"
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn exposed(&self) -> &Exposed {
        &self.exposed
    }

    fn check_alive(&mut self) -> Result {
        match self.child.as_mut() {
            Some(child) => child_alive(child, "tgtd", &self.log),
            None => Err("tgtd was not started".to_owned()),
        }
    }
}

impl Drop for Tgtd {
    fn drop(&mut self) {
        if self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        {
            let _ = self.shutdown();
        }
        if let Some(child) = self.child.as_mut() {
            kill_child(child);
            // tgtd leaves its management socket behind.
            for suffix in ["", ".lock"] {
                let _ = fs::remove_file(format!("/var/run/tgtd/socket.{}{suffix}", self.ctl));
            }
        }
        let _ = fs::remove_file(&self.image);
    }
}

// ---------------------------------------------------------------- LIO

/// `Ok` when this kernel has LIO (`/sys/kernel/config/target`, or
/// `modprobe -n target_core_mod` succeeds); otherwise the reason.
pub(crate) fn detect_lio() -> Result {
    if Path::new("/sys/kernel/config/target").is_dir() {
        return Ok(());
    }
    let probe = Command::new("timeout")
        .args(["10", "modprobe", "-n", "target_core_mod"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_ok_and(|s| s.success()) {
        return Ok(());
    }
    Err(
        "this kernel has no LIO (no /sys/kernel/config/target, target_core_mod not available): \
         the targetcli peer cannot run here"
            .to_owned(),
    )
}

/// Name of the fileio backstore (the CHAP targets' LUN).
const LIO_BACKSTORE: &str = "xtask_interop";
/// Name of the ramdisk backstore (the open target's LUN).
const LIO_RAMDISK: &str = "xtask_interop_rd";
/// Size of LIO's ramdisk LUN, bytes.
pub(crate) const LIO_RAMDISK_SIZE: u64 = 256 << 20;
/// Size of LIO's fileio LUN, bytes.
pub(crate) const LIO_FILEIO_SIZE: u64 = 64 << 20;
/// The initiator name LIO's ACL admits (pass it with `-i` to libiscsi tools).
pub(crate) const LIO_INITIATOR: &str = "iqn.2026-11.rs.iscsi:interop-initiator";

/// The targetcli commands that configure LIO: a ramdisk backstore and a
/// fileio backstore of `image`, and three targets, each with its portal on
/// 127.0.0.1:`port` only: [`LIO_IQN`] with the ramdisk, open to every
/// initiator (demo mode); [`LIO_CHAP_IQN`] with the fileio LUN, an ACL for
/// [`LIO_INITIATOR`] and CHAP; and [`LIO_MUTUAL_IQN`], the same with mutual
/// CHAP ([`TARGET_USER`]).
pub(crate) fn lio_commands(port: u16, image: &Path) -> Vec<Vec<String>> {
    let mut lines = vec![
        format!(
            "/backstores/ramdisk create name={LIO_RAMDISK} size={}M",
            LIO_RAMDISK_SIZE >> 20
        ),
        format!(
            "/backstores/fileio create name={LIO_BACKSTORE} file_or_dev={} size={}M write_back=false",
            image.display(),
            LIO_FILEIO_SIZE >> 20
        ),
    ];
    for (iqn, auth) in [
        (LIO_IQN, None),
        (LIO_CHAP_IQN, Some(false)),
        (LIO_MUTUAL_IQN, Some(true)),
    ] {
        let tpg = format!("/iscsi/{iqn}/tpg1");
        let backstore = if auth.is_none() {
            format!("/backstores/ramdisk/{LIO_RAMDISK}")
        } else {
            format!("/backstores/fileio/{LIO_BACKSTORE}")
        };
        lines.extend([
            format!("/iscsi create {iqn}"),
            format!("{tpg}/luns create {backstore}"),
            format!("{tpg}/portals delete 0.0.0.0 3260"),
            format!("{tpg}/portals create 127.0.0.1 {port}"),
        ]);
        let acl = format!("{tpg}/acls/{LIO_INITIATOR}");
        match auth {
            None => lines.push(format!(
                "{tpg} set attribute authentication=0 generate_node_acls=1 \
                 demo_mode_write_protect=0 cache_dynamic_acls=1"
            )),
            Some(mutual) => {
                lines.push(format!(
                    "{tpg} set attribute authentication=1 generate_node_acls=0"
                ));
                lines.push(format!(
                    "{tpg}/acls create {LIO_INITIATOR} add_mapped_luns=true"
                ));
                lines.push(format!(
                    "{acl} set auth userid={CHAP_USER} password={CHAP_SECRET}"
                ));
                if mutual {
                    lines.push(format!(
                        "{acl} set auth mutual_userid={TARGET_USER} mutual_password={TARGET_SECRET}"
                    ));
                }
            }
        }
    }
    lines
        .iter()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// What LIO serves under [`lio_commands`].
pub(crate) fn lio_exposed() -> Exposed {
    let lun = |iqn: &str, size: u64| LunRef {
        iqn: iqn.to_owned(),
        lun: 0,
        size,
    };
    Exposed {
        data: lun(LIO_IQN, LIO_RAMDISK_SIZE),
        chap: Some(lun(LIO_CHAP_IQN, LIO_FILEIO_SIZE)),
        mutual: Some(lun(LIO_MUTUAL_IQN, LIO_FILEIO_SIZE)),
        vendor: "LIO-ORG",
        others: Vec::new(),
        extra_ports: Vec::new(),
        initiator_name: Some(LIO_INITIATOR),
        read_only: None,
    }
}

/// LIO of this host's kernel, configured through targetcli; `Drop` deletes
/// the targets, the backstores and the image.
pub(crate) struct Lio {
    port: u16,
    image: PathBuf,
    exposed: Exposed,
}

impl Lio {
    /// Detects LIO and targetcli, then configures the target.
    pub(crate) fn start() -> Result<Self> {
        detect_lio()?;
        if !util::have("targetcli") {
            return Err("targetcli is missing (it is not installed automatically): \
                        `sudo apt-get install -y targetcli-fb`"
                .to_owned());
        }
        let port = free_port()?;
        let lio = Self {
            port,
            image: PathBuf::from(format!(
                "/dev/shm/xtask-interop-lio-{}.img",
                std::process::id()
            )),
            exposed: lio_exposed(),
        };
        create_thick_file(&lio.image, LIO_FILEIO_SIZE)?;
        for args in lio_commands(port, &lio.image) {
            util::capture(util::timed(30, "targetcli").args(&args))?.success()?;
        }
        wait_for_port(port, Duration::from_secs(10), || Ok(()))?;
        Ok(lio)
    }
}

impl Peer for Lio {
    fn label(&self) -> &'static str {
        "lio"
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn exposed(&self) -> &Exposed {
        &self.exposed
    }

    fn check_alive(&mut self) -> Result {
        Ok(())
    }
}

impl Drop for Lio {
    fn drop(&mut self) {
        let targets = [LIO_IQN, LIO_CHAP_IQN, LIO_MUTUAL_IQN]
            .map(|iqn| vec!["/iscsi".to_owned(), "delete".to_owned(), iqn.to_owned()]);
        let backstores =
            [("fileio", LIO_BACKSTORE), ("ramdisk", LIO_RAMDISK)].map(|(kind, name)| {
                vec![
                    format!("/backstores/{kind}"),
                    "delete".to_owned(),
                    name.to_owned(),
                ]
            });
        for args in targets.into_iter().chain(backstores) {
            let _ = util::capture(util::timed(30, "targetcli").args(&args));
        }
        let _ = fs::remove_file(&self.image);
    }
}

// ---------------------------------------------------------------- packages

/// Installs the Debian packages of `pairs` when missing (root only).
pub(crate) fn install(pairs: &[(&str, &str)]) -> Result {
    util::ensure_debian_packages(pairs)
}

/// `Err` naming the install command when a program of `pairs` is missing
/// (checks call this; only the setup step installs).
pub(crate) fn require(pairs: &[(&str, &str)]) -> Result {
    let mut missing: Vec<&str> = pairs
        .iter()
        .filter(|(program, _)| !util::have(program))
        .map(|(_, package)| *package)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        Ok(())
    } else {
        let list = missing.join(" ");
        Err(format!(
            "missing Debian packages: {list}. Install them with `sudo apt-get install -y {list}` \
             (or run `cargo xtask interop` as root)"
        ))
    }
}

/// Whether qemu-img can open `iscsi://` URLs (its block driver is a module).
pub(crate) fn have_qemu_iscsi() -> bool {
    util::have("qemu-img") && util::have("qemu-io") && Path::new(QEMU_BLOCK_ISCSI).is_file()
}

/// The distribution's code name (`VERSION_CODENAME` of /etc/os-release).
pub(crate) fn codename() -> String {
    fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("VERSION_CODENAME=")
                    .map(|v| v.trim().trim_matches('"').to_owned())
            })
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "bookworm".to_owned())
}

/// A deb822 source for `CODENAME-backports` that reuses the `URIs:` and
/// `Signed-By:` of the stanza of `debian_sources` whose first suite is
/// `codename` (the mirror is the machine's own; none is hard-coded here).
pub(crate) fn backports_source(debian_sources: &str, codename: &str) -> Result<String> {
    source_stanza(
        debian_sources,
        codename,
        "deb",
        &format!("{codename}-backports"),
        "qemu-block-extra (qemu's iscsi driver)",
    )
}

/// An apt source stanza of `types` (`deb`, `deb-src`) for `suite`, with
/// the mirror of the `codename` stanza of `debian_sources` (none is
/// hard-coded here); `why` goes into its comment.
pub(crate) fn source_stanza(
    debian_sources: &str,
    codename: &str,
    types: &str,
    suite: &str,
    why: &str,
) -> Result<String> {
    for stanza in debian_sources.split("\n\n") {
        // Fields, with continuation lines folded in; comments dropped.
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push('\n');
                    value.push_str(line);
                }
            } else if let Some((key, value)) = line.split_once(':') {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if get("suites").and_then(|s| s.split_whitespace().next()) != Some(codename) {
            continue;
        }
        let uris = get("uris").filter(|u| !u.is_empty()).ok_or_else(|| {
            format!("the {codename} stanza of {DEBIAN_SOURCES} has no URIs: line")
        })?;
        let mut out = format!(
            "# Added by `cargo xtask` for {why}.\n\
             Types: {types}\nURIs: {uris}\nSuites: {suite}\nComponents: main\n"
        );
        if let Some(signed_by) = get("signed-by") {
            let _ = writeln!(out, "Signed-By: {signed_by}");
        }
        return Ok(out);
    }
    Err(format!(
        "{DEBIAN_SOURCES} has no stanza with `Suites: {codename} ...`"
    ))
}

/// Writes [`BACKPORTS_SOURCE`] for `CODENAME-backports` with the mirror of
/// the machine's own sources (root only; `apt-get update` is the caller's).
pub(crate) fn ensure_backports_source(codename: &str) -> Result {
    let sources = fs::read_to_string(DEBIAN_SOURCES)
        .map_err(|e| format!("cannot read {DEBIAN_SOURCES} (to find the mirror): {e}"))?;
    let source = backports_source(&sources, codename)?;
    let current = fs::read_to_string(BACKPORTS_SOURCE).unwrap_or_default();
    if current != source {
        eprintln!(
            "writing {BACKPORTS_SOURCE} ({codename}-backports, mirror from {DEBIAN_SOURCES})"
        );
        fs::write(BACKPORTS_SOURCE, &source)
            .map_err(|e| format!("cannot write {BACKPORTS_SOURCE}: {e}"))?;
    }
    Ok(())
}

/// Makes qemu-img's iscsi driver available: with `install` and as root,
/// adds the backports source and installs `qemu-block-extra` (with a
/// matching `qemu-utils`) from it; otherwise fails with the commands to run.
pub(crate) fn ensure_qemu_iscsi(install: bool) -> Result<String> {
    if have_qemu_iscsi() {
        return Ok(format!("{QEMU_BLOCK_ISCSI} present"));
    }
    let codename = codename();
    let sources = fs::read_to_string(DEBIAN_SOURCES)
        .map_err(|e| format!("cannot read {DEBIAN_SOURCES} (to find the mirror): {e}"))?;
    let source = backports_source(&sources, &codename)?;
    let command = format!(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -t {codename}-backports qemu-utils qemu-block-extra"
    );
    if !install || !util::is_root() || !util::have("apt-get") {
        return Err(format!(
            "qemu-img's iscsi driver ({QEMU_BLOCK_ISCSI}) is missing; as root, write \
             {BACKPORTS_SOURCE} with:\n{source}and run `{command}` (or run `cargo xtask interop` as root)"
        ));
    }
    ensure_backports_source(&codename)?;
    util::run(util::timed(300, "apt-get").args(["update", "-q"]))?;
    util::run(
        util::timed(600, "apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args([
                "install",
                "-y",
                "-q",
                "-t",
                &format!("{codename}-backports"),
            ])
            .args(["qemu-utils", "qemu-block-extra"]),
    )?;
    if have_qemu_iscsi() {
        Ok(format!(
            "installed qemu-block-extra from {codename}-backports"
        ))
    } else {
        Err(format!(
            "qemu-block-extra was installed but {QEMU_BLOCK_ISCSI} is still missing"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::{
        CHAP_IQN, LINUX_TARGETS, MUTUAL_IQN, OUR_TARGETS, RAM_IQN, READ_ONLY_IQN, backports_source,
        config_for, lio_commands,
    };

    fn target_config(port: u16) -> String {
        config_for(
            port,
            &[(port + 1, "active_optimized")],
            &OUR_TARGETS,
            Path::new("."),
        )
    }
    use crate::util;

    #[test]
    fn config_has_the_four_targets_on_both_portals() {
        let text = target_config(41234);
        assert!(text.contains("address = \"127.0.0.1:41234\"\ngroup = 1"));
        assert!(text.contains("address = \"127.0.0.1:41235\"\ngroup = 2"));
        assert!(text.contains("physical_block_size = 4096"));
        assert_eq!(text.matches("read_only = true").count(), 1);
        for name in [RAM_IQN, CHAP_IQN, MUTUAL_IQN, READ_ONLY_IQN] {
            assert_eq!(
                text.matches(&format!("name = \"{name}\"")).count(),
                1,
                "{name}"
            );
        }
        assert_eq!(text.matches("[[target]]").count(), 4);
        assert_eq!(text.matches("[[target.lun]]").count(), 4);
        assert_eq!(
            text.matches("chap = { user = \"interop\", secret = \"interop-secret-1\" }")
                .count(),
            2
        );
        assert_eq!(
            text.matches(
                "mutual_chap = { user = \"interop-target\", secret = \"interop-target-2\" }"
            )
            .count(),
            1
        );
        assert!(text.contains("size = \"1G\""));
        assert_eq!(text.matches("size = \"64M\"").count(), 3);
    }

    /// Every key and table of the generated file is one the documented
    /// example uses, so a renamed key fails here rather than at run time.
    #[test]
    fn config_uses_only_keys_of_the_example() {
        let example_path = util::root().join("crates/iscsi-target/target.example.toml");
        let example = fs::read_to_string(&example_path).expect("the example configuration");
        let keys = |text: &str| -> Vec<String> {
            let mut keys = Vec::new();
            for line in text.lines().map(str::trim) {
                if line.starts_with('#') || line.is_empty() {
                    continue;
                }
                if line.starts_with('[') {
                    keys.push(line.to_owned());
                } else if let Some((key, value)) = line.split_once('=') {
                    keys.push(key.trim().to_owned());
                    if value.trim_start().starts_with('{') {
                        for part in value.trim().trim_matches(['{', '}']).split(',') {
                            if let Some((k, _)) = part.split_once('=') {
                                keys.push(k.trim().to_owned());
                            }
                        }
                    }
                }
            }
            keys
        };
        let known = keys(&example);
        let linux = config_for(3260, &[], &LINUX_TARGETS, Path::new("/tmp/x"));
        assert!(linux.contains("path = \"/tmp/x/interop-file.img\""));
        assert!(linux.contains("block_size = 4096"));
        for key in keys(&target_config(3260)).into_iter().chain(keys(&linux)) {
            assert!(
                known.contains(&key),
                "{key} is not in {}",
                example_path.display()
            );
        }
    }

    #[test]
    fn backports_source_reuses_the_mirror_and_key() {
        let sources = "Types: deb\n\
            # http://snapshot.example/archive/debian/20250520T000000Z\n\
            URIs: http://mirror.invalid/debian\n\
            Suites: bookworm bookworm-updates\n\
            Components: main\n\
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
            \n\
            Types: deb\n\
            URIs: http://mirror.invalid/debian-security\n\
            Suites: bookworm-security\n\
            Components: main\n\
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";
        let out = backports_source(sources, "bookworm").expect("a source");
        assert!(
            out.contains("\nURIs: http://mirror.invalid/debian\n"),
            "{out}"
        );
        assert!(out.contains("\nSuites: bookworm-backports\n"));
        assert!(out.contains("\nComponents: main\n"));
        assert!(out.contains("\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"));
        assert!(!out.contains("security"));
        assert!(backports_source(sources, "trixie").is_err());
        assert!(backports_source("Types: deb\nSuites: bookworm\n", "bookworm").is_err());
    }

    #[test]
    fn lio_is_configured_on_loopback_with_chap() {
        let commands = lio_commands(4000, Path::new("/dev/shm/x.img"));
        let lines: Vec<String> = commands.iter().map(|c| c.join(" ")).collect();
        assert!(lines[1].starts_with(
            "/backstores/fileio create name=xtask_interop file_or_dev=/dev/shm/x.img size=64M"
        ));
        assert!(lines[0].starts_with("/backstores/ramdisk create name=xtask_interop_rd size=256M"));
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("portals create 127.0.0.1 4000"))
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.ends_with("portals create 127.0.0.1 4000"))
                .count(),
            3,
            "three targets, each on the loopback portal only"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("authentication=0 generate_node_acls=1"))
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("authentication=1"))
                .count(),
            2
        );
        assert!(lines.iter().any(|l| l.ends_with(
            "interop-lio-chap/tpg1/acls/iqn.2026-11.rs.iscsi:interop-initiator set auth userid=interop password=interop-secret-1"
        )));
        assert!(lines.iter().any(|l| l.ends_with(
            "interop-lio-mutual/tpg1/acls/iqn.2026-11.rs.iscsi:interop-initiator set auth mutual_userid=interop-target mutual_password=interop-target-2"
        )));
    }
}
