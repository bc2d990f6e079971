//! The full-feature phase of one target connection, sans-IO (RFC 7143 §4,
//! §11): CmdSN window, tasks keyed by ITT, immediate and unsolicited data,
//! R2T under MaxBurstLength / FirstBurstLength / MaxOutstandingR2T,
//! Data-In sequences with phase collapse and residuals, NOP-In keepalives,
//! task management, Text (SendTargets), Logout and Reject.
//!
//! The runtime feeds received PDUs to [`Engine::handle_pdu`], runs the SCSI
//! commands the engine hands out as [`Event::Execute`], reports their
//! outcome with [`Engine::complete`], and after every call drains
//! [`Engine::poll_transmit`] and [`Engine::poll_event`] until both are
//! empty. Time is an argument ([`Engine::handle_timeout`] with milliseconds
//! from any fixed origin); the engine never reads a clock.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use iscsi_login::SessionParams;
use iscsi_pdu::text::{TextPairs, encode_text};
use iscsi_pdu::{
    AsyncEvent, AsyncMessage, Bhs, CmdSn, DataIn, DataOut, DataSn, Itt, LogoutReason,
    LogoutRequest, LogoutResponse, LogoutResponseCode, Lun, NopIn, NopOut, Pdu, PduBuf, PduError,
    R2t, R2tSn, Reject, RejectReason, ScsiCommand, ScsiResponse, ScsiResponseCode, ScsiStatus,
    StatSn, TaskManagementRequest, TaskManagementResponse, TextRequest, TextResponse, TmfFunction,
    TmfResponseCode, Ttt,
};
use iscsi_scsi::{Asc, Response, Sense, SenseKey};

/// One entry of a SendTargets answer (RFC 7143 §13.3, Appendix C).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendTargetsEntry {
    /// TargetName.
    pub name: String,
    /// TargetAddress values, `host:port,tpgt` (IPv6 hosts in brackets).
    pub addresses: Vec<String>,
}

impl SendTargetsEntry {
    /// An entry for `name` reachable at `addresses`.
    #[must_use]
    pub fn new(name: impl Into<String>, addresses: Vec<String>) -> Self {
        Self {
            name: name.into(),
            addresses,
        }
    }
}

/// Settings of the engine that login did not negotiate.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Commands one session may have in flight (the CmdSN window).
    pub queue_depth: u32,
    /// Send a NOP-In ping after this long without traffic, ms (0: never).
    pub nop_in_interval_ms: u64,
    /// Drop the connection when a NOP-In ping is unanswered this long, ms.
    pub nop_in_timeout_ms: u64,
    /// What SendTargets answers: every target for a Discovery session, the
    /// session's own target for a Normal one (RFC 7143 §13.3, Appendix C).
    pub send_targets: Vec<SendTargetsEntry>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            queue_depth: 128,
            nop_in_interval_ms: 0,
            nop_in_timeout_ms: 30_000,
            send_targets: Vec::new(),
        }
    }
}

/// A SCSI command ready to run: all its Data-Out has arrived.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScsiTask {
    /// Its Initiator Task Tag; pass it back to [`Engine::complete`].
    pub itt: Itt,
    /// The LUN field.
    pub lun: Lun,
    /// The CDB, extended CDB bytes included.
    pub cdb: Bytes,
    /// The Data-Out payload as it arrived (zero-copy slices of the receive
    /// buffer), at most what the CDB uses.
    pub data_out: Vec<Bytes>,
    /// The Expected Data Transfer Length of a write (W bit), bytes.
    pub announced_data_out: Option<usize>,
}

/// What the runtime must do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// Run a SCSI command, then call [`Engine::complete`].
    Execute(ScsiTask),
    /// Carry out a task management function on the logical units (the
    /// engine already aborted its own tasks), then call
    /// [`Engine::complete_task_management`].
    TaskManagement {
        /// ITT of the TMF request.
        itt: Itt,
        /// The function.
        function: TmfFunction,
        /// Its LUN field.
        lun: Lun,
    },
    /// The initiator logged out: send what is queued, then close.
    Logout,
    /// The connection must be closed (RFC 7143 §6.1 at ERL 0), after
    /// sending what is queued.
    Close {
        /// Why, for the log.
        reason: String,
    },
}

/// How a task waits for its Data-Out.
#[derive(Debug)]
struct Task {
    lun: Lun,
    cdb: Bytes,
    /// R bit.
    read: bool,
    /// W bit.
    write: bool,
    /// Expected Data Transfer Length.
    edtl: u32,
    /// Bytes of Data-Out the CDB wants (what residuals count against).
    wanted: u32,
    /// Bytes to collect: min(EDTL, wanted).
    to_collect: u32,
    /// Data-Out received so far, in offset order.
    data: Vec<Bytes>,
    received: u32,
    /// Offset of the next byte expected.
    next_offset: u32,
    /// Unsolicited data still allowed (FirstBurstLength budget); `None`
    /// once the unsolicited sequence ended (F bit).
    unsolicited_open: bool,
    /// Expected DataSN of the current unsolicited sequence.
    unsolicited_data_sn: DataSn,
    /// Open R2Ts: TTT → (offset, length, expected DataSN, received).
    r2ts: Vec<OpenR2t>,
    /// Offset of the next R2T to send.
    next_r2t_offset: u32,
    r2t_sn: R2tSn,
    /// Handed to the runtime.
    executing: bool,
    /// Aborted while executing: its result is dropped.
    aborted: bool,
}

#[derive(Debug, Clone, Copy)]
struct OpenR2t {
    ttt: Ttt,
    offset: u32,
    length: u32,
    data_sn: DataSn,
    received: u32,
}

/// Text Response still being sent in pieces.
#[derive(Debug)]
struct PendingText {
    itt: Itt,
    ttt: Ttt,
    rest: Bytes,
}

/// One connection's full-feature phase; see the [module docs](self).
#[derive(Debug)]
pub struct Engine {
    params: SessionParams,
    config: EngineConfig,
    stat_sn: StatSn,
    exp_cmd_sn: CmdSn,
    tasks: HashMap<Itt, Task>,
    /// Commands waiting for earlier CmdSNs (RFC 7143 §3.2.2.1: delivered in
    /// order), by their CmdSN.
    deferred: BTreeMap<u32, PduBuf>,
    next_ttt: u32,
    text: Option<PendingText>,
    text_request: Vec<u8>,
    transmit: VecDeque<PduBuf>,
    events: VecDeque<Event>,
    /// Time of the last PDU received, ms.
    last_rx_ms: u64,
    /// An unanswered NOP-In ping: its TTT and when it was sent, ms.
    ping: Option<(Ttt, u64)>,
    logout_requested: bool,
    closed: bool,
}

/// Bytes a Data-In PDU may carry: the initiator's MaxRecvDataSegmentLength,
/// within MaxBurstLength.
fn data_in_limit(p: &SessionParams) -> usize {
    (p.initiator_max_recv_data_segment_length
        .min(p.max_burst_length) as usize)
        .max(512)
}

impl Engine {
    /// The engine for a connection whose login produced `params`.
    #[must_use]
    pub fn new(params: SessionParams, config: EngineConfig, now_ms: u64) -> Self {
        Self {
            stat_sn: params.next_stat_sn,
            exp_cmd_sn: params.cmd_sn,
            params,
            config,
            tasks: HashMap::new(),
            deferred: BTreeMap::new(),
            next_ttt: 1,
            text: None,
            text_request: Vec::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_rx_ms: now_ms,
            ping: None,
            logout_requested: false,
            closed: false,
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

    /// Commands in flight (received and not yet answered).
    #[must_use]
    pub fn tasks_in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// ExpCmdSN: the next CmdSN the target expects.
    #[must_use]
    pub const fn exp_cmd_sn(&self) -> CmdSn {
        self.exp_cmd_sn
    }

    /// MaxCmdSN advertised now: the window shrinks as tasks fill the queue.
    #[must_use]
    pub fn max_cmd_sn(&self) -> CmdSn {
        let in_flight = u32::try_from(self.tasks.len() + self.deferred.len()).unwrap_or(u32::MAX);
        let free = self.config.queue_depth.saturating_sub(in_flight);
        // A closed window is ExpCmdSN - 1 (RFC 7143 §3.2.2.1).
        self.exp_cmd_sn.add(free).add(u32::MAX)
    }

    fn next_stat_sn(&mut self) -> StatSn {
        let s = self.stat_sn;
        self.stat_sn = s.next();
        s
    }

    fn alloc_ttt(&mut self) -> Ttt {
        loop {
            let t = self.next_ttt;
            self.next_ttt = self.next_ttt.wrapping_add(1);
            if t != Ttt::RESERVED.0 {
                return Ttt(t);
            }
        }
    }

    fn close(&mut self, reason: impl Into<String>) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(Event::Close {
                reason: reason.into(),
            });
        }
    }

    /// Sends a Reject carrying the header of the rejected PDU (RFC 7143 §11.17).
    pub fn reject(&mut self, reason: RejectReason, header: Bytes) {
        let bhs = header.slice(..header.len().min(iscsi_pdu::BHS_LEN));
        let reject = Reject {
            reason,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
            data_sn_or_r2t_sn: 0,
        };
        self.transmit.push_back(Pdu::new(reject, bhs));
    }

    /// A PDU that did not parse: Reject it with the reason its error maps
    /// to, or close when it has none.
    pub fn handle_malformed(&mut self, header: Bytes, error: &PduError) {
        match error.reject_reason() {
            Some(reason) => self.reject(reason, header),
            None => self.close(error.to_string()),
        }
    }

    /// A PDU whose data digest failed (RFC 7143 §7.8, ERL 0): Reject it
    /// with the header; a command is not considered received (its CmdSN
    /// stays a gap the initiator must plug); a Data-Out's task fails with
    /// ABORTED COMMAND / PROTOCOL SERVICE CRC ERROR.
    pub fn handle_data_digest_error(&mut self, header: Bytes, now_ms: u64) {
        self.last_rx_ms = now_ms;
        if let Ok(bhs) = Bhs::parse(&header)
            && let Bhs::DataOut(h) = bhs
            && self.tasks.contains_key(&h.itt)
        {
            self.fail_task(
                h.itt,
                Sense::new(SenseKey::ABORTED_COMMAND, Asc::PROTOCOL_SERVICE_CRC_ERROR),
            );
        }
        self.reject(RejectReason::DATA_DIGEST_ERROR, header);
    }

    /// Handles one received PDU. `data_out_len(lun, cdb)` says how many
    /// bytes of Data-Out a CDB wants (from the logical unit), so the engine
    /// solicits exactly what the command uses.
    pub fn handle_pdu(
        &mut self,
        pdu: PduBuf,
        now_ms: u64,
        data_out_len: &dyn Fn(Lun, &[u8]) -> usize,
    ) {
        if self.closed {
            return;
        }
        self.last_rx_ms = now_ms;
        let discovery = self.params.session_type == iscsi_login::SessionType::Discovery;
        if discovery
            && matches!(
                pdu.bhs,
                Bhs::ScsiCommand(_) | Bhs::TaskManagementRequest(_) | Bhs::DataOut(_)
            )
        {
            // A Discovery session carries only Text, NOP and Logout (RFC 7143 §4.3).
            self.reject_pdu(RejectReason::PROTOCOL_ERROR, pdu.bhs);
            return;
        }
        match pdu.bhs {
            Bhs::ScsiCommand(h) => self.ordered(pdu, h.immediate, h.cmd_sn, data_out_len),
            Bhs::TaskManagementRequest(h) => {
                self.ordered(pdu, h.immediate, h.cmd_sn, data_out_len);
            }
            Bhs::TextRequest(h) => self.ordered(pdu, h.immediate, h.cmd_sn, data_out_len),
            Bhs::LogoutRequest(h) => self.ordered(pdu, h.immediate, h.cmd_sn, data_out_len),
            Bhs::NopOut(h) => {
                // A non-immediate NOP-Out takes a CmdSN and may close the gap
                // that held commands wait behind.
                self.nop_out(&h, &pdu.data);
                self.release_deferred(data_out_len);
            }
            Bhs::DataOut(h) => self.data_out(&h, pdu.data),
            Bhs::SnackRequest(_) => {
                // ERL 0: no SNACK support (RFC 7143 §11.16).
                self.reject_pdu(RejectReason::SNACK_REJECT, pdu.bhs);
            }
            Bhs::LoginRequest(_) => self.reject_pdu(RejectReason::PROTOCOL_ERROR, pdu.bhs),
            Bhs::Unknown(_) => self.reject_pdu(RejectReason::COMMAND_NOT_SUPPORTED, pdu.bhs),
            _ => self.reject_pdu(RejectReason::PROTOCOL_ERROR, pdu.bhs),
        }
    }

    /// Rejects the PDU whose header is `bhs`; the Reject carries that header
    /// back (RFC 7143 §11.17).
    fn reject_pdu(&mut self, reason: RejectReason, bhs: impl Into<Bhs>) {
        let mut header = BytesMut::new();
        let _ = Pdu::new(bhs, Bytes::new()).encode_header(iscsi_pdu::Digests::NONE, &mut header);
        self.reject(reason, header.freeze());
    }

    /// CmdSN ordering (RFC 7143 §3.2.2.1): immediate PDUs go straight
    /// through; others must fall in [ExpCmdSN, MaxCmdSN] (else they are
    /// silently ignored) and are delivered in CmdSN order.
    fn ordered(
        &mut self,
        pdu: PduBuf,
        immediate: bool,
        cmd_sn: CmdSn,
        data_out_len: &dyn Fn(Lun, &[u8]) -> usize,
    ) {
        if immediate {
            // An immediate ABORT TASK may plug a CmdSN gap (RFC 7143 §11.5.1).
            self.dispatch(pdu, data_out_len);
            self.release_deferred(data_out_len);
            return;
        }
        if !cmd_sn.in_window(self.exp_cmd_sn, self.max_cmd_sn()) {
            return;
        }
        if cmd_sn != self.exp_cmd_sn {
            self.deferred.insert(cmd_sn.0, pdu);
            return;
        }
        self.exp_cmd_sn = self.exp_cmd_sn.next();
        self.dispatch(pdu, data_out_len);
        self.release_deferred(data_out_len);
    }

    /// Dispatches the held commands that ExpCmdSN has reached, in order.
    fn release_deferred(&mut self, data_out_len: &dyn Fn(Lun, &[u8]) -> usize) {
        while let Some(pdu) = self.deferred.remove(&self.exp_cmd_sn.0) {
            self.exp_cmd_sn = self.exp_cmd_sn.next();
            self.dispatch(pdu, data_out_len);
        }
    }

    fn dispatch(&mut self, pdu: PduBuf, data_out_len: &dyn Fn(Lun, &[u8]) -> usize) {
        match pdu.bhs {
            Bhs::ScsiCommand(h) => self.scsi_command(&h, &pdu, data_out_len),
            Bhs::TaskManagementRequest(h) => self.task_management(&h),
            Bhs::TextRequest(h) => self.text_request(&h, &pdu.data),
            Bhs::LogoutRequest(h) => self.logout(&h),
            _ => {}
        }
    }

    // ---- SCSI commands and data. ----

    fn scsi_command(
        &mut self,
        h: &ScsiCommand,
        pdu: &PduBuf,
        data_out_len: &dyn Fn(Lun, &[u8]) -> usize,
    ) {
        if self.tasks.contains_key(&h.itt) {
            self.reject_pdu(RejectReason::TASK_IN_PROGRESS, pdu.bhs);
            return;
        }
        let mut cdb = BytesMut::from(&h.cdb[..]);
        for ahs in &pdu.ahs {
            if let iscsi_pdu::Ahs::ExtendedCdb(extra) = ahs {
                cdb.extend_from_slice(extra);
            }
        }
        let cdb = cdb.freeze();
        if h.read && h.write {
            // Bidirectional commands are not supported: the command ends at
            // once with INVALID FIELD IN CDB; any Data-Out for it is dropped.
            let response = Response::check(
                Sense::invalid_cdb_field(0, None),
                iscsi_scsi::SenseFormat::Fixed,
            );
            self.tasks.insert(h.itt, self.new_task(h, cdb, 0));
            self.finish(h.itt, &response);
            return;
        }
        let wanted = if h.write {
            u32::try_from(data_out_len(h.lun, &cdb)).unwrap_or(u32::MAX)
        } else {
            0
        };
        let mut task = self.new_task(h, cdb, wanted);
        // Immediate data (RFC 7143 §3.2.4.2).
        if !pdu.data.is_empty() {
            task.receive(0, pdu.data.clone());
        }
        task.unsolicited_open = h.write && !h.final_bit && !self.params.initial_r2t;
        self.tasks.insert(h.itt, task);
        self.progress(h.itt);
    }

    fn new_task(&self, h: &ScsiCommand, cdb: Bytes, wanted: u32) -> Task {
        let edtl = h.expected_data_transfer_length;
        Task {
            lun: h.lun,
            cdb,
            read: h.read,
            write: h.write,
            edtl,
            wanted,
            to_collect: if h.write { edtl.min(wanted) } else { 0 },
            data: Vec::new(),
            received: 0,
            next_offset: 0,
            unsolicited_open: false,
            unsolicited_data_sn: DataSn(0),
            r2ts: Vec::new(),
            next_r2t_offset: 0,
            r2t_sn: R2tSn(0),
            executing: false,
            aborted: false,
        }
    }

    /// Moves a task on: run it when its data is complete, else send the
    /// R2Ts it may have outstanding.
    fn progress(&mut self, itt: Itt) {
        let max_burst = self.params.max_burst_length;
        let max_r2t = usize::from(self.params.max_outstanding_r2t.max(1));
        let Some(task) = self.tasks.get_mut(&itt) else {
            return;
        };
        if task.executing {
            return;
        }
        if task.received >= task.to_collect && task.r2ts.is_empty() && !task.unsolicited_open {
            task.executing = true;
            let event = Event::Execute(ScsiTask {
                itt,
                lun: task.lun,
                cdb: task.cdb.clone(),
                data_out: std::mem::take(&mut task.data),
                announced_data_out: task.write.then_some(task.edtl as usize),
            });
            self.events.push_back(event);
            return;
        }
        if task.unsolicited_open {
            // Wait for the unsolicited sequence to finish (F bit).
            return;
        }
        // Solicit the rest: unsolicited data counts from offset 0 up to
        // what arrived; R2Ts cover the remainder.
        if task.next_r2t_offset < task.received {
            task.next_r2t_offset = task.received;
        }
        // At most MaxOutstandingR2T open at once (RFC 7143 §13.17), those
        // already open and those made here together: the Linux initiator
        // keeps 2 × MaxOutstandingR2T R2T slots per task and drops the
        // connection when more arrive.
        let mut new = Vec::new();
        while task.r2ts.len() + new.len() < max_r2t && task.next_r2t_offset < task.to_collect {
            let length = (task.to_collect - task.next_r2t_offset).min(max_burst);
            let offset = task.next_r2t_offset;
            task.next_r2t_offset += length;
            new.push((offset, length, task.r2t_sn, task.lun));
            task.r2t_sn = task.r2t_sn.next();
        }
        for (offset, length, r2t_sn, lun) in new {
            let ttt = self.alloc_ttt();
            if let Some(task) = self.tasks.get_mut(&itt) {
                task.r2ts.push(OpenR2t {
                    ttt,
                    offset,
                    length,
                    data_sn: DataSn(0),
                    received: 0,
                });
            }
            let r2t = R2t {
                lun,
                itt,
                ttt,
                stat_sn: self.stat_sn,
                exp_cmd_sn: self.exp_cmd_sn,
                max_cmd_sn: self.max_cmd_sn(),
                r2t_sn,
                buffer_offset: offset,
                desired_data_transfer_length: length,
            };
            self.transmit.push_back(PduBuf::header_only(r2t));
        }
    }

    /// A Data-Out PDU (RFC 7143 §11.7): matched by ITT and TTT, never by
    /// its LUN (some initiators leave it wrong).
    fn data_out(&mut self, h: &DataOut, data: Bytes) {
        let Some(task) = self.tasks.get_mut(&h.itt) else {
            // Data for a task that has ended (aborted, failed): dropped.
            return;
        };
        if task.executing {
            return;
        }
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let ok = if h.ttt == Ttt::RESERVED {
            let in_sequence = task.unsolicited_open
                && h.data_sn == task.unsolicited_data_sn
                && h.buffer_offset == task.next_offset
                && u64::from(h.buffer_offset) + u64::from(len)
                    <= u64::from(self.params.first_burst_length.min(task.edtl));
            if in_sequence {
                task.unsolicited_data_sn = task.unsolicited_data_sn.next();
                task.receive(h.buffer_offset, data);
                if h.final_bit {
                    task.unsolicited_open = false;
                }
            }
            in_sequence
        } else {
            match task.r2ts.iter().position(|r| r.ttt == h.ttt) {
                Some(i) => {
                    let mut done = false;
                    let fits = task.r2ts.get_mut(i).is_some_and(|r| {
                        let fits = h.data_sn == r.data_sn
                            && h.buffer_offset == r.offset + r.received
                            && r.received + len <= r.length;
                        if fits {
                            r.data_sn = r.data_sn.next();
                            r.received += len;
                            done = r.received == r.length || h.final_bit;
                        }
                        fits
                    });
                    if fits {
                        task.receive(h.buffer_offset, data);
                        if done {
                            task.r2ts.remove(i);
                        }
                    }
                    fits
                }
                None => false,
            }
        };
        if !ok {
            // A sequence error (DataSN, offset or length) cannot be
            // recovered at ERL 0: the task ends with CHECK CONDITION.
            self.fail_task(
                h.itt,
                Sense::new(SenseKey::ABORTED_COMMAND, Asc::DATA_PHASE_ERROR),
            );
            return;
        }
        self.progress(h.itt);
    }

    fn fail_task(&mut self, itt: Itt, sense: Sense) {
        let response = Response::check(sense, iscsi_scsi::SenseFormat::Fixed);
        if let Some(task) = self.tasks.get_mut(&itt) {
            task.to_collect = 0;
            task.r2ts.clear();
            task.unsolicited_open = false;
            if task.executing {
                task.aborted = true;
                return;
            }
        }
        self.finish(itt, &response);
    }

    /// Reports the outcome of an [`Event::Execute`]: Data-In sequences,
    /// status (collapsed into the last Data-In when it is GOOD) and
    /// residuals against the expected transfer length.
    pub fn complete(&mut self, itt: Itt, response: &Response) {
        if let Some(task) = self.tasks.get(&itt)
            && task.aborted
        {
            // Aborted by task management: no response (RFC 7143 §4.2.3).
            self.tasks.remove(&itt);
            return;
        }
        self.finish(itt, response);
    }

    fn finish(&mut self, itt: Itt, response: &Response) {
        let Some(task) = self.tasks.remove(&itt) else {
            return;
        };
        let limit = data_in_limit(&self.params);
        let max_burst = self.params.max_burst_length as usize;
        let status = ScsiStatus::from_wire(response.status.0);

        // Residuals (RFC 7143 §11.4.5): against what the command moves in
        // its direction.
        let (actual, sent_data) = if task.read {
            let produced = response.data.len();
            let send = produced.min(task.edtl as usize);
            (produced, response.data.slice(..send))
        } else if task.write {
            (task.wanted as usize, Bytes::new())
        } else {
            (0, Bytes::new())
        };
        let edtl = task.edtl as usize;
        let (overflow, underflow, residual) = if task.read || task.write {
            if actual > edtl {
                (true, false, actual - edtl)
            } else {
                (false, actual < edtl, edtl - actual)
            }
        } else {
            (false, false, 0)
        };
        let residual = u32::try_from(residual).unwrap_or(u32::MAX);

        let collapse =
            status == ScsiStatus::GOOD && response.sense.is_none() && !sent_data.is_empty();
        let mut data_sn = DataSn(0);
        let mut offset = 0usize;
        let total = sent_data.len();
        while offset < total {
            let n = (total - offset).min(limit);
            let end = offset + n;
            let last = end == total;
            // A Data-In sequence ends at each MaxBurstLength boundary.
            let burst_end = last || end.is_multiple_of(max_burst.max(1));
            let with_status = last && collapse;
            let pdu = DataIn {
                final_bit: burst_end,
                acknowledge: false,
                residual_overflow: with_status && overflow,
                residual_underflow: with_status && underflow,
                status: with_status.then_some(status),
                lun: task.lun,
                itt,
                ttt: Ttt::RESERVED,
                stat_sn: if with_status {
                    self.next_stat_sn()
                } else {
                    self.stat_sn
                },
                exp_cmd_sn: self.exp_cmd_sn,
                max_cmd_sn: self.max_cmd_sn(),
                data_sn,
                buffer_offset: u32::try_from(offset).unwrap_or(u32::MAX),
                residual_count: if with_status { residual } else { 0 },
            };
            self.transmit
                .push_back(Pdu::new(pdu, sent_data.slice(offset..end)));
            data_sn = data_sn.next();
            offset = end;
        }
        if collapse {
            return;
        }
        let sense = response.sense_data().map_or_else(Bytes::new, |s| {
            let mut buf = BytesMut::with_capacity(2 + s.len());
            buf.extend_from_slice(&u16::try_from(s.len()).unwrap_or(0).to_be_bytes());
            buf.extend_from_slice(&s);
            buf.freeze()
        });
        let exp_data_sn = if task.read {
            data_sn
        } else {
            DataSn(task.r2t_sn.0)
        };
        let resp = ScsiResponse {
            bidi_read_residual_overflow: false,
            bidi_read_residual_underflow: false,
            residual_overflow: overflow,
            residual_underflow: underflow,
            response: ScsiResponseCode::COMMAND_COMPLETED,
            status,
            itt,
            snack_tag: 0,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
            exp_data_sn,
            bidi_read_residual_count: 0,
            residual_count: residual,
        };
        self.transmit.push_back(Pdu::new(resp, sense));
    }

    // ---- NOP, text, logout, task management. ----

    fn nop_out(&mut self, h: &NopOut, data: &Bytes) {
        if h.ttt != Ttt::RESERVED {
            // The answer to our ping.
            if self.ping.is_some_and(|(ttt, _)| ttt == h.ttt) {
                self.ping = None;
            }
            return;
        }
        if h.itt == Itt::RESERVED {
            // A NOP-Out that wants no answer.
            return;
        }
        if !h.immediate {
            // Non-immediate NOP-Out consumes a CmdSN.
            if h.cmd_sn == self.exp_cmd_sn {
                self.exp_cmd_sn = self.exp_cmd_sn.next();
            }
        }
        let limit = data_in_limit(&self.params);
        let echo = data.slice(..data.len().min(limit));
        let reply = NopIn {
            lun: h.lun,
            itt: h.itt,
            ttt: Ttt::RESERVED,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
        };
        self.transmit.push_back(Pdu::new(reply, echo));
    }

    fn text_request(&mut self, h: &TextRequest, data: &Bytes) {
        let limit = data_in_limit(&self.params);
        // Continuing a long answer (RFC 7143 §11.11): an empty request with
        // our TTT asks for the next piece.
        if h.ttt != Ttt::RESERVED {
            match self.text.take() {
                Some(p) if p.ttt == h.ttt && p.itt == h.itt => {
                    self.send_text_piece(h.itt, p.ttt, p.rest, limit);
                }
                _ => self.reject_pdu(RejectReason::PROTOCOL_ERROR, *h),
            }
            return;
        }
        self.text = None;
        if self.text_request.len() + data.len() > 65_536 {
            self.text_request.clear();
            self.reject_pdu(RejectReason::PROTOCOL_ERROR, *h);
            return;
        }
        self.text_request.extend_from_slice(data);
        if h.continue_bit {
            // Acknowledge a continued request with an empty response.
            let ttt = self.alloc_ttt();
            self.send_text_piece_final(h.itt, ttt, Bytes::new(), false);
            return;
        }
        let request = std::mem::take(&mut self.text_request);
        let Ok(pairs) = TextPairs::parse(&request) else {
            self.reject_pdu(RejectReason::PROTOCOL_ERROR, *h);
            return;
        };
        let mut answer = BytesMut::new();
        for (key, value) in pairs.iter() {
            if key == "SendTargets" {
                self.send_targets(value, &mut answer);
            } else {
                let reply = match iscsi_login::keys::lookup(key) {
                    // Renegotiation in full feature phase is not offered.
                    Some(_) => "Reject",
                    None => "NotUnderstood",
                };
                encode_text([(key, reply)], &mut answer);
            }
        }
        let ttt = self.alloc_ttt();
        self.send_text_piece(h.itt, ttt, answer.freeze(), limit);
    }

    /// SendTargets (RFC 7143 §13.3, Appendix C): `All` lists every target
    /// of a Discovery session; a name lists that one; empty means the
    /// session's own target.
    fn send_targets(&self, value: &str, out: &mut BytesMut) {
        let own = self.params.target_name.as_deref();
        let discovery = self.params.session_type == iscsi_login::SessionType::Discovery;
        for entry in &self.config.send_targets {
            let wanted = match value {
                "All" => discovery || Some(entry.name.as_str()) == own,
                "" => Some(entry.name.as_str()) == own,
                name => entry.name == name && (discovery || Some(name) == own),
            };
            if wanted {
                encode_text([("TargetName", entry.name.as_str())], out);
                for address in &entry.addresses {
                    encode_text([("TargetAddress", address.as_str())], out);
                }
            }
        }
    }

    fn send_text_piece(&mut self, itt: Itt, ttt: Ttt, mut text: Bytes, limit: usize) {
        if text.len() > limit {
            // Cut at a pair boundary when one fits, else anywhere (a pair may
            // span PDUs, RFC 7143 §6.1).
            let cut = text
                .get(..limit)
                .and_then(|head| head.iter().rposition(|b| *b == 0))
                .map_or(limit, |nul| nul + 1);
            let rest = text.split_off(cut);
            self.text = Some(PendingText { itt, ttt, rest });
            self.send_text_piece_final(itt, ttt, text, false);
        } else {
            self.send_text_piece_final(itt, Ttt::RESERVED, text, true);
        }
    }

    fn send_text_piece_final(&mut self, itt: Itt, ttt: Ttt, data: Bytes, last: bool) {
        let resp = TextResponse {
            final_bit: last,
            continue_bit: !last && !data.is_empty(),
            lun: Lun::default(),
            itt,
            ttt,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
        };
        self.transmit.push_back(Pdu::new(resp, data));
    }

    fn logout(&mut self, h: &LogoutRequest) {
        let response = if h.reason == LogoutReason::REMOVE_CONNECTION_FOR_RECOVERY {
            LogoutResponseCode::RECOVERY_NOT_SUPPORTED
        } else {
            LogoutResponseCode::CLOSED_SUCCESSFULLY
        };
        // Outstanding tasks end with the session (ERL 0).
        for task in self.tasks.values_mut() {
            task.aborted = true;
        }
        self.tasks.retain(|_, t| t.executing);
        let resp = LogoutResponse {
            response,
            itt: h.itt,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
            time2wait: 0,
            time2retain: 0,
        };
        self.transmit.push_back(PduBuf::header_only(resp));
        if response == LogoutResponseCode::CLOSED_SUCCESSFULLY {
            self.closed = true;
            self.events.push_back(Event::Logout);
        }
    }

    fn task_management(&mut self, h: &TaskManagementRequest) {
        let response = match h.function {
            TmfFunction::ABORT_TASK => {
                match self.tasks.get_mut(&h.referenced_task_tag) {
                    Some(task) => {
                        task.aborted = true;
                        if !task.executing {
                            self.tasks.remove(&h.referenced_task_tag);
                        }
                        TmfResponseCode::FUNCTION_COMPLETE
                    }
                    _ => {
                        // RFC 7143 §11.5.1: a RefCmdSN in the window and
                        // below this request's CmdSN is taken as received
                        // (it plugs the gap); else the task does not exist.
                        let in_window = h.ref_cmd_sn.in_window(self.exp_cmd_sn, self.max_cmd_sn());
                        if in_window && h.ref_cmd_sn.is_before(h.cmd_sn) {
                            self.plug_gap(h.ref_cmd_sn);
                            TmfResponseCode::FUNCTION_COMPLETE
                        } else {
                            TmfResponseCode::TASK_DOES_NOT_EXIST
                        }
                    }
                }
            }
            TmfFunction::ABORT_TASK_SET
            | TmfFunction::CLEAR_TASK_SET
            | TmfFunction::LOGICAL_UNIT_RESET => {
                self.abort_tasks(|t| t.lun == h.lun);
                self.events.push_back(Event::TaskManagement {
                    itt: h.itt,
                    function: h.function,
                    lun: h.lun,
                });
                return;
            }
            TmfFunction::TARGET_WARM_RESET | TmfFunction::TARGET_COLD_RESET => {
                self.abort_tasks(|_| true);
                self.events.push_back(Event::TaskManagement {
                    itt: h.itt,
                    function: h.function,
                    lun: h.lun,
                });
                return;
            }
            TmfFunction::TASK_REASSIGN => TmfResponseCode::TASK_REASSIGNMENT_NOT_SUPPORTED,
            _ => TmfResponseCode::FUNCTION_NOT_SUPPORTED,
        };
        self.complete_task_management(h.itt, response);
    }

    fn plug_gap(&mut self, cmd_sn: CmdSn) {
        if cmd_sn == self.exp_cmd_sn {
            self.exp_cmd_sn = self.exp_cmd_sn.next();
        }
    }

    fn abort_tasks(&mut self, which: impl Fn(&Task) -> bool) {
        for task in self.tasks.values_mut().filter(|t| which(t)) {
            task.aborted = true;
        }
        self.tasks.retain(|_, t| !t.aborted || t.executing);
    }

    /// Sends the response of a task management function (after the runtime
    /// carried out an [`Event::TaskManagement`]).
    pub fn complete_task_management(&mut self, itt: Itt, response: TmfResponseCode) {
        let resp = TaskManagementResponse {
            response,
            itt,
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
        };
        self.transmit.push_back(PduBuf::header_only(resp));
    }

    // ---- Keepalive and shutdown. ----

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, ms.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.config.nop_in_interval_ms == 0 || self.closed {
            return None;
        }
        Some(match self.ping {
            Some((_, sent)) => sent + self.config.nop_in_timeout_ms,
            None => self.last_rx_ms + self.config.nop_in_interval_ms,
        })
    }

    /// Time passed: send a NOP-In ping after an idle interval, close the
    /// connection when a ping stays unanswered (a dead peer).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.config.nop_in_interval_ms == 0 || self.closed {
            return;
        }
        match self.ping {
            Some((_, sent)) if now_ms >= sent + self.config.nop_in_timeout_ms => {
                self.close(format!(
                    "no answer to a NOP-In ping for {} ms",
                    self.config.nop_in_timeout_ms
                ));
            }
            None if now_ms >= self.last_rx_ms + self.config.nop_in_interval_ms => {
                let ttt = self.alloc_ttt();
                self.ping = Some((ttt, now_ms));
                let ping = NopIn {
                    lun: Lun::default(),
                    itt: Itt::RESERVED,
                    ttt,
                    // StatSN is not advanced for an unsolicited NOP-In.
                    stat_sn: self.stat_sn,
                    exp_cmd_sn: self.exp_cmd_sn,
                    max_cmd_sn: self.max_cmd_sn(),
                };
                self.transmit.push_back(PduBuf::header_only(ping));
            }
            _ => {}
        }
    }

    /// Asks the initiator to log out within `seconds` (an Asynchronous
    /// Message, RFC 7143 §11.9.1 event 1), e.g. on shutdown.
    pub fn request_logout(&mut self, seconds: u16) {
        if self.logout_requested || self.closed {
            return;
        }
        self.logout_requested = true;
        let msg = AsyncMessage {
            lun: Lun::default(),
            stat_sn: self.next_stat_sn(),
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn(),
            async_event: AsyncEvent::LOGOUT_REQUESTED,
            async_vcode: 0,
            parameter1: 0,
            parameter2: 0,
            parameter3: seconds,
        };
        self.transmit.push_back(PduBuf::header_only(msg));
    }

    /// True once the connection is to be closed (logout done or a fatal error).
    #[must_use]
    pub const fn is_closed(&self) -> bool {
        self.closed
    }
}

impl Task {
    fn receive(&mut self, offset: u32, data: Bytes) {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        // Keep only what the command uses (surplus beyond the CDB's length
        // is accepted and dropped).
        let keep = self.to_collect.saturating_sub(offset).min(len);
        if keep > 0 {
            self.data.push(data.slice(..keep as usize));
            self.received += keep;
        }
        self.next_offset = offset + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iscsi_login::{SessionParams, SessionType};
    use iscsi_pdu::{Cid, Isid};
    use iscsi_scsi::Status;

    fn params() -> SessionParams {
        let mut p = SessionParams::with_defaults(
            SessionType::Normal,
            "iqn.i".into(),
            Isid::default(),
            Cid(0),
        );
        p.target_name = Some("iqn.t".into());
        p.initial_r2t = false;
        p.immediate_data = true;
        p.first_burst_length = 8192;
        p.max_burst_length = 16_384;
        p.initiator_max_recv_data_segment_length = 8192;
        p.target_max_recv_data_segment_length = 8192;
        p.cmd_sn = CmdSn(10);
        p.next_stat_sn = StatSn(100);
        p
    }

    fn engine() -> Engine {
        Engine::new(
            params(),
            EngineConfig {
                queue_depth: 4,
                ..EngineConfig::default()
            },
            0,
        )
    }

    /// Every write wants its whole EDTL.
    fn sizer(_: Lun, cdb: &[u8]) -> usize {
        if cdb.first() == Some(&0x2a) {
            1024 * usize::from(cdb.get(8).copied().unwrap_or(0))
        } else {
            0
        }
    }

    fn write_cmd(itt: u32, cmd_sn: u32, final_bit: bool, blocks: u8, immediate: &[u8]) -> PduBuf {
        let mut cdb = [0u8; 16];
        cdb[0] = 0x2a;
        cdb[8] = blocks;
        Pdu::new(
            ScsiCommand {
                final_bit,
                write: true,
                itt: Itt(itt),
                cmd_sn: CmdSn(cmd_sn),
                expected_data_transfer_length: 1024 * u32::from(blocks),
                cdb,
                ..ScsiCommand::default()
            },
            Bytes::copy_from_slice(immediate),
        )
    }

    fn data_out(itt: u32, ttt: Ttt, sn: u32, offset: u32, len: usize, final_bit: bool) -> PduBuf {
        Pdu::new(
            DataOut {
                final_bit,
                itt: Itt(itt),
                ttt,
                data_sn: DataSn(sn),
                buffer_offset: offset,
                ..DataOut::default()
            },
            Bytes::from(vec![1u8; len]),
        )
    }

    fn drain(e: &mut Engine) -> (Vec<PduBuf>, Vec<Event>) {
        let mut out = Vec::new();
        while let Some(p) = e.poll_transmit() {
            out.push(p);
        }
        let mut events = Vec::new();
        while let Some(ev) = e.poll_event() {
            events.push(ev);
        }
        (out, events)
    }

    #[test]
    fn immediate_unsolicited_then_solicited_data() {
        let mut e = engine();
        // 16 KiB write: 4 KiB immediate, 4 KiB unsolicited Data-Out (F), then R2T.
        e.handle_pdu(write_cmd(1, 10, false, 16, &[0u8; 4096]), 0, &sizer);
        assert!(drain(&mut e).0.is_empty());
        e.handle_pdu(data_out(1, Ttt::RESERVED, 0, 4096, 4096, true), 0, &sizer);
        let (out, events) = drain(&mut e);
        assert!(events.is_empty());
        let [r2t] = &out[..] else { panic!("{out:?}") };
        let Bhs::R2t(r) = r2t.bhs else { panic!() };
        assert_eq!(
            (r.buffer_offset, r.desired_data_transfer_length, r.r2t_sn),
            (8192, 8192, R2tSn(0))
        );
        e.handle_pdu(data_out(1, r.ttt, 0, 8192, 8192, true), 0, &sizer);
        let (_, events) = drain(&mut e);
        let [Event::Execute(task)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(task.data_out.iter().map(Bytes::len).sum::<usize>(), 16_384);
        e.complete(Itt(1), &Response::good(Bytes::new()));
        let (out, _) = drain(&mut e);
        let Bhs::ScsiResponse(resp) = out[0].bhs else {
            panic!()
        };
        assert_eq!(
            (resp.status, resp.stat_sn, resp.exp_data_sn),
            (ScsiStatus::GOOD, StatSn(100), DataSn(1))
        );
    }

    /// A write of several bursts gets one R2T at a time under
    /// MaxOutstandingR2T=1, the next only when a burst is complete (found
    /// by the Linux initiator: all four R2Ts of a 4 MiB WRITE were sent at
    /// once, and it dropped the connection, "Could not allocate R2T").
    #[test]
    fn r2ts_never_exceed_max_outstanding_r2t() {
        for max_r2t in [1u16, 2] {
            let mut p = params();
            p.max_outstanding_r2t = max_r2t;
            p.max_burst_length = 8192;
            let mut e = Engine::new(p, EngineConfig::default(), 0);
            // 40 KiB: 8 KiB immediate, then 4 bursts of 8 KiB.
            e.handle_pdu(write_cmd(7, 10, true, 40, &[0u8; 8192]), 0, &sizer);
            let mut open: Vec<R2t> = Vec::new();
            let mut offsets = Vec::new();
            let mut executed = false;
            for _ in 0..10 {
                let (out, events) = drain(&mut e);
                executed |= events.iter().any(|ev| matches!(ev, Event::Execute(_)));
                for pdu in out {
                    if let Bhs::R2t(r) = pdu.bhs {
                        open.push(r);
                        offsets.push(r.buffer_offset);
                    }
                }
                assert!(
                    open.len() <= usize::from(max_r2t),
                    "{} R2Ts open with MaxOutstandingR2T={max_r2t}",
                    open.len()
                );
                if open.is_empty() {
                    break;
                }
                let r = open.remove(0);
                let len = r.desired_data_transfer_length as usize;
                e.handle_pdu(data_out(7, r.ttt, 0, r.buffer_offset, len, true), 0, &sizer);
            }
            assert_eq!(offsets, [8192, 16_384, 24_576, 32_768]);
            assert!(executed, "the write ran once every burst had arrived");
        }
    }

    #[test]
    fn a_wrong_data_sn_fails_the_task() {
        let mut e = engine();
        e.handle_pdu(write_cmd(2, 10, true, 8, &[]), 0, &sizer);
        let (out, _) = drain(&mut e);
        let Bhs::R2t(r) = out[0].bhs else { panic!() };
        e.handle_pdu(data_out(2, r.ttt, 5, 0, 8192, true), 0, &sizer);
        let (out, events) = drain(&mut e);
        assert!(events.is_empty());
        let Bhs::ScsiResponse(resp) = out[0].bhs else {
            panic!("{out:?}")
        };
        assert_eq!(resp.status, ScsiStatus::CHECK_CONDITION);
        // Later data for it is dropped silently.
        e.handle_pdu(data_out(2, r.ttt, 0, 0, 8192, true), 0, &sizer);
        assert!(drain(&mut e).0.is_empty());
    }

    #[test]
    fn cmd_sn_window_order_and_max_cmd_sn() {
        let mut e = engine();
        assert_eq!(e.max_cmd_sn(), CmdSn(13));
        // CmdSN 11 arrives before 10: held until 10 comes.
        let tur = |itt: u32, sn: u32| {
            PduBuf::header_only(ScsiCommand {
                final_bit: true,
                itt: Itt(itt),
                cmd_sn: CmdSn(sn),
                ..ScsiCommand::default()
            })
        };
        e.handle_pdu(tur(21, 11), 0, &sizer);
        assert!(drain(&mut e).1.is_empty());
        e.handle_pdu(tur(20, 10), 0, &sizer);
        let (_, events) = drain(&mut e);
        let order: Vec<Itt> = events
            .iter()
            .filter_map(|ev| match ev {
                Event::Execute(t) => Some(t.itt),
                _ => None,
            })
            .collect();
        assert_eq!(order, [Itt(20), Itt(21)]);
        assert_eq!(e.exp_cmd_sn(), CmdSn(12));
        // Two tasks in flight of four slots: MaxCmdSN = 12 + 2 - 1.
        assert_eq!(e.max_cmd_sn(), CmdSn(13));
        // Out of the window: ignored.
        e.handle_pdu(tur(22, 99), 0, &sizer);
        assert!(drain(&mut e).1.is_empty());
    }

    /// Commands held for an earlier CmdSN are found by their own CmdSN, not
    /// by their distance from an ExpCmdSN that has moved since: 12 and 13
    /// both wait while ExpCmdSN goes from 10 to 11, and neither is lost.
    #[test]
    fn held_commands_survive_exp_cmd_sn_moving() {
        let mut e = engine();
        let tur = |itt: u32, sn: u32| {
            PduBuf::header_only(ScsiCommand {
                final_bit: true,
                itt: Itt(itt),
                cmd_sn: CmdSn(sn),
                ..ScsiCommand::default()
            })
        };
        let executed = |e: &mut Engine| -> Vec<Itt> {
            drain(e)
                .1
                .iter()
                .filter_map(|ev| match ev {
                    Event::Execute(t) => Some(t.itt),
                    _ => None,
                })
                .collect()
        };
        e.handle_pdu(tur(32, 12), 0, &sizer);
        e.handle_pdu(tur(30, 10), 0, &sizer);
        assert_eq!(executed(&mut e), [Itt(30)]);
        e.complete(Itt(30), &Response::good(Bytes::new()));
        let _ = drain(&mut e);
        e.handle_pdu(tur(33, 13), 0, &sizer);
        assert!(executed(&mut e).is_empty());
        e.handle_pdu(tur(31, 11), 0, &sizer);
        assert_eq!(executed(&mut e), [Itt(31), Itt(32), Itt(33)]);
        assert_eq!(e.exp_cmd_sn(), CmdSn(14));
    }

    #[test]
    fn bidirectional_commands_end_with_check_condition() {
        let mut e = engine();
        let mut cdb = [0u8; 16];
        cdb[0] = 0x28;
        e.handle_pdu(
            PduBuf::header_only(ScsiCommand {
                final_bit: true,
                read: true,
                write: true,
                itt: Itt(3),
                cmd_sn: CmdSn(10),
                cdb,
                ..ScsiCommand::default()
            }),
            0,
            &sizer,
        );
        let (out, events) = drain(&mut e);
        assert!(events.is_empty());
        let Bhs::ScsiResponse(r) = out[0].bhs else {
            panic!()
        };
        assert_eq!(r.status, ScsiStatus::CHECK_CONDITION);
        assert_eq!(e.tasks_in_flight(), 0);
    }

    #[test]
    fn data_in_sequences_split_by_mrdsl_and_max_burst() {
        let mut e = engine();
        let mut cdb = [0u8; 16];
        cdb[0] = 0x28;
        e.handle_pdu(
            PduBuf::header_only(ScsiCommand {
                final_bit: true,
                read: true,
                itt: Itt(4),
                cmd_sn: CmdSn(10),
                expected_data_transfer_length: 40_000,
                cdb,
                ..ScsiCommand::default()
            }),
            0,
            &sizer,
        );
        let _ = drain(&mut e);
        e.complete(Itt(4), &Response::good(Bytes::from(vec![9u8; 40_000])));
        let (out, _) = drain(&mut e);
        let data_ins: Vec<DataIn> = out
            .iter()
            .filter_map(|p| match p.bhs {
                Bhs::DataIn(d) => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(data_ins.len(), 5); // 8192 × 4 + 7232
        assert!(
            data_ins
                .iter()
                .enumerate()
                .all(|(i, d)| d.data_sn == DataSn(i as u32))
        );
        // F at each 16 KiB MaxBurstLength boundary and at the end; S only at the end.
        let finals: Vec<bool> = data_ins.iter().map(|d| d.final_bit).collect();
        assert_eq!(finals, [false, true, false, true, true]);
        assert_eq!(data_ins[4].status, Some(ScsiStatus::GOOD));
        assert!(data_ins[..4].iter().all(|d| d.status.is_none()));
        assert_eq!(out.len(), 5, "status collapsed into the last Data-In");
        let _ = Status::GOOD;
    }

    #[test]
    fn discovery_sessions_reject_scsi_commands() {
        let mut p = params();
        p.session_type = SessionType::Discovery;
        let mut e = Engine::new(p, EngineConfig::default(), 0);
        e.handle_pdu(write_cmd(1, 10, true, 1, &[]), 0, &sizer);
        let (out, events) = drain(&mut e);
        assert!(events.is_empty());
        assert!(matches!(out[0].bhs, Bhs::Reject(r) if r.reason == RejectReason::PROTOCOL_ERROR));
    }

    #[test]
    fn a_data_digest_error_rejects_and_fails_the_task() {
        let mut e = engine();
        e.handle_pdu(write_cmd(6, 10, true, 8, &[]), 0, &sizer);
        let (out, _) = drain(&mut e);
        let Bhs::R2t(r) = out[0].bhs else { panic!() };
        let bad = data_out(6, r.ttt, 0, 0, 8192, true);
        let mut header = BytesMut::new();
        bad.encode_header(iscsi_pdu::Digests::NONE, &mut header)
            .unwrap();
        e.handle_data_digest_error(header.freeze(), 0);
        let (out, _) = drain(&mut e);
        assert!(out.iter().any(
            |p| matches!(p.bhs, Bhs::Reject(r) if r.reason == RejectReason::DATA_DIGEST_ERROR)
        ));
        assert!(out.iter().any(
            |p| matches!(p.bhs, Bhs::ScsiResponse(r) if r.status == ScsiStatus::CHECK_CONDITION)
        ));
    }

    #[test]
    fn nop_in_keepalive_and_dead_peer() {
        let mut e = Engine::new(
            params(),
            EngineConfig {
                nop_in_interval_ms: 100,
                nop_in_timeout_ms: 50,
                ..EngineConfig::default()
            },
            0,
        );
        assert_eq!(e.poll_timeout(), Some(100));
        e.handle_timeout(100);
        let (out, _) = drain(&mut e);
        let Bhs::NopIn(ping) = out[0].bhs else {
            panic!()
        };
        assert_eq!(
            ping.stat_sn,
            StatSn(100),
            "an unsolicited NOP-In does not advance StatSN"
        );
        assert_eq!(e.poll_timeout(), Some(150));
        e.handle_timeout(150);
        let (_, events) = drain(&mut e);
        assert!(matches!(events[..], [Event::Close { .. }]));
    }
}
