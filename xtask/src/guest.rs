//! `cargo xtask guest build | run`: a Linux guest under QEMU for the peers
//! this host's kernel lacks — the kernel initiator (open-iscsi + `iscsi_tcp`)
//! and the kernel target LIO (targetcli).
//!
//! The guest is Debian's own kernel (`linux-image-amd64`) booted as an
//! uncompressed ELF `vmlinux` (PVH entry: the bzImage's decompressor costs
//! ~2.6 s under TCG) with a small busybox initramfs that mounts the root, an
//! ext4 image made by `mmdebstrap` and opened with `snapshot=on` (nothing a
//! guest writes survives it). PID 1 is `xtask/guest/init.sh`: no systemd,
//! no udev; it runs `JOB` from a 9p share, writes `JOB.log` and `JOB.rc`
//! there and powers off. The recipe, with every pitfall measured, is
//! `shared/linux-guest/README.md`.
//!
//! The image is cached outside the checkout, in
//! `$XDG_CACHE_HOME/iscsi-rs/guest/KEY` (else `~/.cache/...`), where KEY is
//! a hash of everything that goes into it (packages, modules, scripts,
//! this file's recipe version), so a second build is a no-op. The apt
//! mirror is the machine's own (`/etc/apt/sources.list.d/debian.sources`):
//! no host name is written anywhere.
//!
//! Networking is QEMU's user mode only: the guest is 10.0.2.15/24 with no
//! default route and reaches the host's 127.0.0.1 as 10.0.2.2; every
//! `hostfwd` is bound to 127.0.0.1. KVM is used only where the CPU has
//! hardware virtualisation (vmx/svm) and `/dev/kvm` exists; TCG otherwise.

use std::collections::hash_map::DefaultHasher;
use std::env;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::peers;
use crate::util::{self, Result};

/// PID 1 of the guest's root file system.
const INIT: &str = include_str!("../guest/init.sh");
/// `/init` of the small initramfs that mounts the root image.
const MINI_INIT: &str = include_str!("../guest/mini-init.sh");

/// Bumped when the build steps below change in a way the inputs do not show.
const RECIPE_VERSION: u32 = 1;

/// Debian suite of the root file system and the kernel.
const SUITE: &str = "bookworm";

/// Packages of the root file system (`mmdebstrap --variant=minbase`).
/// dbus: targetcli-fb 2.1.53 dies without a system bus; nftables: the
/// DNAT that makes LIO advertise the forwarded loopback portal.
const PACKAGES: &[&str] = &[
    "open-iscsi",
    "targetcli-fb",
    "python3-rtslib-fb",
    "python3-configshell-fb",
    "fio",
    "e2fsprogs",
    "xfsprogs",
    "sg3-utils",
    "lsscsi",
    "nftables",
    "dbus",
    "multipath-tools",
    "util-linux",
    "iproute2",
    "kmod",
    "procps",
];

/// Kernel modules copied into the root, with their dependencies.
const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_mmio",
    "virtio_net",
    "virtio_blk",
    "virtio_scsi",
    "9pnet_virtio",
    "9p",
    "configfs",
    "sd_mod",
    "sg",
    "loop",
    "brd",
    "ext4",
    "xfs",
    "crc32c_generic",
    "crc32c-intel",
    "sha3_generic",
    "iscsi_tcp",
    "libiscsi_tcp",
    "libiscsi",
    "scsi_transport_iscsi",
    "target_core_mod",
    "iscsi_target_mod",
    "target_core_iblock",
    "target_core_file",
    "target_core_user",
    "dm_multipath",
    "dm_round_robin",
    "dm_service_time",
    "scsi_dh_alua",
    "nf_tables",
    "nft_chain_nat",
    "nft_nat",
    "nft_masq",
    "nf_nat",
    "nf_conntrack",
];

/// Modules of the small initramfs: enough to mount the root image.
const MINI_MODULES: &[&str] = &["virtio_pci", "virtio_mmio", "virtio_blk", "ext4"];

/// The initiator name of open-iscsi in the guest.
pub(crate) const GUEST_INITIATOR: &str = "iqn.2026-11.rs.iscsi:linux-guest";

/// The machine's own apt sources: the mirror of mmdebstrap.
const DEBIAN_SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

const USAGE: &str = "usage: cargo xtask guest build [--force]
       cargo xtask guest run DIR [--job NAME] [--hostfwd HOSTPORT:GUESTPORT]... [--timeout S] [--shell]

  build    build the guest image (cached; --force rebuilds)
  run      boot the guest with DIR shared over 9p, run DIR/NAME (default run.sh)
           as its job, power off; exits with the job's exit code. Forwards
           are bound to 127.0.0.1 on the host. --shell keeps a shell on the
           serial console (on this terminal) after the job.
";

/// `cargo xtask guest ...`.
pub(crate) fn main(args: &[String]) -> Result {
    match args.split_first() {
        Some((cmd, rest)) if cmd == "build" => {
            let force = match rest {
                [] => false,
                [f] if f == "--force" => true,
                _ => return Err(format!("unknown arguments {rest:?}\n\n{USAGE}")),
            };
            let (image, detail) = build(force)?;
            eprintln!("cargo xtask guest build: {detail}; {}", image.dir.display());
            Ok(())
        }
        Some((cmd, rest)) if cmd == "run" => {
            let (options, shell) = parse_run(rest)?;
            let (image, _) = build(false)?;
            let guest = Guest::spawn(&image, &options, shell)?;
            let outcome = guest.wait()?;
            eprintln!(
                "cargo xtask guest run: job {} exited {} after {:.1} s (log: {})",
                options.job,
                outcome.rc,
                outcome.wall.as_secs_f64(),
                options.share.join(format!("{}.log", options.job)).display()
            );
            if outcome.rc == 0 {
                Ok(())
            } else {
                Err(format!("the job exited {}", outcome.rc))
            }
        }
        _ => Err(USAGE.to_owned()),
    }
}

fn parse_run(args: &[String]) -> Result<(RunOptions, bool)> {
    let mut it = args.iter();
    let share = it
        .next()
        .filter(|a| !a.starts_with('-'))
        .ok_or_else(|| USAGE.to_owned())?;
    let mut options = RunOptions::new(Path::new(share), "run.sh");
    let mut shell = false;
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--job" => value()?.clone_into(&mut options.job),
            "--hostfwd" => {
                let v = value()?;
                let (h, g) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--hostfwd {v}: expected HOSTPORT:GUESTPORT"))?;
                let port = |p: &str| {
                    p.parse::<u16>()
                        .map_err(|e| format!("--hostfwd {v}: bad port {p:?}: {e}"))
                };
                options.hostfwd.push((port(h)?, port(g)?));
            }
            "--timeout" => {
                let v = value()?;
                options.timeout = Duration::from_secs(
                    v.parse()
                        .map_err(|e| format!("--timeout {v}: not seconds: {e}"))?,
                );
            }
            "--shell" => shell = true,
            other => return Err(format!("unknown option {other}\n\n{USAGE}")),
        }
    }
    Ok((options, shell))
}

// ---------------------------------------------------------------- build

/// A built guest: the files `run` boots.
pub(crate) struct Image {
    /// The cache directory holding `vmlinux`, `mini.cpio` and `root.ext4`.
    pub(crate) dir: PathBuf,
}

/// `$XDG_CACHE_HOME/iscsi-rs`, else `$HOME/.cache/iscsi-rs`: what xtask
/// builds once and keeps (the guest, fio).
pub(crate) fn cache_base() -> PathBuf {
    env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"))
        .join("iscsi-rs")
}

/// [`cache_base`]`/guest`.
fn cache_root() -> PathBuf {
    cache_base().join("guest")
}

/// A hash of everything the image is made from, as 16 hex digits.
fn recipe_key(sources: &str) -> String {
    let mut h = DefaultHasher::new();
    (
        RECIPE_VERSION,
        SUITE,
        PACKAGES,
        MODULES,
        MINI_MODULES,
        INIT,
        MINI_INIT,
        GUEST_INITIATOR,
        sources,
    )
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Builds the guest unless the cache has it; `Ok` holds the image and a
/// detail line (cached, or the build's duration).
pub(crate) fn build(force: bool) -> Result<(Image, String)> {
    let sources = fs::read_to_string(DEBIAN_SOURCES)
        .map_err(|e| format!("cannot read {DEBIAN_SOURCES} (the apt mirror): {e}"))?;
    let root = cache_root();
    let key = recipe_key(&sources);
    let dir = root.join(&key);
    let done = dir.join("built");
    if done.is_file() && !force {
        ensure_qemu()?;
        return Ok((Image { dir }, format!("cached (key {key})")));
    }
    if !util::is_root() {
        return Err(
            "building the guest needs root (mmdebstrap, apt-get): run `cargo xtask guest build` as root"
                .to_owned(),
        );
    }
    let start = Instant::now();
    let work = root.join(format!("{key}.building"));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    ensure_host_tools()?;
    let kver = kernel(&work)?;
    rootfs(&work, &kver)?;
    mini_initramfs(&work, &kver)?;
    disk_image(&work)?;
    // Keep only what is booted.
    for d in ["rootfs", "kernel", "mini", "dl"] {
        let _ = fs::remove_dir_all(work.join(d));
    }
    let secs = start.elapsed().as_secs_f64();
    fs::write(
        work.join("built"),
        format!("kernel {kver}\nbuild {secs:.1} s\n"),
    )
    .map_err(|e| format!("cannot write the build stamp: {e}"))?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&work, &dir).map_err(|e| format!("cannot move the image into place: {e}"))?;
    // Older images (another recipe) are dropped: each is ~1 GB.
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            if e.file_name() != key.as_str() {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok((
        Image { dir },
        format!("built in {secs:.1} s (kernel {kver}, key {key})"),
    ))
}

/// qemu-system-x86_64, from the backports suite when the distribution's
/// own cannot be installed (this machine's qemu-utils is from backports
/// and `Breaks:` bookworm's qemu-system-common).
pub(crate) fn ensure_qemu() -> Result {
    if util::have("qemu-system-x86_64") {
        return Ok(());
    }
    if !util::is_root() {
        return Err(
            "qemu-system-x86_64 is missing: as root, `apt-get install -y -t bookworm-backports \
             qemu-system-x86` (or run `cargo xtask guest build` as root)"
                .to_owned(),
        );
    }
    let codename = peers::codename();
    peers::ensure_backports_source(&codename)?;
    util::run(util::timed(300, "apt-get").args(["update", "-q"]))?;
    util::run(
        util::timed(900, "apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends", "-t"])
            .arg(format!("{codename}-backports"))
            .arg("qemu-system-x86"),
    )?;
    if util::have("qemu-system-x86_64") {
        Ok(())
    } else {
        Err("qemu-system-x86 was installed but qemu-system-x86_64 is still missing".to_owned())
    }
}

/// mmdebstrap, cpio, kmod (depmod/modprobe), xz, zstd, e2fsprogs, QEMU.
fn ensure_host_tools() -> Result {
    util::ensure_debian_packages(&[
        ("mmdebstrap", "mmdebstrap"),
        ("cpio", "cpio"),
        ("depmod", "kmod"),
        ("xz", "xz-utils"),
        ("zstd", "zstd"),
        ("mkfs.ext4", "e2fsprogs"),
        ("readelf", "binutils"),
    ])?;
    ensure_qemu()
}

/// Runs `cmd` (under `timeout`), inheriting its output; `Err` names it.
fn sh(secs: u64, program: &str, args: &[&str], dir: &Path) -> Result {
    util::run(util::timed(secs, program).args(args).current_dir(dir))
}

/// Downloads and unpacks Debian's kernel; writes `vmlinux`. Returns the
/// kernel version (`6.1.0-NN-amd64`).
fn kernel(work: &Path) -> Result<String> {
    let deps = util::output(util::timed(60, "apt-cache").args(["depends", "linux-image-amd64"]))?;
    let package = deps
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: linux-image-"))
        .map(|v| format!("linux-image-{}", v.trim()))
        .ok_or("apt-cache depends linux-image-amd64 named no linux-image-* package")?;
    let kver = package["linux-image-".len()..].to_owned();
    let dl = work.join("dl");
    fs::create_dir_all(&dl).map_err(|e| format!("cannot create {}: {e}", dl.display()))?;
    sh(600, "apt-get", &["download", &package], &dl)?;
    let deb = find_file(&dl, &format!("{package}_"))?;
    sh(
        300,
        "dpkg-deb",
        &["-x", &deb.to_string_lossy(), "kernel"],
        work,
    )?;
    sh(120, "depmod", &["-b", "kernel", &kver], work)?;
    let bz = fs::read(work.join(format!("kernel/boot/vmlinuz-{kver}")))
        .map_err(|e| format!("the kernel package has no vmlinuz-{kver}: {e}"))?;
    // The bzImage's payload: xz on bookworm's 6.1, zstd on backports' 6.12.
    let xz = find(&bz, b"\xfd7zXZ\x00");
    let zst = find(&bz, b"\x28\xb5\x2f\xfd");
    let (payload, tool): (&[u8], &[&str]) = match (xz, zst) {
        (Some(i), _) => (&bz[i..], &["xz", "-dc", "--single-stream"]),
        (None, Some(i)) => (&bz[i..], &["zstd", "-dcq"]),
        _ => return Err("no xz or zstd payload in the kernel's bzImage".to_owned()),
    };
    let packed = work.join("vmlinux.packed");
    fs::write(&packed, payload).map_err(|e| format!("cannot write {}: {e}", packed.display()))?;
    // The payload is followed by padding the decompressors may complain
    // about: their exit status is not trusted, the ELF note is checked.
    let out = fs::File::create(work.join("vmlinux"))
        .map_err(|e| format!("cannot create vmlinux: {e}"))?;
    let _ = Command::new(tool[0])
        .args(&tool[1..])
        .arg(&packed)
        .stdout(out)
        .stderr(Stdio::null())
        .status();
    let _ = fs::remove_file(&packed);
    let notes = util::output(
        util::timed(60, "readelf")
            .arg("-n")
            .arg(work.join("vmlinux")),
    )?;
    if !notes.contains("Unknown note type: (0x00000012)") && !notes.contains("PVH") {
        return Err(
            "the extracted vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)".to_owned(),
        );
    }
    Ok(kver)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .filter(|&i| i > 0)
}

/// The first file in `dir` whose name starts with `prefix`.
fn find_file(dir: &Path, prefix: &str) -> Result<PathBuf> {
    fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .ok_or_else(|| format!("no {prefix}* in {}", dir.display()))
}

/// The module files (`.ko`, `.ko.xz`, `.ko.zst`) `names` need, dependencies
/// first, as paths under `work/kernel`.
fn module_files(work: &Path, kver: &str, names: &[&str]) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for name in names {
        let out = util::capture(
            util::timed(60, "modprobe")
                .args(["-d", "kernel", "-S", kver, "--show-depends", name])
                .current_dir(work),
        )?;
        if !out.status.success() {
            // Built into the kernel, or absent from this kernel: nothing to copy.
            eprintln!("module {name}: {}", out.last_line());
            continue;
        }
        for line in out.stdout.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some("insmod")
                && let Some(path) = words.next()
            {
                let path = PathBuf::from(path);
                if !files.contains(&path) {
                    files.push(path);
                }
            }
        }
    }
    Ok(files)
}

/// The path of a module file relative to the unpacked kernel package.
fn relative_module(work: &Path, file: &Path) -> Result<PathBuf> {
    let kernel = work.join("kernel");
    file.strip_prefix(&kernel)
        .or_else(|_| file.strip_prefix("kernel"))
        .map(Path::to_path_buf)
        .map_err(|_| {
            format!(
                "module {} is not under {}",
                file.display(),
                kernel.display()
            )
        })
}

/// mmdebstrap the root, copy the modules, install PID 1 and the settings.
fn rootfs(work: &Path, kver: &str) -> Result {
    let include = format!("--include={}", PACKAGES.join(","));
    sh(
        1200,
        "mmdebstrap",
        &[
            "--variant=minbase",
            &include,
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-exclude=/usr/share/info/*",
            SUITE,
            "rootfs",
            DEBIAN_SOURCES,
        ],
        work,
    )?;
    let root = work.join("rootfs");
    for file in module_files(work, kver, MODULES)? {
        let rel = relative_module(work, &file)?;
        let to = root.join(&rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::copy(work.join("kernel").join(&rel), &to)
            .map_err(|e| format!("cannot copy {}: {e}", rel.display()))?;
    }
    let modules = format!("lib/modules/{kver}");
    for f in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        fs::copy(
            work.join("kernel").join(&modules).join(f),
            root.join(&modules).join(f),
        )
        .map_err(|e| format!("cannot copy {f}: {e}"))?;
    }
    sh(120, "depmod", &["-b", "rootfs", kver], work)?;
    let write = |path: &str, text: &str| {
        let p = root.join(path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    write("init", INIT)?;
    sh(10, "chmod", &["0755", "rootfs/init"], work)?;
    write(
        "etc/iscsi/initiatorname.iscsi",
        &format!("InitiatorName={GUEST_INITIATOR}\n"),
    )?;
    write("etc/hostname", "iscsi-guest\n")?;
    write("etc/hosts", "127.0.0.1 localhost iscsi-guest\n")?;
    // LIO's db_root and targetcli's saveconfig directory.
    fs::create_dir_all(root.join("etc/target"))
        .map_err(|e| format!("cannot create etc/target: {e}"))?;
    for d in ["var/lib/apt/lists", "var/cache/apt"] {
        let _ = fs::remove_dir_all(root.join(d));
        let _ = fs::create_dir_all(root.join(d));
    }
    Ok(())
}

/// `mini.cpio`: busybox, the modules that mount the root, `mini-init.sh`.
fn mini_initramfs(work: &Path, kver: &str) -> Result {
    let dl = work.join("dl");
    sh(300, "apt-get", &["download", "busybox-static"], &dl)?;
    let deb = find_file(&dl, "busybox-static_")?;
    let mini = work.join("mini");
    fs::create_dir_all(mini.join("bin")).map_err(|e| format!("cannot create mini/: {e}"))?;
    sh(
        60,
        "sh",
        &[
            "-c",
            &format!(
                "dpkg-deb --fsys-tarfile '{}' | tar -x -C mini ./bin/busybox",
                deb.display()
            ),
        ],
        work,
    )?;
    let mut list = String::new();
    for file in module_files(work, kver, MINI_MODULES)? {
        let rel = relative_module(work, &file)?;
        let from = work.join("kernel").join(&rel);
        let name = rel.to_string_lossy().into_owned();
        // busybox insmod takes plain .ko files only (6.12 ships .ko.xz).
        let (plain, tool) = if let Some(p) = name.strip_suffix(".xz") {
            (p.to_owned(), Some("xz"))
        } else if let Some(p) = name.strip_suffix(".zst") {
            (p.to_owned(), Some("zstd"))
        } else {
            (name.clone(), None)
        };
        let to = mini.join(&plain);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        match tool {
            None => {
                fs::copy(&from, &to).map_err(|e| format!("cannot copy {name}: {e}"))?;
            }
            Some(tool) => {
                let out =
                    fs::File::create(&to).map_err(|e| format!("cannot create {plain}: {e}"))?;
                let status = Command::new(tool)
                    .args(["-dcq"])
                    .arg(&from)
                    .stdout(out)
                    .status()
                    .map_err(|e| format!("cannot run {tool}: {e}"))?;
                if !status.success() {
                    return Err(format!("{tool} -dc {name} failed with {status}"));
                }
            }
        }
        list.push_str(&plain);
        list.push('\n');
    }
    fs::write(mini.join("modules.list"), list).map_err(|e| format!("mini/modules.list: {e}"))?;
    fs::write(mini.join("init"), MINI_INIT).map_err(|e| format!("mini/init: {e}"))?;
    sh(10, "chmod", &["0755", "mini/init"], work)?;
    sh(
        120,
        "sh",
        &[
            "-c",
            "cd mini && find . -print0 | cpio --null -o -H newc --quiet > ../mini.cpio",
        ],
        work,
    )
}

/// `root.ext4`: the root file system as a 1 GiB sparse ext4 image.
fn disk_image(work: &Path) -> Result {
    sh(
        600,
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-L",
            "vmroot",
            "-d",
            "rootfs",
            "root.ext4",
            "1G",
        ],
        work,
    )
}

// ---------------------------------------------------------------- run

/// How one boot runs.
#[derive(Clone, Debug)]
pub(crate) struct RunOptions {
    /// The host directory shared with the guest (mounted at /mnt/share).
    pub(crate) share: PathBuf,
    /// The job script's file name inside `share`.
    pub(crate) job: String,
    /// `(host port on 127.0.0.1, guest port)` forwards.
    pub(crate) hostfwd: Vec<(u16, u16)>,
    /// Guest memory in MiB.
    pub(crate) mem_mib: u32,
    /// Hard limit for the boot and the job; the guest is killed after it.
    pub(crate) timeout: Duration,
}

impl RunOptions {
    /// 1 GiB of memory, 10 minutes, no forwards.
    pub(crate) fn new(share: &Path, job: &str) -> Self {
        Self {
            share: share.to_path_buf(),
            job: job.to_owned(),
            hostfwd: Vec::new(),
            mem_mib: 1024,
            timeout: Duration::from_secs(600),
        }
    }
}

/// Whether KVM can run Debian's kernel here: `/dev/kvm` and a CPU with
/// hardware virtualisation (vmx or svm). This machine kind's `/dev/kvm` is
/// PVM, which cannot (`shared/linux-guest/README.md` §1).
fn kvm_usable() -> bool {
    Path::new("/dev/kvm").exists()
        && fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| {
            c.lines()
                .filter(|l| l.starts_with("flags"))
                .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
        })
}

/// The QEMU command line of one boot.
fn qemu_command(image: &Image, options: &RunOptions, interactive: bool) -> Command {
    let mut netdev = "user,id=n0,net=10.0.2.0/24,host=10.0.2.2".to_owned();
    for (host, guest) in &options.hostfwd {
        netdev.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}"));
    }
    let accel = if kvm_usable() { "kvm" } else { "tcg" };
    let mut append = format!(
        "console=ttyS0 rdinit=/init panic=-1 quiet vm.job={}",
        options.job
    );
    if interactive {
        append.push_str(" vm.shell=1");
    }
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", accel, "-M", "q35", "-cpu", "max", "-smp", "2"])
        .args(["-m", &options.mem_mib.to_string()])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-serial")
        .arg(if interactive {
            "mon:stdio".to_owned()
        } else {
            format!("file:{}", options.share.join("console.log").display())
        })
        .arg("-kernel")
        .arg(image.dir.join("vmlinux"))
        .args(["-append", &append])
        .args(["-netdev", &netdev, "-device", "virtio-net-pci,netdev=n0"])
        .arg("-fsdev")
        .arg(format!(
            "local,id=fs0,path={},security_model=none",
            options.share.display()
        ))
        .args(["-device", "virtio-9p-pci,fsdev=fs0,mount_tag=share"])
        .arg("-initrd")
        .arg(image.dir.join("mini.cpio"))
        .arg("-drive")
        .arg(format!(
            "id=d0,file={},if=none,format=raw,snapshot=on,cache=unsafe",
            image.dir.join("root.ext4").display()
        ))
        .args(["-device", "virtio-blk-pci,drive=d0"]);
    cmd
}

/// A booted guest running its job.
pub(crate) struct Guest {
    child: Child,
    options: RunOptions,
    started: Instant,
}

/// How a job ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// The job's exit code (from `JOB.rc`).
    pub(crate) rc: i32,
    /// Boot, job and power-off.
    pub(crate) wall: Duration,
}

impl Guest {
    /// Boots the guest in the background; its console goes to
    /// `share/console.log`, QEMU's own messages to `share/qemu.log`.
    pub(crate) fn start(image: &Image, options: &RunOptions) -> Result<Self> {
        Self::spawn(image, options, false)
    }

    /// [`Self::start`], or with the serial console on this terminal and a
    /// shell after the job (`interactive`). QEMU is there: every [`Image`]
    /// comes from [`build`], which installs it.
    fn spawn(image: &Image, options: &RunOptions, interactive: bool) -> Result<Self> {
        fs::create_dir_all(&options.share)
            .map_err(|e| format!("cannot create {}: {e}", options.share.display()))?;
        for f in [
            format!("{}.rc", options.job),
            format!("{}.log", options.job),
            "console.log".to_owned(),
        ] {
            let _ = fs::remove_file(options.share.join(f));
        }
        let mut cmd = qemu_command(image, options, interactive);
        if !interactive {
            let (out, err) = peers::log_files(&options.share.join("qemu.log"))?;
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        }
        let line = util::show(&cmd);
        eprintln!("$ {line}");
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start `{line}`: {e}"))?;
        Ok(Self {
            child,
            options: options.clone(),
            started: Instant::now(),
        })
    }

    /// The shared directory.
    pub(crate) fn share(&self) -> &Path {
        &self.options.share
    }

    /// Whether QEMU still runs within its time limit.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None)) && self.started.elapsed() <= self.options.timeout
    }

    /// `Err` when QEMU has exited (the job is over or the guest died).
    pub(crate) fn check_alive(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(None) if self.started.elapsed() <= self.options.timeout => Ok(()),
            Ok(None) => Err(format!(
                "the guest ran past its {} s limit",
                self.options.timeout.as_secs()
            )),
            Ok(Some(status)) => Err(format!(
                "the guest powered off ({status}); {}",
                self.describe_end()
            )),
            Err(e) => Err(format!("cannot query QEMU: {e}")),
        }
    }

    /// Waits until `share/name` exists; `Err` if the guest ends first or
    /// `within` passes.
    pub(crate) fn wait_for_file(&mut self, name: &str, within: Duration) -> Result<Duration> {
        let start = Instant::now();
        let path = self.options.share.join(name);
        loop {
            if path.exists() {
                return Ok(start.elapsed());
            }
            self.check_alive()?;
            if start.elapsed() > within {
                return Err(format!(
                    "the guest wrote no {name} within {} s; {}",
                    within.as_secs(),
                    self.describe_end()
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The job's log tail and the console's, for errors.
    pub(crate) fn describe_end(&self) -> String {
        let log = self.options.share.join(format!("{}.log", self.options.job));
        format!(
            "last lines of {}:\n{}\nconsole:\n{}",
            log.display(),
            peers::log_tail(&log, 25),
            peers::log_tail(&self.options.share.join("console.log"), 8)
        )
    }

    /// Waits for the guest to power off (killing it at the time limit) and
    /// reads the job's exit code; `Err` when the job never reported one.
    pub(crate) fn wait(mut self) -> Result<Outcome> {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if self.started.elapsed() > self.options.timeout => {
                    peers::kill_child(&mut self.child);
                    return Err(format!(
                        "the guest was killed at its {} s limit; {}",
                        self.options.timeout.as_secs(),
                        self.describe_end()
                    ));
                }
                Ok(None) => thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("cannot wait for QEMU: {e}")),
            }
        };
        let wall = self.started.elapsed();
        let rc_path = self.options.share.join(format!("{}.rc", self.options.job));
        let rc = fs::read_to_string(&rc_path)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .ok_or_else(|| {
                format!(
                    "the job reported no exit code (QEMU {}); {}",
                    status,
                    self.describe_end()
                )
            })?;
        Ok(Outcome { rc, wall })
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        peers::kill_child(&mut self.child);
    }
}

#[cfg(test)]
mod tests {
    use super::{Image, RunOptions, find, parse_run, qemu_command, recipe_key};
    use std::path::Path;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_key_follows_the_mirror() {
        assert_eq!(recipe_key("a"), recipe_key("a"));
        assert_ne!(recipe_key("a"), recipe_key("b"));
        assert_eq!(recipe_key("a").len(), 16);
    }

    #[test]
    fn forwards_are_bound_to_loopback_and_the_root_is_a_snapshot() {
        let mut options = RunOptions::new(Path::new("/tmp/share"), "job.sh");
        options.hostfwd.push((40000, 3260));
        let image = Image {
            dir: "/cache/k".into(),
        };
        let line = crate::util::show(&qemu_command(&image, &options, false));
        assert!(line.contains("hostfwd=tcp:127.0.0.1:40000-:3260"), "{line}");
        assert_eq!(line.matches("hostfwd=").count(), 1);
        assert!(line.contains("snapshot=on"));
        assert!(line.contains("vm.job=job.sh"));
        assert!(line.contains("-netdev user,"));
        assert!(!line.contains("vm.shell"));
    }

    #[test]
    fn run_arguments() {
        let (o, shell) = parse_run(&args(&[
            "/tmp/x",
            "--job",
            "a.sh",
            "--hostfwd",
            "4000:3260",
            "--timeout",
            "30",
        ]))
        .expect("valid");
        assert_eq!(o.job, "a.sh");
        assert_eq!(o.hostfwd, [(4000, 3260)]);
        assert_eq!(o.timeout.as_secs(), 30);
        assert!(!shell);
        assert!(parse_run(&args(&["/tmp/x", "--hostfwd", "4000"])).is_err());
        assert!(parse_run(&args(&["--job", "a"])).is_err());
    }

    #[test]
    fn finds_the_payload_after_the_setup_code() {
        assert_eq!(find(b"abc\xfd7zXZ\x00rest", b"\xfd7zXZ\x00"), Some(3));
        assert_eq!(find(b"\xfd7zXZ\x00", b"\xfd7zXZ\x00"), None);
    }
}
