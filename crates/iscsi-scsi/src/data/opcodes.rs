//! REPORT SUPPORTED OPERATION CODES parameter data (SPC-4 §6.35).

use super::{ParseError, Reader, len_field, need};

/// A command timeouts descriptor (SPC-4 §6.35.4), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandTimeouts {
    /// NOMINAL COMMAND PROCESSING TIMEOUT, in seconds (0: not reported).
    pub nominal: u32,
    /// RECOMMENDED COMMAND TIMEOUT, in seconds (0: not reported).
    pub recommended: u32,
    /// COMMAND SPECIFIC (byte 3).
    pub command_specific: u8,
}

impl CommandTimeouts {
    /// Length of the descriptor in bytes.
    pub const LEN: usize = 12;

    /// Timeouts of `nominal` and `recommended` seconds.
    #[must_use]
    pub const fn new(nominal: u32, recommended: u32) -> Self {
        Self {
            nominal,
            recommended,
            command_specific: 0,
        }
    }

    /// Parses the 12-byte descriptor (zeros past the end).
    #[must_use]
    pub fn parse(data: &[u8]) -> Self {
        let d = Reader(data);
        Self {
            command_specific: d.u8(3),
            nominal: d.u32(4),
            recommended: d.u32(8),
        }
    }

    /// The 12 bytes (SPC-4 §6.35.4): DESCRIPTOR LENGTH 000Ah,
    /// reserved, COMMAND SPECIFIC, the two timeouts.
    #[must_use]
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        super::put(&mut out, 0, &[0, 0x0a, 0, self.command_specific]);
        super::put(&mut out, 4, &self.nominal.to_be_bytes());
        super::put(&mut out, 8, &self.recommended.to_be_bytes());
        out
    }
}

/// A command descriptor of the "all commands" format (SPC-4 §6.35.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandDescriptor {
    /// OPERATION CODE (byte 0).
    pub opcode: u8,
    /// SERVICE ACTION (bytes 2–3), meaningful when `servactv`.
    pub service_action: u16,
    /// SERVACTV (byte 5 bit 0): the command has a service action.
    pub servactv: bool,
    /// CDB LENGTH (bytes 6–7), in bytes.
    pub cdb_length: u16,
    /// The command timeouts descriptor, present when CTDP (byte 5 bit 1).
    pub timeouts: Option<CommandTimeouts>,
}

impl CommandDescriptor {
    /// The descriptor of `opcode` (with `service_action` when it has one)
    /// and a CDB of `cdb_length` bytes, without timeouts.
    #[must_use]
    pub fn new(opcode: u8, service_action: Option<u16>, cdb_length: u16) -> Self {
        Self {
            opcode,
            service_action: service_action.unwrap_or(0),
            servactv: service_action.is_some(),
            cdb_length,
            timeouts: None,
        }
    }

    /// The descriptor (SPC-4 §6.35.2): 8 bytes, 20 with the
    /// command timeouts descriptor (CTDP set).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        out.extend_from_slice(&[self.opcode, 0]);
        out.extend_from_slice(&self.service_action.to_be_bytes());
        out.push(0);
        out.push((u8::from(self.timeouts.is_some()) << 1) | u8::from(self.servactv));
        out.extend_from_slice(&self.cdb_length.to_be_bytes());
        if let Some(t) = &self.timeouts {
            out.extend_from_slice(&t.encode());
        }
        out
    }
}

/// REPORT SUPPORTED OPERATION CODES data in the "all commands" format
/// (REPORTING OPTIONS 000b; SPC-4 §6.35.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SupportedOperationCodes {
    /// COMMAND DATA LENGTH (bytes 0–3): bytes of descriptors the target has.
    pub command_data_length: u32,
    /// The descriptors returned whole.
    pub commands: Vec<CommandDescriptor>,
}

impl SupportedOperationCodes {
    /// Parses "all commands" data; a descriptor cut short ends the list.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than 4 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT SUPPORTED OPERATION CODES data", data, 4)?;
        let d = Reader(data);
        let command_data_length = d.u32(0);
        let end = usize::try_from(command_data_length)
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        let mut rest = Reader(d.span(4, end));
        let mut commands = Vec::new();
        while rest.len() >= 8 {
            let ctdp = rest.bit(5, 0x02);
            let size = if ctdp { 20 } else { 8 };
            if rest.len() < size {
                break;
            }
            commands.push(CommandDescriptor {
                opcode: rest.u8(0),
                service_action: rest.u16(2),
                servactv: rest.bit(5, 0x01),
                cdb_length: rest.u16(6),
                timeouts: ctdp.then(|| CommandTimeouts::parse(rest.span(8, 20))),
            });
            rest = Reader(rest.rest(size));
        }
        Ok(Self {
            command_data_length,
            commands,
        })
    }

    /// The data listing `commands`, COMMAND DATA LENGTH their size in bytes.
    #[must_use]
    pub fn new(commands: Vec<CommandDescriptor>) -> Self {
        Self {
            command_data_length: len_field(Self::descriptors_len(&commands)),
            commands,
        }
    }

    fn descriptors_len(commands: &[CommandDescriptor]) -> usize {
        commands
            .iter()
            .map(|c| if c.timeouts.is_some() { 20 } else { 8 })
            .sum()
    }

    /// "All commands" parameter data (SPC-4 §6.35.2): COMMAND
    /// DATA LENGTH (computed from `commands`), then the descriptors.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + Self::descriptors_len(&self.commands));
        out.extend_from_slice(
            &len_field::<u32>(Self::descriptors_len(&self.commands)).to_be_bytes(),
        );
        for c in &self.commands {
            out.extend(c.encode());
        }
        out
    }

    /// True when the command `opcode` (with `service_action`, for commands
    /// that have one) is listed.
    #[must_use]
    pub fn supports(&self, opcode: u8, service_action: Option<u16>) -> bool {
        self.commands.iter().any(|c| {
            c.opcode == opcode
                && match service_action {
                    Some(sa) => c.servactv && c.service_action == sa,
                    None => !c.servactv,
                }
        })
    }
}

/// SUPPORT of the "one command" format (SPC-4 §6.35.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandSupport {
    /// 000b: data about the command is not available.
    NotAvailable,
    /// 001b: the command is not supported (CDB SIZE 0, no usage data).
    NotSupported,
    /// 011b: the command is supported as the standard describes it.
    Standard,
    /// 101b: the command is supported in a vendor-specific way.
    VendorSpecific,
    /// Any other (reserved) code.
    Reserved(u8),
}

impl CommandSupport {
    /// The support with 3-bit code `code`.
    #[must_use]
    pub const fn from_code(code: u8) -> Self {
        match code & 0x07 {
            0 => Self::NotAvailable,
            1 => Self::NotSupported,
            3 => Self::Standard,
            5 => Self::VendorSpecific,
            other => Self::Reserved(other),
        }
    }

    /// The 3-bit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::NotAvailable => 0,
            Self::NotSupported => 1,
            Self::Standard => 3,
            Self::VendorSpecific => 5,
            Self::Reserved(code) => code & 0x07,
        }
    }
}

/// REPORT SUPPORTED OPERATION CODES data in the "one command" format
/// (REPORTING OPTIONS 001b–011b; SPC-4 §6.35.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OneCommand {
    /// SUPPORT (byte 1 bits 2–0).
    pub support: CommandSupport,
    /// CDB USAGE DATA (bytes 4..): the opcode, then a mask of the CDB bits
    /// the device server looks at; CDB SIZE (bytes 2–3) is its length.
    pub usage: Vec<u8>,
    /// The command timeouts descriptor after the usage data, present when
    /// CTDP (byte 1 bit 7).
    pub timeouts: Option<CommandTimeouts>,
}

impl OneCommand {
    /// A supported command with this CDB usage data.
    #[must_use]
    pub fn supported(usage: &[u8], timeouts: Option<CommandTimeouts>) -> Self {
        Self {
            support: CommandSupport::Standard,
            usage: usage.to_vec(),
            timeouts,
        }
    }

    /// An unsupported command: SUPPORT 001b, CDB SIZE 0.
    #[must_use]
    pub const fn not_supported() -> Self {
        Self {
            support: CommandSupport::NotSupported,
            usage: Vec::new(),
            timeouts: None,
        }
    }

    /// Parses "one command" data, the usage data cut to what was returned.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] for fewer than the 4 header bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        need("REPORT SUPPORTED OPERATION CODES one-command data", data, 4)?;
        let d = Reader(data);
        let end = 4 + usize::from(d.u16(2));
        let ctdp = d.bit(1, 0x80);
        Ok(Self {
            support: CommandSupport::from_code(d.u8(1)),
            usage: d.span(4, end).to_vec(),
            timeouts: (ctdp && d.len() >= end + CommandTimeouts::LEN)
                .then(|| CommandTimeouts::parse(d.span(end, end + CommandTimeouts::LEN))),
        })
    }

    /// "One command" parameter data (SPC-4 §6.35.3): a reserved
    /// byte, CTDP and SUPPORT, CDB SIZE (the usage data's length, at most
    /// 65 535 bytes written), the usage data, the timeouts descriptor.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let usage = self
            .usage
            .get(..usize::from(u16::MAX))
            .unwrap_or(&self.usage);
        let mut out = Vec::with_capacity(4 + usage.len() + CommandTimeouts::LEN);
        out.push(0);
        out.push((u8::from(self.timeouts.is_some()) << 7) | self.support.code());
        out.extend_from_slice(&len_field::<u16>(usage.len()).to_be_bytes());
        out.extend_from_slice(usage);
        if let Some(t) = &self.timeouts {
            out.extend_from_slice(&t.encode());
        }
        out
    }
}
