//! The admin interface: JSON-RPC 2.0 over a Unix domain socket, one
//! request or batch per line, one response per line (notifications get
//! none). The socket is created with mode 0600, so only the user running
//! the target (and root) may connect; it is never on TCP.
//!
//! Methods and their parameters (sizes are bytes or `"64M"`, `"1G"`, …):
//!
//! | method | params | result |
//! |---|---|---|
//! | `target_create` | `name`, `alias`? | `{name}` |
//! | `target_delete` | `name`, `force`? | `{sessions}`: asked to log out |
//! | `target_list` | | `{targets: [{name, alias, luns, acl, chap_user, mutual_chap_user, sessions}]}` |
//! | `lun_add` | `target`, `lun`, `backing` (`"memory"` or `"file:PATH"`), `size`?, `block_size`?, `physical_block_size`?, `read_only`? | `{target, lun, size}` |
//! | `lun_remove` | `target`, `lun` | `{target, lun}` |
//! | `lun_resize` | `target`, `lun`, `size`, `force`? (shrink) | `{from, to}` |
//! | `acl_add` | `target`, `initiator` | `{added}` |
//! | `acl_remove` | `target`, `initiator` | `{}` |
//! | `chap_set` | `target`? (none: discovery), `user`, `secret`, `mutual_user`?, `mutual_secret`? | `{}` |
//! | `chap_clear` | `target`? | `{}` |
//! | `portal_add` | `address`, `group`, `alua_state`? | `{address}` (as bound) |
//! | `portal_remove` | `address` | `{}` |
//! | `session_list` | | `{sessions: [...]}` |
//! | `session_logout` | `tsih` | `{}` |
//! | `config_get` | | `{path, toml, saved}` |
//! | `config_save` | `path`? | `{path}` |
//!
//! Errors are JSON-RPC errors: -32700 (not JSON), -32600 (not a request),
//! -32601 (no such method), -32602 (a parameter missing or of the wrong
//! type, or unknown), and the codes of [`AdminError::code`] (1001–1014)
//! with a message that says what was wrong.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::*;
use crate::config::{ALUA_STATES, LunConfig, RbdBacking, format_size, parse_size};
use iscsi_login::Secret;

/// The longest request line, bytes.
const MAX_LINE: u64 = 1 << 20;

/// The admin socket a server listens on, removed when the server stops.
#[derive(Debug)]
pub(super) struct AdminSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl AdminSocket {
    /// Stops serving and removes the socket file.
    pub(super) fn close(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Server {
    /// Serves the admin interface on a Unix domain socket at `path`
    /// (mode 0600; the directory is created, mode 0700, when missing). A
    /// socket file no server answers on is replaced; one a server answers
    /// on is an error. The socket is removed at shutdown.
    ///
    /// # Errors
    /// [`io::ErrorKind::AddrInUse`] when another server answers on
    /// `path`; the OS error when it cannot be created.
    pub fn serve_admin(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another server answers on {}", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        // Bound under a temporary name and renamed once it is 0600: no one
        // can connect while it still has the umask's mode.
        let file_name = path
            .file_name()
            .map_or_else(|| "admin".into(), |n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{file_name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let listener = std::os::unix::net::UnixListener::bind(&tmp)?;
        let ready = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&tmp, path))
            .and_then(|()| listener.set_nonblocking(true));
        if let Err(e) = ready {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let listener = {
            let _guard = self.inner.runtime.enter();
            UnixListener::from_std(listener)?
        };
        let inner = self.inner.clone();
        let task = self.inner.runtime.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve_client(inner.clone(), stream));
                    }
                    Err(e) => {
                        warn!(error = %e, "admin socket: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        info!(path = %path.display(), "admin interface listening");
        if let Some(old) = lock(&self.inner.admin).replace(AdminSocket {
            path: path.to_owned(),
            task,
        }) {
            old.close();
        }
        Ok(())
    }
}

/// Answers one client's requests, a line each, until it hangs up.
async fn serve_client(inner: Arc<Inner>, stream: UnixStream) {
    use tokio::io::AsyncReadExt;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        match (&mut rd)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.len() as u64 > MAX_LINE {
            // The rest of the line cannot be told from the next request:
            // answer and hang up.
            let mut text = error_response(
                Value::Null,
                -32600,
                format!("request longer than {MAX_LINE} bytes"),
            )
            .to_string();
            text.push('\n');
            let _ = wr.write_all(text.as_bytes()).await;
            return;
        }
        let answer = {
            let inner = inner.clone();
            tokio::task::spawn_blocking(move || answer(&inner, &line))
                .await
                .unwrap_or_else(|e| {
                    Some(error_response(
                        Value::Null,
                        -32603,
                        format!("internal error: {e}"),
                    ))
                })
        };
        if let Some(mut text) = answer.map(|v| v.to_string()) {
            text.push('\n');
            if wr.write_all(text.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// The response to one line: a request, a notification (no response) or a
/// batch.
fn answer(inner: &Arc<Inner>, line: &[u8]) -> Option<Value> {
    let request: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Some(error_response(
                Value::Null,
                -32700,
                format!("not JSON: {e}"),
            ));
        }
    };
    match request {
        Value::Array(batch) if batch.is_empty() => Some(error_response(
            Value::Null,
            -32600,
            "an empty batch".to_owned(),
        )),
        Value::Array(batch) => {
            let answers: Vec<Value> = batch.iter().filter_map(|r| call(inner, r)).collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        one => call(inner, &one),
    }
}

/// One request: its response, or `None` for a notification (no `id`).
fn call(inner: &Arc<Inner>, request: &Value) -> Option<Value> {
    let Some(obj) = request.as_object() else {
        return Some(error_response(
            Value::Null,
            -32600,
            "a request is a JSON object".to_owned(),
        ));
    };
    let id = obj.get("id").cloned();
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error_response(
            reply_id,
            -32600,
            "jsonrpc must be \"2.0\"".to_owned(),
        ));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return Some(error_response(
            reply_id,
            -32600,
            "method must be a string".to_owned(),
        ));
    };
    let empty = Map::new();
    let params = match obj.get("params") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Some(error_response(
                reply_id,
                -32602,
                "params must be an object of named parameters".to_owned(),
            ));
        }
    };
    let server = Server::handle(inner);
    let result = dispatch(&server, method, &Params(params));
    id.as_ref()?;
    Some(match result {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": reply_id}),
        Err(e) => error_response(reply_id, e.code, e.message),
    })
}

fn error_response(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id})
}

/// A JSON-RPC error: code and message.
#[derive(Debug)]
struct RpcError {
    code: i64,
    message: String,
}

impl From<AdminError> for RpcError {
    fn from(e: AdminError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

fn invalid_params(message: String) -> RpcError {
    RpcError {
        code: -32602,
        message,
    }
}

/// A request's named parameters.
struct Params<'a>(&'a Map<String, Value>);

impl Params<'_> {
    /// Fails on a parameter the method does not take (a typo must not be
    /// ignored).
    fn only(&self, known: &[&str]) -> Result<(), RpcError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(invalid_params(format!(
                "unknown parameter {k:?} (this method takes: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))),
            None => Ok(()),
        }
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, RpcError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(invalid_params(format!("{key} must be a string"))),
        }
    }

    fn str(&self, key: &str) -> Result<String, RpcError> {
        self.opt_str(key)?
            .ok_or_else(|| invalid_params(format!("{key} is missing")))
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, RpcError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| invalid_params(format!("{key} must be a whole number"))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid_params(format!("{key} must be a whole number, not {s:?}"))),
            Some(_) => Err(invalid_params(format!("{key} must be a whole number"))),
        }
    }

    fn u16(&self, key: &str) -> Result<u16, RpcError> {
        let n = self
            .opt_u64(key)?
            .ok_or_else(|| invalid_params(format!("{key} is missing")))?;
        u16::try_from(n).map_err(|_| invalid_params(format!("{key} {n} is too large")))
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>, RpcError> {
        self.opt_u64(key)?
            .map(|n| {
                u32::try_from(n).map_err(|_| invalid_params(format!("{key} {n} is too large")))
            })
            .transpose()
    }

    fn bool(&self, key: &str) -> Result<bool, RpcError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            Some(_) => Err(invalid_params(format!("{key} must be true or false"))),
        }
    }

    /// A size: bytes, or text such as `"64M"`.
    fn opt_size(&self, key: &str) -> Result<Option<u64>, RpcError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| invalid_params(format!("{key} must be a size in bytes"))),
            Some(Value::String(s)) => parse_size(s)
                .map(Some)
                .map_err(|e| invalid_params(format!("{key}: {e}"))),
            Some(_) => Err(invalid_params(format!(
                "{key} must be a size (bytes, or e.g. \"64M\")"
            ))),
        }
    }
}

/// A CHAP secret from a request: at least 12 bytes (RFC 7143 §12.1.3).
fn secret(key: &str, text: String) -> Result<Secret, RpcError> {
    Secret::new(text).map_err(|e| RpcError::from(AdminError::Invalid(format!("{key}: {e}"))))
}

fn dispatch(server: &Server, method: &str, p: &Params<'_>) -> Result<Value, RpcError> {
    match method {
        "target_create" => {
            p.only(&["name", "alias"])?;
            let name = p.str("name")?;
            server.create_target(&name, p.opt_str("alias")?.as_deref())?;
            Ok(json!({ "name": name }))
        }
        "target_delete" => {
            p.only(&["name", "force"])?;
            let sessions = server.delete_target(&p.str("name")?, p.bool("force")?)?;
            Ok(json!({ "sessions": sessions }))
        }
        "target_list" => {
            p.only(&[])?;
            Ok(json!({ "targets": server.targets().iter().map(target_json).collect::<Vec<_>>() }))
        }
        "lun_add" => lun_add(server, p),
        "lun_remove" => {
            p.only(&["target", "lun"])?;
            let (target, lun) = (p.str("target")?, p.u16("lun")?);
            server.remove_lun(&target, lun)?;
            Ok(json!({ "target": target, "lun": lun }))
        }
        "lun_resize" => {
            p.only(&["target", "lun", "size", "force"])?;
            let size = p
                .opt_size("size")?
                .ok_or_else(|| invalid_params("size is missing".to_owned()))?;
            let from = server
                .resize_lun(&p.str("target")?, p.u16("lun")?, size, p.bool("force")?)
                .map_err(AdminError::from)?;
            Ok(json!({ "from": from, "to": size }))
        }
        "acl_add" => {
            p.only(&["target", "initiator"])?;
            let added = server.add_acl(&p.str("target")?, &p.str("initiator")?)?;
            Ok(json!({ "added": added }))
        }
        "acl_remove" => {
            p.only(&["target", "initiator"])?;
            server.remove_acl(&p.str("target")?, &p.str("initiator")?)?;
            Ok(json!({}))
        }
        "chap_set" => {
            p.only(&["target", "user", "secret", "mutual_user", "mutual_secret"])?;
            let chap = ChapCredentials::new(p.str("user")?, secret("secret", p.str("secret")?)?);
            let mutual = match (p.opt_str("mutual_user")?, p.opt_str("mutual_secret")?) {
                (None, None) => None,
                (Some(user), Some(s)) => {
                    Some(ChapCredentials::new(user, secret("mutual_secret", s)?))
                }
                _ => {
                    return Err(invalid_params(
                        "mutual_user and mutual_secret go together".to_owned(),
                    ));
                }
            };
            server.set_chap(p.opt_str("target")?.as_deref(), Some(chap), mutual)?;
            Ok(json!({}))
        }
        "chap_clear" => {
            p.only(&["target"])?;
            server.set_chap(p.opt_str("target")?.as_deref(), None, None)?;
            Ok(json!({}))
        }
        "portal_add" => {
            p.only(&["address", "group", "alua_state"])?;
            let text = p.str("address")?;
            let address = text.parse().map_err(|_| {
                invalid_params(format!(
                    "address {text:?} is not an address:port (IPv6 as [::1]:3260)"
                ))
            })?;
            let alua_state = match p.opt_str("alua_state")? {
                None => iscsi_scsi::data::AccessState::ActiveOptimized,
                Some(name) => ALUA_STATES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| *s)
                    .ok_or_else(|| {
                        invalid_params(format!(
                            "alua_state {name:?} is not one of active_optimized, \
                             active_non_optimized, standby, unavailable, transitioning"
                        ))
                    })?,
            };
            let portal = Portal {
                address,
                group: p.u16("group")?,
                alua_state,
            };
            let bound = server.add_portal(portal)?;
            Ok(json!({ "address": bound.to_string() }))
        }
        "portal_remove" => {
            p.only(&["address"])?;
            let text = p.str("address")?;
            let address = text
                .parse()
                .map_err(|_| RpcError::from(AdminError::UnknownPortal(text.clone())))?;
            server.remove_portal(address)?;
            Ok(json!({}))
        }
        "session_list" => {
            p.only(&[])?;
            Ok(
                json!({ "sessions": server.sessions().iter().map(session_json).collect::<Vec<_>>() }),
            )
        }
        "session_logout" => {
            p.only(&["tsih"])?;
            server.logout_session(p.u16("tsih")?)?;
            Ok(json!({}))
        }
        "config_get" => {
            p.only(&[])?;
            let config = server.config();
            let original = config
                .path
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok());
            let text = crate::config::render(original.as_deref(), &config)
                .map_err(|e| RpcError::from(AdminError::Invalid(e)))?;
            Ok(json!({
                "path": config.path.as_ref().map(|p| p.display().to_string()),
                "saved": original.as_deref() == Some(text.as_str()),
                "toml": text,
            }))
        }
        "config_save" => {
            p.only(&["path"])?;
            let path = p.opt_str("path")?.map(PathBuf::from);
            let saved = server.save_config(path.as_deref())?;
            Ok(json!({ "path": saved.display().to_string() }))
        }
        other => Err(RpcError {
            code: -32601,
            message: format!("no method {other:?}"),
        }),
    }
}

fn lun_add(server: &Server, p: &Params<'_>) -> Result<Value, RpcError> {
    p.only(&[
        "target",
        "lun",
        "backing",
        "size",
        "block_size",
        "physical_block_size",
        "read_only",
        "ceph_conf",
        "ceph_client",
        "ceph_keyring",
    ])?;
    let target = p.str("target")?;
    let id = p.u16("lun")?;
    let backing = match p.str("backing")?.as_str() {
        "memory" => Backing::Memory,
        other => match (other.strip_prefix("file:"), other.strip_prefix("rbd:")) {
            (Some(path), _) if !path.is_empty() => Backing::File(PathBuf::from(path)),
            (_, Some(spec)) => {
                let mut rbd = RbdBacking::parse(spec).map_err(invalid_params)?;
                rbd.conf = p.opt_str("ceph_conf")?.map(PathBuf::from);
                rbd.client = p.opt_str("ceph_client")?;
                rbd.keyring = p.opt_str("ceph_keyring")?.map(PathBuf::from);
                Backing::Rbd(rbd)
            }
            _ => {
                return Err(invalid_params(format!(
                    "backing {other:?} is not \"memory\", \"file:PATH\" or \"rbd:POOL/IMAGE\""
                )));
            }
        },
    };
    let size = p.opt_size("size")?;
    let mut lun = LunConfig::memory(id, size.unwrap_or(0));
    lun.backing = backing;
    lun.size = size;
    if let Some(bs) = p.opt_u32("block_size")? {
        lun.block_size = bs;
    }
    lun.physical_block_size = p.opt_u32("physical_block_size")?.unwrap_or(lun.block_size);
    lun.read_only = p.bool("read_only")?;
    server.add_lun(&target, lun)?;
    let size = server
        .targets()
        .iter()
        .find(|t| t.name == target)
        .and_then(|t| t.luns.iter().find(|l| l.id == id))
        .map_or(0, |l| l.size);
    Ok(json!({ "target": target, "lun": id, "size": size }))
}

fn backing_text(backing: &Backing) -> String {
    match backing {
        Backing::Memory => "memory".to_owned(),
        Backing::File(path) => format!("file:{}", path.display()),
        Backing::Rbd(rbd) => rbd.to_string(),
    }
}

fn target_json(t: &TargetSummary) -> Value {
    json!({
        "name": t.name,
        "alias": t.alias,
        "luns": t.luns.iter().map(|l| json!({
            "lun": l.id,
            "backing": backing_text(&l.backing),
            "size": l.size,
            "size_text": format_size(l.size),
            "block_size": l.block_size,
            "read_only": l.read_only,
            "stand_in": l.stand_in,
        })).collect::<Vec<_>>(),
        "acl": t.allow,
        "chap_user": t.chap_user,
        "mutual_chap_user": t.mutual_chap_user,
        "sessions": t.sessions,
    })
}

fn session_json(s: &SessionSummary) -> Value {
    let p = &s.params;
    let auth = match &p.auth {
        iscsi_login::AuthOutcome::Chap { user, mutual, .. } => json!({
            "method": if *mutual { "mutual CHAP" } else { "CHAP" },
            "user": user,
        }),
        _ => json!({ "method": "none" }),
    };
    json!({
        "tsih": p.tsih.0,
        "type": match p.session_type {
            iscsi_login::SessionType::Discovery => "discovery",
            _ => "normal",
        },
        "initiator": p.initiator_name,
        "initiator_alias": p.initiator_alias,
        "isid": p.isid.to_string(),
        "target": p.target_name,
        "cids": [p.cid.0],
        "connections": [{
            "cid": p.cid.0,
            "peer": s.peer.to_string(),
            "portal": s.portal.to_string(),
            "portal_group": s.portal_group,
        }],
        "params": {
            "header_digest": if p.header_digest { "CRC32C" } else { "None" },
            "data_digest": if p.data_digest { "CRC32C" } else { "None" },
            "initiator_max_recv_data_segment_length": p.initiator_max_recv_data_segment_length,
            "target_max_recv_data_segment_length": p.target_max_recv_data_segment_length,
            "max_burst_length": p.max_burst_length,
            "first_burst_length": p.first_burst_length,
            "immediate_data": p.immediate_data,
            "initial_r2t": p.initial_r2t,
            "max_outstanding_r2t": p.max_outstanding_r2t,
            "max_connections": p.max_connections,
            "error_recovery_level": p.error_recovery_level,
            "auth": auth,
        },
        "logged_in_s": s.logged_in_ms / 1000,
        "counters": {
            "commands": s.commands,
            "read_bytes": s.read_bytes,
            "write_bytes": s.write_bytes,
            "check_conditions": s.check_conditions,
        },
    })
}
