//! fio with its libiscsi engine. Debian's fio is built without it, so the
//! checks build Debian's own fio source with `--enable-libiscsi` once
//! (about 30 s on 2 cores) into the cache, beside the Linux guest:
//! `$XDG_CACHE_HOME/iscsi-rs/fio-VERSION/fio`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::peers::{self, DEBIAN_SOURCES};
use crate::util::{self, Result};

/// The apt source of Debian's source packages, written next to the
/// machine's own (whose mirror it reuses).
const SOURCE_FILE: &str = "/etc/apt/sources.list.d/xtask-src.sources";

/// What fio's build needs beyond a C compiler.
const BUILD_PACKAGES: &[&str] = &[
    "dpkg-dev",
    "build-essential",
    "libiscsi-dev",
    "zlib1g-dev",
    "libaio-dev",
];

/// Whether `fio` lists the libiscsi engine.
fn has_libiscsi(fio: &std::path::Path) -> bool {
    Command::new(fio)
        .arg("--enghelp")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libiscsi"))
}

/// A fio with the libiscsi engine: the cached build, else one built now
/// from Debian's fio source (root: installs the build dependencies and a
/// `deb-src` source; otherwise the error says what to run).
pub(crate) fn ensure() -> Result<PathBuf> {
    let root = crate::guest::cache_base();
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            let fio = e.path().join("fio");
            if e.file_name().to_string_lossy().starts_with("fio-") && has_libiscsi(&fio) {
                return Ok(fio);
            }
        }
    }
    if !util::is_root() || !util::have("apt-get") {
        return Err(format!(
            "fio with the libiscsi engine is needed and is built as root: run `cargo xtask` \
             as root, or by hand: add a deb-src source, `apt-get install {}`, \
             `apt-get source fio`, then `./configure --enable-libiscsi && make` and put the \
             tree under {}/fio-VERSION",
            BUILD_PACKAGES.join(" "),
            root.display()
        ));
    }
    let codename = peers::codename();
    let sources = fs::read_to_string(DEBIAN_SOURCES)
        .map_err(|e| format!("cannot read {DEBIAN_SOURCES} (to find the mirror): {e}"))?;
    let stanza = peers::source_stanza(
        &sources,
        &codename,
        "deb-src",
        &codename,
        "fio's source (fio with the libiscsi engine)",
    )?;
    if fs::read_to_string(SOURCE_FILE).unwrap_or_default() != stanza {
        fs::write(SOURCE_FILE, &stanza).map_err(|e| format!("cannot write {SOURCE_FILE}: {e}"))?;
    }
    util::run(util::timed(300, "apt-get").args(["update", "-q"]))?;
    util::run(
        util::timed(600, "apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(BUILD_PACKAGES),
    )?;
    let work = root.join("fio-source");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    util::run(
        util::timed(300, "apt-get")
            .current_dir(&work)
            .args(["source", "-q", "fio"]),
    )?;
    let tree = fs::read_dir(&work)
        .map_err(|e| format!("cannot read {}: {e}", work.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .ok_or("apt-get source fio unpacked no directory")?;
    util::run(
        util::timed(300, "./configure")
            .current_dir(&tree)
            .args(["--enable-libiscsi", "--disable-native"]),
    )?;
    util::run(
        util::timed(900, "make").current_dir(&tree).args([
            "-j",
            &std::thread::available_parallelism()
                .map_or(2, usize::from)
                .to_string(),
        ]),
    )?;
    let name = tree
        .file_name()
        .map_or_else(|| "fio".into(), |n| n.to_string_lossy().into_owned());
    let dest = root.join(&name);
    let _ = fs::remove_dir_all(&dest);
    fs::rename(&tree, &dest)
        .map_err(|e| format!("cannot move {} to {}: {e}", tree.display(), dest.display()))?;
    let _ = fs::remove_dir_all(&work);
    let fio = dest.join("fio");
    if has_libiscsi(&fio) {
        Ok(fio)
    } else {
        Err(format!(
            "{} was built but has no libiscsi engine",
            fio.display()
        ))
    }
}
