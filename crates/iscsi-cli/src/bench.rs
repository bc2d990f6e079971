//! `iscsi bench`: random or sequential reads or writes at a queue depth
//! for a time, with IOPS, throughput and latency percentiles.

use super::*;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BenchReport {
    rw: String,
    block_size: u64,
    queue_depth: usize,
    seconds: f64,
    ios: u64,
    iops: f64,
    bytes_per_second: f64,
    latency_us: BTreeMap<String, f64>,
    errors: u64,
}

pub(crate) async fn bench(
    args: &Args,
    url: &str,
    rw: &str,
    bs: &str,
    qd: usize,
    seconds: f64,
    span: Option<&str>,
) -> Result<u8, Fail> {
    let bs = parse_size(bs).map_err(bad_args)?;
    if !matches!(rw, "read" | "write" | "randread" | "randwrite") {
        return Err(bad_args("--rw must be read, write, randread or randwrite"));
    }
    if qd == 0 || seconds.is_nan() || seconds <= 0.0 {
        return Err(bad_args("--qd and --seconds must be positive"));
    }
    let (s, url) = session_for(args, url).await?;
    let (blocks, block_size) = s.read_capacity(url.lun).await?;
    let lun_bytes = blocks * u64::from(block_size);
    let span = span
        .map(parse_size)
        .transpose()
        .map_err(bad_args)?
        .unwrap_or(lun_bytes)
        .min(lun_bytes);
    if bs % u64::from(block_size) != 0 || bs > span {
        return Err(bad_args(format!(
            "--bs must be a multiple of {block_size} and fit the span"
        )));
    }
    let slots = span / bs;
    let write = rw.contains("write");
    let random = rw.starts_with("rand");
    let s = Arc::new(s);
    let payload = Bytes::from(vec![0x5a; bs as usize]);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..qd {
        let s = s.clone();
        let payload = payload.clone();
        let lun = url.lun;
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut rng =
                0x9e37_79b9_7f4a_7c15_u64 ^ (w as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
            let mut seq = (w as u64) % slots.max(1);
            while Instant::now() < deadline {
                let slot = if random {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng % slots.max(1)
                } else {
                    let v = seq;
                    seq = (seq + qd as u64) % slots.max(1);
                    v
                };
                let lba = slot * bs / u64::from(block_size);
                let n = u32::try_from(bs / u64::from(block_size)).unwrap_or(1);
                let t = Instant::now();
                let r = if write {
                    s.write_blocks(lun, lba, payload.clone(), block_size).await
                } else {
                    s.read_blocks(lun, lba, n, block_size).await.map(|_| ())
                };
                match r {
                    Ok(()) => lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((l, e)) = w.await {
            lat.extend(l);
            errors += e;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        f64::from(*lat.get(i).unwrap_or(&0))
    };
    let ios = lat.len() as u64;
    let report = BenchReport {
        rw: rw.to_owned(),
        block_size: bs,
        queue_depth: qd,
        seconds: elapsed,
        ios,
        iops: ios as f64 / elapsed,
        bytes_per_second: (ios * bs) as f64 / elapsed,
        latency_us: BTreeMap::from([
            ("p50".to_owned(), pct(0.50)),
            ("p90".to_owned(), pct(0.90)),
            ("p99".to_owned(), pct(0.99)),
            ("p99.9".to_owned(), pct(0.999)),
            ("max".to_owned(), pct(1.0)),
        ]),
        errors,
    };
    if let Ok(s) = Arc::try_unwrap(s) {
        let _ = s.logout().await;
    }
    if args.json {
        print_json(&report);
    } else {
        out!(
            "{} bs={} qd={}: {:.0} IOPS, {}/s over {:.1} s; latency µs p50 {:.0} p90 {:.0} p99 {:.0} p99.9 {:.0}{}",
            report.rw,
            human(bs),
            qd,
            report.iops,
            human(report.bytes_per_second as u64),
            elapsed,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(0.999),
            if errors > 0 {
                format!(", {errors} errors")
            } else {
                String::new()
            }
        );
    }
    Ok(if errors > 0 { 7 } else { 0 })
}
