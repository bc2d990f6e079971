//! One TCP connection's driver: reads into the buffer and feeds the
//! sans-IO [`Connection`], writes what it encodes, and answers its events
//! (sessions, SCSI commands, task management), timers, shutdown and the
//! session's kill switch.

use super::*;
use bytes::Bytes;
use iscsi_scsi::{Begun, Command};

/// What one connection's driver tells its [`Connection`] about the
/// deployment: the login questions, and once logged in, the target whose
/// logical units size each command's Data-Out.
struct Site<'a> {
    inner: &'a Inner,
    target: Option<Arc<TargetState>>,
}

impl TargetPolicy for Site<'_> {
    fn accepting_logins(&self) -> bool {
        self.inner.accepting.load(Ordering::Acquire)
    }

    fn connection_limit_reached(&self) -> bool {
        self.inner.connections.load(Ordering::Acquire) > self.inner.limits.max_connections
    }

    fn target(&self, name: &str) -> TargetLookup {
        match self.inner.target(name) {
            Some(t) if t.is_removed() => TargetLookup::Removed,
            Some(t) => TargetLookup::Found {
                auth: read(&t.auth).clone(),
                alias: t.alias.clone(),
            },
            None => TargetLookup::NotFound,
        }
    }

    fn authorize(&self, target: &str, initiator: &str) -> bool {
        self.inner
            .target(target)
            .is_some_and(|t| t.admits(initiator))
    }

    fn discovery_auth(&self) -> AuthConfig {
        read(&self.inner.discovery_auth).clone()
    }

    fn session_exists(&self, initiator: &str, isid: Isid, tsih: Tsih) -> bool {
        lock(&self.inner.sessions)
            .by_key
            .get(&(initiator.to_owned(), isid))
            .is_some_and(|e| e.tsih == tsih)
    }
}

impl Deployment for Site<'_> {
    fn data_out_len(&self, lun: Lun, cdb: &[u8], command: &Command) -> usize {
        let (Some(t), Some(i)) = (&self.target, lun.index()) else {
            return 0;
        };
        read(&t.luns)
            .get(&i)
            .map_or(0, |u| u.lu.data_out_buffer_size(cdb, command))
    }
}

/// Writes what the connection encoded: everything queued goes to one
/// vectored write (tokio's `write_all_buf` uses `chunks_vectored`).
async fn writer(
    mut socket: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<EncodedPdus>,
) {
    while let Some(mut out) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            out.append(more);
        }
        if socket.write_all_buf(&mut out).await.is_err() {
            return;
        }
    }
    let _ = socket.shutdown().await;
}

/// One connection's driver: the [`Connection`] and what the runtime holds
/// for it.
struct Driver<'a> {
    inner: &'a Arc<Inner>,
    peer: SocketAddr,
    portal: Portal,
    conn: Connection,
    site: Site<'a>,
    /// The receive buffer.
    buf: BytesMut,
    /// The I_T nexus, once logged in.
    nexus: Option<Nexus>,
    /// The registered session: InitiatorName, ISID, TSIH.
    registered: Option<(String, Isid, Tsih)>,
    /// The session's kill switch (reinstatement, target removal, reset).
    kill: watch::Receiver<bool>,
    /// Where blocking-pool commands report back.
    done: mpsc::UnboundedSender<(Itt, Response)>,
    /// How other sessions reach this one (registered with the nexus).
    control: mpsc::UnboundedSender<Control>,
    /// What the session did (`session_list`).
    counters: Arc<SessionCounters>,
}

impl Driver<'_> {
    /// Feeds the buffered bytes, answering events after each PDU that
    /// raised one.
    fn feed(&mut self) {
        while self
            .conn
            .handle_bytes(self.inner.now_ms(), &mut self.buf, &self.site)
        {
            self.answer_events();
        }
        self.answer_events();
    }

    /// Answers the connection's events.
    fn answer_events(&mut self) {
        let inner = self.inner;
        let peer = self.peer;
        while let Some(event) = self.conn.poll_event() {
            match event {
                ConnEvent::SessionRequested(p) => match inner.register_session(&p) {
                    Some((tsih, kill)) => {
                        self.kill = kill;
                        self.registered = Some((p.initiator_name.clone(), p.isid, tsih));
                        self.conn.accept_session(tsih);
                        // PDUs that followed the last Login Request.
                        self.feed();
                    }
                    None => self
                        .conn
                        .refuse_session(LoginStatus::OUT_OF_RESOURCES, "no session slot is free"),
                },
                ConnEvent::LoggedIn(p) => {
                    inner.metrics.login(LoginStatus::SUCCESS);
                    info!(%peer, initiator = %p.initiator_name, target = p.target_name.as_deref().unwrap_or("(discovery)"), tsih = p.tsih.0, "logged in");
                    self.site.target = p.target_name.as_deref().and_then(|n| inner.target(n));
                    let nexus = Nexus::new(
                        inner.next_nexus.fetch_add(1, Ordering::Relaxed),
                        format!("{},i,0x{}", p.initiator_name, p.isid),
                        self.portal.group,
                    );
                    if let Some(t) = &self.site.target {
                        // Registered before the units are read: a LUN added
                        // meanwhile either is among them or finds the nexus
                        // registered (`lun_add`).
                        inner
                            .controls
                            .register(&nexus, &t.name, self.control.clone());
                        for unit in t.units() {
                            unit.lu.add_nexus(&nexus);
                        }
                    }
                    if let Some((initiator, isid, tsih)) = &self.registered {
                        inner.session_logged_in(
                            initiator,
                            *isid,
                            *tsih,
                            Arc::new(SessionInfo {
                                params: (*p).clone(),
                                peer,
                                portal: self.portal,
                                since_ms: inner.now_ms(),
                                control: self.control.clone(),
                                counters: self.counters.clone(),
                            }),
                        );
                    }
                    self.nexus = Some(nexus);
                }
                ConnEvent::LoginFailed { status, reason } => {
                    inner.metrics.login(status);
                    info!(%peer, status = %status, %reason, "login refused");
                }
                ConnEvent::Execute(task) => self.execute(task),
                ConnEvent::TaskManagement { itt, function, lun } => {
                    inner.metrics.task_management(function);
                    let response =
                        self.nexus
                            .as_ref()
                            .map_or(TmfResponseCode::FUNCTION_REJECTED, |nexus| {
                                task_management(
                                    inner,
                                    self.site.target.as_ref(),
                                    nexus,
                                    function,
                                    lun,
                                )
                            });
                    self.conn.complete_task_management(itt, response);
                }
                ConnEvent::Logout => {}
                ConnEvent::Closed { reason } => debug!(%peer, %reason, "closing the connection"),
            }
        }
    }

    /// Forgets the nexus and the session when the connection ends.
    fn finish(&self) {
        if let Some(nexus) = &self.nexus {
            self.inner.controls.forget(nexus.id);
        }
        if let (Some(nexus), Some(t)) = (&self.nexus, &self.site.target) {
            for unit in t.units() {
                unit.lu.nexus_lost(nexus.id);
            }
        }
        if self.nexus.is_some() {
            info!(peer = %self.peer, "session ended");
        }
        if let Some((initiator, isid, tsih)) = &self.registered {
            self.inner.unregister_session(initiator, *isid, *tsih);
        }
    }
}

/// Drives one connection: reads into the buffer and feeds the
/// [`Connection`], hands its output to the writer task, answers its events,
/// its timers, shutdown and the session's kill switch.
pub(super) async fn connection(
    inner: &Arc<Inner>,
    stream: TcpStream,
    peer: SocketAddr,
    portal: Portal,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer_task = tokio::spawn(writer(wr, rx));
    let (done, mut done_rx) = mpsc::unbounded_channel::<(Itt, Response)>();
    let (control, mut control_rx) = mpsc::unbounded_channel::<Control>();
    let mut d = Driver {
        inner,
        peer,
        portal,
        conn: Connection::new(
            inner.connection_config(portal),
            Box::new(OsChallengeSource::new()),
            inner.now_ms(),
        ),
        site: Site {
            inner,
            target: None,
        },
        buf: BytesMut::with_capacity(256 * 1024),
        nexus: None,
        registered: None,
        // No session yet: a kill switch that never fires (its sender is gone).
        kill: watch::channel(false).1,
        done,
        control,
        counters: Arc::default(),
    };
    let mut shutdown = inner.shutdown.subscribe();
    let grace = inner.limits.shutdown_grace_s;
    let result: io::Result<()> = loop {
        let sleep_until = d
            .conn
            .poll_timeout()
            .map(|ms| inner.started + Duration::from_millis(ms))
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            read = rd.read_buf(&mut d.buf) => match read {
                Ok(0) => break Ok(()),
                Ok(_) => d.feed(),
                Err(e) => break Err(e),
            },
            Some((itt, response)) = done_rx.recv() => d.conn.complete(itt, &response),
            Some(control) = control_rx.recv() => match control {
                Control::AbortTaskSet(lun) => d.conn.abort_task_set(lun),
                Control::RequestLogout(seconds) => d.conn.request_logout(seconds),
            },
            () = sleep_or_pending(sleep_until) => d.conn.handle_timeout(inner.now_ms()),
            Ok(()) = shutdown.changed() => d.conn.request_logout(grace),
            Ok(()) = d.kill.changed() => {
                if *d.kill.borrow() {
                    d.conn.close("session closed by the target");
                }
            }
        }
        d.answer_events();
        while let Some(out) = d.conn.poll_transmit() {
            let _ = tx.send(out);
        }
        let counted = d.conn.take_counters();
        if counted != ConnectionCounters::default() {
            inner.metrics.connection(counted);
        }
        if d.conn.is_closed() {
            break Ok(());
        }
    };
    d.finish();
    drop(tx);
    let _ = writer_task.await;
    result
}

async fn sleep_or_pending(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Driver<'_> {
    /// Runs a SCSI command: on the connection's task for RAM units, on the
    /// blocking pool for the others and for long commands.
    fn execute(&mut self, task: ScsiTask) {
        let (Some(nexus), Some(target)) = (&self.nexus, &self.site.target) else {
            self.conn.complete(task.itt, &lun_not_supported(&task.cdb));
            return;
        };
        if matches!(task.command, Some(Command::ReportLuns { .. })) {
            self.conn
                .complete(task.itt, &report_luns(&target.lun_ids(), &task.cdb));
            return;
        }
        let Some(unit) = task.lun.index().and_then(|i| target.unit(i)) else {
            self.conn.complete(task.itt, &lun_not_supported(&task.cdb));
            return;
        };
        // A copy or a sanitize moves up to gigabytes: never on the
        // connection's task. A copy may name the units the session's
        // initiator could reach itself, as they are now.
        let copy = matches!(task.command, Some(Command::ExtendedCopy { .. }));
        let long = copy || matches!(task.command, Some(Command::Sanitize { .. }));
        let reach = if copy {
            let initiator = self.registered.as_ref().map_or("", |(i, _, _)| i.as_str());
            CopyReach::of(&self.inner.all_targets(), target, initiator)
        } else {
            CopyReach::default()
        };
        let started = Instant::now();
        if unit.inline && !long {
            let response = unit
                .lu
                .execute(&request(nexus, &task).with_copy_targets(&reach));
            finished(nexus, &task, &unit, &self.counters, started, &response);
            self.conn.complete(task.itt, &response);
            return;
        }
        // READ and WRITE on a backend with asynchronous I/O: checked here,
        // transferred by the backend's completions, no thread waiting.
        if let Some(aio) = unit.aio.clone()
            && !long
        {
            let plan = match unit.lu.begin(&request(nexus, &task)) {
                Begun::Done(response) => {
                    finished(nexus, &task, &unit, &self.counters, started, &response);
                    self.conn.complete(task.itt, &response);
                    return;
                }
                Begun::Read(plan) => Some((plan, false)),
                Begun::Write(plan) => Some((plan, true)),
                // Begun::Execute: the blocking pool below.
                _ => None,
            };
            if let Some((plan, write)) = plan {
                let nexus = nexus.clone();
                let done = self.done.clone();
                let counters = self.counters.clone();
                tokio::spawn(async move {
                    let response = if write {
                        let parts = first_bytes(&task.data_out, plan.len);
                        let mut result = aio.write(plan.offset, parts).await;
                        if result.is_ok() && plan.flush {
                            result = aio.flush().await;
                        }
                        unit.lu.finish_write(plan, result)
                    } else {
                        let data = aio.read(plan.offset, plan.len).await;
                        unit.lu.finish_read(plan, data)
                    };
                    finished(&nexus, &task, &unit, &counters, started, &response);
                    let _ = done.send((task.itt, response));
                });
                return;
            }
        }
        let nexus = nexus.clone();
        let done = self.done.clone();
        let counters = self.counters.clone();
        tokio::task::spawn_blocking(move || {
            let response = unit
                .lu
                .execute(&request(&nexus, &task).with_copy_targets(&reach));
            finished(&nexus, &task, &unit, &counters, started, &response);
            let _ = done.send((task.itt, response));
        });
    }
}

/// What follows every command: a backend failure logged, the command
/// counted for its session and its unit.
fn finished(
    nexus: &Nexus,
    task: &ScsiTask,
    unit: &Unit,
    counters: &SessionCounters,
    started: Instant,
    response: &Response,
) {
    log_backend_error(nexus, task, response);
    count(counters, task, response);
    unit.metrics.count(task, response, started.elapsed());
}

/// The first `len` bytes of a Data-Out, as slices of its buffers (no copy).
fn first_bytes(data_out: &[Bytes], len: usize) -> Vec<Bytes> {
    let mut left = len;
    let mut parts = Vec::with_capacity(data_out.len());
    for b in data_out {
        if left == 0 {
            break;
        }
        let n = b.len().min(left);
        parts.push(b.slice(..n));
        left -= n;
    }
    parts
}

/// Counts a completed command in its session's counters.
fn count(counters: &SessionCounters, task: &ScsiTask, response: &Response) {
    counters.commands.fetch_add(1, Ordering::Relaxed);
    counters.write_bytes.fetch_add(
        task.data_out.iter().map(|b| b.len() as u64).sum::<u64>(),
        Ordering::Relaxed,
    );
    counters
        .read_bytes
        .fetch_add(response.data.len() as u64, Ordering::Relaxed);
    if response.status == iscsi_scsi::Status::CHECK_CONDITION {
        counters.check_conditions.fetch_add(1, Ordering::Relaxed);
    }
}

/// A MEDIUM ERROR's cause goes to the log: the initiator only sees the
/// sense data, the operator needs the OS error.
fn log_backend_error(nexus: &Nexus, task: &ScsiTask, response: &Response) {
    if let Some(error) = &response.backend_error {
        tracing::error!(
            initiator = %nexus.initiator_port,
            lun = ?task.lun.index(),
            opcode = format_args!("{:#04x}", task.cdb.first().copied().unwrap_or(0)),
            %error,
            "backend I/O failed; answered CHECK CONDITION, MEDIUM ERROR"
        );
    }
}

/// The SCSI request of a task, with the Data-Out length the initiator announced.
fn request<'a>(nexus: &'a Nexus, task: &'a ScsiTask) -> Request<'a> {
    let mut r = Request::new(nexus, &task.cdb, &task.data_out);
    if let Some(n) = task.announced_data_out {
        r = r.with_announced_data_out(n);
    }
    match task.command {
        Some(command) => r.with_command(command),
        None => r,
    }
}

fn task_management(
    inner: &Arc<Inner>,
    target: Option<&Arc<TargetState>>,
    nexus: &Nexus,
    function: TmfFunction,
    lun: Lun,
) -> TmfResponseCode {
    let Some(target) = target else {
        return TmfResponseCode::FUNCTION_REJECTED;
    };
    match function {
        TmfFunction::LOGICAL_UNIT_RESET => match lun.index().and_then(|i| target.unit(i)) {
            Some(unit) => {
                // Every nexus, the issuing one too, gets the unit attention
                // (SAM-5 §7.7; LIO does the same, multipath initiators rely on it).
                unit.lu.reset(ResetKind::LogicalUnit, None);
                // The reset aborts every task for the unit, other
                // sessions' too (the issuing session's engine did its own).
                inner.controls.send_target(
                    &target.name,
                    nexus.id,
                    Control::AbortTaskSet(Some(lun)),
                );
                TmfResponseCode::FUNCTION_COMPLETE
            }
            None => TmfResponseCode::LUN_DOES_NOT_EXIST,
        },
        TmfFunction::TARGET_WARM_RESET | TmfFunction::TARGET_COLD_RESET => {
            let kind = if function == TmfFunction::TARGET_COLD_RESET {
                ResetKind::TargetCold
            } else {
                ResetKind::TargetWarm
            };
            for unit in target.units() {
                unit.lu.reset(kind, Some(nexus.id));
            }
            inner
                .controls
                .send_target(&target.name, nexus.id, Control::AbortTaskSet(None));
            if kind == ResetKind::TargetCold {
                // A cold reset ends every session of the target (SAM-5 §6.3.4)
                // once the response has gone out.
                for s in lock(&inner.sessions).by_key.values() {
                    if s.target.as_deref() == Some(target.name.as_str()) {
                        let kill = s.kill.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            let _ = kill.send(true);
                        });
                    }
                }
            }
            TmfResponseCode::FUNCTION_COMPLETE
        }
        _ => TmfResponseCode::FUNCTION_COMPLETE,
    }
}
