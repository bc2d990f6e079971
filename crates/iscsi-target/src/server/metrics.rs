//! Metrics in the Prometheus text format at `/metrics`, named after the
//! iSCSI-MIB (RFC 4544) and the SCSI-MIB (RFC 4455) where they have a
//! name (given in each metric's HELP). Counting on the I/O path takes no
//! lock: each unit holds its own counters and histograms (atomics), made
//! when the unit is; only label lookups at unit creation, on errors and at
//! scrape time go through the registry's maps.

use std::net::SocketAddr;
use std::time::Duration;

use iscsi_scsi::Command;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::*;

/// Latency buckets, seconds: 25 µs to 10 s.
const BUCKETS: [f64; 18] = [
    25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3,
    500e-3, 1.0, 2.5, 5.0, 10.0,
];

/// The server's metrics.
#[derive(Debug)]
pub(super) struct Metrics {
    registry: Registry,
    lu_commands: IntCounterVec,
    lu_read_bytes: IntCounterVec,
    lu_written_bytes: IntCounterVec,
    lu_latency: HistogramVec,
    lu_check_conditions: IntCounterVec,
    logins: IntCounterVec,
    tmfs: IntCounterVec,
    digest_errors: IntCounter,
    format_errors: IntCounter,
    timeouts: IntCounter,
    r2ts: IntCounter,
    sessions: IntGaugeVec,
    discovery_sessions: IntGauge,
    connections: IntGauge,
}

/// What kind of command, for the per-LUN counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Read,
    Write,
    Other,
}

impl Op {
    fn of(command: Option<&Command>) -> Self {
        match command {
            Some(Command::Read(_)) => Self::Read,
            Some(
                Command::Write { .. }
                | Command::WriteAndVerify { .. }
                | Command::OrWrite(_)
                | Command::CompareAndWrite(_)
                | Command::WriteSame { .. },
            ) => Self::Write,
            _ => Self::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Other => "other",
        }
    }
}

/// One unit's counters: atomics, counted without a lock.
#[derive(Debug)]
pub(super) struct UnitMetrics {
    target: String,
    lun: String,
    commands: [IntCounter; 3],
    latency: [Histogram; 3],
    read_bytes: IntCounter,
    written_bytes: IntCounter,
    check_conditions: IntCounterVec,
}

impl UnitMetrics {
    /// Counts one completed command that took `elapsed`.
    pub(super) fn count(&self, task: &ScsiTask, response: &Response, elapsed: Duration) {
        let op = Op::of(task.command.as_ref());
        let i = op as usize;
        if let (Some(c), Some(h)) = (self.commands.get(i), self.latency.get(i)) {
            c.inc();
            h.observe(elapsed.as_secs_f64());
        }
        if op == Op::Read {
            self.read_bytes.inc_by(response.data.len() as u64);
        }
        if op == Op::Write {
            self.written_bytes
                .inc_by(task.data_out.iter().map(|b| b.len() as u64).sum::<u64>());
        }
        if let Some(sense) = &response.sense {
            // Rare: the label lookup may take the registry's lock.
            self.check_conditions
                .with_label_values(&[&self.target, &self.lun, &sense.key.to_string()])
                .inc();
        }
    }
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = registry.register(Box::new(c.clone()));
    c
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = registry.register(Box::new(c.clone()));
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    let _ = registry.register(Box::new(g.clone()));
    g
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new();
        let lu = ["target", "lun"];
        let lu_op = ["target", "lun", "op"];
        let lu_latency = HistogramVec::new(
            HistogramOpts::new(
                "iscsi_lu_command_seconds",
                "Time from a command's arrival (all its data in) to its status, by kind: read, write or other",
            )
            .buckets(BUCKETS.to_vec()),
            &lu_op,
        )
        .unwrap_or_else(|e| unreachable!("iscsi_lu_command_seconds: {e}"));
        let _ = r.register(Box::new(lu_latency.clone()));
        let sessions = IntGaugeVec::new(
            Opts::new(
                "iscsi_sessions",
                "Normal sessions logged in, by target (iscsiTgtSsn rows)",
            ),
            &["target"],
        )
        .unwrap_or_else(|e| unreachable!("iscsi_sessions: {e}"));
        let _ = r.register(Box::new(sessions.clone()));
        Self {
            lu_commands: counter_vec(
                &r,
                "iscsi_lu_commands_total",
                "SCSI commands completed, by kind: read, write or other (scsiLuInCommands)",
                &lu_op,
            ),
            lu_read_bytes: counter_vec(
                &r,
                "iscsi_lu_read_bytes_total",
                "Bytes read by initiators, Data-In of READ commands (scsiLuReadMegaBytes, in bytes)",
                &lu,
            ),
            lu_written_bytes: counter_vec(
                &r,
                "iscsi_lu_written_bytes_total",
                "Bytes written by initiators, Data-Out of write commands (scsiLuWrittenMegaBytes, in bytes)",
                &lu,
            ),
            lu_latency,
            lu_check_conditions: counter_vec(
                &r,
                "iscsi_lu_check_conditions_total",
                "Commands that ended in CHECK CONDITION, by sense key",
                &["target", "lun", "sense_key"],
            ),
            logins: counter_vec(
                &r,
                "iscsi_logins_total",
                "Logins answered, by Login Response status and the iSCSI-MIB counter it adds to \
                 (iscsiTgtLoginAccepts, ...Redirects, ...AuthenticateFails, ...AuthorizeFails, \
                 ...NegotiateFails, ...OtherFails)",
                &["status", "mib"],
            ),
            tmfs: counter_vec(
                &r,
                "iscsi_task_management_total",
                "Task management functions carried out, by function",
                &["function"],
            ),
            digest_errors: counter(
                &r,
                "iscsi_digest_errors_total",
                "PDUs whose header or data digest did not match (iscsiInstSsnDigestErrors)",
            ),
            format_errors: counter(
                &r,
                "iscsi_format_errors_total",
                "PDUs with framing or format errors, RFC 7143 section 7.13 (iscsiInstSsnFormatErrors)",
            ),
            timeouts: counter(
                &r,
                "iscsi_connection_timeouts_total",
                "Connections dropped because a NOP-In ping stayed unanswered (iscsiInstSsnCxnTimeoutErrors)",
            ),
            r2ts: counter(&r, "iscsi_r2ts_total", "R2T PDUs sent"),
            sessions,
            discovery_sessions: gauge(
                &r,
                "iscsi_discovery_sessions",
                "Discovery sessions logged in",
            ),
            connections: gauge(
                &r,
                "iscsi_connections",
                "TCP connections open, logging in or logged in",
            ),
            registry: r,
        }
    }
}

impl Metrics {
    /// The counters of LUN `lun` of `target`, made now.
    pub(super) fn unit(&self, target: &str, lun: u16) -> UnitMetrics {
        let lun = lun.to_string();
        let ops = [Op::Read, Op::Write, Op::Other];
        UnitMetrics {
            commands: ops.map(|op| {
                self.lu_commands
                    .with_label_values(&[target, &lun, op.label()])
            }),
            latency: ops.map(|op| {
                self.lu_latency
                    .with_label_values(&[target, &lun, op.label()])
            }),
            read_bytes: self.lu_read_bytes.with_label_values(&[target, &lun]),
            written_bytes: self.lu_written_bytes.with_label_values(&[target, &lun]),
            check_conditions: self.lu_check_conditions.clone(),
            target: target.to_owned(),
            lun,
        }
    }

    /// Drops the series of a removed LUN.
    pub(super) fn forget_unit(&self, target: &str, lun: u16) {
        let lun = lun.to_string();
        for op in [Op::Read, Op::Write, Op::Other] {
            let _ = self
                .lu_commands
                .remove_label_values(&[target, &lun, op.label()]);
            let _ = self
                .lu_latency
                .remove_label_values(&[target, &lun, op.label()]);
        }
        let _ = self.lu_read_bytes.remove_label_values(&[target, &lun]);
        let _ = self.lu_written_bytes.remove_label_values(&[target, &lun]);
        // The CHECK CONDITION series (one per sense key seen) stay: the
        // registry removes a series by its whole label set only.
    }

    /// A login answered with `status`.
    pub(super) fn login(&self, status: LoginStatus) {
        let mib = match (status.class_code(), status.code()) {
            (0, _) => "iscsiTgtLoginAccepts",
            (1, _) => "iscsiTgtLoginRedirects",
            (_, 0x0201) => "iscsiTgtLoginAuthenticateFails",
            (_, 0x0202) => "iscsiTgtLoginAuthorizeFails",
            (2, 0x0205 | 0x0207 | 0x0208 | 0x0209 | 0x020a | 0x020c) => {
                "iscsiTgtLoginNegotiateFails"
            }
            _ => "iscsiTgtLoginOtherFails",
        };
        self.logins
            .with_label_values(&[&format!("0x{:04x}", status.code()), mib])
            .inc();
    }

    /// A task management function carried out.
    pub(super) fn task_management(&self, function: TmfFunction) {
        let name = function
            .name()
            .map_or_else(|| function.to_string(), str::to_owned);
        self.tmfs.with_label_values(&[&name]).inc();
    }

    /// What a connection counted.
    pub(super) fn connection(&self, c: ConnectionCounters) {
        self.digest_errors.inc_by(c.digest_errors);
        self.format_errors.inc_by(c.format_errors);
        self.timeouts.inc_by(c.timeouts);
        self.r2ts.inc_by(c.r2ts);
    }

    /// The text exposition of every metric, the session and connection
    /// gauges read from `inner` now.
    pub(super) fn render(&self, inner: &Inner) -> String {
        self.sessions.reset();
        let mut discovery = 0;
        for e in lock(&inner.sessions).by_key.values() {
            match &e.target {
                Some(t) => self.sessions.with_label_values(&[t]).inc(),
                None => discovery += 1,
            }
        }
        self.discovery_sessions.set(discovery);
        self.connections
            .set(i64::try_from(inner.connections.load(Ordering::Acquire)).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The metrics endpoint's task.
#[derive(Debug)]
pub(super) struct MetricsEndpoint {
    task: tokio::task::JoinHandle<()>,
}

impl MetricsEndpoint {
    pub(super) fn close(self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves the metrics in the Prometheus text format over HTTP at
    /// `http://ADDRESS/metrics` (port 0 picks a free port). Returns the
    /// bound address. Meant for loopback or a management network: it has
    /// no authentication.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn serve_metrics(&self, address: SocketAddr) -> io::Result<SocketAddr> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let listener = {
            let _guard = self.inner.runtime.enter();
            TcpListener::from_std(listener)?
        };
        let inner = self.inner.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let inner = inner.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        inner.metrics.render(&inner),
                    )
                }
            }),
        );
        let task = self.inner.runtime.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                warn!(error = %e, "metrics endpoint stopped");
            }
        });
        info!(address = %bound, "metrics at /metrics");
        if let Some(old) = lock(&self.inner.metrics_endpoint).replace(MetricsEndpoint { task }) {
            old.close();
        }
        Ok(bound)
    }
}
