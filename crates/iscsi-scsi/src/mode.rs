//! Mode pages (SPC-4 §7.5, SBC-3 §6.5) and REPORT COMMANDS OPERATION
//! CODES (SPC-4 §6.35).

use bytes::Bytes;

use crate::cdb::{COMMANDS, CommandSpec};
use crate::command::ReportSupportedOperationCodes;
use crate::data::{
    CachingPage, CommandDescriptor, CommandTimeouts, ControlPage, InformationalExceptionsPage,
    ModePage, OneCommand, Reader, SupportedOperationCodes,
};
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

const CACHING: u8 = CachingPage::PAGE_CODE;
const CONTROL: u8 = ControlPage::PAGE_CODE;
const INFORMATIONAL_EXCEPTIONS: u8 = InformationalExceptionsPage::PAGE_CODE;
const ALL_PAGES: u8 = 0x3f;

/// Page control values.
const PC_CURRENT: u8 = 0;
const PC_CHANGEABLE: u8 = 1;

fn caching(pc: u8, v: &ModeValues) -> ModePage {
    // WCE is changeable, and on by default.
    CachingPage {
        wce: pc != PC_CURRENT || v.wce,
        ..CachingPage::default()
    }
    .to_page()
}

fn control(pc: u8, v: &ModeValues) -> ModePage {
    if pc == PC_CHANGEABLE {
        return ControlPage {
            d_sense: true,
            swp: true,
            ..ControlPage::default()
        }
        .to_page();
    }
    let current = pc == PC_CURRENT;
    ControlPage {
        // TST 000b; GLTSD: no implicit log saving.
        gltsd: true,
        d_sense: current && v.d_sense,
        // Unrestricted reordering allowed.
        queue_algorithm_modifier: 1,
        swp: current && v.swp,
        // Aborted tasks of other nexuses end with TASK ABORTED.
        tas: true,
        // Unlimited.
        busy_timeout_period: 0xffff,
        ..ControlPage::default()
    }
    .to_page()
}

fn informational_exceptions(pc: u8) -> ModePage {
    // DEXCPT: no informational exceptions reported.
    InformationalExceptionsPage {
        dexcpt: pc != PC_CHANGEABLE,
        ..InformationalExceptionsPage::default()
    }
    .to_page()
}

/// The mode pages for MODE SENSE, or `None` for a page or subpage this
/// unit does not have (INVALID FIELD IN CDB).
pub(crate) fn pages(page: u8, subpage: u8, pc: u8, v: &ModeValues) -> Option<Vec<ModePage>> {
    match (page, subpage) {
        (CACHING, 0) => Some(vec![caching(pc, v)]),
        (CONTROL, 0) => Some(vec![control(pc, v)]),
        (INFORMATIONAL_EXCEPTIONS, 0) => Some(vec![informational_exceptions(pc)]),
        (ALL_PAGES, 0 | 0xff) => Some(vec![
            caching(pc, v),
            control(pc, v),
            informational_exceptions(pc),
        ]),
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
                check_same(page, template.encode(), at)?;
                sink.set_wce(pf.bit(2, 0x04));
            }
            CONTROL if len == 0x0a => {
                let wanted = ModeValues {
                    wce: false,
                    d_sense: pf.bit(2, 0x04),
                    swp: pf.bit(4, 0x08),
                };
                check_same(page, control(PC_CURRENT, &wanted).encode(), at)?;
                sink.set_d_sense(wanted.d_sense);
                sink.set_swp(wanted.swp);
            }
            INFORMATIONAL_EXCEPTIONS if len == 0x0a => {
                check_same(page, informational_exceptions(PC_CURRENT).encode(), at)?;
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

/// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) from the command table:
/// all commands (REPORTING OPTIONS 000b) or one (001b–011b), with command
/// timeouts descriptors of 30 s when RCTD is set.
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
    let timeouts = rctd.then(|| CommandTimeouts::new(30, 30));
    let mut out = match options {
        0 => SupportedOperationCodes::new(
            COMMANDS
                .iter()
                .map(|s| CommandDescriptor {
                    timeouts,
                    ..CommandDescriptor::new(
                        s.opcode,
                        s.service_action,
                        u16::try_from(s.usage.len()).unwrap_or(0),
                    )
                })
                .collect(),
        )
        .encode(),
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
                Some(s) => OneCommand::supported(s.usage, timeouts).encode(),
                None => OneCommand::not_supported().encode(),
            }
        }
        _ => return Err(invalid(2)),
    };
    out.truncate(alloc);
    Ok(Bytes::from(out))
}
