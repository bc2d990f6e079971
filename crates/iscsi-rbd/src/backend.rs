//! [`RbdBackend`]: an RBD image as an [`iscsi_scsi::BlockBackend`].

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use iscsi_scsi::{BlockBackend, check_geometry};

use crate::{Rados, RbdImage, Watch};

/// An image: `POOL/IMAGE` (a target's `backing = "rbd:POOL/IMAGE"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbdSpec {
    /// The RADOS pool.
    pub pool: String,
    /// The image in it.
    pub image: String,
}

impl fmt::Display for RbdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pool, self.image)
    }
}

/// An RBD image as a SCSI block device: thin (UNMAP deallocates, LBPRZ),
/// its size that of the image, whole blocks of 512 or 4096 bytes.
///
/// SCSI needs from the image what librbd gives: READ and WRITE are
/// `rbd_aio_readv`/`writev` straight from and into the iSCSI buffers;
/// UNMAP is `rbd_aio_discard`; WRITE SAME of zeros is
/// `rbd_aio_write_zeroes`, other WRITE SAMEs `rbd_aio_writesame`;
/// SYNCHRONIZE CACHE and FUA are `rbd_aio_flush`; GET LBA STATUS asks
/// `rbd_diff_iterate2`. Resizes made elsewhere (`rbd resize`) are seen
/// through a watch on the image's header ([`RbdBackend::on_resize`]).
pub struct RbdBackend {
    image: RbdImage,
    block_size: u32,
    /// The image's object size, bytes.
    object_size: u64,
    blocks: AtomicU64,
    read_only: bool,
    watch: std::sync::Mutex<Option<Watch>>,
}

impl fmt::Debug for RbdBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RbdBackend")
            .field("image", &self.image.spec())
            .field("block_size", &self.block_size)
            .field("blocks", &self.blocks.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Why an RBD LUN cannot be opened.
fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl RbdBackend {
    /// Opens `spec` through `rados` with `block_size`-byte blocks.
    ///
    /// # Errors
    /// librados' error opening the pool or image; `InvalidInput` for a
    /// block size other than 512 or 4096, or an image whose size is not a
    /// positive multiple of it.
    pub fn open(
        rados: &Rados,
        spec: &RbdSpec,
        block_size: u32,
        read_only: bool,
    ) -> io::Result<Self> {
        let image = RbdImage::open(rados, &spec.pool, &spec.image)?;
        let blocks = check_geometry(image.size()?, block_size)
            .map_err(|e| invalid(format!("image {spec}: {e}")))?;
        let object_size = image.object_size()?;
        Ok(Self {
            image,
            block_size,
            object_size,
            blocks: AtomicU64::new(blocks),
            read_only,
            watch: std::sync::Mutex::new(None),
        })
    }

    /// The image.
    #[must_use]
    pub fn image(&self) -> &RbdImage {
        &self.image
    }

    /// Calls `changed(new_blocks)` on a thread of its own (one per image)
    /// whenever the image's size changes outside this backend (`rbd
    /// resize` on any client): the target queues CAPACITY DATA HAS
    /// CHANGED. The backend's capacity follows before `changed` runs.
    ///
    /// # Errors
    /// librbd's error registering the watch, or the thread's spawn error.
    pub fn on_resize(self: &Arc<Self>, changed: impl Fn(u64) + Send + 'static) -> io::Result<()> {
        let (tx, rx) = mpsc::channel::<()>();
        // librbd's thread only sends; the size is read on ours.
        let watch = self.image.watch(move || {
            let _ = tx.send(());
        })?;
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name(format!("rbd-watch {}", self.image.spec()))
            .spawn(move || {
                // Ends when the watch (and with it the sender) is dropped.
                while rx.recv().is_ok() {
                    let Some(me) = weak.upgrade() else { break };
                    let Ok(size) = me.image.size() else { continue };
                    let blocks = size / u64::from(me.block_size);
                    if blocks > 0 && me.blocks.swap(blocks, Ordering::AcqRel) != blocks {
                        changed(blocks);
                    }
                }
            })?;
        *self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(watch);
        Ok(())
    }

    fn writable(&self) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is read-only", self.image.spec()),
            ));
        }
        Ok(())
    }
}

impl Drop for RbdBackend {
    fn drop(&mut self) {
        // Unwatch first: the watch thread then sees its channel close.
        if let Ok(mut w) = self.watch.lock() {
            w.take();
        }
    }
}

impl BlockBackend for RbdBackend {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        self.blocks.load(Ordering::Acquire)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.image.read_at(offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_vectored_at(offset, &[data])
    }

    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        self.writable()?;
        self.image.write_vectored_at(offset, bufs)
    }

    fn flush(&self) -> io::Result<()> {
        self.image.flush()
    }

    fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        self.writable()?;
        self.image.discard(offset, len)
    }

    fn thin(&self) -> bool {
        true
    }

    /// `rbd_aio_compare_and_write`, atomic at the OSD against every
    /// gateway, for ranges inside one 512-byte sector (all Ceph 16 takes:
    /// a one-block COMPARE AND WRITE of a 512-byte-block LUN, which is
    /// what VMware's ATS sends); `None` for anything larger.
    fn compare_and_write(
        &self,
        offset: u64,
        compare: &[u8],
        write: &[u8],
    ) -> Option<io::Result<Option<u64>>> {
        let inside_a_sector = offset % 512 + compare.len() as u64 <= 512;
        if !inside_a_sector || compare.is_empty() {
            return None;
        }
        if let Err(e) = self.writable() {
            return Some(Err(e));
        }
        Some(
            self.image
                .compare_and_write(offset, compare, write)
                .map(|outcome| match outcome {
                    crate::CompareAndWrite::Written => None,
                    crate::CompareAndWrite::Miscompare(at) => Some(at),
                }),
        )
    }

    /// The image's object size: a discard of less zeroes, the object
    /// stays.
    fn allocation_unit(&self) -> u64 {
        self.object_size
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// `rbd_resize`, unless the image already has that size (a resize made
    /// elsewhere, reported by the watch).
    fn resize(&self, blocks: u64) -> io::Result<()> {
        let bytes = blocks
            .checked_mul(u64::from(self.block_size))
            .filter(|b| *b > 0)
            .ok_or_else(|| invalid(format!("{blocks} blocks of {} bytes", self.block_size)))?;
        if self.image.size()? != bytes {
            self.writable()?;
            self.image.resize(bytes)?;
        }
        self.blocks.store(blocks, Ordering::Release);
        Ok(())
    }

    /// From the image's allocation (`rbd_diff_iterate2`), looking at most
    /// 1 GiB ahead.
    fn mapping(&self, offset: u64) -> io::Result<(bool, u64)> {
        const WINDOW: u64 = 1 << 30;
        let size = self.block_count() * u64::from(self.block_size);
        if offset >= size {
            return Ok((false, 0));
        }
        let len = (size - offset).min(WINDOW);
        let extents = self.image.allocated(offset, len)?;
        let mut at = offset;
        let mut mapped = None;
        for (start, bytes) in extents {
            let end = start.saturating_add(bytes).min(offset + len);
            if end <= at {
                continue;
            }
            match mapped {
                None if start <= at => mapped = Some(true),
                None => return Ok((false, start - offset)),
                Some(_) if start > at => break,
                Some(_) => {}
            }
            at = end;
        }
        Ok(match mapped {
            Some(true) => (true, at - offset),
            _ => (false, len),
        })
    }

    /// Zeros become `rbd_aio_write_zeroes` (deallocating whole objects),
    /// anything else `rbd_aio_writesame`.
    fn write_same(&self, offset: u64, count: u64, block: &[u8]) -> io::Result<()> {
        self.writable()?;
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(block.len()))
            .ok_or_else(|| invalid(format!("WRITE SAME of {count} blocks")))?;
        if block.iter().all(|b| *b == 0) {
            self.image.write_zeroes(offset, len)
        } else {
            self.image.write_same(offset, len, block)
        }
    }
}
