//! REPORT SUPPORTED OPERATION CODES parameter data (SPC-4 §6.35).

use super::*;

/// A command timeouts descriptor (SPC-4 §6.35.4), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CommandTimeouts {
    /// NOMINAL COMMAND PROCESSING TIMEOUT, in seconds (0: not reported).
    pub nominal: u32,
    /// RECOMMENDED COMMAND TIMEOUT, in seconds (0: not reported).
    pub recommended: u32,
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
        let command_data_length = be32(data, 0);
        let end = usize::try_from(command_data_length)
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        let mut rest = span(data, 4, end);
        let mut commands = Vec::new();
        while rest.len() >= 8 {
            let ctdp = bit(rest, 5, 0x02);
            let size = if ctdp { 20 } else { 8 };
            if rest.len() < size {
                break;
            }
            commands.push(CommandDescriptor {
                opcode: byte(rest, 0),
                service_action: be16(rest, 2),
                servactv: bit(rest, 5, 0x01),
                cdb_length: be16(rest, 6),
                timeouts: ctdp.then(|| CommandTimeouts {
                    nominal: be32(rest, 12),
                    recommended: be32(rest, 16),
                }),
            });
            rest = rest.get(size..).unwrap_or(&[]);
        }
        Ok(Self {
            command_data_length,
            commands,
        })
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
