//! Coming from LIO: rtslib-fb's saved configuration
//! (`/etc/target/saveconfig.json`, written by `targetcli saveconfig`)
//! converted to ours, with a plain account of what does not carry over.

use std::net::SocketAddr;
use std::path::PathBuf;

use iscsi_login::{ChapCredentials, DigestPolicy, Secret};
use serde_json::Value;

use super::{
    Backing, Config, Limits, LunConfig, Portal, TargetConfig, check_iscsi_name, same_chap,
};

/// A configuration converted from LIO's, and what of LIO's could not be
/// carried over, a sentence each.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LioImport {
    /// Ours: portals, targets, LUNs, ACLs, CHAP, limits.
    pub config: Config,
    /// What was dropped or changed, and why.
    pub not_carried: Vec<String>,
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

/// An rtslib attribute or parameter as a number (they are written as
/// numbers or as strings).
fn number(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

/// CHAP credentials from an rtslib object's `PREFIXuserid` and
/// `PREFIXpassword` (`chap_`, `chap_mutual_`, `discovery_`, …); short
/// secrets are kept, as LIO accepted them.
fn credentials(v: &Value, user: &str, password: &str) -> Option<ChapCredentials> {
    let (u, p) = (text(v, user), text(v, password));
    if u.is_empty() || p.is_empty() {
        return None;
    }
    Secret::new_allow_short(p)
        .ok()
        .map(|s| ChapCredentials::new(u, s))
}

fn digest(value: &str) -> Option<DigestPolicy> {
    let offers: Vec<&str> = value.split(',').map(str::trim).collect();
    match offers.as_slice() {
        ["None"] => Some(DigestPolicy::Off),
        ["CRC32C"] => Some(DigestPolicy::Require),
        ["CRC32C", "None"] => Some(DigestPolicy::Prefer),
        ["None", "CRC32C"] => Some(DigestPolicy::Allow),
        _ => None,
    }
}

/// Converts rtslib-fb's saved configuration (`saveconfig.json`): storage
/// objects (fileio → file LUN, block → file LUN on the device, ramdisk →
/// RAM LUN; their block size, read-only flag and unit serial), iSCSI
/// targets with their TPGs (portals become portal groups with the TPG's
/// tag), LUNs, node ACLs (`generate_node_acls = 1` admits every
/// initiator), CHAP and mutual CHAP (per TPG in demo mode, else the node
/// ACLs'), discovery CHAP, and the operational parameters of the first
/// TPG. Everything else is listed in [`LioImport::not_carried`].
///
/// # Errors
/// The text is not JSON or has no `targets`: the message says so.
pub fn from_lio(json: &str) -> Result<LioImport, String> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| format!("not rtslib's saveconfig.json: {e}"))?;
    if !root.is_object() || root.get("targets").is_none() {
        return Err("not rtslib's saveconfig.json: no \"targets\"".to_owned());
    }
    let mut notes = Vec::new();
    let mut config = Config::embedded_default();
    config.targets.clear();
    config.portals.clear();
    let mut limits_from: Option<String> = None;

    for t in items(&root, "targets") {
        let fabric = text(t, "fabric");
        let name = text(t, "wwn").to_owned();
        if fabric != "iscsi" {
            notes.push(format!(
                "target {name} of fabric {fabric:?}: only iSCSI targets are served"
            ));
            continue;
        }
        if let Err(e) = check_iscsi_name(&name) {
            notes.push(format!("target skipped: {e}"));
            continue;
        }
        let tpgs = items(t, "tpgs");
        let mut target = TargetConfig {
            name: name.clone(),
            alias: None,
            allow: None,
            chap: None,
            mutual_chap: None,
            luns: Vec::new(),
        };
        let mut acl: Option<Vec<String>> = None;
        for (i, tpg) in tpgs.iter().enumerate() {
            let tag = number(tpg, "tag")
                .and_then(|t| u16::try_from(t).ok())
                .unwrap_or(1);
            if tpg.get("enable").and_then(Value::as_bool) == Some(false) {
                notes.push(format!("{name} TPG {tag} is disabled in LIO: not served"));
                continue;
            }
            if i > 0 {
                notes.push(format!(
                    "{name} TPG {tag}: one target here serves its LUNs on every portal; \
                     TPG {tag}'s LUNs, ACLs and CHAP are merged into the target's"
                ));
            }
            portals(&mut config, &mut notes, &name, tag, tpg);
            let attributes = tpg.get("attributes").unwrap_or(&Value::Null);
            let parameters = tpg.get("parameters").unwrap_or(&Value::Null);
            if limits_from.is_none() {
                limits_from = Some(format!("{name} TPG {tag}"));
                config.limits = limits(parameters, &mut notes);
            }
            let demo = number(attributes, "generate_node_acls") == Some(1);
            let authentication = number(attributes, "authentication") == Some(1)
                || text(parameters, "AuthMethod") == "CHAP";
            if demo {
                if number(attributes, "demo_mode_write_protect") == Some(1) {
                    notes.push(format!(
                        "{name} TPG {tag}: demo_mode_write_protect: initiators without an ACL \
                         get write access here (make the LUNs read_only if that matters)"
                    ));
                }
            } else {
                let list = acl.get_or_insert_with(Vec::new);
                for node in items(tpg, "node_acls") {
                    let wwn = text(node, "node_wwn");
                    if check_iscsi_name(wwn).is_ok() && !list.iter().any(|a| a == wwn) {
                        list.push(wwn.to_owned());
                    }
                }
            }
            chap(&mut target, &mut notes, tpg, demo, authentication);
            luns(&root, &mut target, &mut notes, tpg, demo);
        }
        target.allow = acl;
        target.luns.sort_by_key(|l| l.id);
        config.targets.push(target);
    }
    shared_objects(&root, &mut notes);
    discovery(&root, &mut config, &mut notes);
    if config.portals.is_empty() {
        config.portals = Config::embedded_default().portals;
        notes.push(format!(
            "no portal in the file: serving on {}",
            super::DEFAULT_PORTAL
        ));
    }
    if config.targets.is_empty() {
        return Err(format!(
            "no iSCSI target to carry over{}",
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        ));
    }
    Ok(LioImport {
        config,
        not_carried: notes,
    })
}

/// A TPG's network portals become ours, in a portal group with its tag.
fn portals(config: &mut Config, notes: &mut Vec<String>, name: &str, tag: u16, tpg: &Value) {
    for p in items(tpg, "portals") {
        let ip = text(p, "ip_address");
        let port = number(p, "port")
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(3260);
        let host = if ip.contains(':') && !ip.starts_with('[') {
            format!("[{ip}]")
        } else {
            ip.to_owned()
        };
        let Ok(address) = format!("{host}:{port}").parse::<SocketAddr>() else {
            notes.push(format!(
                "{name} TPG {tag}: portal {ip}:{port} is not an address"
            ));
            continue;
        };
        if p.get("iser").and_then(Value::as_bool) == Some(true) {
            notes.push(format!(
                "{name} TPG {tag}: portal {address} used iSER; served over TCP"
            ));
        }
        match config.portals.iter().find(|o| o.address == address) {
            Some(o) if o.group != tag => notes.push(format!(
                "{name} TPG {tag}: portal {address} is also TPG {}'s; one group per portal here",
                o.group
            )),
            Some(_) => {}
            None => config.portals.push(Portal {
                address,
                group: tag,
                alua_state: iscsi_scsi::data::AccessState::ActiveOptimized,
            }),
        }
    }
}

/// The operational parameters LIO negotiates, as our limits.
fn limits(p: &Value, notes: &mut Vec<String>) -> Limits {
    let mut l = Limits::default();
    let bounded = |key: &str, min: u64, max: u64| {
        number(p, key)
            .filter(|v| (min..=max).contains(v))
            .and_then(|v| u32::try_from(v).ok())
    };
    if let Some(v) = bounded("MaxRecvDataSegmentLength", 512, (1 << 24) - 1) {
        l.max_recv_data_segment_length = v;
    }
    if let Some(v) = bounded("MaxBurstLength", 512, (1 << 24) - 1) {
        l.max_burst_length = v;
    }
    if let Some(v) = bounded("FirstBurstLength", 512, (1 << 24) - 1) {
        l.first_burst_length = v.min(l.max_burst_length);
    }
    if let Some(v) = number(p, "MaxOutstandingR2T").and_then(|v| u16::try_from(v).ok()) {
        l.max_outstanding_r2t = v.max(1);
    }
    for (key, field) in [
        ("ImmediateData", &mut l.immediate_data),
        ("InitialR2T", &mut l.initial_r2t),
    ] {
        match text(p, key) {
            "Yes" => *field = true,
            "No" => *field = false,
            _ => {}
        }
    }
    for (key, field) in [
        ("HeaderDigest", &mut l.header_digest),
        ("DataDigest", &mut l.data_digest),
    ] {
        let value = text(p, key);
        match digest(value) {
            Some(d) => *field = d,
            None if value.is_empty() => {}
            None => notes.push(format!("{key}={value}: not understood, kept {field:?}")),
        }
    }
    if number(p, "ErrorRecoveryLevel").is_some_and(|v| v > 0) {
        notes.push("ErrorRecoveryLevel above 0: this target offers level 0".to_owned());
    }
    if number(p, "MaxConnections").is_some_and(|v| v > 1) {
        notes.push("MaxConnections above 1: sessions here have one connection".to_owned());
    }
    l
}

/// CHAP of a TPG: in demo mode its own credentials, else those of its
/// node ACLs (one set per target here).
fn chap(target: &mut TargetConfig, notes: &mut Vec<String>, tpg: &Value, demo: bool, on: bool) {
    let name = target.name.clone();
    let mut found: Vec<(String, Option<ChapCredentials>, Option<ChapCredentials>)> = Vec::new();
    if demo {
        found.push((
            "the TPG".to_owned(),
            credentials(tpg, "chap_userid", "chap_password"),
            credentials(tpg, "chap_mutual_userid", "chap_mutual_password"),
        ));
    } else {
        for node in items(tpg, "node_acls") {
            found.push((
                text(node, "node_wwn").to_owned(),
                credentials(node, "chap_userid", "chap_password"),
                credentials(node, "chap_mutual_userid", "chap_mutual_password"),
            ));
        }
    }
    if !on {
        if found.iter().any(|(_, c, _)| c.is_some()) {
            notes.push(format!(
                "{name}: CHAP credentials are set but authentication=0: not required here either"
            ));
        }
        return;
    }
    let with: Vec<_> = found.iter().filter(|(_, c, _)| c.is_some()).collect();
    let Some((first, c, m)) = with.first() else {
        notes.push(format!(
            "{name}: authentication=1 but no CHAP credentials: logins need none here"
        ));
        return;
    };
    let same = with.iter().all(|(_, c2, m2)| {
        same_chap(c2.as_ref(), c.as_ref()) && same_chap(m2.as_ref(), m.as_ref())
    });
    if !same {
        notes.push(format!(
            "{name}: the node ACLs have different CHAP credentials; a target here has one set: \
             {first}'s are used, the other initiators' do not log in"
        ));
    }
    if let (Some(c), Some(m)) = (c, m)
        && c.secret.ct_eq(&m.secret)
    {
        notes.push(format!(
            "{name}: the mutual CHAP secret equals the initiator's (RFC 7143 §12.1.3 forbids it): \
             mutual CHAP dropped"
        ));
        target.chap = Some(c.clone());
        return;
    }
    target.chap.clone_from(c);
    target.mutual_chap.clone_from(m);
}

/// A TPG's LUNs and the storage objects behind them.
fn luns(root: &Value, target: &mut TargetConfig, notes: &mut Vec<String>, tpg: &Value, demo: bool) {
    let name = target.name.clone();
    let all: Vec<u64> = items(tpg, "luns")
        .iter()
        .filter_map(|l| number(l, "index"))
        .collect();
    if !demo {
        for node in items(tpg, "node_acls") {
            let mapped = items(node, "mapped_luns");
            let mut seen: Vec<u64> = mapped.iter().filter_map(|m| number(m, "tpg_lun")).collect();
            seen.sort_unstable();
            let mut every = all.clone();
            every.sort_unstable();
            let renumbered = mapped
                .iter()
                .any(|m| number(m, "index") != number(m, "tpg_lun"));
            if seen != every || renumbered {
                notes.push(format!(
                    "{name}: {} sees {:?} of LUNs {:?}{}; LUN masking per initiator is not done \
                     here: every admitted initiator sees every LUN by its TPG number",
                    text(node, "node_wwn"),
                    seen,
                    every,
                    if renumbered { " (renumbered)" } else { "" }
                ));
            }
            if mapped
                .iter()
                .any(|m| m.get("write_protect").and_then(Value::as_bool) == Some(true))
            {
                notes.push(format!(
                    "{name}: {} has write-protected mapped LUNs; write protection per initiator \
                     is not done here",
                    text(node, "node_wwn")
                ));
            }
        }
    }
    for l in items(tpg, "luns") {
        let Some(id) = number(l, "index")
            .and_then(|i| u16::try_from(i).ok())
            .filter(|i| *i <= 16383)
        else {
            notes.push(format!("{name}: a LUN without a usable index: skipped"));
            continue;
        };
        if target.luns.iter().any(|o| o.id == id) {
            notes.push(format!("{name}: LUN {id} appears twice: the first is kept"));
            continue;
        }
        let path = text(l, "storage_object");
        let object = items(root, "storage_objects")
            .iter()
            .find(|so| format!("/backstores/{}/{}", text(so, "plugin"), text(so, "name")) == path);
        let Some(so) = object else {
            notes.push(format!(
                "{name} LUN {id}: storage object {path} is not in the file"
            ));
            continue;
        };
        match lun(id, so) {
            Ok((lun, mut more)) => {
                notes.extend(more.drain(..).map(|n| format!("{name} LUN {id}: {n}")));
                target.luns.push(lun);
            }
            Err(why) => notes.push(format!("{name} LUN {id} ({path}): {why}")),
        }
    }
}

/// One storage object as a LUN, with notes.
fn lun(id: u16, so: &Value) -> Result<(LunConfig, Vec<String>), String> {
    let mut notes = Vec::new();
    let plugin = text(so, "plugin");
    let size = number(so, "size");
    let attributes = so.get("attributes").unwrap_or(&Value::Null);
    let block_size = number(attributes, "block_size")
        .and_then(|b| u32::try_from(b).ok())
        .unwrap_or(512);
    let (backing, size) = match plugin {
        "ramdisk" => {
            if so.get("nullio").and_then(Value::as_bool) == Some(true) {
                notes.push(
                    "a nullio ramdisk (data discarded) becomes a RAM disk that keeps data"
                        .to_owned(),
                );
            }
            (
                Backing::Memory,
                Some(size.ok_or("a ramdisk without a size")?),
            )
        }
        "fileio" | "block" => {
            let dev = text(so, "dev");
            if dev.is_empty() {
                return Err("no dev (file or device path)".to_owned());
            }
            // A block device has its own size.
            (
                Backing::File(PathBuf::from(dev)),
                if plugin == "block" { None } else { size },
            )
        }
        other => {
            return Err(format!(
                "backstore type {other:?} is not served here (fileio, block and ramdisk are)"
            ));
        }
    };
    let mut l = LunConfig::memory(id, size.unwrap_or(0));
    l.backing = backing;
    l.size = size;
    if matches!(block_size, 512 | 4096) {
        l.block_size = block_size;
        l.physical_block_size = block_size;
    } else {
        notes.push(format!("block size {block_size}: 512 used"));
    }
    if let Some(size) = l.size
        && size % u64::from(l.block_size) != 0
    {
        let rounded = size - size % u64::from(l.block_size);
        notes.push(format!(
            "size {size} is not a whole number of blocks: {rounded} used"
        ));
        l.size = Some(rounded);
    }
    l.read_only = so.get("readonly").and_then(Value::as_bool) == Some(true);
    let wwn = text(so, "wwn");
    if !wwn.is_empty() {
        // LIO reports the storage object's WWN as the unit serial number
        // (VPD page 80h): initiators keep recognising the disk.
        l.serial = Some(wwn.to_owned());
    }
    if plugin == "fileio" && so.get("write_back").and_then(Value::as_bool) == Some(false) {
        notes.push(
            "write_back=false (write-through): here writes go to the page cache and reach the \
             disk at SYNCHRONIZE CACHE or with FUA"
                .to_owned(),
        );
    }
    if items(so, "alua_tpgs").len() > 1 {
        notes.push("its ALUA target port groups: ours follow the portal groups".to_owned());
    }
    Ok((l, notes))
}

/// Storage objects exported by more than one target: LIO shares one
/// device (and its reservations) among them; here each target opens the
/// file as a LUN of its own.
fn shared_objects(root: &Value, notes: &mut Vec<String>) {
    let mut uses: Vec<(String, Vec<String>)> = Vec::new();
    for t in items(root, "targets") {
        for tpg in items(t, "tpgs") {
            for l in items(tpg, "luns") {
                let so = text(l, "storage_object").to_owned();
                let name = text(t, "wwn").to_owned();
                match uses.iter_mut().find(|(s, _)| *s == so) {
                    Some((_, targets)) if !targets.contains(&name) => targets.push(name),
                    Some(_) => {}
                    None => uses.push((so, vec![name])),
                }
            }
        }
    }
    for (so, targets) in uses.into_iter().filter(|(_, t)| t.len() > 1) {
        notes.push(format!(
            "{so} is exported by {}: here each of them opens it as a LUN of its own (the data \
             is shared; persistent reservations and unit attentions are per target)",
            targets.join(", ")
        ));
    }
}

/// Discovery CHAP of the iSCSI fabric module.
fn discovery(root: &Value, config: &mut Config, notes: &mut Vec<String>) {
    for f in items(root, "fabric_modules") {
        if text(f, "name") != "iscsi" {
            continue;
        }
        if f.get("discovery_enable_auth").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        config.discovery_chap = credentials(f, "discovery_userid", "discovery_password");
        config.discovery_mutual_chap =
            credentials(f, "discovery_mutual_userid", "discovery_mutual_password");
        if config.discovery_chap.is_none() {
            notes.push(
                "discovery authentication is on without credentials: discovery needs none here"
                    .to_owned(),
            );
            config.discovery_mutual_chap = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by targetcli-fb 2.1.53 (rtslib-fb) in the Linux guest of
    /// `cargo xtask interop --peer targetcli`: an open target on a
    /// ramdisk, a CHAP and a mutual-CHAP target with an ACL on one fileio
    /// object.
    const SAVED: &str = include_str!("../../tests/data/lio-saveconfig.json");

    #[test]
    fn targetcli_saveconfig_converts_and_reads_back() {
        let import = from_lio(SAVED).unwrap();
        let c = &import.config;
        assert_eq!(c.portals.len(), 1);
        assert_eq!(c.portals[0].address.to_string(), "127.0.0.1:34973");
        assert_eq!(c.portals[0].group, 1);
        assert_eq!(c.limits.max_recv_data_segment_length, 8192);
        assert_eq!(c.limits.first_burst_length, 65536);
        assert!(c.limits.initial_r2t);
        assert_eq!(c.limits.header_digest, DigestPolicy::Prefer);
        let t = |n: &str| {
            c.targets
                .iter()
                .find(|t| t.name == format!("iqn.2026-11.rs.iscsi:{n}"))
                .unwrap()
        };
        let open = t("interop-lio");
        assert_eq!(open.allow, None, "generate_node_acls=1 admits everyone");
        assert!(open.chap.is_none(), "authentication=0");
        assert_eq!(open.luns[0].backing, Backing::Memory);
        assert_eq!(open.luns[0].size, Some(256 << 20));
        assert!(open.luns[0].serial.is_some());
        let chap = t("interop-lio-chap");
        assert_eq!(
            chap.allow,
            Some(vec!["iqn.2026-11.rs.iscsi:interop-initiator".to_owned()])
        );
        assert_eq!(chap.chap.as_ref().unwrap().user, "interop");
        assert!(chap.mutual_chap.is_none());
        assert_eq!(
            chap.luns[0].backing,
            Backing::File(PathBuf::from("/dev/shm/xtask-interop-lio.img"))
        );
        assert_eq!(chap.luns[0].size, Some(64 << 20));
        let mutual = t("interop-lio-mutual");
        assert_eq!(mutual.mutual_chap.as_ref().unwrap().user, "interop-target");
        assert!(
            import
                .not_carried
                .iter()
                .any(|n| n.contains("/backstores/fileio/xtask_interop is exported by")),
            "{:?}",
            import.not_carried
        );
        // The TOML it becomes reads back as the same configuration.
        let text = super::super::render(None, c).unwrap();
        let back = Config::parse(&text, "import.toml").unwrap();
        assert_eq!(back.portals, c.portals);
        assert_eq!(back.limits, c.limits);
        for (a, b) in back.targets.iter().zip(&c.targets) {
            assert_eq!((&a.name, &a.allow, &a.luns), (&b.name, &b.allow, &b.luns));
            assert!(same_chap(a.chap.as_ref(), b.chap.as_ref()));
            assert!(same_chap(a.mutual_chap.as_ref(), b.mutual_chap.as_ref()));
        }
    }

    #[test]
    fn what_cannot_be_carried_over_is_said() {
        let json = r#"{
          "fabric_modules": [{"name": "iscsi", "discovery_enable_auth": true,
            "discovery_userid": "d", "discovery_password": "short"}],
          "storage_objects": [
            {"plugin": "pscsi", "name": "tape", "dev": "/dev/sg3"},
            {"plugin": "block", "name": "sdb", "dev": "/dev/sdb", "readonly": true,
             "attributes": {"block_size": 4096}, "wwn": "abc"}
          ],
          "targets": [
            {"fabric": "loopback", "wwn": "naa.5001405"},
            {"fabric": "iscsi", "wwn": "iqn.2026-11.x:t", "tpgs": [
              {"tag": 1, "enable": true,
               "attributes": {"authentication": 1, "generate_node_acls": 0},
               "parameters": {"ErrorRecoveryLevel": "2"},
               "portals": [{"ip_address": "::1", "port": 3260}],
               "luns": [{"index": 0, "storage_object": "/backstores/pscsi/tape"},
                        {"index": 1, "storage_object": "/backstores/block/sdb"}],
               "node_acls": [
                 {"node_wwn": "iqn.2026-11.x:a", "chap_userid": "a", "chap_password": "a-secret",
                  "mapped_luns": [{"index": 0, "tpg_lun": 1, "write_protect": true}]},
                 {"node_wwn": "iqn.2026-11.x:b", "chap_userid": "b", "chap_password": "b-secret",
                  "mapped_luns": [{"index": 1, "tpg_lun": 1}]}
               ]},
              {"tag": 2, "enable": false}
            ]}
          ]
        }"#;
        let import = from_lio(json).unwrap();
        let notes = import.not_carried.join("\n");
        for said in [
            "fabric \"loopback\"",
            "\"pscsi\" is not served",
            "ErrorRecoveryLevel",
            "different CHAP credentials",
            "LUN masking per initiator",
            "write-protected",
            "TPG 2 is disabled",
        ] {
            assert!(notes.contains(said), "{said} not said in:\n{notes}");
        }
        let t = &import.config.targets[0];
        assert_eq!(t.luns.len(), 1);
        assert_eq!(t.luns[0].id, 1);
        assert!(t.luns[0].read_only);
        assert_eq!(t.luns[0].block_size, 4096);
        assert_eq!(t.luns[0].size, None, "a block device has its own size");
        assert_eq!(t.chap.as_ref().unwrap().user, "a");
        assert_eq!(import.config.portals[0].address.to_string(), "[::1]:3260");
        assert_eq!(import.config.discovery_chap.as_ref().unwrap().user, "d");
        // Short secrets, as LIO allowed them, read back.
        let text = super::super::render(None, &import.config).unwrap();
        let back = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(back.discovery_chap.unwrap().user, "d");
        assert!(from_lio("[]").is_err());
        assert!(from_lio("{\"targets\": []}").is_err());
    }
}
