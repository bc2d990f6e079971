//! The initiator's full-feature phase, sans-IO: ITT allocation, CmdSN and
//! ExpStatSN, the MaxCmdSN window (commands wait when it is closed),
//! immediate and unsolicited data, R2T answering, Data-In reassembly with
//! DataSN and offset checks, SCSI Response and sense, NOP-In answering,
//! Asynchronous Messages, Reject, Text (SendTargets with continuation),
//! task management and Logout.
//!
//! Feed received PDUs to [`SessionEngine::handle_pdu`], submit work with
//! [`SessionEngine::submit`] and friends, and after every call drain
//! [`SessionEngine::poll_transmit`] and [`SessionEngine::poll_event`].

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use iscsi_login::SessionParams;
use iscsi_pdu::text::{TextPairs, encode_text};
use iscsi_pdu::{
    AsyncEvent, Bhs, CmdSn, DataIn, DataOut, DataSn, Itt, LogoutReason, LogoutRequest, Lun, NopIn,
    NopOut, Pdu, PduBuf, R2t, Reject, RejectReason, ScsiCommand, ScsiResponse, ScsiStatus, StatSn,
    TaskAttribute, TaskManagementRequest, TextRequest, TextResponse, TmfFunction, TmfResponseCode,
    Ttt,
};

/// A SCSI command to send.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Command {
    /// LUN.
    pub lun: Lun,
    /// CDB (up to 16 bytes here; longer ones go in an Extended CDB AHS).
    pub cdb: Bytes,
    /// Data to write (W bit), sent as immediate, unsolicited and solicited data.
    pub data_out: Bytes,
    /// Bytes expected back (R bit), the Expected Data Transfer Length of a read.
    pub read_length: u32,
}

impl Command {
    /// A command without data.
    #[must_use]
    pub fn new(lun: Lun, cdb: &[u8]) -> Self {
        Self {
            lun,
            cdb: Bytes::copy_from_slice(cdb),
            data_out: Bytes::new(),
            read_length: 0,
        }
    }

    /// This command reading up to `bytes`.
    #[must_use]
    pub const fn reading(mut self, bytes: u32) -> Self {
        self.read_length = bytes;
        self
    }

    /// This command writing `data`.
    #[must_use]
    pub fn writing(mut self, data: Bytes) -> Self {
        self.data_out = data;
        self
    }
}

/// How a command ended at the target.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScsiResult {
    /// SCSI status.
    pub status: ScsiStatus,
    /// Data read (Data-In), in order.
    pub data: Bytes,
    /// Sense data (without the 2-byte length).
    pub sense: Option<Bytes>,
    /// Residual overflow: the target had this many more bytes (O bit).
    pub overflow: Option<u32>,
    /// Residual underflow: this many bytes fewer than expected (U bit).
    pub underflow: Option<u32>,
}

impl ScsiResult {
    /// True for GOOD.
    #[must_use]
    pub fn is_good(&self) -> bool {
        self.status == ScsiStatus::GOOD
    }

    /// The parsed sense data, if any.
    #[must_use]
    pub fn parsed_sense(&self) -> Option<iscsi_scsi::Sense> {
        self.sense
            .as_deref()
            .and_then(|s| iscsi_scsi::Sense::parse(s).ok())
    }
}

/// Why a task ended without a SCSI status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The target rejected one of the task's PDUs (RFC 7143 §11.17).
    #[error("target rejected PDU: {0}")]
    Rejected(RejectReason),
    /// The target answered with a service response other than "completed".
    #[error("target failure (iSCSI response {0:#04x})")]
    TargetFailure(u8),
    /// The Data-In sequence broke the rules (DataSN, offset or length).
    #[error("Data-In out of sequence: {0}")]
    DataSequence(&'static str),
    /// The target sent an R2T the task cannot honour.
    #[error("invalid R2T: {0}")]
    InvalidR2t(&'static str),
    /// The task was aborted (task management or the session ending).
    #[error("task aborted")]
    Aborted,
}

/// What the session reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A command ended.
    Completed {
        /// Its ITT (returned by [`SessionEngine::submit`]).
        itt: Itt,
        /// The outcome.
        result: Result<ScsiResult, TaskError>,
    },
    /// A task management function ended.
    TaskManagement {
        /// ITT of the request.
        itt: Itt,
        /// The response.
        response: TmfResponseCode,
    },
    /// A Text exchange ended; all pieces of a continued answer joined.
    Text {
        /// ITT of the request.
        itt: Itt,
        /// The pairs, in order, duplicates kept.
        pairs: Result<TextPairs, String>,
    },
    /// The target asks for a logout within `seconds` (Asynchronous Message 1).
    LogoutRequested {
        /// Parameter3, seconds.
        seconds: u16,
    },
    /// The target will drop the connection or session (Asynchronous Message 2/3).
    Dropping,
    /// A Reject that names no task of ours.
    Rejected {
        /// The reason.
        reason: RejectReason,
    },
    /// The Logout Response arrived: the session is over.
    LoggedOut,
    /// A fatal protocol error: close the connection.
    Fatal {
        /// Why.
        reason: String,
    },
}

#[derive(Debug)]
struct Task {
    lun: Lun,
    data_out: Bytes,
    read_length: u32,
    /// Data-In collected.
    data: BytesMut,
    next_data_sn: DataSn,
}

#[derive(Debug)]
struct TextExchange {
    collected: Vec<u8>,
}

/// The initiator side of one connection in full feature phase.
#[derive(Debug)]
pub struct SessionEngine {
    params: SessionParams,
    cmd_sn: CmdSn,
    exp_stat_sn: StatSn,
    max_cmd_sn: CmdSn,
    exp_cmd_sn: CmdSn,
    next_itt: u32,
    tasks: HashMap<Itt, Task>,
    texts: HashMap<Itt, TextExchange>,
    /// Task management requests sent and not yet answered, by ITT.
    tmfs: Vec<Itt>,
    waiting: VecDeque<(Itt, Command)>,
    logout_itt: Option<Itt>,
    transmit: VecDeque<PduBuf>,
    events: VecDeque<Event>,
}

impl SessionEngine {
    /// The engine for a login that produced `params`.
    #[must_use]
    pub fn new(params: SessionParams) -> Self {
        Self {
            cmd_sn: params.cmd_sn,
            exp_stat_sn: params.next_stat_sn,
            max_cmd_sn: params.max_cmd_sn,
            exp_cmd_sn: params.exp_cmd_sn,
            params,
            next_itt: 0x1000,
            tasks: HashMap::new(),
            texts: HashMap::new(),
            tmfs: Vec::new(),
            waiting: VecDeque::new(),
            logout_itt: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The negotiated parameters.
    #[must_use]
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// The next PDU to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<PduBuf> {
        self.transmit.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Commands sent and not yet answered, plus those waiting for the window.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.tasks.len() + self.waiting.len()
    }

    /// True when the CmdSN window is open for another command.
    #[must_use]
    pub fn window_open(&self) -> bool {
        !self.cmd_sn.is_after(self.max_cmd_sn)
    }

    fn alloc_itt(&mut self) -> Itt {
        loop {
            let itt = Itt(self.next_itt);
            self.next_itt = self.next_itt.wrapping_add(1);
            if itt != Itt::RESERVED
                && !self.tasks.contains_key(&itt)
                && !self.texts.contains_key(&itt)
                && !self.tmfs.contains(&itt)
                && !self.waiting.iter().any(|(i, _)| *i == itt)
            {
                return itt;
            }
        }
    }

    /// Submits a SCSI command; returns its ITT. It is sent now when the
    /// CmdSN window is open, else when the target opens it.
    pub fn submit(&mut self, command: Command) -> Itt {
        let itt = self.alloc_itt();
        if self.window_open() && self.waiting.is_empty() {
            self.send_command(itt, command);
        } else {
            self.waiting.push_back((itt, command));
        }
        itt
    }

    fn send_command(&mut self, itt: Itt, c: Command) {
        let cmd_sn = self.cmd_sn;
        self.cmd_sn = cmd_sn.next();
        let write = !c.data_out.is_empty();
        let total = c.data_out.len();
        // Immediate data: up to FirstBurstLength and the target's MRDSL.
        let max_seg = self.params.target_max_recv_data_segment_length as usize;
        let first_burst = self.params.first_burst_length as usize;
        let immediate_len = if write && self.params.immediate_data {
            total.min(first_burst).min(max_seg)
        } else {
            0
        };
        // Unsolicited Data-Out follows when InitialR2T=No, up to FirstBurstLength.
        let unsolicited_end = if write && !self.params.initial_r2t {
            total.min(first_burst)
        } else {
            immediate_len
        };
        let mut cdb = [0u8; 16];
        let n = c.cdb.len().min(16);
        cdb.get_mut(..n)
            .unwrap_or(&mut [])
            .copy_from_slice(c.cdb.get(..n).unwrap_or(&[]));
        let header = ScsiCommand {
            immediate: false,
            final_bit: unsolicited_end == immediate_len,
            read: c.read_length > 0,
            write,
            attr: TaskAttribute::SIMPLE,
            lun: c.lun,
            itt,
            expected_data_transfer_length: if write {
                u32::try_from(total).unwrap_or(u32::MAX)
            } else {
                c.read_length
            },
            cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
            cdb,
        };
        let mut pdu = Pdu::new(header, c.data_out.slice(..immediate_len));
        if c.cdb.len() > 16 {
            pdu.ahs.push(iscsi_pdu::Ahs::ExtendedCdb(c.cdb.slice(16..)));
        }
        self.transmit.push_back(pdu);
        // Unsolicited Data-Out PDUs.
        let mut offset = immediate_len;
        let mut data_sn = DataSn(0);
        while offset < unsolicited_end {
            let n = (unsolicited_end - offset).min(max_seg);
            let end = offset + n;
            self.transmit.push_back(Pdu::new(
                DataOut {
                    final_bit: end == unsolicited_end,
                    lun: c.lun,
                    itt,
                    ttt: Ttt::RESERVED,
                    exp_stat_sn: self.exp_stat_sn,
                    data_sn,
                    buffer_offset: u32::try_from(offset).unwrap_or(u32::MAX),
                },
                c.data_out.slice(offset..end),
            ));
            data_sn = data_sn.next();
            offset = end;
        }
        self.tasks.insert(
            itt,
            Task {
                lun: c.lun,
                data_out: c.data_out,
                read_length: c.read_length,
                data: BytesMut::with_capacity(c.read_length as usize),
                next_data_sn: DataSn(0),
            },
        );
    }

    fn pump_waiting(&mut self) {
        while self.window_open() {
            let Some((itt, c)) = self.waiting.pop_front() else {
                return;
            };
            self.send_command(itt, c);
        }
    }

    /// Sends a Text Request (e.g. `SendTargets=All`); the answer arrives as
    /// [`Event::Text`], all continued pieces joined.
    pub fn text(&mut self, pairs: &TextPairs) -> Itt {
        let itt = self.alloc_itt();
        self.texts.insert(
            itt,
            TextExchange {
                collected: Vec::new(),
            },
        );
        let req = TextRequest {
            immediate: true,
            final_bit: true,
            continue_bit: false,
            lun: Lun::default(),
            itt,
            ttt: Ttt::RESERVED,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
        };
        self.transmit.push_back(Pdu::new(req, pairs.to_bytes()));
        itt
    }

    /// Sends a task management function; the answer arrives as
    /// [`Event::TaskManagement`].
    pub fn task_management(
        &mut self,
        function: TmfFunction,
        lun: Lun,
        referenced: Option<Itt>,
    ) -> Itt {
        let itt = self.alloc_itt();
        self.tmfs.push(itt);
        let ref_cmd_sn = CmdSn(self.cmd_sn.0.wrapping_sub(1));
        let req = TaskManagementRequest {
            immediate: true,
            function,
            lun,
            itt,
            referenced_task_tag: referenced.unwrap_or(Itt::RESERVED),
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
            ref_cmd_sn,
            exp_data_sn: DataSn(0),
        };
        self.transmit.push_back(PduBuf::header_only(req));
        itt
    }

    /// Sends a Logout Request (close the session); [`Event::LoggedOut`]
    /// follows the response.
    pub fn logout(&mut self) -> Itt {
        let itt = self.alloc_itt();
        self.logout_itt = Some(itt);
        let req = LogoutRequest {
            immediate: true,
            reason: LogoutReason::CLOSE_SESSION,
            itt,
            cid: self.params.cid,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
        };
        self.transmit.push_back(PduBuf::header_only(req));
        itt
    }

    /// Sends a NOP-Out ping (answered by a NOP-In with the same ITT).
    pub fn ping(&mut self, data: Bytes) -> Itt {
        let itt = self.alloc_itt();
        let nop = NopOut {
            immediate: true,
            lun: Lun::default(),
            itt,
            ttt: Ttt::RESERVED,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
        };
        self.transmit.push_back(Pdu::new(nop, data));
        itt
    }

    fn update_sn(&mut self, stat_sn: Option<StatSn>, exp_cmd_sn: CmdSn, max_cmd_sn: CmdSn) {
        if let Some(s) = stat_sn
            && !s.is_before(self.exp_stat_sn)
        {
            self.exp_stat_sn = s.next();
        }
        // MaxCmdSN may only move forward, and never below ExpCmdSN - 1
        // (RFC 7143 §4.2.2.1).
        if !max_cmd_sn.is_before(CmdSn(exp_cmd_sn.0.wrapping_sub(1))) {
            if exp_cmd_sn.is_after(self.exp_cmd_sn) {
                self.exp_cmd_sn = exp_cmd_sn;
            }
            if max_cmd_sn.is_after(self.max_cmd_sn) {
                self.max_cmd_sn = max_cmd_sn;
            }
        }
    }

    /// Handles one PDU from the target.
    pub fn handle_pdu(&mut self, pdu: PduBuf) {
        match pdu.bhs {
            Bhs::DataIn(h) => {
                let stat = h.status.is_some().then_some(h.stat_sn);
                self.update_sn(stat, h.exp_cmd_sn, h.max_cmd_sn);
                self.data_in(&h, &pdu.data);
            }
            Bhs::ScsiResponse(h) => {
                self.update_sn(Some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                self.scsi_response(&h, &pdu.data);
            }
            Bhs::R2t(h) => {
                self.update_sn(None, h.exp_cmd_sn, h.max_cmd_sn);
                self.r2t(&h);
            }
            Bhs::NopIn(h) => {
                let advances = h.itt != Itt::RESERVED;
                self.update_sn(advances.then_some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                self.nop_in(&h);
            }
            Bhs::TextResponse(h) => {
                self.update_sn(Some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                self.text_response(&h, &pdu.data);
            }
            Bhs::TaskManagementResponse(h) => {
                self.update_sn(Some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                self.tmfs.retain(|i| *i != h.itt);
                self.events.push_back(Event::TaskManagement {
                    itt: h.itt,
                    response: h.response,
                });
            }
            Bhs::LogoutResponse(h) => {
                self.update_sn(Some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                if Some(h.itt) == self.logout_itt {
                    self.abort_all();
                    self.events.push_back(Event::LoggedOut);
                }
            }
            Bhs::AsyncMessage(h) => {
                self.update_sn(Some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                match h.async_event {
                    AsyncEvent::LOGOUT_REQUESTED => self.events.push_back(Event::LogoutRequested {
                        seconds: h.parameter3,
                    }),
                    AsyncEvent::CONNECTION_DROPPED | AsyncEvent::SESSION_DROPPED => {
                        self.events.push_back(Event::Dropping);
                    }
                    _ => {}
                }
            }
            Bhs::Reject(h) => {
                self.update_sn(Some(h.stat_sn), h.exp_cmd_sn, h.max_cmd_sn);
                self.reject(&h, &pdu.data);
            }
            other => self.events.push_back(Event::Fatal {
                reason: format!("the target sent an initiator PDU: {:?}", other.opcode()),
            }),
        }
        self.pump_waiting();
    }

    fn data_in(&mut self, h: &DataIn, data: &Bytes) {
        let Some(task) = self.tasks.get_mut(&h.itt) else {
            return;
        };
        let error = if h.data_sn != task.next_data_sn {
            Some("DataSN")
        } else if h.buffer_offset as usize != task.data.len() {
            Some("buffer offset")
        } else if task.data.len() + data.len() > task.read_length as usize {
            Some("more data than expected")
        } else {
            None
        };
        if let Some(what) = error {
            self.tasks.remove(&h.itt);
            self.events.push_back(Event::Completed {
                itt: h.itt,
                result: Err(TaskError::DataSequence(what)),
            });
            return;
        }
        task.next_data_sn = task.next_data_sn.next();
        task.data.extend_from_slice(data);
        if let Some(status) = h.status {
            let Some(task) = self.tasks.remove(&h.itt) else {
                return;
            };
            self.events.push_back(Event::Completed {
                itt: h.itt,
                result: Ok(ScsiResult {
                    status,
                    data: task.data.freeze(),
                    sense: None,
                    overflow: h.residual_overflow.then_some(h.residual_count),
                    underflow: h.residual_underflow.then_some(h.residual_count),
                }),
            });
        }
    }

    fn scsi_response(&mut self, h: &ScsiResponse, data: &Bytes) {
        let Some(task) = self.tasks.remove(&h.itt) else {
            return;
        };
        if h.response != iscsi_pdu::ScsiResponseCode::COMMAND_COMPLETED {
            self.events.push_back(Event::Completed {
                itt: h.itt,
                result: Err(TaskError::TargetFailure(h.response.get())),
            });
            return;
        }
        // Sense data: a 2-byte SenseLength, then the sense (RFC 7143 §11.4.7).
        let sense = data.first_chunk::<2>().and_then(|len| {
            let n = usize::from(u16::from_be_bytes(*len));
            (n > 0).then(|| data.slice(2..(2 + n).min(data.len())))
        });
        self.events.push_back(Event::Completed {
            itt: h.itt,
            result: Ok(ScsiResult {
                status: h.status,
                data: task.data.freeze(),
                sense,
                overflow: h.residual_overflow.then_some(h.residual_count),
                underflow: h.residual_underflow.then_some(h.residual_count),
            }),
        });
    }

    fn r2t(&mut self, h: &R2t) {
        let max_seg = self.params.target_max_recv_data_segment_length as usize;
        let exp_stat_sn = self.exp_stat_sn;
        let Some(task) = self.tasks.get(&h.itt) else {
            return;
        };
        let start = h.buffer_offset as usize;
        let end = start + h.desired_data_transfer_length as usize;
        if end > task.data_out.len()
            || h.desired_data_transfer_length > self.params.max_burst_length
        {
            self.tasks.remove(&h.itt);
            self.events.push_back(Event::Completed {
                itt: h.itt,
                result: Err(TaskError::InvalidR2t(
                    "outside the data or over MaxBurstLength",
                )),
            });
            return;
        }
        let payload = task.data_out.clone();
        let lun = task.lun;
        let mut offset = start;
        let mut data_sn = DataSn(0);
        while offset < end {
            let n = (end - offset).min(max_seg);
            let next = offset + n;
            self.transmit.push_back(Pdu::new(
                DataOut {
                    final_bit: next == end,
                    lun,
                    itt: h.itt,
                    ttt: h.ttt,
                    exp_stat_sn,
                    data_sn,
                    buffer_offset: u32::try_from(offset).unwrap_or(u32::MAX),
                },
                payload.slice(offset..next),
            ));
            data_sn = data_sn.next();
            offset = next;
        }
    }

    fn nop_in(&mut self, h: &NopIn) {
        if h.ttt == Ttt::RESERVED {
            // The answer to our ping: nothing to do.
            return;
        }
        // The target's ping: answer with its TTT (RFC 7143 §11.18).
        let reply = NopOut {
            immediate: true,
            lun: h.lun,
            itt: Itt::RESERVED,
            ttt: h.ttt,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
        };
        self.transmit.push_back(PduBuf::header_only(reply));
    }

    fn text_response(&mut self, h: &TextResponse, data: &Bytes) {
        let Some(ex) = self.texts.get_mut(&h.itt) else {
            return;
        };
        if ex.collected.len() + data.len() > 1 << 20 {
            self.texts.remove(&h.itt);
            self.events.push_back(Event::Text {
                itt: h.itt,
                pairs: Err("text answer over 1 MiB".to_owned()),
            });
            return;
        }
        ex.collected.extend_from_slice(data);
        if h.final_bit {
            let Some(ex) = self.texts.remove(&h.itt) else {
                return;
            };
            self.events.push_back(Event::Text {
                itt: h.itt,
                pairs: TextPairs::parse(&ex.collected).map_err(|e| e.to_string()),
            });
        } else {
            // Ask for the next piece with the target's TTT (RFC 7143 §11.11).
            let req = TextRequest {
                immediate: true,
                final_bit: true,
                continue_bit: false,
                lun: Lun::default(),
                itt: h.itt,
                ttt: h.ttt,
                cmd_sn: self.cmd_sn,
                exp_stat_sn: self.exp_stat_sn,
            };
            self.transmit.push_back(PduBuf::header_only(req));
        }
    }

    fn reject(&mut self, h: &Reject, data: &Bytes) {
        // The data segment holds the rejected PDU's header: its ITT names the task.
        let itt = data
            .get(16..20)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| Itt(u32::from_be_bytes(b)));
        match itt {
            Some(itt) if self.tasks.remove(&itt).is_some() => {
                self.events.push_back(Event::Completed {
                    itt,
                    result: Err(TaskError::Rejected(h.reason)),
                });
            }
            Some(itt) if self.texts.remove(&itt).is_some() => {
                self.events.push_back(Event::Text {
                    itt,
                    pairs: Err(format!("target rejected PDU: {}", h.reason)),
                });
            }
            _ => self.events.push_back(Event::Rejected { reason: h.reason }),
        }
    }

    /// Ends every task with [`TaskError::Aborted`] (the session ended).
    pub fn abort_all(&mut self) {
        let itts: Vec<Itt> = self
            .tasks
            .keys()
            .copied()
            .chain(self.waiting.iter().map(|(i, _)| *i))
            .collect();
        self.tasks.clear();
        self.waiting.clear();
        for itt in itts {
            self.events.push_back(Event::Completed {
                itt,
                result: Err(TaskError::Aborted),
            });
        }
    }

    /// Forgets a task (after an ABORT TASK succeeded or a local timeout).
    pub fn forget(&mut self, itt: Itt) {
        self.tasks.remove(&itt);
        self.waiting.retain(|(i, _)| *i != itt);
    }
}

/// Text pairs for `SendTargets=<value>`.
#[must_use]
pub fn send_targets(value: &str) -> TextPairs {
    let mut p = TextPairs::new();
    p.push("SendTargets", value);
    p
}

/// Encodes pairs into a data segment.
#[must_use]
pub fn encode_pairs(pairs: &[(&str, &str)]) -> Bytes {
    let mut b = BytesMut::new();
    encode_text(pairs.iter().copied(), &mut b);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iscsi_login::SessionType;
    use iscsi_pdu::{Cid, Isid, LogoutResponse, LogoutResponseCode};

    fn params() -> SessionParams {
        let mut p = SessionParams::with_defaults(
            SessionType::Normal,
            "iqn.i".into(),
            Isid::random(1, 1),
            Cid(0),
        );
        p.cmd_sn = CmdSn(5);
        p.exp_cmd_sn = CmdSn(5);
        p.max_cmd_sn = CmdSn(6);
        p.next_stat_sn = StatSn(50);
        p.immediate_data = true;
        p.initial_r2t = false;
        p.first_burst_length = 1024;
        p.target_max_recv_data_segment_length = 512;
        p.max_burst_length = 4096;
        p
    }

    fn drain(e: &mut SessionEngine) -> Vec<PduBuf> {
        std::iter::from_fn(|| e.poll_transmit()).collect()
    }

    #[test]
    fn window_holds_commands_until_max_cmd_sn_moves() {
        let mut e = SessionEngine::new(params());
        let a = e.submit(Command::new(Lun::default(), &[0; 6]));
        let b = e.submit(Command::new(Lun::default(), &[0; 6]));
        let c = e.submit(Command::new(Lun::default(), &[0; 6]));
        assert_ne!(a, b);
        let sent = drain(&mut e);
        assert_eq!(sent.len(), 2, "CmdSN 5 and 6 fit the window");
        assert_eq!(e.outstanding(), 3);
        e.handle_pdu(PduBuf::header_only(ScsiResponse {
            itt: a,
            stat_sn: StatSn(50),
            exp_cmd_sn: CmdSn(6),
            max_cmd_sn: CmdSn(7),
            ..ScsiResponse::default()
        }));
        let sent = drain(&mut e);
        let [pdu] = &sent[..] else { panic!("{sent:?}") };
        assert!(
            matches!(pdu.bhs, Bhs::ScsiCommand(h) if h.itt == c && h.cmd_sn == CmdSn(7) && h.exp_stat_sn == StatSn(51))
        );
    }

    /// The portofcall worker sent ExpStatSN 0 forever. Every PDU we send
    /// carries the StatSN after the last one the target gave (RFC 7143
    /// §11.3.1), starting from the Login Response's.
    #[test]
    fn exp_stat_sn_echoes_the_last_stat_sn() {
        let mut e = SessionEngine::new(params());
        let a = e.submit(Command::new(Lun::default(), &[0; 6]));
        assert!(
            matches!(drain(&mut e)[..], [ref p] if matches!(p.bhs, Bhs::ScsiCommand(h) if h.exp_stat_sn == StatSn(50)))
        );
        e.handle_pdu(PduBuf::header_only(ScsiResponse {
            itt: a,
            stat_sn: StatSn(50),
            exp_cmd_sn: CmdSn(6),
            max_cmd_sn: CmdSn(9),
            ..ScsiResponse::default()
        }));
        e.handle_pdu(PduBuf::header_only(NopIn {
            itt: Itt::RESERVED,
            ttt: Ttt(3),
            stat_sn: StatSn(51),
            exp_cmd_sn: CmdSn(6),
            max_cmd_sn: CmdSn(9),
            ..NopIn::default()
        }));
        let ping_answer = drain(&mut e);
        assert!(
            matches!(ping_answer[..], [ref p] if matches!(p.bhs, Bhs::NopOut(n) if n.exp_stat_sn == StatSn(51)))
        );
        e.submit(Command::new(Lun::default(), &[0; 6]));
        e.logout();
        let sent = drain(&mut e);
        assert_eq!(sent.len(), 2);
        assert!(matches!(sent[0].bhs, Bhs::ScsiCommand(h) if h.exp_stat_sn == StatSn(51)));
        assert!(matches!(sent[1].bhs, Bhs::LogoutRequest(h) if h.exp_stat_sn == StatSn(51)));
    }

    #[test]
    fn writes_use_immediate_unsolicited_and_solicited_data() {
        let mut e = SessionEngine::new(params());
        let payload = Bytes::from((0..3000u32).map(|i| i as u8).collect::<Vec<_>>());
        let itt = e.submit(Command::new(Lun::default(), &[0x2a; 10]).writing(payload.clone()));
        let sent = drain(&mut e);
        // 512 immediate, 512 unsolicited (FirstBurstLength 1024, F=1 on it).
        assert_eq!(sent.len(), 2);
        assert!(
            matches!(sent[0].bhs, Bhs::ScsiCommand(h) if !h.final_bit && h.write && h.expected_data_transfer_length == 3000)
        );
        assert_eq!(sent[0].data.len(), 512);
        assert!(
            matches!(sent[1].bhs, Bhs::DataOut(h) if h.final_bit && h.buffer_offset == 512 && h.ttt == Ttt::RESERVED)
        );
        e.handle_pdu(PduBuf::header_only(R2t {
            itt,
            ttt: Ttt(9),
            buffer_offset: 1024,
            desired_data_transfer_length: 1976,
            exp_cmd_sn: CmdSn(6),
            max_cmd_sn: CmdSn(6),
            ..R2t::default()
        }));
        let sent = drain(&mut e);
        assert_eq!(sent.len(), 4);
        let mut joined = Vec::new();
        for (i, p) in sent.iter().enumerate() {
            let Bhs::DataOut(h) = p.bhs else { panic!() };
            assert_eq!(
                (h.ttt, h.data_sn, h.final_bit),
                (Ttt(9), DataSn(i as u32), i == 3)
            );
            joined.extend_from_slice(&p.data);
        }
        assert_eq!(&joined[..], &payload[1024..]);
    }

    #[test]
    fn data_in_is_reassembled_and_checked() {
        let mut e = SessionEngine::new(params());
        let itt = e.submit(Command::new(Lun::default(), &[0x28; 10]).reading(8));
        let _ = drain(&mut e);
        let din = |sn: u32, off: u32, data: &'static [u8], status: Option<ScsiStatus>| {
            Pdu::new(
                DataIn {
                    final_bit: status.is_some(),
                    status,
                    itt,
                    data_sn: DataSn(sn),
                    buffer_offset: off,
                    stat_sn: StatSn(50),
                    exp_cmd_sn: CmdSn(6),
                    max_cmd_sn: CmdSn(9),
                    ..DataIn::default()
                },
                Bytes::from_static(data),
            )
        };
        e.handle_pdu(din(0, 0, b"abcd", None));
        e.handle_pdu(din(1, 4, b"efgh", Some(ScsiStatus::GOOD)));
        let Some(Event::Completed { result: Ok(r), .. }) = e.poll_event() else {
            panic!()
        };
        assert_eq!(&r.data[..], b"abcdefgh");
        // A DataSN gap fails the task.
        let itt2 = e.submit(Command::new(Lun::default(), &[0x28; 10]).reading(8));
        let _ = drain(&mut e);
        let mut bad = din(1, 0, b"abcd", None);
        if let Bhs::DataIn(h) = &mut bad.bhs {
            h.itt = itt2;
        }
        e.handle_pdu(bad);
        assert!(matches!(
            e.poll_event(),
            Some(Event::Completed {
                result: Err(TaskError::DataSequence("DataSN")),
                ..
            })
        ));
    }

    #[test]
    fn rejects_are_reported_as_rejects_and_nop_in_pings_answered() {
        let mut e = SessionEngine::new(params());
        let itt = e.submit(Command::new(Lun::default(), &[0; 6]));
        let sent = drain(&mut e);
        let mut header = BytesMut::new();
        sent[0]
            .encode_header(iscsi_pdu::Digests::NONE, &mut header)
            .unwrap();
        e.handle_pdu(Pdu::new(
            Reject {
                reason: RejectReason::PROTOCOL_ERROR,
                stat_sn: StatSn(50),
                exp_cmd_sn: CmdSn(6),
                max_cmd_sn: CmdSn(6),
                data_sn_or_r2t_sn: 0,
            },
            header.freeze(),
        ));
        let Some(Event::Completed {
            itt: got,
            result: Err(err),
        }) = e.poll_event()
        else {
            panic!()
        };
        assert_eq!(got, itt);
        assert_eq!(
            err.to_string(),
            "target rejected PDU: Protocol Error (0x04)"
        );
        e.handle_pdu(PduBuf::header_only(NopIn {
            itt: Itt::RESERVED,
            ttt: Ttt(77),
            exp_cmd_sn: CmdSn(6),
            max_cmd_sn: CmdSn(6),
            ..NopIn::default()
        }));
        let sent = drain(&mut e);
        assert!(
            matches!(sent[..], [ref p] if matches!(p.bhs, Bhs::NopOut(n) if n.ttt == Ttt(77) && n.itt == Itt::RESERVED))
        );
    }

    #[test]
    fn continued_text_answers_are_joined_and_logout_ends_the_session() {
        let mut e = SessionEngine::new(params());
        let itt = e.text(&send_targets("All"));
        let _ = drain(&mut e);
        let piece = |f: bool, ttt: u32, data: &'static [u8]| {
            Pdu::new(
                TextResponse {
                    final_bit: f,
                    continue_bit: !f,
                    itt,
                    ttt: if f { Ttt::RESERVED } else { Ttt(ttt) },
                    exp_cmd_sn: CmdSn(5),
                    max_cmd_sn: CmdSn(6),
                    ..TextResponse::default()
                },
                Bytes::from_static(data),
            )
        };
        e.handle_pdu(piece(
            false,
            3,
            b"TargetName=iqn.a\0TargetAddress=1.2.3.4:32",
        ));
        let sent = drain(&mut e);
        assert!(
            matches!(sent[..], [ref p] if matches!(p.bhs, Bhs::TextRequest(t) if t.ttt == Ttt(3) && t.itt == itt))
        );
        e.handle_pdu(piece(
            true,
            0,
            b"60,1\0TargetName=iqn.b\0TargetName=iqn.c\0",
        ));
        let Some(Event::Text {
            pairs: Ok(pairs), ..
        }) = e.poll_event()
        else {
            panic!()
        };
        assert_eq!(
            pairs.get_all("TargetName").collect::<Vec<_>>(),
            ["iqn.a", "iqn.b", "iqn.c"]
        );
        assert_eq!(pairs.get("TargetAddress"), Some("1.2.3.4:3260,1"));
        let out = e.logout();
        e.handle_pdu(PduBuf::header_only(LogoutResponse {
            response: LogoutResponseCode::CLOSED_SUCCESSFULLY,
            itt: out,
            ..LogoutResponse::default()
        }));
        assert!(matches!(e.poll_event(), Some(Event::LoggedOut)));
    }
}
