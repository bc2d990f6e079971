//! Task management (RFC 7143 §11.5, SAM-5 §7) and Logout (§11.14).

use iscsi_pdu::{
    CmdSn, Itt, LogoutReason, LogoutRequest, LogoutResponse, LogoutResponseCode, PduBuf,
    TaskManagementRequest, TaskManagementResponse, TmfFunction, TmfResponseCode,
};

use super::{Engine, Event, Task};

impl Engine {
    pub(super) fn logout(&mut self, h: &LogoutRequest) {
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

    pub(super) fn task_management(&mut self, h: &TaskManagementRequest) {
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

    /// Aborts this session's tasks for `lun` (`None`: for every LUN)
    /// because another I_T nexus asked (PREEMPT AND ABORT, SPC-4
    /// §5.13.11.2.5; LOGICAL UNIT RESET or TARGET RESET from another
    /// session, SAM-5 §7): tasks waiting for data or their turn are
    /// dropped, a task the logical unit is running sends no status when it
    /// ends. With TAS 0 in the Control mode page, no aborted task gets a
    /// TASK ABORTED status.
    pub fn abort_task_set(&mut self, lun: Option<iscsi_pdu::Lun>) {
        self.abort_tasks(|t| lun.is_none_or(|l| t.lun == l));
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
}
