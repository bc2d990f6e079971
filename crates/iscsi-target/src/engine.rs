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
use iscsi_pdu::{
    AsyncEvent, AsyncMessage, Bhs, CmdSn, DataIn, DataOut, DataSn, Itt, Lun, NopIn, NopOut, Pdu,
    PduBuf, PduError, R2t, R2tSn, Reject, RejectReason, ScsiCommand, ScsiResponse,
    ScsiResponseCode, ScsiStatus, StatSn, TmfFunction, Ttt,
};
use iscsi_scsi::{Asc, Command, Response, Sense, SenseKey};

mod task_management;
mod text;

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

/// What an [`Engine`] counts for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineCounters {
    /// R2T PDUs sent.
    pub r2ts: u64,
    /// NOP-In pings left unanswered for the timeout: the connection was
    /// dropped (RFC 4544 iscsiInstSsnCxnTimeoutErrors).
    pub ping_timeouts: u64,
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
    /// The CDB decoded once on arrival (`None` when it does not decode:
    /// the logical unit then answers the error).
    pub command: Option<Command>,
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
    /// `cdb` decoded on arrival.
    command: Option<Command>,
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
    /// Counted since the last [`Engine::take_counters`].
    counters: EngineCounters,
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
            counters: EngineCounters::default(),
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

    /// Handles one received PDU. `data_out_len(lun, cdb, command)` says how many
    /// bytes of Data-Out a CDB wants (from the logical unit), so the engine
    /// solicits exactly what the command uses.
    pub fn handle_pdu(
        &mut self,
        pdu: PduBuf,
        now_ms: u64,
        data_out_len: &dyn Fn(Lun, &[u8], &Command) -> usize,
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
        data_out_len: &dyn Fn(Lun, &[u8], &Command) -> usize,
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
    fn release_deferred(&mut self, data_out_len: &dyn Fn(Lun, &[u8], &Command) -> usize) {
        while let Some(pdu) = self.deferred.remove(&self.exp_cmd_sn.0) {
            self.exp_cmd_sn = self.exp_cmd_sn.next();
            self.dispatch(pdu, data_out_len);
        }
    }

    fn dispatch(&mut self, pdu: PduBuf, data_out_len: &dyn Fn(Lun, &[u8], &Command) -> usize) {
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
        data_out_len: &dyn Fn(Lun, &[u8], &Command) -> usize,
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
            self.tasks.insert(h.itt, self.new_task(h, cdb, None, 0));
            self.finish(h.itt, &response);
            return;
        }
        // The CDB is decoded once, here: for the Data-Out it wants and for
        // the logical unit that runs it.
        let command = Command::parse(&cdb).ok();
        let wanted = match &command {
            Some(command) if h.write => {
                u32::try_from(data_out_len(h.lun, &cdb, command)).unwrap_or(u32::MAX)
            }
            _ => 0,
        };
        let mut task = self.new_task(h, cdb, command, wanted);
        // Immediate data (RFC 7143 §3.2.4.2).
        if !pdu.data.is_empty() {
            task.receive(0, pdu.data.clone());
        }
        task.unsolicited_open = h.write && !h.final_bit && !self.params.initial_r2t;
        self.tasks.insert(h.itt, task);
        self.progress(h.itt);
    }

    fn new_task(&self, h: &ScsiCommand, cdb: Bytes, command: Option<Command>, wanted: u32) -> Task {
        let edtl = h.expected_data_transfer_length;
        Task {
            lun: h.lun,
            cdb,
            command,
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
                command: task.command,
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
            self.counters.r2ts += 1;
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

    /// What was counted since the last call (R2Ts sent, pings unanswered),
    /// for metrics; the counts start again from zero.
    pub fn take_counters(&mut self) -> EngineCounters {
        std::mem::take(&mut self.counters)
    }

    /// Time passed: send a NOP-In ping after an idle interval, close the
    /// connection when a ping stays unanswered (a dead peer).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.config.nop_in_interval_ms == 0 || self.closed {
            return;
        }
        match self.ping {
            Some((_, sent)) if now_ms >= sent + self.config.nop_in_timeout_ms => {
                self.counters.ping_timeouts += 1;
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
mod tests;
