//! # iscsi-rbd: Ceph RBD images as SCSI logical units
//!
//! A small binding to librbd (Ceph 16.2 Pacific, the version in Debian 12)
//! and a [`BlockBackend`](iscsi_scsi::BlockBackend) over it, so that an iSCSI target can export an
//! RBD image as a LUN.
//!
//! - librbd is loaded at run time with `dlopen("librbd.so.1")`, as QEMU's
//!   `block-rbd` module does: this crate builds without Ceph's headers or
//!   libraries, and a binary built with it runs where Ceph is absent (an
//!   RBD LUN then fails to open with a message naming the package).
//! - Every call is a hand-written declaration of librbd's C prototype in
//!   the one module allowed `unsafe` (`sys`); each `unsafe` block says why
//!   it is sound. The types here own every handle and buffer.
//! - I/O goes through librbd's asynchronous calls (`rbd_aio_readv`,
//!   `rbd_aio_writev`, `rbd_aio_discard`, `rbd_aio_write_zeroes`,
//!   `rbd_aio_writesame`, `rbd_aio_compare_and_write`, `rbd_aio_flush`)
//!   with a completion callback: [`RbdImage::read`] and [`RbdImage::write`]
//!   return runtime-agnostic futures; the blocking methods wait for the
//!   same completions on the calling thread.
//!
//! ```no_run
//! use iscsi_rbd::{CephOptions, Rados, RbdImage};
//!
//! let rados = Rados::connect(&CephOptions::default())?;
//! let image = RbdImage::open(&rados, "rbd", "img")?;
//! image.write_vectored_at(0, &[b"hello".as_slice()])?;
//! let mut back = [0u8; 5];
//! image.read_at(0, &mut back)?;
//! assert_eq!(&back, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod backend;
mod sys;

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use backend::{RbdBackend, RbdSpec};
use sys::Request;

/// How to reach a Ceph cluster (`rados_create` and `rados_conf_*`).
#[derive(Debug, Clone)]
pub struct CephOptions {
    /// The configuration file (`ceph.conf`); `None` = librados' default
    /// search (`$CEPH_CONF`, `/etc/ceph/ceph.conf`, …).
    pub conf: Option<PathBuf>,
    /// The client id without `client.` (`"admin"`, `"iscsi"`); `None` =
    /// librados' default (`admin`).
    pub client: Option<String>,
    /// The keyring holding the client's key; `None` = the configuration's.
    pub keyring: Option<PathBuf>,
    /// How long one OSD or monitor operation may take before it fails with
    /// `ETIMEDOUT` (`rados_osd_op_timeout`, `rados_mon_op_timeout`,
    /// `client_mount_timeout`). librados' default, 0, waits forever for a
    /// stopped OSD; a target must answer before the initiator's own
    /// command timeout (30 s on Linux), so the default is 20 s.
    pub op_timeout: Duration,
    /// Further options set with `rados_conf_set`, after the ones above
    /// (so they win).
    pub options: Vec<(String, String)>,
}

impl Default for CephOptions {
    fn default() -> Self {
        Self {
            conf: None,
            client: None,
            keyring: None,
            op_timeout: Duration::from_secs(20),
            options: Vec::new(),
        }
    }
}

impl CephOptions {
    /// The `rados_conf_set` pairs these options give, in order.
    ///
    /// Two are always set: `rbd_skip_partial_discard = false` and
    /// `rbd_discard_granularity_bytes = 4096`. librbd's defaults (skip,
    /// 64 KiB) silently keep the data of a discard smaller than 64 KiB,
    /// while UNMAP and WRITE SAME with UNMAP promise that the blocks read
    /// as zeros afterwards (READ CAPACITY(16) LBPRZ).
    #[must_use]
    pub fn conf_pairs(&self) -> Vec<(String, String)> {
        let secs = self.op_timeout.as_secs().max(1).to_string();
        let mut pairs = vec![
            ("rados_osd_op_timeout".to_owned(), secs.clone()),
            ("rados_mon_op_timeout".to_owned(), secs.clone()),
            ("client_mount_timeout".to_owned(), secs),
            ("rbd_skip_partial_discard".to_owned(), "false".to_owned()),
            (
                "rbd_discard_granularity_bytes".to_owned(),
                "4096".to_owned(),
            ),
        ];
        if let Some(keyring) = &self.keyring {
            pairs.push(("keyring".to_owned(), keyring.display().to_string()));
        }
        pairs.extend(self.options.iter().cloned());
        pairs
    }
}

/// A connection to a Ceph cluster, shared by the images opened through it.
#[derive(Debug, Clone)]
pub struct Rados(Arc<sys::Rados>);

impl Rados {
    /// Connects: loads librbd, reads the configuration, sets
    /// [`CephOptions::conf_pairs`], `rados_connect`.
    ///
    /// # Errors
    /// [`io::ErrorKind::Unsupported`] when `librbd.so.1` cannot be loaded
    /// (Debian package `librbd1`); otherwise librados' error (`ENOENT` for
    /// a missing configuration, `ETIMEDOUT` when no monitor answers within
    /// the timeout, `EACCES`/`EPERM` for a refused key), naming the step.
    pub fn connect(options: &CephOptions) -> io::Result<Self> {
        let conf = options.conf.as_ref().map(|p| p.display().to_string());
        sys::Rados::connect(
            options.client.as_deref(),
            conf.as_deref(),
            &options.conf_pairs(),
        )
        .map(|r| Self(Arc::new(r)))
    }

    /// Whether librbd can be loaded on this machine.
    ///
    /// # Errors
    /// Why not.
    pub fn available() -> io::Result<()> {
        sys::available()
    }
}

/// The outcome of [`RbdImage::compare_and_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareAndWrite {
    /// The data matched and the new data was written.
    Written,
    /// The data differed at this byte offset from the start of the range;
    /// nothing was written.
    Miscompare(u64),
}

/// An open RBD image. Cheap to clone; closed (after its in-flight I/O)
/// when the last clone goes.
#[derive(Debug, Clone)]
pub struct RbdImage {
    image: Arc<sys::Image>,
    pool: String,
    name: String,
}

/// A registered watch on an image's header ([`RbdImage::watch`]); dropped
/// = unwatched.
#[derive(Debug)]
pub struct Watch(#[allow(dead_code, reason = "kept for its Drop")] sys::Watch);

fn length(n: usize, what: &str) -> io::Result<()> {
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} of 0 bytes"),
        ));
    }
    Ok(())
}

/// A completed operation's byte count or error.
fn finished(done: &sys::Done, what: &str) -> io::Result<usize> {
    usize::try_from(done.ret).map_err(|_| sys::errno(done.ret, what))
}

impl RbdImage {
    /// Opens `pool/name` (the image's head, read-write).
    ///
    /// # Errors
    /// librados' error naming the pool or image (`ENOENT` when either does
    /// not exist).
    pub fn open(rados: &Rados, pool: &str, name: &str) -> io::Result<Self> {
        let image = sys::Image::open(Arc::clone(&rados.0), pool, name)?;
        Ok(Self {
            image: Arc::new(image),
            pool: pool.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `POOL/IMAGE`.
    #[must_use]
    pub fn spec(&self) -> String {
        format!("{}/{}", self.pool, self.name)
    }

    /// The image's size in bytes (`rbd_get_size`, refreshed by librbd when
    /// the header changes).
    ///
    /// # Errors
    /// librbd's error.
    pub fn size(&self) -> io::Result<u64> {
        self.image.size()
    }

    /// The size of the image's objects in bytes (4 MiB by default): the
    /// unit Ceph allocates and deallocates.
    ///
    /// # Errors
    /// librbd's error.
    pub fn object_size(&self) -> io::Result<u64> {
        self.image.object_size()
    }

    /// Changes the size to `bytes` (`rbd_resize`); shrinking discards the
    /// data beyond the new end.
    ///
    /// # Errors
    /// librbd's error.
    pub fn resize(&self, bytes: u64) -> io::Result<()> {
        self.image.resize(bytes)
    }

    /// Takes the exclusive lock explicitly (`rbd_lock_acquire`): other
    /// clients' writes then fail with `EROFS` until this image closes.
    ///
    /// # Errors
    /// librbd's error (`EROFS`/`EBUSY` when another client holds it).
    pub fn lock_exclusive(&self) -> io::Result<()> {
        self.image.lock_exclusive()
    }

    /// Whether this client holds the image's exclusive lock.
    ///
    /// # Errors
    /// librbd's error.
    pub fn is_lock_owner(&self) -> io::Result<bool> {
        self.image.is_lock_owner()
    }

    /// Image metadata `key` (`rbd_metadata_get`), `None` when unset.
    ///
    /// # Errors
    /// librbd's error, or [`io::ErrorKind::InvalidData`] for a value that
    /// is not UTF-8.
    pub fn metadata_get(&self, key: &str) -> io::Result<Option<String>> {
        self.image.metadata_get(key)
    }

    /// Sets image metadata `key` to `value` (`rbd_metadata_set`).
    ///
    /// # Errors
    /// librbd's error.
    pub fn metadata_set(&self, key: &str, value: &str) -> io::Result<()> {
        self.image.metadata_set(key, value)
    }

    /// The allocated extents `(offset, bytes)` in `[offset, offset + len)`,
    /// in order (`rbd_diff_iterate2` since the image's creation, at
    /// librbd's extent granularity).
    ///
    /// # Errors
    /// librbd's error.
    pub fn allocated(&self, offset: u64, len: u64) -> io::Result<Vec<(u64, u64)>> {
        self.image.allocated(offset, len)
    }

    /// Calls `notify` when the image's header changes (resize, snapshot,
    /// lock owner; `rbd_update_watch`). It runs on a librbd thread and
    /// must return quickly without touching this image: hand the event
    /// to another thread (a channel send).
    ///
    /// # Errors
    /// librbd's error.
    pub fn watch(&self, notify: impl Fn() + Send + Sync + 'static) -> io::Result<Watch> {
        self.image.watch(Box::new(notify)).map(Watch)
    }

    /// Fills `buf` from byte `offset`, waiting on this thread.
    ///
    /// # Errors
    /// librbd's error (`EINVAL` beyond the end, `ETIMEDOUT` when the
    /// cluster does not answer within [`CephOptions::op_timeout`]).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let want = buf.len();
        let done = self.image.blocking(offset, Request::ReadInto(buf))?;
        let n = finished(&done, "rbd_aio_readv")?;
        short(n, want, "read")
    }

    /// Writes the buffers back to back from byte `offset` (one
    /// `rbd_aio_writev`, no gathering copy), waiting on this thread.
    ///
    /// # Errors
    /// librbd's error (`EROFS` when another client holds the exclusive
    /// lock explicitly, `ESHUTDOWN` once this client is blocklisted).
    pub fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        if want == 0 {
            return Ok(());
        }
        let done = self.image.blocking(offset, Request::WriteFrom(bufs))?;
        // librbd answers 0 for a whole write.
        finished(&done, "rbd_aio_writev").map(|_| ())
    }

    /// Deallocates `len` bytes from `offset`; they read as zeros after
    /// (`rbd_aio_discard`; partial objects are zeroed, see
    /// [`CephOptions::conf_pairs`]).
    ///
    /// # Errors
    /// librbd's error.
    pub fn discard(&self, offset: u64, len: u64) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let done = self.image.blocking(offset, Request::Discard(len))?;
        finished(&done, "rbd_aio_discard").map(|_| ())
    }

    /// Writes `len` bytes of zeros from `offset` (`rbd_aio_write_zeroes`;
    /// whole objects are deallocated).
    ///
    /// # Errors
    /// librbd's error.
    pub fn write_zeroes(&self, offset: u64, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let done = self.image.blocking(offset, Request::WriteZeroes(len))?;
        finished(&done, "rbd_aio_write_zeroes").map(|_| ())
    }

    /// Writes `pattern` repeated over `len` bytes from `offset`
    /// (`rbd_aio_writesame`; `len` a multiple of the pattern's length).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for an empty pattern or a length
    /// that is not a multiple of it; librbd's error.
    pub fn write_same(&self, offset: u64, len: usize, pattern: &[u8]) -> io::Result<()> {
        length(pattern.len(), "a WRITE SAME pattern")?;
        if !len.is_multiple_of(pattern.len()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "WRITE SAME of {len} bytes is not a multiple of the {}-byte pattern",
                    pattern.len()
                ),
            ));
        }
        if len == 0 {
            return Ok(());
        }
        let done = self
            .image
            .blocking(offset, Request::WriteSame(pattern.to_vec(), len))?;
        finished(&done, "rbd_aio_writesame").map(|_| ())
    }

    /// Compares `compare` with the data at `offset` and, when equal,
    /// writes `write` there, atomically at the OSD
    /// (`rbd_aio_compare_and_write`).
    ///
    /// Ceph 16 accepts only ranges inside one 512-byte sector
    /// (`offset % 512 + len <= 512`); anything else is `EINVAL`.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] when the two buffers differ in
    /// length or are empty; librbd's error.
    pub fn compare_and_write(
        &self,
        offset: u64,
        compare: &[u8],
        write: &[u8],
    ) -> io::Result<CompareAndWrite> {
        length(compare.len(), "a compare-and-write")?;
        if compare.len() != write.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "compare-and-write buffers of different lengths",
            ));
        }
        let mut both = Vec::with_capacity(compare.len() * 2);
        both.extend_from_slice(compare);
        both.extend_from_slice(write);
        let done = self
            .image
            .blocking(offset, Request::CompareAndWrite(both))?;
        if done.ret == -(sys::libc_errno::EILSEQ as isize) {
            // librbd reports the first difference from the start of the
            // range (measured: 300 for a difference at byte 300 of a
            // range at 512).
            return Ok(CompareAndWrite::Miscompare(done.mismatch));
        }
        finished(&done, "rbd_aio_compare_and_write").map(|_| CompareAndWrite::Written)
    }

    /// Makes every write acknowledged so far durable (`rbd_aio_flush`).
    ///
    /// # Errors
    /// librbd's error.
    pub fn flush(&self) -> io::Result<()> {
        let done = self.image.blocking(0, Request::Flush)?;
        finished(&done, "rbd_aio_flush").map(|_| ())
    }

    /// Reads `len` bytes from `offset` without blocking a thread: the
    /// future completes from librbd's completion callback (any runtime).
    /// Dropping the future does not cancel the read.
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at), from the future.
    pub fn read(
        &self,
        offset: u64,
        len: usize,
    ) -> impl Future<Output = io::Result<Vec<u8>>> + Send + use<> {
        let started = self.image.start(offset, Request::Read(len));
        async move {
            if len == 0 {
                return Ok(Vec::new());
            }
            let done = started.await?;
            let n = finished(&done, "rbd_aio_readv")?;
            short(n, len, "read")?;
            Ok(done.buf)
        }
    }

    /// Writes `parts` back to back from `offset` without blocking a
    /// thread and without gathering them (one `rbd_aio_writev`; the
    /// buffers are kept alive by their reference counts until librbd is
    /// done).
    ///
    /// # Errors
    /// As [`write_vectored_at`](Self::write_vectored_at), from the future.
    pub fn write_parts(
        &self,
        offset: u64,
        parts: Vec<bytes::Bytes>,
    ) -> impl Future<Output = io::Result<()>> + Send + use<> {
        let empty = parts.iter().all(|p| p.is_empty());
        let started = (!empty).then(|| self.image.start(offset, Request::WriteParts(parts)));
        async move {
            let Some(started) = started else {
                return Ok(());
            };
            let done = started.await?;
            finished(&done, "rbd_aio_writev").map(|_| ())
        }
    }

    /// Makes every write completed so far durable without blocking a
    /// thread (`rbd_aio_flush`).
    ///
    /// # Errors
    /// librbd's error, from the future.
    pub fn flush_async(&self) -> impl Future<Output = io::Result<()>> + Send + use<> {
        let started = self.image.start(0, Request::Flush);
        async move {
            let done = started.await?;
            finished(&done, "rbd_aio_flush").map(|_| ())
        }
    }

    /// Writes `data` at `offset` without blocking a thread (see
    /// [`read`](Self::read)).
    ///
    /// # Errors
    /// As [`write_vectored_at`](Self::write_vectored_at), from the future.
    pub fn write(
        &self,
        offset: u64,
        data: Vec<u8>,
    ) -> impl Future<Output = io::Result<()>> + Send + use<> {
        let started = self.image.start(offset, Request::Write(data));
        async move {
            let done = started.await?;
            finished(&done, "rbd_aio_writev").map(|_| ())
        }
    }
}

/// librbd returns the bytes read; fewer than asked is an error here.
fn short(done: usize, want: usize, what: &str) -> io::Result<()> {
    if done < want {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("short {what}: {done} of {want} bytes"),
        ));
    }
    Ok(())
}
