//! Mode pages (SPC-4 §7.5, SBC-3 §6.5) and REPORT COMMANDS OPERATION
//! CODES (SPC-4 §6.35).

use bytes::Bytes;

use crate::cdb::{COMMANDS, CommandSpec};
use crate::command::ReportSupportedOperationCodes;
use crate::data::Reader;
use crate::fail::Fail;
use crate::sense::{Asc, Sense, SenseKey};

/// The changeable mode values of a unit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ModeValues {
    pub(crate) wce: bool,
    pub(crate) d_sense: bool,
    pub(crate) swp: bool,
}

/// Receives the values MODE SELECT changes.
pub(crate) trait ModeSink {
    fn set_wce(&mut self, on: bool);
    fn set_d_sense(&mut self, on: bool);
    fn set_swp(&mut self, on: bool);
}

const CACHING: u8 = 0x08;
const CONTROL: u8 = 0x0a;
const INFORMATIONAL_EXCEPTIONS: u8 = 0x1c;
const ALL_PAGES: u8 = 0x3f;

/// Page control values.
const PC_CURRENT: u8 = 0;
const PC_CHANGEABLE: u8 = 1;

fn caching(pc: u8, v: &ModeValues) -> Vec<u8> {
    let mut p = [0u8; 20];
    p[0] = CACHING;
    p[1] = 0x12;
    p[2] = match pc {
        PC_CHANGEABLE => 0x04,
        PC_CURRENT => {
            if v.wce {
                0x04
            } else {
                0
            }
        }
        _ => 0x04,
    };
    p.to_vec()
}

fn control(pc: u8, v: &ModeValues) -> Vec<u8> {
    let mut p = [0u8; 12];
    p[0] = CONTROL;
    p[1] = 0x0a;
    if pc == PC_CHANGEABLE {
        p[2] = 0x04; // D_SENSE
        p[4] = 0x08; // SWP
        return p.to_vec();
    }
    let current = pc == PC_CURRENT;
    // TST 000b, D_SENSE, GLTSD (no implicit log saving).
    p[2] = 0x02 | if current && v.d_sense { 0x04 } else { 0 };
    // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering allowed.
    p[3] = 0x10;
    p[4] = if current && v.swp { 0x08 } else { 0 };
    // TAS: aborted tasks of other nexuses end with TASK ABORTED.
    p[5] = 0x40;
    p[8] = 0xff; // BUSY TIMEOUT PERIOD: unlimited
    p[9] = 0xff;
    p.to_vec()
}

fn informational_exceptions(pc: u8) -> Vec<u8> {
    let mut p = [0u8; 12];
    p[0] = INFORMATIONAL_EXCEPTIONS;
    p[1] = 0x0a;
    if pc != PC_CHANGEABLE {
        p[2] = 0x08; // DEXCPT: no informational exceptions reported
    }
    p.to_vec()
}

/// The mode pages for MODE SENSE, or `None` for a page or subpage this
/// unit does not have (INVALID FIELD IN CDB).
pub(crate) fn pages(page: u8, subpage: u8, pc: u8, v: &ModeValues) -> Option<Vec<u8>> {
    match (page, subpage) {
        (CACHING, 0) => Some(caching(pc, v)),
        (CONTROL, 0) => Some(control(pc, v)),
        (INFORMATIONAL_EXCEPTIONS, 0) => Some(informational_exceptions(pc)),
        (ALL_PAGES, 0 | 0xff) => {
            let mut all = caching(pc, v);
            all.extend(control(pc, v));
            all.extend(informational_exceptions(pc));
            Some(all)
        }
        _ => None,
    }
}

fn bad_parameter(byte: usize) -> Fail {
    Fail::Check(Sense::invalid_parameter_field(
        u16::try_from(byte).unwrap_or(u16::MAX),
        None,
    ))
}

/// Applies a MODE SELECT parameter list (SPC-4 §6.11): only the changeable
/// bits (WCE, D_SENSE, SWP) may differ from the current page.
pub(crate) fn select(data: &[u8], ten: bool, sink: &mut dyn ModeSink) -> Result<(), Fail> {
    let f = Reader(data);
    let (header, bd_len) = if ten {
        (8, usize::from(f.u16(6)))
    } else {
        (4, usize::from(f.u8(3)))
    };
    if data.len() < header {
        return Err(Fail::Check(Sense::new(
            SenseKey::ILLEGAL_REQUEST,
            Asc::PARAMETER_LIST_LENGTH_ERROR,
        )));
    }
    if bd_len != 0 && bd_len != 8 && bd_len != 16 {
        return Err(bad_parameter(if ten { 6 } else { 3 }));
    }
    let mut at = header + bd_len;
    if at > data.len() {
        return Err(Fail::Check(Sense::new(
            SenseKey::ILLEGAL_REQUEST,
            Asc::PARAMETER_LIST_LENGTH_ERROR,
        )));
    }
    while at + 2 <= data.len() {
        let code = f.u8(at) & 0x3f;
        let spf = f.bit(at, 0x40);
        if spf {
            return Err(bad_parameter(at));
        }
        let len = usize::from(f.u8(at + 1));
        let page = data.get(at..at + 2 + len).ok_or_else(|| {
            Fail::Check(Sense::new(
                SenseKey::ILLEGAL_REQUEST,
                Asc::PARAMETER_LIST_LENGTH_ERROR,
            ))
        })?;
        let pf = Reader(page);
        match code {
            CACHING if len == 0x12 => {
                let template = caching(
                    PC_CURRENT,
                    &ModeValues {
                        wce: pf.bit(2, 0x04),
                        d_sense: false,
                        swp: false,
                    },
                );
                check_same(page, &template, at)?;
                sink.set_wce(pf.bit(2, 0x04));
            }
            CONTROL if len == 0x0a => {
                let wanted = ModeValues {
                    wce: false,
                    d_sense: pf.bit(2, 0x04),
                    swp: pf.bit(4, 0x08),
                };
                check_same(page, &control(PC_CURRENT, &wanted), at)?;
                sink.set_d_sense(wanted.d_sense);
                sink.set_swp(wanted.swp);
            }
            INFORMATIONAL_EXCEPTIONS if len == 0x0a => {
                check_same(page, &informational_exceptions(PC_CURRENT), at)?;
            }
            _ => return Err(bad_parameter(at)),
        }
        at += 2 + len;
    }
    Ok(())
}

/// Fails when `page` differs from `template` anywhere but the PS bit.
fn check_same(page: &[u8], template: &[u8], base: usize) -> Result<(), Fail> {
    for (i, (a, b)) in page.iter().zip(template).enumerate() {
        let (a, b) = if i == 0 {
            (a & 0x7f, b & 0x7f)
        } else {
            (*a, *b)
        };
        if a != b {
            return Err(bad_parameter(base + i));
        }
    }
    Ok(())
}

fn timeouts() -> [u8; 12] {
    // COMMAND TIMEOUTS DESCRIPTOR: length 10, nominal and recommended
    // timeouts of 30 s.
    [0, 0x0a, 0, 0, 0, 0, 0, 30, 0, 0, 0, 30]
}

/// REPORT COMMANDS OPERATION CODES.
pub(crate) fn report_supported_opcodes(
    fields: &ReportSupportedOperationCodes,
) -> Result<Bytes, Fail> {
    let &ReportSupportedOperationCodes {
        rctd,
        reporting_options: options,
        requested_operation_code: opcode,
        requested_service_action: sa,
        allocation_length,
        ..
    } = fields;
    let alloc = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    let invalid = |byte| Fail::Check(Sense::invalid_cdb_field(byte, None));
    let mut out = Vec::new();
    match options {
        0 => {
            let per = if rctd { 20 } else { 8 };
            out.extend_from_slice(
                &u32::try_from(COMMANDS.len() * per)
                    .unwrap_or(0)
                    .to_be_bytes(),
            );
            for s in COMMANDS {
                out.push(s.opcode);
                out.push(0);
                out.extend_from_slice(&s.service_action.unwrap_or(0).to_be_bytes());
                out.push(0);
                out.push(if rctd { 0x02 } else { 0 } | u8::from(s.service_action.is_some()));
                out.extend_from_slice(&u16::try_from(s.usage.len()).unwrap_or(0).to_be_bytes());
                if rctd {
                    out.extend_from_slice(&timeouts());
                }
            }
        }
        1..=3 => {
            let has_sa = COMMANDS
                .iter()
                .any(|s| s.opcode == opcode && s.service_action.is_some());
            let found: Option<&CommandSpec> = match options {
                1 if has_sa => return Err(invalid(2)),
                1 => COMMANDS.iter().find(|s| s.opcode == opcode),
                2 if !has_sa && COMMANDS.iter().any(|s| s.opcode == opcode) => {
                    return Err(invalid(2));
                }
                _ => COMMANDS.iter().find(|s| {
                    s.opcode == opcode
                        && (s.service_action.is_none() || s.service_action == Some(sa))
                }),
            };
            match found {
                Some(s) => {
                    out.push(0);
                    out.push(if rctd { 0x80 } else { 0 } | 0x03);
                    out.extend_from_slice(&u16::try_from(s.usage.len()).unwrap_or(0).to_be_bytes());
                    out.extend_from_slice(s.usage);
                    if rctd {
                        out.extend_from_slice(&timeouts());
                    }
                }
                None => {
                    out.extend_from_slice(&[0, 0x01, 0, 0]);
                }
            }
        }
        _ => return Err(invalid(2)),
    }
    out.truncate(alloc);
    Ok(Bytes::from(out))
}
