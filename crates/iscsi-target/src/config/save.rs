//! Writing the running configuration back to its TOML file: only what
//! differs from the file is edited (with `toml_edit`), so the operator's
//! comments, order and layout stay; the file is replaced atomically.

use std::io::Write;
use std::path::Path;

use iscsi_login::{ChapCredentials, DigestPolicy};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, value};

use super::{ALUA_STATES, Backing, Config, Limits, LunConfig, Portal, TargetConfig};
use super::{format_size, parse_size, same_chap};

/// The TOML text of `config`: `original` (the file as it is on disk, if
/// any) edited where `config` differs from what it says, so comments,
/// order and untouched keys stay as they are. Keys the file leaves to
/// their defaults are written only when they change. Secrets that came
/// from `secret_file` or `secret_env` stay there unless the credentials
/// changed.
///
/// # Errors
/// The original is not TOML or not a valid configuration (the file was
/// edited into an error since it was read): a message naming the line.
pub fn render(original: Option<&str>, config: &Config) -> Result<String, String> {
    let text = original.unwrap_or("");
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("the file on disk is not TOML, not overwritten: {e}"))?;
    let old = if original.is_some() {
        Some(
            Config::parse(text, "the file on disk")
                .map_err(|e| format!("{e} (not overwritten)"))?,
        )
    } else {
        None
    };
    portals(&mut doc, old.as_ref(), config);
    limits(&mut doc, old.as_ref(), config)?;
    discovery(&mut doc, old.as_ref(), config)?;
    targets(&mut doc, old.as_ref(), config)?;
    let mut text = doc.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (with
/// the old file's permissions, else 0600), synced, renamed over it, and
/// the directory synced.
///
/// # Errors
/// The OS error; `path` is then unchanged.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let name = path
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Sets `key` of `table` to `item`; a value that replaces another keeps
/// its place, its key's decoration and its trailing comment.
fn put(table: &mut Table, key: &str, mut item: Item) {
    match table.get_mut(key) {
        Some(slot) => {
            if let (Some(old), Some(new)) = (slot.as_value(), item.as_value_mut()) {
                *new.decor_mut() = old.decor().clone();
            }
            *slot = item;
        }
        None => {
            table.insert(key, item);
        }
    }
}

/// The array of tables `key` of `table`, made when absent.
fn tables<'a>(table: &'a mut Table, key: &str) -> Result<&'a mut ArrayOfTables, String> {
    let item = table
        .entry(key)
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    item.as_array_of_tables_mut()
        .ok_or_else(|| format!("{key} in the file is not an array of tables ([[{key}]])"))
}

/// Sets `key` to `new`, or removes it when `new` is `None`, when `new`
/// differs from `old`.
fn set<T: PartialEq>(
    table: &mut Table,
    key: &str,
    old: Option<T>,
    new: Option<T>,
    to_item: impl Fn(T) -> Item,
) {
    if old == new {
        return;
    }
    match new {
        Some(v) => {
            put(table, key, to_item(v));
        }
        None => {
            table.remove(key);
        }
    }
}

fn portal_table(p: &Portal) -> Table {
    let mut t = Table::new();
    put(&mut t, "address", value(p.address.to_string()));
    put(&mut t, "group", value(i64::from(p.group)));
    if let Some(state) = alua_name(p) {
        put(&mut t, "alua_state", value(state));
    }
    t
}

/// The configuration file's name of a portal's state; `None` for the
/// default (active/optimized).
fn alua_name(p: &Portal) -> Option<&'static str> {
    ALUA_STATES
        .iter()
        .find(|(_, s)| *s == p.alua_state)
        .map(|(name, _)| *name)
        .filter(|name| *name != "active_optimized")
}

fn portals(doc: &mut DocumentMut, old: Option<&Config>, config: &Config) {
    let old_portals: &[Portal] = old.map_or(&[], |o| o.portals.as_slice());
    let Ok(aot) = tables(doc.as_table_mut(), "portal") else {
        return;
    };
    // A file without [[portal]] serves the default portal: it stays
    // implicit while that is all there is.
    if aot.is_empty() && old.is_some() && config.portals.as_slice() == old_portals {
        doc.remove("portal");
        return;
    }
    let mut present = Vec::new();
    let mut i = 0;
    while i < aot.len() {
        let address = aot
            .get(i)
            .and_then(|t| t.get("address"))
            .and_then(Item::as_str)
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok());
        match config.portals.iter().find(|p| Some(p.address) == address) {
            None => {
                aot.remove(i);
            }
            Some(new) => {
                let before = old_portals.iter().find(|o| o.address == new.address);
                if let Some(t) = aot.get_mut(i) {
                    set(t, "group", before.map(|o| o.group), Some(new.group), |g| {
                        value(i64::from(g))
                    });
                    if before.is_none_or(|o| o.alua_state != new.alua_state) {
                        match alua_name(new) {
                            Some(state) => {
                                put(t, "alua_state", value(state));
                            }
                            None => {
                                t.remove("alua_state");
                            }
                        }
                    }
                }
                present.push(new.address);
                i += 1;
            }
        }
    }
    for p in &config.portals {
        if !present.contains(&p.address) {
            aot.push(portal_table(p));
        }
    }
    if aot.is_empty() {
        doc.remove("portal");
    }
}

/// The `[limits]` keys whose values changed (from the file's, or from the
/// defaults for a new file).
fn limits(doc: &mut DocumentMut, old: Option<&Config>, config: &Config) -> Result<(), String> {
    let defaults = Limits::default();
    let was = old.map_or(&defaults, |o| &o.limits);
    let new = &config.limits;
    if was == new {
        return Ok(());
    }
    let table = doc
        .entry("limits")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .ok_or("limits in the file is not a table")?;
    let int = |v: u64| value(i64::try_from(v).unwrap_or(i64::MAX));
    let digest_name = |d: DigestPolicy| match d {
        DigestPolicy::Off => "off",
        DigestPolicy::Prefer => "prefer",
        DigestPolicy::Require => "require",
        _ => "allow",
    };
    let numbers: [(&str, u64, u64); 12] = [
        (
            "max_connections",
            was.max_connections as u64,
            new.max_connections as u64,
        ),
        (
            "max_sessions",
            was.max_sessions as u64,
            new.max_sessions as u64,
        ),
        (
            "login_timeout_ms",
            was.login_timeout_ms,
            new.login_timeout_ms,
        ),
        (
            "nop_in_interval_ms",
            was.nop_in_interval_ms,
            new.nop_in_interval_ms,
        ),
        (
            "nop_in_timeout_ms",
            was.nop_in_timeout_ms,
            new.nop_in_timeout_ms,
        ),
        (
            "queue_depth",
            u64::from(was.queue_depth),
            u64::from(new.queue_depth),
        ),
        (
            "max_recv_data_segment_length",
            u64::from(was.max_recv_data_segment_length),
            u64::from(new.max_recv_data_segment_length),
        ),
        (
            "max_burst_length",
            u64::from(was.max_burst_length),
            u64::from(new.max_burst_length),
        ),
        (
            "first_burst_length",
            u64::from(was.first_burst_length),
            u64::from(new.first_burst_length),
        ),
        (
            "max_outstanding_r2t",
            u64::from(was.max_outstanding_r2t),
            u64::from(new.max_outstanding_r2t),
        ),
        (
            "shutdown_grace_s",
            u64::from(was.shutdown_grace_s),
            u64::from(new.shutdown_grace_s),
        ),
        (
            "immediate_data",
            u64::from(was.immediate_data),
            u64::from(new.immediate_data),
        ),
    ];
    for (key, before, after) in numbers {
        if before != after {
            let item = if key == "immediate_data" {
                value(new.immediate_data)
            } else {
                int(after)
            };
            put(table, key, item);
        }
    }
    if was.initial_r2t != new.initial_r2t {
        put(table, "initial_r2t", value(new.initial_r2t));
    }
    if was.header_digest != new.header_digest {
        put(
            table,
            "header_digest",
            value(digest_name(new.header_digest)),
        );
    }
    if was.data_digest != new.data_digest {
        put(table, "data_digest", value(digest_name(new.data_digest)));
    }
    Ok(())
}

/// Whether credentials need `allow_short_secrets` to be read back (RFC
/// 7143 §12.1.3 asks for 12 bytes; LIO and older peers allow fewer).
fn short(c: Option<&ChapCredentials>) -> bool {
    c.is_some_and(|c| c.secret.expose().len() < 12)
}

fn chap_item(c: &ChapCredentials) -> Result<Item, String> {
    let secret = std::str::from_utf8(c.secret.expose())
        .map_err(|_| format!("the CHAP secret of {} is not UTF-8 text", c.user))?;
    let mut t = InlineTable::new();
    t.insert("user", c.user.as_str().into());
    t.insert("secret", secret.into());
    Ok(Item::Value(toml_edit::Value::InlineTable(t)))
}

/// Sets or removes `key` (CHAP credentials) when they changed.
fn set_chap(
    table: &mut Table,
    key: &str,
    old: Option<&ChapCredentials>,
    new: Option<&ChapCredentials>,
) -> Result<(), String> {
    if same_chap(old, new) {
        return Ok(());
    }
    match new {
        Some(c) => {
            put(table, key, chap_item(c)?);
        }
        None => {
            table.remove(key);
        }
    }
    Ok(())
}

fn discovery(doc: &mut DocumentMut, old: Option<&Config>, config: &Config) -> Result<(), String> {
    let (old_chap, old_mutual) = old.map_or((None, None), |o| {
        (o.discovery_chap.as_ref(), o.discovery_mutual_chap.as_ref())
    });
    if same_chap(old_chap, config.discovery_chap.as_ref())
        && same_chap(old_mutual, config.discovery_mutual_chap.as_ref())
    {
        return Ok(());
    }
    let table = doc
        .entry("discovery")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .ok_or("discovery in the file is not a table")?;
    set_chap(table, "chap", old_chap, config.discovery_chap.as_ref())?;
    set_chap(
        table,
        "mutual_chap",
        old_mutual,
        config.discovery_mutual_chap.as_ref(),
    )?;
    if short(config.discovery_chap.as_ref()) || short(config.discovery_mutual_chap.as_ref()) {
        put(table, "allow_short_secrets", value(true));
    }
    if table.is_empty() {
        doc.remove("discovery");
    }
    Ok(())
}

fn targets(doc: &mut DocumentMut, old: Option<&Config>, config: &Config) -> Result<(), String> {
    let old_targets: &[TargetConfig] = old.map_or(&[], |o| o.targets.as_slice());
    let aot = tables(doc.as_table_mut(), "target")?;
    let mut present = Vec::new();
    let mut i = 0;
    while i < aot.len() {
        let name = aot
            .get(i)
            .and_then(|t| t.get("name"))
            .and_then(Item::as_str)
            .map(str::to_owned);
        match config
            .targets
            .iter()
            .find(|t| Some(&t.name) == name.as_ref())
        {
            None => {
                aot.remove(i);
            }
            Some(new) => {
                let before = old_targets.iter().find(|o| o.name == new.name);
                if let Some(t) = aot.get_mut(i) {
                    edit_target(t, before, new)?;
                }
                present.push(new.name.clone());
                i += 1;
            }
        }
    }
    for t in &config.targets {
        if !present.contains(&t.name) {
            let mut table = Table::new();
            put(&mut table, "name", value(t.name.as_str()));
            edit_target(&mut table, None, t)?;
            aot.push(table);
        }
    }
    Ok(())
}

fn edit_target(
    table: &mut Table,
    old: Option<&TargetConfig>,
    new: &TargetConfig,
) -> Result<(), String> {
    set(
        table,
        "alias",
        old.and_then(|o| o.alias.clone()),
        new.alias.clone(),
        value,
    );
    set(
        table,
        "allow",
        old.and_then(|o| o.allow.clone()),
        new.allow.clone(),
        |list| value(list.iter().map(String::as_str).collect::<Array>()),
    );
    set_chap(
        table,
        "chap",
        old.and_then(|o| o.chap.as_ref()),
        new.chap.as_ref(),
    )?;
    set_chap(
        table,
        "mutual_chap",
        old.and_then(|o| o.mutual_chap.as_ref()),
        new.mutual_chap.as_ref(),
    )?;
    if short(new.chap.as_ref()) || short(new.mutual_chap.as_ref()) {
        put(table, "allow_short_secrets", value(true));
    }
    let old_luns: &[LunConfig] = old.map_or(&[], |o| o.luns.as_slice());
    let had_luns = table.contains_key("lun");
    let aot = tables(table, "lun")?;
    let mut present = Vec::new();
    let mut i = 0;
    while i < aot.len() {
        let id = aot
            .get(i)
            .and_then(|t| t.get("id"))
            .and_then(Item::as_integer)
            .and_then(|id| u16::try_from(id).ok());
        match new.luns.iter().find(|l| Some(l.id) == id) {
            None => {
                aot.remove(i);
            }
            Some(l) => {
                let before = old_luns.iter().find(|o| o.id == l.id);
                if let Some(t) = aot.get_mut(i) {
                    edit_lun(t, before, l);
                }
                present.push(l.id);
                i += 1;
            }
        }
    }
    for l in &new.luns {
        if !present.contains(&l.id) {
            let mut t = Table::new();
            put(&mut t, "id", value(i64::from(l.id)));
            edit_lun(&mut t, None, l);
            aot.push(t);
        }
    }
    if aot.is_empty() && !had_luns {
        table.remove("lun");
    }
    Ok(())
}

/// Edits a LUN's table where `new` differs from `old` (`None`: a new
/// table, where only what is not a default is written).
fn edit_lun(table: &mut Table, old: Option<&LunConfig>, new: &LunConfig) {
    let defaults = LunConfig::memory(new.id, 0);
    let was = old.unwrap_or(&defaults);
    if old.is_none_or(|o| o.backing != new.backing) {
        match &new.backing {
            Backing::Memory => {
                put(table, "backing", value("memory"));
                table.remove("path");
            }
            Backing::File(path) => {
                put(table, "backing", value("file"));
                put(table, "path", value(path.display().to_string()));
            }
            Backing::Rbd(rbd) => {
                put(table, "backing", value(rbd.to_string()));
                table.remove("path");
                let text =
                    |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
                for (key, v) in [
                    ("ceph_conf", text(&rbd.conf)),
                    ("ceph_client", rbd.client.clone()),
                    ("ceph_keyring", text(&rbd.keyring)),
                ] {
                    match v {
                        Some(v) => put(table, key, value(v)),
                        None => {
                            table.remove(key);
                        }
                    }
                }
            }
        }
        if !matches!(new.backing, Backing::Rbd(_)) {
            for key in ["ceph_conf", "ceph_client", "ceph_keyring"] {
                table.remove(key);
            }
        }
    }
    if was.size != new.size || old.is_none() {
        match new.size {
            Some(size) => {
                // Keep the file's way of writing it when it reads the same.
                let same = table
                    .get("size")
                    .and_then(Item::as_str)
                    .is_some_and(|s| parse_size(s) == Ok(size));
                if !same {
                    put(table, "size", value(format_size(size)));
                }
            }
            None => {
                table.remove("size");
            }
        }
    }
    let int = |v: u32| value(i64::from(v));
    if was.block_size != new.block_size {
        put(table, "block_size", int(new.block_size));
    }
    if was.physical_block_size != new.physical_block_size
        && !(old.is_none() && new.physical_block_size == new.block_size)
    {
        put(table, "physical_block_size", int(new.physical_block_size));
    }
    set(
        table,
        "read_only",
        Some(was.read_only),
        Some(new.read_only),
        value,
    );
    if was.sanitize_rate != new.sanitize_rate {
        put(
            table,
            "sanitize_rate",
            value(format_size(new.sanitize_rate)),
        );
    }
    set(
        table,
        "serial",
        was.serial.clone(),
        new.serial.clone(),
        value,
    );
    set(
        table,
        "product",
        was.product.clone(),
        new.product.clone(),
        value,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use iscsi_login::Secret;

    const FILE: &str = r#"# The lab target.
[[portal]]
address = "127.0.0.1:3260"   # loopback only

[limits]
queue_depth = 64

[[target]]
# Keep this one.
name = "iqn.2026-11.x:keep"
chap = { user = "u", secret_file = "SECRET_FILE" }

[[target.lun]]
id = 0
size = "64M"   # grows online

[[target]]
name = "iqn.2026-11.x:gone"
"#;

    fn parse(text: &str) -> Config {
        Config::parse(text, "t.toml").unwrap()
    }

    #[test]
    fn an_unchanged_configuration_is_written_as_it_was() {
        let text = FILE.replace(
            "secret_file = \"SECRET_FILE\"",
            "secret = \"0123456789abc\"",
        );
        assert_eq!(render(Some(&text), &parse(&text)).unwrap(), text);
    }

    #[test]
    fn changes_edit_the_file_and_keep_its_comments() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "0123456789abc\n").unwrap();
        let text = FILE.replace("SECRET_FILE", &secret.display().to_string());
        let mut config = parse(&text);
        config.targets.retain(|t| t.name != "iqn.2026-11.x:gone");
        let keep = &mut config.targets[0];
        keep.luns[0].size = Some(128 << 20);
        keep.allow = Some(vec!["iqn.2026-11.x:host".to_owned()]);
        let mut lun = LunConfig::memory(3, 1 << 30);
        lun.read_only = true;
        keep.luns.push(lun);
        let mut new = config.targets[0].clone();
        new.name = "iqn.2026-11.x:new".to_owned();
        new.chap = Some(ChapCredentials::new(
            "n",
            Secret::new("a-new-secret-1").unwrap(),
        ));
        new.allow = None;
        new.luns.truncate(0);
        config.targets.push(new);
        let mut p = config.portals[0];
        p.address = "127.0.0.1:3261".parse().unwrap();
        p.group = 2;
        config.portals.push(p);
        let out = render(Some(&text), &config).unwrap();
        for kept in [
            "# The lab target.",
            "# loopback only",
            "queue_depth = 64",
            "# Keep this one.",
            "secret_file = ",
            "# grows online",
        ] {
            assert!(out.contains(kept), "{kept} lost:\n{out}");
        }
        assert!(!out.contains("gone"), "{out}");
        assert!(out.contains("size = \"128M\""), "{out}");
        assert!(out.contains("allow = [\"iqn.2026-11.x:host\"]"), "{out}");
        // What was written reads back as the running configuration.
        let back = parse(&out);
        assert_eq!(back.portals, config.portals);
        assert_eq!(back.targets.len(), 2);
        for (a, b) in back.targets.iter().zip(&config.targets) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.allow, b.allow);
            assert_eq!(a.luns, b.luns);
            assert!(same_chap(a.chap.as_ref(), b.chap.as_ref()), "{}", a.name);
        }
        // And writing it again changes nothing.
        assert_eq!(render(Some(&out), &back).unwrap(), out);
    }

    #[test]
    fn a_configuration_without_a_file_is_written_whole() {
        let config = Config::embedded_default();
        let out = render(None, &config).unwrap();
        let back = parse(&out);
        assert_eq!(back.portals, config.portals);
        assert_eq!(back.targets[0].name, config.targets[0].name);
        assert_eq!(back.targets[0].luns, config.targets[0].luns);
    }

    #[test]
    fn a_broken_file_is_not_overwritten() {
        let e = render(Some("[[target]]\nname = 3\n"), &Config::embedded_default()).unwrap_err();
        assert!(e.contains("not overwritten"), "{e}");
    }

    #[test]
    fn files_are_replaced_atomically_with_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
