//! `iscsi-target ctl`: one call to a running target's admin interface
//! (JSON-RPC 2.0 on its Unix socket), printed for people or as JSON.

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool's results go to stdout"
)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use iscsi_target::config::{default_admin_socket, format_size};
use serde_json::{Map, Value, json};

/// Exit codes: what went wrong, for scripts.
pub(crate) mod exit {
    /// The server refused the call (unknown target, LUN in use, …).
    pub(crate) const REFUSED: u8 = 1;
    /// The command line is wrong.
    pub(crate) const USAGE: u8 = 2;
    /// No server answers on the socket.
    pub(crate) const UNREACHABLE: u8 = 3;
    /// The server's answer is not a JSON-RPC response.
    pub(crate) const PROTOCOL: u8 = 4;
}

/// Talk to a running target: `iscsi-target ctl METHOD [key=value ...]`.
///
/// Methods: target_create name= [alias=] · target_delete name= [force=true]
/// · target_list · lun_add target= lun= backing=memory|file:PATH [size=64M]
/// [block_size=512] [read_only=true] · lun_remove target= lun= ·
/// lun_resize target= lun= size= [force=true] · acl_add / acl_remove
/// target= initiator= · chap_set [target=] user= secret= [mutual_user=
/// mutual_secret=] · chap_clear [target=] · portal_add address= group=
/// [alua_state=] · portal_remove address= · session_list · session_logout
/// tsih= · config_get · config_save [path=].
///
/// Exit status: 0 done, 1 refused by the server, 2 bad command line,
/// 3 no server on the socket, 4 a reply that is not JSON-RPC.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub(crate) struct CtlArgs {
    /// The admin socket [default: /run/iscsi-target/admin.sock as root,
    /// else $XDG_RUNTIME_DIR/iscsi-target/admin.sock].
    #[arg(long, short = 's', env = "ISCSI_TARGET_ADMIN_SOCKET")]
    socket: Option<PathBuf>,
    /// Print the JSON-RPC result (or error) instead of text.
    #[arg(long)]
    json: bool,
    /// The method, e.g. target_list, lun_add, session_list.
    method: String,
    /// Parameters as key=value; whole numbers and true/false are sent as
    /// such, anything else as text.
    params: Vec<String>,
}

/// Runs one call.
pub(crate) fn run(args: &CtlArgs) -> ExitCode {
    match call(args) {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("iscsi-target ctl: {message}");
            ExitCode::from(code)
        }
    }
}

fn params(list: &[String]) -> Result<Map<String, Value>, (u8, String)> {
    let mut map = Map::new();
    for item in list {
        let Some((key, text)) = item.split_once('=') else {
            return Err((
                exit::USAGE,
                format!("{item:?} is not key=value (e.g. target=iqn.2026-11.x:y)"),
            ));
        };
        let value = match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => match text.parse::<u64>() {
                // Only when it reads back the same: "007" stays text.
                Ok(n) if n.to_string() == text => json!(n),
                _ => Value::String(text.to_owned()),
            },
        };
        if map.insert(key.to_owned(), value).is_some() {
            return Err((exit::USAGE, format!("{key} is given twice")));
        }
    }
    Ok(map)
}

fn call(args: &CtlArgs) -> Result<ExitCode, (u8, String)> {
    let params = params(&args.params)?;
    let socket = args
        .socket
        .clone()
        .or_else(default_admin_socket)
        .ok_or_else(|| {
            (
                exit::USAGE,
                "no admin socket: give --socket (no XDG_RUNTIME_DIR to find the default)"
                    .to_owned(),
            )
        })?;
    let unreachable = |e: std::io::Error| {
        (
            exit::UNREACHABLE,
            format!(
                "cannot reach the admin socket {}: {e} (is iscsi-target running, with --admin-socket there?)",
                socket.display()
            ),
        )
    };
    let mut stream = UnixStream::connect(&socket).map_err(unreachable)?;
    // A change that flushes a large file may take a while; nothing takes
    // minutes.
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .map_err(unreachable)?;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": args.method, "params": params});
    let mut line = request.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(unreachable)?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .map_err(unreachable)?;
    let protocol = |what: &str| {
        (
            exit::PROTOCOL,
            format!("the server's reply is not JSON-RPC ({what}): {reply:?}"),
        )
    };
    let reply_value: Value = serde_json::from_str(&reply).map_err(|_| protocol("not JSON"))?;
    if let Some(error) = reply_value.get("error") {
        if args.json {
            println!("{}", pretty(error));
        }
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)");
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        return Err((
            exit::REFUSED,
            format!("{}: {message} (error {code})", args.method),
        ));
    }
    let result = reply_value
        .get("result")
        .ok_or_else(|| protocol("no result"))?;
    if args.json {
        println!("{}", pretty(result));
    } else {
        print!("{}", human(&args.method, &params, result));
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn number(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The result as lines for people.
fn human(method: &str, params: &Map<String, Value>, result: &Value) -> String {
    let param = |key: &str| match params.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    match method {
        "target_list" => target_list(result),
        "session_list" => session_list(result),
        "target_create" => format!("target {} created\n", text(result, "name")),
        "target_delete" => format!(
            "target {} deleted; {} session(s) asked to log out\n",
            param("name"),
            number(result, "sessions")
        ),
        "lun_add" => format!(
            "{} LUN {} added ({})\n",
            text(result, "target"),
            number(result, "lun"),
            format_size(number(result, "size"))
        ),
        "lun_remove" => format!(
            "{} LUN {} removed\n",
            text(result, "target"),
            number(result, "lun")
        ),
        "lun_resize" => format!(
            "{} LUN {} resized from {} to {} ({} to {} bytes)\n",
            param("target"),
            param("lun"),
            format_size(number(result, "from")),
            format_size(number(result, "to")),
            number(result, "from"),
            number(result, "to")
        ),
        "acl_add" if result.get("added") == Some(&Value::Bool(false)) => format!(
            "{} was already in {}'s ACL\n",
            param("initiator"),
            param("target")
        ),
        "acl_add" => format!(
            "{} added to {}'s ACL\n",
            param("initiator"),
            param("target")
        ),
        "acl_remove" => format!(
            "{} removed from {}'s ACL\n",
            param("initiator"),
            param("target")
        ),
        "portal_add" => format!("listening on {}\n", text(result, "address")),
        "config_get" => text(result, "toml").to_owned(),
        "config_save" => format!("saved {}\n", text(result, "path")),
        _ if result.as_object().is_some_and(Map::is_empty) => "done\n".to_owned(),
        _ => format!("{}\n", pretty(result)),
    }
}

fn target_list(result: &Value) -> String {
    let mut out = String::new();
    let targets = result
        .get("targets")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if targets.is_empty() {
        out.push_str("no targets\n");
    }
    for t in targets {
        let alias = text(t, "alias");
        out.push_str(text(t, "name"));
        if !alias.is_empty() {
            out.push_str(&format!(" ({alias})"));
        }
        out.push_str(&format!(", {} session(s)\n", number(t, "sessions")));
        let acl = match t.get("acl").and_then(Value::as_array) {
            None => "every initiator".to_owned(),
            Some(list) if list.is_empty() => "no initiator".to_owned(),
            Some(list) => list
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push_str(&format!("  ACL: {acl}\n"));
        let chap = text(t, "chap_user");
        let mutual = text(t, "mutual_chap_user");
        out.push_str(&match (chap.is_empty(), mutual.is_empty()) {
            (true, _) => "  CHAP: off\n".to_owned(),
            (false, true) => format!("  CHAP: user {chap}\n"),
            (false, false) => format!("  CHAP: user {chap}, mutual as {mutual}\n"),
        });
        for l in t
            .get("luns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut flags = Vec::new();
            if l.get("read_only") == Some(&Value::Bool(true)) {
                flags.push("read-only");
            }
            if l.get("stand_in") == Some(&Value::Bool(true)) {
                flags.push("stand-in LUN 0");
            }
            out.push_str(&format!(
                "  LUN {:<5} {:<40} {:>8}  {}-byte blocks{}{}\n",
                number(l, "lun"),
                text(l, "backing"),
                format_size(number(l, "size")),
                number(l, "block_size"),
                if flags.is_empty() { "" } else { ", " },
                flags.join(", ")
            ));
        }
    }
    out
}

fn session_list(result: &Value) -> String {
    let mut out = String::new();
    let sessions = result
        .get("sessions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if sessions.is_empty() {
        out.push_str("no sessions\n");
    }
    for s in sessions {
        let target = s
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or("(discovery)");
        out.push_str(&format!(
            "TSIH {}  {} ISID {} -> {}  ({} s)\n",
            number(s, "tsih"),
            text(s, "initiator"),
            text(s, "isid"),
            target,
            number(s, "logged_in_s")
        ));
        for c in s
            .get("connections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push_str(&format!(
                "  CID {} from {} via portal {} (group {})\n",
                number(c, "cid"),
                text(c, "peer"),
                text(c, "portal"),
                number(c, "portal_group")
            ));
        }
        let empty = json!({});
        let p = s.get("params").unwrap_or(&empty);
        let auth = p.get("auth").unwrap_or(&empty);
        out.push_str(&format!(
            "  HeaderDigest {} DataDigest {}  MaxRecvDataSegmentLength {}/{}  MaxBurstLength {}  FirstBurstLength {}  ImmediateData {}  InitialR2T {}  auth {}\n",
            text(p, "header_digest"),
            text(p, "data_digest"),
            number(p, "initiator_max_recv_data_segment_length"),
            number(p, "target_max_recv_data_segment_length"),
            number(p, "max_burst_length"),
            number(p, "first_burst_length"),
            yes_no(p, "immediate_data"),
            yes_no(p, "initial_r2t"),
            text(auth, "method"),
        ));
        let c = s.get("counters").unwrap_or(&empty);
        out.push_str(&format!(
            "  {} commands, {} read, {} written, {} CHECK CONDITION\n",
            number(c, "commands"),
            bytes(number(c, "read_bytes")),
            bytes(number(c, "write_bytes")),
            number(c, "check_conditions")
        ));
    }
    out
}

fn yes_no(v: &Value, key: &str) -> &'static str {
    if v.get(key) == Some(&Value::Bool(true)) {
        "Yes"
    } else {
        "No"
    }
}

/// Bytes in the largest binary unit that leaves at least 1.
fn bytes(n: u64) -> String {
    let units = [("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in units {
        if n >= 1 << shift {
            return format!("{:.1} {unit}", n as f64 / f64::from(1u32 << shift));
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_parameters() {
        let map = params(&[
            "lun=3".to_owned(),
            "force=true".to_owned(),
            "user=007".to_owned(),
            "size=64M".to_owned(),
        ])
        .unwrap();
        assert_eq!(map["lun"], json!(3));
        assert_eq!(map["force"], json!(true));
        assert_eq!(map["user"], json!("007"));
        assert_eq!(map["size"], json!("64M"));
        assert_eq!(params(&["lun".to_owned()]).unwrap_err().0, exit::USAGE);
        assert_eq!(
            params(&["a=1".to_owned(), "a=2".to_owned()]).unwrap_err().0,
            exit::USAGE
        );
    }
}
