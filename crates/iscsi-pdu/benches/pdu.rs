//! Criterion benchmarks of the wire layer: BHS parse, Data-In parse with a
//! data digest, header encoding, CRC32C throughput.

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iscsi_pdu::{
    Bhs, CmdSn, DataIn, DataSn, Decoded, Digests, FrameLimits, Framer, Itt, Lun, Pdu, PduRef,
    ScsiCommand, StatSn, Ttt, crc32c,
};

fn scsi_read_bytes() -> Vec<u8> {
    let mut cdb = [0u8; 16];
    cdb[0] = 0x28;
    cdb[8] = 8;
    Pdu::new(
        ScsiCommand {
            final_bit: true,
            read: true,
            lun: Lun::from_index(1).unwrap_or_default(),
            itt: Itt(0x10),
            expected_data_transfer_length: 4096,
            cmd_sn: CmdSn(7),
            exp_stat_sn: StatSn(3),
            cdb,
            ..ScsiCommand::default()
        },
        &[][..],
    )
    .to_vec(Digests::NONE)
    .unwrap_or_default()
}

fn data_in(len: usize) -> Pdu<Vec<u8>> {
    Pdu::new(
        DataIn {
            final_bit: true,
            itt: Itt(0x10),
            ttt: Ttt::RESERVED,
            data_sn: DataSn(0),
            ..DataIn::default()
        },
        vec![0xa5; len],
    )
}

fn benches(c: &mut Criterion) {
    let cmd = scsi_read_bytes();
    c.bench_function("parse SCSI Command BHS", |b| {
        b.iter(|| {
            black_box(matches!(
                Bhs::parse(black_box(&cmd)),
                Ok(Bhs::ScsiCommand(_))
            ))
        });
    });
    c.bench_function("parse SCSI Command PDU", |b| {
        b.iter(|| {
            let parsed = PduRef::parse(black_box(&cmd), Digests::NONE);
            black_box(matches!(
                parsed,
                Ok((
                    Pdu {
                        bhs: Bhs::ScsiCommand(_),
                        ..
                    },
                    _
                ))
            ))
        });
    });

    let pdu = data_in(8192);
    let wire = pdu.to_vec(Digests::BOTH).unwrap_or_default();
    let mut group = c.benchmark_group("Data-In 8 KiB");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("frame + parse with digests", |b| {
        let mut framer = Framer::new(
            FrameLimits::default()
                .with_digests(Digests::BOTH)
                .with_max_recv_data_segment_length(1 << 20),
        );
        b.iter(|| {
            let mut buf = BytesMut::from(black_box(&wire[..]));
            match framer.decode(&mut buf) {
                Ok(Decoded::Frame(frame)) => black_box(frame.parse().is_ok()),
                _ => false,
            }
        });
    });
    group.finish();

    c.bench_function("encode Data-In header", |b| {
        let mut out = BytesMut::with_capacity(64);
        b.iter(|| {
            out.clear();
            let _ = black_box(&pdu).encode_header(Digests::NONE, &mut out);
            black_box(out.len())
        });
    });

    let block = vec![0x3cu8; 64 * 1024];
    let mut group = c.benchmark_group("CRC32C");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.bench_function("64 KiB", |b| b.iter(|| crc32c(black_box(&block))));
    group.finish();
}

criterion_group!(pdu_benches, benches);
criterion_main!(pdu_benches);
