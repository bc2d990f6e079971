//! `iscsi dd`: copy between a LUN and a file or stdin/stdout, with
//! --verify reading back what was written.

use super::*;
use sha2::{Digest, Sha256};

pub(crate) async fn dd(
    args: &Args,
    operands: &[String],
    verify: bool,
    quiet: bool,
) -> Result<u8, Fail> {
    let mut ops = BTreeMap::new();
    for op in operands {
        let (k, v) = op
            .split_once('=')
            .ok_or_else(|| bad_args(format!("{op:?}: expected key=value")))?;
        ops.insert(k, v);
    }
    let src = *ops.get("if").ok_or_else(|| bad_args("if= is required"))?;
    let dst = *ops.get("of").ok_or_else(|| bad_args("of= is required"))?;
    let bs = ops
        .get("bs")
        .map(|v| parse_size(v))
        .transpose()
        .map_err(bad_args)?
        .unwrap_or(1 << 20);
    let count = ops
        .get("count")
        .map(|v| v.parse::<u64>())
        .transpose()
        .map_err(|_| bad_args("count= is not a number"))?;
    let skip = ops
        .get("skip")
        .map(|v| v.parse::<u64>())
        .transpose()
        .map_err(|_| bad_args("skip= is not a number"))?
        .unwrap_or(0);
    let seek = ops
        .get("seek")
        .map(|v| v.parse::<u64>())
        .transpose()
        .map_err(|_| bad_args("seek= is not a number"))?
        .unwrap_or(0);
    let to_lun = dst.starts_with("iscsi://");
    if to_lun == src.starts_with("iscsi://") {
        return Err(bad_args(
            "exactly one of if= and of= must be an iscsi:// URL",
        ));
    }
    let (s, url) = session_for(args, if to_lun { dst } else { src }).await?;
    let (blocks, block_size) = s.read_capacity(url.lun).await?;
    let lun_bytes = blocks * u64::from(block_size);
    if bs % u64::from(block_size) != 0 {
        return Err(bad_args(format!(
            "bs={bs} is not a multiple of the {block_size}-byte block size"
        )));
    }
    let start = Instant::now();
    let mut done: u64 = 0;
    let total = if to_lun {
        let len = std::fs::metadata(src)
            .map_err(|e| io_fail(src, &e))?
            .len()
            .saturating_sub(skip * bs);
        count.map_or(len, |c| (c * bs).min(len))
    } else {
        let len = lun_bytes.saturating_sub(skip * bs);
        count.map_or(len, |c| (c * bs).min(len))
    };
    let bar = if quiet || args.json {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let mut hasher_a = Sha256::new();
    if to_lun {
        let mut f = std::fs::File::open(src).map_err(|e| io_fail(src, &e))?;
        f.seek(SeekFrom::Start(skip * bs))
            .map_err(|e| io_fail(src, &e))?;
        while done < total {
            let n = (total - done).min(bs) as usize;
            let mut buf = vec![0u8; n];
            f.read_exact(&mut buf).map_err(|e| io_fail(src, &e))?;
            // Pad a short last chunk to whole blocks.
            let padded = buf.len().div_ceil(block_size as usize) * block_size as usize;
            buf.resize(padded, 0);
            hasher_a.update(&buf);
            let lba = (seek * bs + done) / u64::from(block_size);
            s.write_blocks(url.lun, lba, Bytes::from(buf), block_size)
                .await?;
            done += n as u64;
            bar.set_position(done);
        }
        s.sync_cache(url.lun).await?;
    } else {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(dst)
            .map_err(|e| io_fail(dst, &e))?;
        f.seek(SeekFrom::Start(seek * bs))
            .map_err(|e| io_fail(dst, &e))?;
        while done < total {
            let n = (total - done).min(bs);
            let lba = (skip * bs + done) / u64::from(block_size);
            let nblocks = u32::try_from(n.div_ceil(u64::from(block_size))).unwrap_or(u32::MAX);
            let data = s.read_blocks(url.lun, lba, nblocks, block_size).await?;
            let part = data.get(..n as usize).unwrap_or(&data);
            hasher_a.update(part);
            f.write_all(part).map_err(|e| io_fail(dst, &e))?;
            done += n;
            bar.set_position(done);
        }
        f.sync_all().map_err(|e| io_fail(dst, &e))?;
    }
    bar.finish_and_clear();
    let elapsed = start.elapsed().as_secs_f64();
    let mut verified = None;
    if verify {
        // Read the destination back and compare digests.
        let mut hasher_b = Sha256::new();
        if to_lun {
            let mut at = 0;
            while at < total {
                let n = (total - at).min(bs);
                let lba = (seek * bs + at) / u64::from(block_size);
                let nblocks = u32::try_from(n.div_ceil(u64::from(block_size))).unwrap_or(u32::MAX);
                let data = s.read_blocks(url.lun, lba, nblocks, block_size).await?;
                hasher_b.update(&data);
                at += n;
            }
        } else {
            let mut f = std::fs::File::open(dst).map_err(|e| io_fail(dst, &e))?;
            f.seek(SeekFrom::Start(seek * bs))
                .map_err(|e| io_fail(dst, &e))?;
            let mut buf = vec![0u8; total as usize];
            f.read_exact(&mut buf).map_err(|e| io_fail(dst, &e))?;
            hasher_b.update(&buf);
        }
        let same = hasher_a.finalize() == hasher_b.finalize();
        verified = Some(same);
        if !same {
            let _ = s.logout().await;
            return Err(Fail {
                code: 7,
                message: "verify failed: the data read back differs".to_owned(),
            });
        }
    }
    let _ = s.logout().await;
    let rate = done as f64 / elapsed.max(1e-9);
    if args.json {
        print_json(
            &serde_json::json!({ "bytes": done, "seconds": elapsed, "bytesPerSecond": rate, "verified": verified }),
        );
    } else {
        out!(
            "{done} bytes copied in {elapsed:.2} s ({}/s){}",
            human(rate as u64),
            if verified == Some(true) {
                ", verified"
            } else {
                ""
            }
        );
    }
    Ok(0)
}
