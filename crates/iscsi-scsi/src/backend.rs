//! Block backends: where a logical unit's blocks live.
//!
//! Offsets and lengths are in bytes and always whole blocks (the
//! [`LogicalUnit`](crate::LogicalUnit) checks ranges before calling). Every
//! method takes `&self` and may be called from many threads at once: the
//! memory backend locks per 64 KiB chunk, the file backend uses positional
//! I/O, so there is no global lock on the data path.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Block storage behind a logical unit.
pub trait BlockBackend: Send + Sync + fmt::Debug {
    /// Logical block size in bytes (512 or 4096).
    fn block_size(&self) -> u32;

    /// Number of logical blocks.
    fn block_count(&self) -> u64;

    /// Fills `buf` from byte `offset`.
    ///
    /// # Errors
    /// The OS error; the unit reports MEDIUM ERROR.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Writes `data` at byte `offset`.
    ///
    /// # Errors
    /// The OS error; the unit reports MEDIUM ERROR.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Writes several buffers back to back from `offset` (a Data-Out
    /// payload as it arrived, without gathering it first).
    ///
    /// # Errors
    /// As [`write_at`](Self::write_at).
    fn write_vectored_at(&self, offset: u64, bufs: &[&[u8]]) -> io::Result<()> {
        let mut at = offset;
        for buf in bufs {
            self.write_at(at, buf)?;
            at += buf.len() as u64;
        }
        Ok(())
    }

    /// Makes written data durable (SYNCHRONIZE CACHE, FUA): fdatasync for files.
    ///
    /// # Errors
    /// The OS error.
    fn flush(&self) -> io::Result<()>;

    /// Deallocates `len` bytes from `offset` (UNMAP, WRITE SAME with UNMAP);
    /// they read back as zeros afterwards.
    ///
    /// # Errors
    /// The OS error.
    fn unmap(&self, offset: u64, len: u64) -> io::Result<()>;

    /// True when [`unmap`](Self::unmap) deallocates (thin provisioning,
    /// LBPME in READ CAPACITY(16)).
    fn thin(&self) -> bool;

    /// True when the backend refuses writes.
    fn read_only(&self) -> bool {
        false
    }

    /// Changes the capacity to `blocks` blocks (online resize): blocks
    /// added read as zeros, blocks cut off are gone. Safe to call while
    /// I/O runs; I/O beyond the new end fails. The default refuses.
    ///
    /// # Errors
    /// [`io::ErrorKind::Unsupported`] when the backend cannot change size,
    /// [`io::ErrorKind::InvalidInput`] for zero blocks or a size the
    /// backend cannot hold, or the OS error.
    fn resize(&self, blocks: u64) -> io::Result<()> {
        let _ = blocks;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this backend cannot change size",
        ))
    }

    /// Compares `compare` with the data at byte `offset` and, when equal,
    /// writes `write` there, atomically in the storage itself, so that
    /// COMPARE AND WRITE is atomic against every client of a shared store
    /// (several gateways), not only within this process.
    ///
    /// `None` when the backend cannot do it for this range (the default):
    /// the unit then reads, compares and writes under its own write gate.
    /// `Some(Ok(None))`: written; `Some(Ok(Some(n)))`: byte `n` of the
    /// range differs, nothing was written.
    ///
    /// # Errors
    /// `Some(Err(_))`: the OS or storage error.
    fn compare_and_write(
        &self,
        offset: u64,
        compare: &[u8],
        write: &[u8],
    ) -> Option<io::Result<Option<u64>>> {
        let _ = (offset, compare, write);
        None
    }

    /// Bytes the backend allocates and deallocates as a whole: an
    /// [`unmap`](Self::unmap) of less leaves the unit allocated (zeroed),
    /// so whole-device deallocations (SANITIZE BLOCK ERASE) go in
    /// multiples of it. A block by default; an RBD image's object size
    /// (4 MiB unless the image says otherwise).
    fn allocation_unit(&self) -> u64 {
        u64::from(self.block_size())
    }

    /// Whether `offset` is mapped, and how many bytes from there share that
    /// state (GET LBA STATUS). The default says everything is mapped.
    ///
    /// # Errors
    /// The OS error.
    fn mapping(&self, offset: u64) -> io::Result<(bool, u64)> {
        let end = self.block_count() * u64::from(self.block_size());
        Ok((true, end.saturating_sub(offset)))
    }

    /// Writes `block` (one block) `count` times from `offset` (WRITE SAME).
    /// The default writes a block at a time; backends may do better.
    ///
    /// # Errors
    /// The OS error.
    fn write_same(&self, offset: u64, count: u64, block: &[u8]) -> io::Result<()> {
        if block.iter().all(|b| *b == 0) && self.thin() {
            return self.unmap(offset, count * block.len() as u64);
        }
        const BATCH: usize = 256;
        let mut batch = Vec::with_capacity(block.len() * BATCH);
        for _ in 0..BATCH.min(usize::try_from(count).unwrap_or(BATCH)) {
            batch.extend_from_slice(block);
        }
        let mut at = offset;
        let mut left = count;
        while left > 0 {
            let n = left.min(BATCH as u64);
            let bytes = usize::try_from(n).unwrap_or(BATCH) * block.len();
            self.write_at(at, batch.get(..bytes).unwrap_or(&batch))?;
            at += bytes as u64;
            left -= n;
        }
        Ok(())
    }
}

/// Bytes per allocation unit of the memory backend.
const CHUNK: usize = 64 * 1024;

/// One chunk of a memory backend: `None` until written.
type Chunk = RwLock<Option<Box<[u8]>>>;

/// A sparse RAM disk: chunks of 64 KiB are allocated on first write; blocks
/// never written read as zeros and cost no memory. Each chunk has its own
/// lock, so I/O to different chunks never waits on each other.
pub struct MemoryBackend {
    block_size: u32,
    blocks: AtomicU64,
    /// The chunk table; its own lock is taken for writing only by
    /// [`resize`](BlockBackend::resize).
    chunks: RwLock<Vec<Chunk>>,
    read_only: bool,
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("block_size", &self.block_size)
            .field("blocks", &self.blocks.load(Ordering::Relaxed))
            .field("allocated_bytes", &self.allocated_bytes())
            .finish()
    }
}

/// A backend that cannot be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The block size is not 512 or 4096.
    #[error("block size {0} is not supported (use 512 or 4096)")]
    BlockSize(u32),
    /// The size is zero or not a multiple of the block size.
    #[error("size {size} bytes is not a positive multiple of the {block_size}-byte block size")]
    Size {
        /// Requested size, bytes.
        size: u64,
        /// Block size, bytes.
        block_size: u32,
    },
    /// An OS error on the named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// The blocks of a device of `size` bytes in `block_size`-byte blocks:
/// what every backend checks (512 or 4096-byte blocks, a positive whole
/// number of them).
///
/// # Errors
/// [`BackendError::BlockSize`], [`BackendError::Size`].
pub fn check_geometry(size: u64, block_size: u32) -> Result<u64, BackendError> {
    if block_size != 512 && block_size != 4096 {
        return Err(BackendError::BlockSize(block_size));
    }
    if size == 0 || !size.is_multiple_of(u64::from(block_size)) {
        return Err(BackendError::Size { size, block_size });
    }
    Ok(size / u64::from(block_size))
}

impl MemoryBackend {
    /// A zeroed RAM disk of `size` bytes.
    ///
    /// # Errors
    /// [`BackendError`] for an unsupported block size or size.
    pub fn new(size: u64, block_size: u32) -> Result<Self, BackendError> {
        let blocks = check_geometry(size, block_size)?;
        let chunks = chunk_count(size).ok_or(BackendError::Size { size, block_size })?;
        Ok(Self {
            block_size,
            blocks: AtomicU64::new(blocks),
            chunks: RwLock::new((0..chunks).map(|_| RwLock::new(None)).collect()),
            read_only: false,
        })
    }

    /// The same disk, refusing writes.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Bytes of RAM the written chunks use.
    #[must_use]
    pub fn allocated_bytes(&self) -> usize {
        self.chunks.read().map_or(0, |chunks| {
            chunks
                .iter()
                .filter(|c| c.read().is_ok_and(|g| g.is_some()))
                .count()
        }) * CHUNK
    }

    fn size(&self) -> u64 {
        self.blocks.load(Ordering::Acquire) * u64::from(self.block_size)
    }

    /// The chunk table, for one I/O.
    fn table(&self) -> io::Result<std::sync::RwLockReadGuard<'_, Vec<Chunk>>> {
        self.chunks.read().map_err(|_| poisoned())
    }

    /// Calls `f(chunk, offset in chunk, range in the caller's buffer)`
    /// for each chunk the byte range touches, with the chunk table held
    /// (so a resize waits for the I/O).
    fn for_each_chunk(
        &self,
        offset: u64,
        len: usize,
        mut f: impl FnMut(&Chunk, usize, std::ops::Range<usize>) -> io::Result<()>,
    ) -> io::Result<()> {
        let table = self.table()?;
        let end = offset
            .checked_add(len as u64)
            .filter(|e| *e <= self.size())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "I/O beyond the end of the disk",
                )
            })?;
        let mut at = offset;
        let mut done = 0usize;
        while at < end {
            let index = usize::try_from(at / CHUNK as u64).unwrap_or(usize::MAX);
            let within = usize::try_from(at % CHUNK as u64).unwrap_or(0);
            let n = (CHUNK - within).min(usize::try_from(end - at).unwrap_or(usize::MAX));
            f(
                table.get(index).ok_or_else(poisoned)?,
                within,
                done..done + n,
            )?;
            at += n as u64;
            done += n;
        }
        Ok(())
    }
}

/// Chunks that hold `size` bytes.
fn chunk_count(size: u64) -> Option<usize> {
    usize::try_from(size.div_ceil(CHUNK as u64)).ok()
}

fn poisoned() -> io::Error {
    io::Error::other("memory backend lock poisoned")
}

impl BlockBackend for MemoryBackend {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        self.blocks.load(Ordering::Acquire)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.for_each_chunk(offset, buf.len(), |chunk, within, range| {
            let out = buf.get_mut(range).ok_or_else(poisoned)?;
            let guard = chunk.read().map_err(|_| poisoned())?;
            match guard
                .as_deref()
                .and_then(|c| c.get(within..within + out.len()))
            {
                Some(src) => out.copy_from_slice(src),
                None => out.fill(0),
            }
            Ok(())
        })
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only disk",
            ));
        }
        self.for_each_chunk(offset, data.len(), |chunk, within, range| {
            let src = data.get(range).ok_or_else(poisoned)?;
            let mut guard = chunk.write().map_err(|_| poisoned())?;
            let mem = guard.get_or_insert_with(|| vec![0u8; CHUNK].into_boxed_slice());
            mem.get_mut(within..within + src.len())
                .ok_or_else(poisoned)?
                .copy_from_slice(src);
            Ok(())
        })
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only disk",
            ));
        }
        let len = usize::try_from(len).map_err(|_| io::Error::other("unmap range too large"))?;
        self.for_each_chunk(offset, len, |chunk, within, range| {
            let mut guard = chunk.write().map_err(|_| poisoned())?;
            if within == 0 && range.len() == CHUNK {
                *guard = None;
            } else if let Some(mem) = guard.as_deref_mut() {
                mem.get_mut(within..within + range.len())
                    .ok_or_else(poisoned)?
                    .fill(0);
            }
            Ok(())
        })
    }

    fn thin(&self) -> bool {
        true
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Grows or shrinks the chunk table; chunks cut off are freed, and the
    /// tail of a last chunk that is cut in the middle is zeroed, so it
    /// reads as zeros should the disk grow again.
    fn resize(&self, blocks: u64) -> io::Result<()> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{blocks} blocks of {} bytes", self.block_size),
            )
        };
        let size = blocks
            .checked_mul(u64::from(self.block_size))
            .filter(|s| *s > 0)
            .ok_or_else(invalid)?;
        let count = chunk_count(size).ok_or_else(invalid)?;
        let mut table = self.chunks.write().map_err(|_| poisoned())?;
        table.resize_with(count, || RwLock::new(None));
        let tail = usize::try_from(size % CHUNK as u64).unwrap_or(0);
        if tail > 0
            && let Some(last) = table.last()
            && let Some(mem) = last.write().map_err(|_| poisoned())?.as_deref_mut()
        {
            mem.get_mut(tail..).ok_or_else(poisoned)?.fill(0);
        }
        self.blocks.store(blocks, Ordering::Release);
        Ok(())
    }

    fn mapping(&self, offset: u64) -> io::Result<(bool, u64)> {
        let table = self.table()?;
        let size = self.size();
        if offset >= size {
            return Ok((false, 0));
        }
        let first = usize::try_from(offset / CHUNK as u64).unwrap_or(usize::MAX);
        let state = |i: usize| {
            table
                .get(i)
                .is_some_and(|c| c.read().is_ok_and(|g| g.is_some()))
        };
        let mapped = state(first);
        let mut end = first + 1;
        while end < table.len() && state(end) == mapped {
            end += 1;
        }
        let run_end = (end as u64 * CHUNK as u64).min(size);
        Ok((mapped, run_end - offset))
    }
}

/// A regular file or block device, with positional I/O (pread/pwrite).
/// SYNCHRONIZE CACHE and FUA reach the disk with fdatasync; UNMAP punches
/// holes with `fallocate(PUNCH_HOLE | KEEP_SIZE)`.
#[derive(Debug)]
pub struct FileBackend {
    file: File,
    path: PathBuf,
    block_size: u32,
    blocks: AtomicU64,
    read_only: bool,
    can_punch: bool,
}

impl FileBackend {
    /// Opens `path`. For a regular file, `size` (bytes) creates it sparse or
    /// grows it when given; without it the current length is used. For a
    /// block device the device size is used.
    ///
    /// # Errors
    /// [`BackendError`] naming the path.
    pub fn open(
        path: impl AsRef<Path>,
        size: Option<u64>,
        block_size: u32,
        read_only: bool,
    ) -> Result<Self, BackendError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| BackendError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .create(!read_only && size.is_some())
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        let current = if meta.is_file() {
            meta.len()
        } else {
            file.seek(SeekFrom::End(0)).map_err(io_err)?
        };
        let size = match size {
            Some(wanted) if meta.is_file() && wanted > current && !read_only => {
                file.set_len(wanted).map_err(io_err)?;
                wanted
            }
            Some(wanted) if wanted <= current => wanted,
            _ => current,
        };
        let blocks = check_geometry(size, block_size)?;
        Ok(Self {
            file,
            path,
            block_size,
            blocks: AtomicU64::new(blocks),
            read_only,
            can_punch: meta.is_file(),
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BlockBackend for FileBackend {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        self.blocks.load(Ordering::Acquire)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only file",
            ));
        }
        self.file.write_all_at(data, offset)
    }

    fn flush(&self) -> io::Result<()> {
        if self.read_only {
            return Ok(());
        }
        self.file.sync_data()
    }

    fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only file",
            ));
        }
        use rustix::fs::{FallocateFlags, fallocate};
        match fallocate(
            &self.file,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            offset,
            len,
        ) {
            Ok(()) => Ok(()),
            // Filesystems without hole punching: write zeros instead.
            Err(rustix::io::Errno::OPNOTSUPP) => {
                let zeros = vec![0u8; 1 << 20];
                let mut at = offset;
                let end = offset + len;
                while at < end {
                    let n = usize::try_from((end - at).min(zeros.len() as u64)).unwrap_or(0);
                    self.file.write_all_at(zeros.get(..n).unwrap_or(&[]), at)?;
                    at += n as u64;
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn thin(&self) -> bool {
        self.can_punch
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// A regular file grows (sparse) or is truncated to the new size; a
    /// block device keeps its own size, so it may only be re-read: the new
    /// size must fit in the device.
    fn resize(&self, blocks: u64) -> io::Result<()> {
        let size = blocks
            .checked_mul(u64::from(self.block_size))
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{blocks} blocks of {} bytes", self.block_size),
                )
            })?;
        if self.file.metadata()?.is_file() {
            if self.read_only {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "read-only file",
                ));
            }
            self.file.set_len(size)?;
        } else {
            use rustix::fs::{SeekFrom as RSeek, seek};
            let device = seek(&self.file, RSeek::End(0))?;
            if size > device {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is {device} bytes, less than {size}",
                        self.path.display()
                    ),
                ));
            }
        }
        self.blocks.store(blocks, Ordering::Release);
        Ok(())
    }

    fn mapping(&self, offset: u64) -> io::Result<(bool, u64)> {
        use rustix::fs::{SeekFrom as RSeek, seek};
        let size = self.block_count() * u64::from(self.block_size);
        if offset >= size {
            return Ok((false, 0));
        }
        if !self.can_punch {
            return Ok((true, size - offset));
        }
        let bs = u64::from(self.block_size);
        // SEEK_DATA from offset: the next data at offset means mapped.
        let data = match seek(&self.file, RSeek::Data(offset)) {
            Ok(d) => d.min(size),
            Err(rustix::io::Errno::NXIO) => size,
            Err(e) => return Err(e.into()),
        };
        if data > offset {
            // A hole up to `data`, rounded down to whole blocks (at least one).
            let run = ((data - offset) / bs * bs).max(bs);
            return Ok((false, run));
        }
        let hole = match seek(&self.file, RSeek::Hole(offset)) {
            Ok(h) => h.min(size),
            Err(e) => return Err(e.into()),
        };
        let run = (hole - offset).div_ceil(bs) * bs;
        Ok((true, run.max(bs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_backend_is_sparse_and_reads_zeros() {
        let disk = MemoryBackend::new(1 << 30, 512).unwrap();
        assert_eq!(disk.block_count(), 1 << 21);
        assert_eq!(disk.allocated_bytes(), 0);
        let mut buf = vec![0xffu8; 4096];
        disk.read_at(123 * 512, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 0));
        // A write across a chunk boundary.
        let data: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
        disk.write_at(CHUNK as u64 - 4096, &data).unwrap();
        assert_eq!(disk.allocated_bytes(), 2 * CHUNK);
        let mut back = vec![0u8; 8192];
        disk.read_at(CHUNK as u64 - 4096, &mut back).unwrap();
        assert_eq!(back, data);
        assert_eq!(disk.mapping(0).unwrap(), (true, 2 * CHUNK as u64));
        disk.unmap(0, 2 * CHUNK as u64).unwrap();
        assert_eq!(disk.allocated_bytes(), 0);
        assert!(!disk.mapping(0).unwrap().0);
        assert!(disk.read_at((1 << 30) - 512, &mut [0u8; 1024]).is_err());
    }

    #[test]
    fn memory_backend_grows_and_shrinks_online() {
        let disk = MemoryBackend::new(CHUNK as u64 + 4096, 512).unwrap();
        disk.write_at(CHUNK as u64, &[5u8; 4096]).unwrap();
        // Shrink into the middle of the written chunk, then grow again:
        // what was cut off reads as zeros.
        disk.resize((CHUNK as u64 + 1024) / 512).unwrap();
        assert_eq!(disk.block_count(), (CHUNK as u64 + 1024) / 512);
        assert!(disk.read_at(CHUNK as u64, &mut [0u8; 2048]).is_err());
        disk.resize(4 * CHUNK as u64 / 512).unwrap();
        let mut buf = [0xffu8; 4096];
        disk.read_at(CHUNK as u64, &mut buf).unwrap();
        assert!(buf[..1024].iter().all(|b| *b == 5));
        assert!(buf[1024..].iter().all(|b| *b == 0));
        disk.write_at(4 * CHUNK as u64 - 512, &[1u8; 512]).unwrap();
        assert_eq!(
            disk.mapping(2 * CHUNK as u64).unwrap(),
            (false, CHUNK as u64)
        );
        assert_eq!(
            disk.resize(0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            disk.resize(u64::MAX).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn file_backend_grows_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        let disk = FileBackend::open(&path, Some(1 << 20), 512, false).unwrap();
        disk.resize(4096).unwrap();
        assert_eq!(disk.block_count(), 4096);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 << 20);
        disk.write_at((2 << 20) - 512, &[3u8; 512]).unwrap();
        let ro = FileBackend::open(&path, None, 512, true).unwrap();
        assert_eq!(ro.block_count(), 4096);
        assert_eq!(
            ro.resize(8192).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn geometry_is_checked() {
        assert!(matches!(
            MemoryBackend::new(1000, 512),
            Err(BackendError::Size { .. })
        ));
        assert!(matches!(
            MemoryBackend::new(4096, 1024),
            Err(BackendError::BlockSize(1024))
        ));
    }

    #[test]
    fn file_backend_is_sparse_punches_holes_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        {
            let disk = FileBackend::open(&path, Some(64 << 20), 4096, false).unwrap();
            assert_eq!(disk.block_count(), 16384);
            assert!(!disk.mapping(0).unwrap().0);
            disk.write_at(1 << 20, &[7u8; 8192]).unwrap();
            disk.flush().unwrap();
            assert!(disk.mapping(1 << 20).unwrap().0);
            disk.write_same(4 << 20, 4, &[9u8; 4096]).unwrap();
        }
        let disk = FileBackend::open(&path, None, 4096, true).unwrap();
        let mut buf = [0u8; 8192];
        disk.read_at(1 << 20, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 7));
        disk.read_at(4 << 20, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 9));
        assert!(disk.write_at(0, &[1]).is_err());
        let rw = FileBackend::open(&path, None, 4096, false).unwrap();
        rw.unmap(1 << 20, 8192).unwrap();
        rw.read_at(1 << 20, &mut buf).unwrap();
        assert!(buf.iter().all(|b| *b == 0));
        assert!(!rw.mapping(1 << 20).unwrap().0);
    }
}
