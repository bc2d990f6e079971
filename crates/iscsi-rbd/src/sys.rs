//! The one place with `unsafe` in the workspace: librbd's C API (Ceph 16.2
//! Pacific, `librbd.so.1`, `LIBRBD_VER` 1.16) loaded at run time with
//! `dlopen`, and the safe handles on top of it.
//!
//! Rules this module keeps, so that its callers cannot break memory:
//! - every handle (`rados_t`, `rados_ioctx_t`, `rbd_image_t`) is owned by
//!   one Rust value that destroys it exactly once, after everything that
//!   uses it: an [`Image`] holds an `Arc` of its [`Rados`], and waits for
//!   its in-flight operations before `rbd_close`;
//! - each asynchronous operation owns a boxed [`Op`] passed to librbd as
//!   the completion's argument; the buffers librbd reads or fills live in
//!   it (asynchronous calls) or in the caller's frame that waits for the
//!   completion before it returns (blocking calls), and the completion
//!   callback, which runs on a librbd thread, takes the box back exactly
//!   once, releases the completion and never blocks;
//! - strings go to C as `CString`s that outlive the call.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

type RadosT = *mut c_void;
type IoctxT = *mut c_void;
type ImageT = *mut c_void;
type CompletionT = *mut c_void;
type CallbackT = unsafe extern "C" fn(CompletionT, *mut c_void);
type DiffCallbackT = unsafe extern "C" fn(u64, usize, c_int, *mut c_void) -> c_int;
type UpdateCallbackT = unsafe extern "C" fn(*mut c_void);

/// `struct iovec` (POSIX).
#[repr(C)]
struct Iovec {
    base: *mut c_void,
    len: usize,
}

/// `RBD_LOCK_MODE_EXCLUSIVE` (librbd.h).
const RBD_LOCK_MODE_EXCLUSIVE: c_int = 0;

macro_rules! api {
    ($( fn $name:ident( $($ty:ty),* ) -> $ret:ty; )*) => {
        /// The librbd and librados functions this crate calls, resolved
        /// once from `librbd.so.1` (which loads `librados.so.2`).
        struct Api {
            $( $name: unsafe extern "C" fn($($ty),*) -> $ret, )*
            /// Keeps the library mapped while the pointers above are used.
            _lib: libloading::Library,
        }

        impl Api {
            fn load() -> Result<Self, String> {
                // SAFETY: librbd's initialisers only set up its own static
                // state; loading it has no effect on this process's memory
                // beyond that. RTLD_NOW (libloading's default) resolves
                // every symbol now, so a missing one fails here.
                let lib = unsafe { libloading::Library::new("librbd.so.1") }
                    .map_err(|e| format!("cannot load librbd.so.1 (install Debian's librbd1): {e}"))?;
                $(
                    // SAFETY: the symbol's C prototype in librbd.h /
                    // librados.h (Pacific) is the function type declared
                    // in the table below; the pointer is only used while
                    // `_lib` keeps the library loaded.
                    let $name = *unsafe {
                        lib.get::<unsafe extern "C" fn($($ty),*) -> $ret>(
                            concat!(stringify!($name), "\0").as_bytes(),
                        )
                    }
                    .map_err(|e| format!("librbd.so.1 has no {}: {e}", stringify!($name)))?;
                )*
                Ok(Self { $( $name, )* _lib: lib })
            }
        }
    };
}

api! {
    fn rados_create(*mut RadosT, *const c_char) -> c_int;
    fn rados_conf_read_file(RadosT, *const c_char) -> c_int;
    fn rados_conf_set(RadosT, *const c_char, *const c_char) -> c_int;
    fn rados_connect(RadosT) -> c_int;
    fn rados_shutdown(RadosT) -> ();
    fn rados_ioctx_create(RadosT, *const c_char, *mut IoctxT) -> c_int;
    fn rados_ioctx_destroy(IoctxT) -> ();
    fn rbd_open(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int;
    fn rbd_close(ImageT) -> c_int;
    fn rbd_get_size(ImageT, *mut u64) -> c_int;
    fn rbd_stat(ImageT, *mut c_void, usize) -> c_int;
    fn rbd_resize(ImageT, u64) -> c_int;
    fn rbd_lock_acquire(ImageT, c_int) -> c_int;
    fn rbd_is_exclusive_lock_owner(ImageT, *mut c_int) -> c_int;
    fn rbd_metadata_get(ImageT, *const c_char, *mut c_char, *mut usize) -> c_int;
    fn rbd_metadata_set(ImageT, *const c_char, *const c_char) -> c_int;
    fn rbd_diff_iterate2(ImageT, *const c_char, u64, u64, u8, u8, DiffCallbackT, *mut c_void) -> c_int;
    fn rbd_update_watch(ImageT, *mut u64, UpdateCallbackT, *mut c_void) -> c_int;
    fn rbd_update_unwatch(ImageT, u64) -> c_int;
    fn rbd_aio_create_completion(*mut c_void, CallbackT, *mut CompletionT) -> c_int;
    fn rbd_aio_get_return_value(CompletionT) -> isize;
    fn rbd_aio_release(CompletionT) -> ();
    fn rbd_aio_readv(ImageT, *const Iovec, c_int, u64, CompletionT) -> c_int;
    fn rbd_aio_writev(ImageT, *const Iovec, c_int, u64, CompletionT) -> c_int;
    fn rbd_aio_discard(ImageT, u64, u64, CompletionT) -> c_int;
    fn rbd_aio_write_zeroes(ImageT, u64, usize, CompletionT, c_int, c_int) -> c_int;
    fn rbd_aio_writesame(ImageT, u64, usize, *const c_char, usize, CompletionT, c_int) -> c_int;
    fn rbd_aio_compare_and_write(ImageT, u64, usize, *const c_char, *const c_char, CompletionT, *mut u64, c_int) -> isize;
    fn rbd_aio_flush(ImageT, CompletionT) -> c_int;
}

/// The loaded library, or why it could not be loaded.
fn api() -> io::Result<&'static Api> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(Api::load)
        .as_ref()
        .map_err(|e| io::Error::new(io::ErrorKind::Unsupported, e.clone()))
}

/// Whether `librbd.so.1` can be loaded here.
///
/// # Errors
/// Why not: the library or one of its functions is missing.
pub(crate) fn available() -> io::Result<()> {
    api().map(|_| ())
}

/// A librados/librbd return value (0 or a positive count, or `-errno`).
fn check(r: isize, what: &str) -> io::Result<usize> {
    usize::try_from(r).map_err(|_| errno(r, what))
}

/// `-errno` as an [`io::Error`] naming the call.
pub(crate) fn errno(r: isize, what: &str) -> io::Error {
    let code = i32::try_from(r.unsigned_abs()).unwrap_or(i32::MAX);
    let os = io::Error::from_raw_os_error(code);
    // Blocklisted (fenced by another client's lock break): librados
    // answers ESHUTDOWN from then on; to a caller it is a lost
    // connection, not a medium failure.
    let kind = if code == libc_errno::ESHUTDOWN {
        io::ErrorKind::NotConnected
    } else {
        os.kind()
    };
    io::Error::new(kind, format!("{what}: {os}"))
}

fn cstring(s: &str, what: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {s:?} contains a NUL byte"),
        )
    })
}

/// A connection to a Ceph cluster (`rados_t`). Shared by the images opened
/// through it; shut down when the last one goes.
pub(crate) struct Rados {
    api: &'static Api,
    handle: RadosT,
}

// SAFETY: librados' cluster handle is thread-safe once connected: its
// functions take their own locks (librados.h: "rados_t ... may be used
// from multiple threads"). This type only exposes `&self` calls that
// librados documents as thread-safe, and `rados_shutdown` in `Drop`.
unsafe impl Send for Rados {}
// SAFETY: as for `Send`.
unsafe impl Sync for Rados {}

impl std::fmt::Debug for Rados {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rados").finish_non_exhaustive()
    }
}

impl Rados {
    /// `rados_create(id)`, `rados_conf_read_file(conf)` (the default search
    /// path when `None`), each `rados_conf_set(key, value)`, then
    /// `rados_connect`.
    pub(crate) fn connect(
        id: Option<&str>,
        conf: Option<&str>,
        options: &[(String, String)],
    ) -> io::Result<Self> {
        let api = api()?;
        let id = id.map(|s| cstring(s, "client id")).transpose()?;
        let mut handle: RadosT = ptr::null_mut();
        // SAFETY: `handle` is a valid out-pointer; `id` is NULL or a
        // NUL-terminated string alive for the call.
        let r = unsafe {
            (api.rados_create)(
                &raw mut handle,
                id.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            )
        };
        check(r as isize, "rados_create")?;
        // From here `rados` owns the handle: an early return shuts it down.
        let rados = Self { api, handle };
        let conf = conf
            .map(|s| cstring(s, "ceph configuration path"))
            .transpose()?;
        // SAFETY: the handle is live and not yet connected; the path is
        // NULL (search the default places) or a C string alive for the call.
        let r = unsafe {
            (api.rados_conf_read_file)(handle, conf.as_ref().map_or(ptr::null(), |s| s.as_ptr()))
        };
        check(r as isize, "reading the Ceph configuration")?;
        for (key, value) in options {
            let k = cstring(key, "Ceph option")?;
            let v = cstring(value, "Ceph option value")?;
            // SAFETY: live, unconnected handle; both strings alive for the call.
            let r = unsafe { (api.rados_conf_set)(handle, k.as_ptr(), v.as_ptr()) };
            check(r as isize, &format!("Ceph option {key} = {value}"))?;
        }
        // SAFETY: a live, configured handle.
        let r = unsafe { (api.rados_connect)(handle) };
        check(r as isize, "connecting to the Ceph cluster")?;
        Ok(rados)
    }
}

impl Drop for Rados {
    fn drop(&mut self) {
        // SAFETY: the handle came from rados_create and is shut down once;
        // every ioctx and image made from it is gone (each holds an `Arc`
        // of this value).
        unsafe { (self.api.rados_shutdown)(self.handle) };
    }
}

/// Operations submitted and not yet completed, so that [`Image`]'s drop
/// waits for them before `rbd_close`.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl InFlight {
    fn enter(&self) {
        *relock(&self.count) += 1;
    }

    fn leave(&self) {
        let mut n = relock(&self.count);
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self) {
        let mut n = relock(&self.count);
        while *n > 0 {
            n = self.idle.wait(n).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// What a finished operation hands back.
#[derive(Debug)]
pub(crate) struct Done {
    /// `rbd_aio_get_return_value`: bytes, 0, or `-errno`.
    pub(crate) ret: isize,
    /// The buffer the operation owned (the data read, for reads).
    pub(crate) buf: Vec<u8>,
    /// COMPARE AND WRITE: the byte offset of the first difference.
    pub(crate) mismatch: u64,
}

#[derive(Default)]
struct Slot {
    done: Option<Done>,
    waker: Option<Waker>,
}

/// Where the completion callback leaves its result: for a thread that
/// waits ([`Pending::wait`]) or a task that polls ([`IoFuture`]).
#[derive(Default)]
struct Pending {
    slot: Mutex<Slot>,
    cond: Condvar,
}

impl Pending {
    fn complete(&self, done: Done) {
        let waker = {
            let mut slot = relock(&self.slot);
            slot.done = Some(done);
            slot.waker.take()
        };
        self.cond.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(&self) -> Done {
        let mut slot = relock(&self.slot);
        loop {
            if let Some(done) = slot.done.take() {
                return done;
            }
            slot = self.cond.wait(slot).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The iovecs of the non-empty buffers of a write (librbd only reads
/// through them).
fn gather<'b>(bufs: impl Iterator<Item = &'b [u8]>) -> Vec<Iovec> {
    bufs.filter(|b| !b.is_empty())
        .map(|b| Iovec {
            base: b.as_ptr().cast_mut().cast(),
            len: b.len(),
        })
        .collect()
}

/// The librbd call of a request, with the pointers it needs.
enum Call {
    Readv,
    Writev,
    Discard(u64),
    WriteZeroes(usize),
    WriteSame(*const u8, usize, usize),
    CompareAndWrite(*const u8, *const u8, usize),
    Flush,
}

/// One operation in flight: the completion callback's argument.
struct Op {
    api: &'static Api,
    /// Data librbd reads (writes, compare-and-write: compare then write
    /// halves) or fills (reads), owned here until the completion.
    buf: Vec<u8>,
    /// The gather list handed to readv/writev; points into `buf` or into
    /// the blocked caller's buffers.
    iov: Vec<Iovec>,
    /// Owned buffers `iov` points into (`WriteParts`): `Bytes` never move
    /// their contents.
    parts: Vec<bytes::Bytes>,
    /// Filled by librbd on a compare-and-write miscompare.
    mismatch: u64,
    pending: Arc<Pending>,
    in_flight: Arc<InFlight>,
}

/// The completion callback. Runs on a librbd thread: takes the [`Op`]
/// back, releases the completion, wakes the waiter; never blocks beyond a
/// short mutex.
unsafe extern "C" fn on_complete(c: CompletionT, arg: *mut c_void) {
    // SAFETY: `arg` is the `Box<Op>` leaked in `Image::submit` for this
    // completion, and librbd calls this callback exactly once per
    // completion, so the box is taken back exactly once.
    let op = unsafe { Box::from_raw(arg.cast::<Op>()) };
    // SAFETY: `c` is the completion this callback was registered on; it is
    // complete (we are its callback) and is released here, once.
    let ret = unsafe { (op.api.rbd_aio_get_return_value)(c) };
    // SAFETY: as above; nothing uses `c` afterwards.
    unsafe { (op.api.rbd_aio_release)(c) };
    let Op {
        buf,
        iov,
        parts,
        mismatch,
        pending,
        in_flight,
        ..
    } = *op;
    drop((iov, parts));
    pending.complete(Done { ret, buf, mismatch });
    in_flight.leave();
}

/// An open RBD image (`rbd_image_t`) and its pool's I/O context.
pub(crate) struct Image {
    rados: Arc<Rados>,
    ioctx: IoctxT,
    image: ImageT,
    in_flight: Arc<InFlight>,
}

// SAFETY: librbd serialises access to an image handle internally (its
// ImageCtx has its own locks); QEMU and tgt's bs_rbd submit aio on one
// handle from many threads. The handle is closed only in `Drop`, after the
// in-flight operations have completed.
unsafe impl Send for Image {}
// SAFETY: as for `Send`.
unsafe impl Sync for Image {}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image").finish_non_exhaustive()
    }
}

/// What an operation does; each names the librbd call it makes.
#[derive(Debug)]
pub(crate) enum Request<'a> {
    /// `rbd_aio_readv` into one owned buffer of this many bytes.
    Read(usize),
    /// `rbd_aio_readv` into the caller's buffer (blocking calls only).
    ReadInto(&'a mut [u8]),
    /// `rbd_aio_writev` of one owned buffer.
    Write(Vec<u8>),
    /// `rbd_aio_writev` of the caller's buffers (blocking calls only).
    WriteFrom(&'a [&'a [u8]]),
    /// `rbd_aio_writev` of owned, shared buffers (an iSCSI Data-Out as it
    /// arrived), without gathering them.
    WriteParts(Vec<bytes::Bytes>),
    /// `rbd_aio_discard` of this many bytes.
    Discard(u64),
    /// `rbd_aio_write_zeroes` of this many bytes.
    WriteZeroes(usize),
    /// `rbd_aio_writesame`: the pattern repeated over this many bytes.
    WriteSame(Vec<u8>, usize),
    /// `rbd_aio_compare_and_write`: the first half compared, the second
    /// written.
    CompareAndWrite(Vec<u8>),
    /// `rbd_aio_flush`.
    Flush,
}

impl Image {
    /// `rados_ioctx_create(pool)` and `rbd_open(name)`.
    pub(crate) fn open(rados: Arc<Rados>, pool: &str, name: &str) -> io::Result<Self> {
        let api = rados.api;
        let pool_c = cstring(pool, "pool")?;
        let name_c = cstring(name, "image")?;
        let mut ioctx: IoctxT = ptr::null_mut();
        // SAFETY: a connected cluster handle, a C string alive for the
        // call, a valid out-pointer.
        let r = unsafe { (api.rados_ioctx_create)(rados.handle, pool_c.as_ptr(), &raw mut ioctx) };
        check(r as isize, &format!("opening pool {pool}"))?;
        let mut image: ImageT = ptr::null_mut();
        // SAFETY: the ioctx just made; name alive for the call; valid
        // out-pointer; NULL snapshot = the head.
        let r = unsafe { (api.rbd_open)(ioctx, name_c.as_ptr(), &raw mut image, ptr::null()) };
        if r < 0 {
            // SAFETY: the ioctx is ours and nothing else uses it.
            unsafe { (api.rados_ioctx_destroy)(ioctx) };
            return Err(errno(r as isize, &format!("opening image {pool}/{name}")));
        }
        Ok(Self {
            rados,
            ioctx,
            image,
            in_flight: Arc::default(),
        })
    }

    fn api(&self) -> &'static Api {
        self.rados.api
    }

    /// `rbd_get_size`, bytes.
    pub(crate) fn size(&self) -> io::Result<u64> {
        let mut size = 0u64;
        // SAFETY: an open image; a valid out-pointer.
        let r = unsafe { (self.api().rbd_get_size)(self.image, &raw mut size) };
        check(r as isize, "rbd_get_size")?;
        Ok(size)
    }

    /// The image's object size in bytes (`rbd_stat`: `obj_size`).
    pub(crate) fn object_size(&self) -> io::Result<u64> {
        // rbd_image_info_t begins with `uint64_t size; uint64_t obj_size;`
        // (librbd.h, unchanged since format 1); its tail (names, parent)
        // is not needed. librbd writes sizeof(rbd_image_info_t) bytes
        // (under 200 on every ABI) and refuses a buffer smaller than that:
        // 512 zeroed u64-aligned bytes hold it.
        let mut info = [0u64; 64];
        // SAFETY: an open image; `info` is writable for the byte length
        // passed, which is at least librbd's struct size.
        let r = unsafe {
            (self.api().rbd_stat)(self.image, info.as_mut_ptr().cast(), size_of_val(&info))
        };
        check(r as isize, "rbd_stat")?;
        let [_size, obj_size, ..] = info;
        Ok(obj_size)
    }

    /// `rbd_resize` to `bytes`.
    pub(crate) fn resize(&self, bytes: u64) -> io::Result<()> {
        // SAFETY: an open image.
        let r = unsafe { (self.api().rbd_resize)(self.image, bytes) };
        check(r as isize, "rbd_resize").map(|_| ())
    }

    /// `rbd_lock_acquire(EXCLUSIVE)`: other clients' writes then fail
    /// with `EROFS` until this image is closed.
    pub(crate) fn lock_exclusive(&self) -> io::Result<()> {
        // SAFETY: an open image.
        let r = unsafe { (self.api().rbd_lock_acquire)(self.image, RBD_LOCK_MODE_EXCLUSIVE) };
        check(r as isize, "rbd_lock_acquire").map(|_| ())
    }

    /// `rbd_is_exclusive_lock_owner`.
    pub(crate) fn is_lock_owner(&self) -> io::Result<bool> {
        let mut owner: c_int = 0;
        // SAFETY: an open image; a valid out-pointer.
        let r = unsafe { (self.api().rbd_is_exclusive_lock_owner)(self.image, &raw mut owner) };
        check(r as isize, "rbd_is_exclusive_lock_owner")?;
        Ok(owner != 0)
    }

    /// `rbd_metadata_get(key)`: `None` when the key is not set.
    pub(crate) fn metadata_get(&self, key: &str) -> io::Result<Option<String>> {
        let key_c = cstring(key, "metadata key")?;
        let mut buf = vec![0u8; 256];
        loop {
            let mut len = buf.len();
            // SAFETY: an open image; `buf` has `len` writable bytes; `len`
            // is a valid in/out pointer.
            let r = unsafe {
                (self.api().rbd_metadata_get)(
                    self.image,
                    key_c.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    &raw mut len,
                )
            };
            match r {
                0 => {
                    // librbd does not update `len` on success (see
                    // ../shared/ceph): the value is NUL-terminated.
                    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
                    buf.truncate(end);
                    return String::from_utf8(buf).map(Some).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("metadata {key} is not UTF-8"),
                        )
                    });
                }
                r if r == -libc_errno::ENOENT => return Ok(None),
                r if r == -libc_errno::ERANGE && len > buf.len() => buf.resize(len, 0),
                r => return Err(errno(r as isize, &format!("rbd_metadata_get {key}"))),
            }
        }
    }

    /// `rbd_metadata_set(key, value)`.
    pub(crate) fn metadata_set(&self, key: &str, value: &str) -> io::Result<()> {
        let k = cstring(key, "metadata key")?;
        let v = cstring(value, "metadata value")?;
        // SAFETY: an open image; both strings alive for the call.
        let r = unsafe { (self.api().rbd_metadata_set)(self.image, k.as_ptr(), v.as_ptr()) };
        check(r as isize, &format!("rbd_metadata_set {key}")).map(|_| ())
    }

    /// `rbd_diff_iterate2` from the image's creation over
    /// `[offset, offset + len)`: the allocated extents `(offset, bytes)`
    /// in order.
    pub(crate) fn allocated(&self, offset: u64, len: u64) -> io::Result<Vec<(u64, u64)>> {
        unsafe extern "C" fn each(off: u64, len: usize, exists: c_int, arg: *mut c_void) -> c_int {
            // SAFETY: `arg` is the `&mut Vec` below, alive and not
            // otherwise used while rbd_diff_iterate2 runs (it calls this
            // synchronously, before it returns).
            let extents = unsafe { &mut *arg.cast::<Vec<(u64, u64)>>() };
            if exists != 0 {
                extents.push((off, len as u64));
            }
            0
        }
        let mut extents: Vec<(u64, u64)> = Vec::new();
        // SAFETY: an open image; NULL from-snapshot = since creation;
        // `each` matches the callback type; `arg` points at `extents`,
        // which outlives the call.
        let r = unsafe {
            (self.api().rbd_diff_iterate2)(
                self.image,
                ptr::null(),
                offset,
                len,
                1,
                0,
                each,
                (&raw mut extents).cast(),
            )
        };
        check(r as isize, "rbd_diff_iterate2")?;
        Ok(extents)
    }

    /// Submits `req` at byte `offset`; `pending` receives the result.
    /// For `ReadInto`/`WriteFrom` the caller must not return before
    /// `pending` completes (the blocking wrappers below).
    fn submit(&self, offset: u64, req: Request<'_>, pending: &Arc<Pending>) -> io::Result<()> {
        let api = self.api();
        let mut op = Box::new(Op {
            api,
            buf: Vec::new(),
            iov: Vec::new(),
            parts: Vec::new(),
            mismatch: 0,
            pending: Arc::clone(pending),
            in_flight: Arc::clone(&self.in_flight),
        });
        // Phase 1: the Op takes the buffers; the call's arguments are
        // taken from them (heap pointers: they stay valid when the box
        // itself is turned into a raw pointer below).
        let call = match req {
            Request::Read(len) => {
                op.buf = vec![0; len];
                op.iov = vec![Iovec {
                    base: op.buf.as_mut_ptr().cast(),
                    len,
                }];
                Call::Readv
            }
            Request::ReadInto(out) => {
                op.iov = vec![Iovec {
                    base: out.as_mut_ptr().cast(),
                    len: out.len(),
                }];
                Call::Readv
            }
            Request::Write(data) => {
                op.buf = data;
                op.iov = vec![Iovec {
                    base: op.buf.as_mut_ptr().cast(),
                    len: op.buf.len(),
                }];
                Call::Writev
            }
            Request::WriteFrom(bufs) => {
                op.iov = gather(bufs.iter().copied());
                Call::Writev
            }
            Request::WriteParts(parts) => {
                op.parts = parts;
                op.iov = gather(op.parts.iter().map(|b| &b[..]));
                Call::Writev
            }
            Request::Discard(len) => Call::Discard(len),
            Request::WriteZeroes(len) => Call::WriteZeroes(len),
            Request::WriteSame(pattern, len) => {
                op.buf = pattern;
                Call::WriteSame(op.buf.as_ptr(), op.buf.len(), len)
            }
            Request::CompareAndWrite(both) => {
                op.buf = both;
                let half = op.buf.len() / 2;
                let (compare, write) = op.buf.split_at(half);
                Call::CompareAndWrite(compare.as_ptr(), write.as_ptr(), half)
            }
            Request::Flush => Call::Flush,
        };
        let iov = op.iov.as_ptr();
        let iov_count = c_int::try_from(op.iov.len()).unwrap_or(c_int::MAX);
        // Phase 2: the Op goes to librbd as the completion's argument; from
        // here it is reached only through `arg`.
        let arg = Box::into_raw(op);
        let mut completion: CompletionT = ptr::null_mut();
        // SAFETY: `arg` is the leaked Op that `on_complete` takes back; the
        // out-pointer is valid.
        let r = unsafe {
            (api.rbd_aio_create_completion)(arg.cast(), on_complete, &raw mut completion)
        };
        if r < 0 {
            // SAFETY: no completion exists, so no callback will take the
            // Op: take it back here, once.
            drop(unsafe { Box::from_raw(arg) });
            return Err(errno(r as isize, "rbd_aio_create_completion"));
        }
        let image = self.image;
        // Counted before the call: the callback may run before it returns.
        self.in_flight.enter();
        // SAFETY: (every arm) `image` is open; the buffers behind `iov` and
        // the WRITE SAME / COMPARE AND WRITE pointers are either the Op's
        // (owned until the callback) or the blocked caller's (borrowed
        // until `pending` completes); `mismatch` is a field of the leaked
        // Op, alive until the callback; librbd reads from write buffers
        // and writes only into read buffers and `mismatch`.
        let r: isize = unsafe {
            match call {
                Call::Readv => {
                    (api.rbd_aio_readv)(image, iov, iov_count, offset, completion) as isize
                }
                Call::Writev => {
                    (api.rbd_aio_writev)(image, iov, iov_count, offset, completion) as isize
                }
                Call::Discard(len) => {
                    (api.rbd_aio_discard)(image, offset, len, completion) as isize
                }
                Call::WriteZeroes(len) => {
                    (api.rbd_aio_write_zeroes)(image, offset, len, completion, 0, 0) as isize
                }
                Call::WriteSame(pattern, pattern_len, len) => (api.rbd_aio_writesame)(
                    image,
                    offset,
                    len,
                    pattern.cast(),
                    pattern_len,
                    completion,
                    0,
                ) as isize,
                Call::CompareAndWrite(compare, write, len) => (api.rbd_aio_compare_and_write)(
                    image,
                    offset,
                    len,
                    compare.cast(),
                    write.cast(),
                    completion,
                    &raw mut (*arg).mismatch,
                    0,
                ),
                Call::Flush => (api.rbd_aio_flush)(image, completion) as isize,
            }
        };
        if r < 0 {
            // The call did not take the completion: no callback will come.
            // SAFETY: the completion was never accepted by librbd, and the
            // Op is taken back once.
            unsafe {
                (api.rbd_aio_release)(completion);
                drop(Box::from_raw(arg));
            }
            self.in_flight.leave();
            return Err(errno(r, "submitting to librbd"));
        }
        Ok(())
    }

    /// Runs `req` and waits for it on this thread.
    pub(crate) fn blocking(&self, offset: u64, req: Request<'_>) -> io::Result<Done> {
        let pending = Arc::new(Pending::default());
        self.submit(offset, req, &pending)?;
        // No early return between a successful submit and here: borrowed
        // buffers stay valid until librbd is done with them.
        Ok(pending.wait())
    }

    /// Starts `req` (owned buffers only) and returns its future.
    pub(crate) fn start(&self, offset: u64, req: Request<'static>) -> IoFuture {
        let pending = Arc::new(Pending::default());
        match self.submit(offset, req, &pending) {
            Ok(()) => IoFuture {
                pending: Some(pending),
                failed: None,
            },
            Err(e) => IoFuture {
                pending: None,
                failed: Some(e),
            },
        }
    }

    /// `rbd_update_watch`: `notify` runs (on a librbd thread; it must not
    /// block or call back into the image) whenever the image's header
    /// changes (resize, snapshots, lock owner). Unwatched when the
    /// returned guard drops.
    pub(crate) fn watch(
        self: &Arc<Self>,
        notify: Box<dyn Fn() + Send + Sync>,
    ) -> io::Result<Watch> {
        unsafe extern "C" fn fire(arg: *mut c_void) {
            // SAFETY: `arg` is the boxed closure owned by the `Watch`,
            // which unwatches (librbd then calls no more) before freeing it.
            let f = unsafe { &*arg.cast::<Box<dyn Fn() + Send + Sync>>() };
            f();
        }
        let callback = Box::new(notify);
        let arg: *const Box<dyn Fn() + Send + Sync> = &raw const *callback;
        let mut handle = 0u64;
        // SAFETY: an open image; `fire` matches rbd_update_callback_t; `arg`
        // points at the boxed closure, kept alive by the Watch until after
        // rbd_update_unwatch.
        let r = unsafe {
            (self.api().rbd_update_watch)(self.image, &raw mut handle, fire, arg.cast_mut().cast())
        };
        check(r as isize, "rbd_update_watch")?;
        Ok(Watch {
            image: Arc::clone(self),
            handle,
            _callback: callback,
        })
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // Completions still reference this image: let them finish first.
        self.in_flight.wait_idle();
        // SAFETY: the image and ioctx are ours, closed once, with nothing
        // in flight; the Rados handle outlives them (we hold its Arc).
        unsafe {
            (self.api().rbd_close)(self.image);
            (self.api().rados_ioctx_destroy)(self.ioctx);
        }
    }
}

/// A registered `rbd_update_watch`; unwatched on drop.
pub(crate) struct Watch {
    image: Arc<Image>,
    handle: u64,
    _callback: Box<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("handle", &self.handle)
            .finish()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: the handle came from rbd_update_watch on this image; after
        // unwatch returns librbd calls the callback no more, so the boxed
        // closure may be freed with this value.
        unsafe { (self.image.api().rbd_update_unwatch)(self.image.image, self.handle) };
    }
}

/// The future of an operation started with [`Image::start`]; runtime
/// agnostic (the completion wakes the task's waker). Dropping it does not
/// cancel the operation: its buffers live until librbd completes it.
pub(crate) struct IoFuture {
    pending: Option<Arc<Pending>>,
    failed: Option<io::Error>,
}

impl Future for IoFuture {
    type Output = io::Result<Done>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(e) = self.failed.take() {
            return Poll::Ready(Err(e));
        }
        let Some(pending) = &self.pending else {
            return Poll::Ready(Err(io::Error::other(
                "librbd operation polled after completion",
            )));
        };
        let mut slot = relock(&pending.slot);
        if let Some(done) = slot.done.take() {
            drop(slot);
            self.pending = None;
            return Poll::Ready(Ok(done));
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The errno values this module tests for (Linux, all architectures Ceph
/// runs on).
pub(crate) mod libc_errno {
    use std::ffi::c_int;
    /// No such file or directory.
    pub(crate) const ENOENT: c_int = 2;
    /// Result too large (buffer too small).
    pub(crate) const ERANGE: c_int = 34;
    /// Illegal byte sequence: librbd's compare-and-write miscompare.
    pub(crate) const EILSEQ: c_int = 84;
    /// Cannot send after transport endpoint shutdown: blocklisted.
    pub(crate) const ESHUTDOWN: c_int = 108;
}
