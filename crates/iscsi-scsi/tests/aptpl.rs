//! Persistent reservations through power loss (APTPL, SPC-4 §5.7.5): what
//! a unit saves, what a new unit restores, PTPL_C/PTPL_A, a store that
//! fails, and a unit without a store.

use std::io;
use std::sync::{Arc, Mutex};

use iscsi_scsi::data::{PrCapabilities, PrReadKeys, PrReadReservation};
use iscsi_scsi::{Asc, LogicalUnit, LuConfig, MemoryBackend, Nexus, PrStore, SenseKey, Status};

mod common;
use common::{assert_sense, run};

/// A store in memory: the last state saved, and whether saving fails.
#[derive(Debug, Default)]
struct Kept {
    state: Mutex<Option<String>>,
    saves: Mutex<usize>,
    broken: Mutex<bool>,
}

impl PrStore for Kept {
    fn save(&self, state: Option<&str>) -> io::Result<()> {
        if *self.broken.lock().unwrap() {
            return Err(io::Error::other("disk full"));
        }
        *self.saves.lock().unwrap() += 1;
        *self.state.lock().unwrap() = state.map(str::to_owned);
        Ok(())
    }
}

fn unit(store: Option<Arc<Kept>>) -> LogicalUnit {
    let mut config = LuConfig::new("iqn.2026-11.rs.iscsi:aptpl", "P1");
    config.pr_store = store.map(|s| s as Arc<dyn PrStore>);
    LogicalUnit::new(Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()), config)
}

fn nexus(id: u64) -> Nexus {
    Nexus::new(
        id,
        format!("iqn.2026-11.rs.iscsi:h{id},i,0x00023d0000{id:02}"),
        1,
    )
}

fn ready(lu: &LogicalUnit, n: &Nexus) {
    lu.add_nexus(n);
    let _ = run(lu, n, &[0; 6], &[]);
}

/// PERSISTENT RESERVE OUT with the basic 24-byte parameter list.
fn pr_out(
    lu: &LogicalUnit,
    n: &Nexus,
    sa: u8,
    kind: u8,
    key: u64,
    sa_key: u64,
    aptpl: bool,
) -> iscsi_scsi::Response {
    let mut list = [0u8; 24];
    list[..8].copy_from_slice(&key.to_be_bytes());
    list[8..16].copy_from_slice(&sa_key.to_be_bytes());
    list[20] = u8::from(aptpl);
    run(lu, n, &[0x5f, sa, kind, 0, 0, 0, 0, 0, 24, 0], &list)
}

fn pr_in(lu: &LogicalUnit, n: &Nexus, sa: u8) -> bytes::Bytes {
    let r = run(lu, n, &[0x5e, sa, 0, 0, 0, 0, 0, 0x10, 0, 0], &[]);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    r.data
}

/// READ KEYS: the registered reservation keys.
fn registered_keys(lu: &LogicalUnit, n: &Nexus) -> Vec<u64> {
    PrReadKeys::parse(&pr_in(lu, n, 0)).unwrap().keys
}

#[test]
fn aptpl_state_is_saved_and_a_new_unit_restores_it() {
    let store = Arc::new(Kept::default());
    let lu = unit(Some(store.clone()));
    let (a, b) = (nexus(1), nexus(2));
    ready(&lu, &a);
    ready(&lu, &b);
    let caps = PrCapabilities::parse(&pr_in(&lu, &a, 2)).unwrap();
    assert!(caps.ptpl_c && !caps.ptpl_a);
    // Without APTPL nothing is saved.
    assert_eq!(pr_out(&lu, &a, 0, 0, 0, 0xaa, false).status, Status::GOOD);
    assert_eq!(*store.saves.lock().unwrap(), 0);
    // The second registration asks for APTPL: from then on every change
    // is saved before it takes effect.
    assert_eq!(pr_out(&lu, &b, 0, 0, 0, 0xbb, true).status, Status::GOOD);
    assert_eq!(pr_out(&lu, &a, 1, 1, 0xaa, 0, false).status, Status::GOOD);
    let caps = PrCapabilities::parse(&pr_in(&lu, &b, 2)).unwrap();
    assert!(caps.ptpl_c && caps.ptpl_a);
    let text = store.state.lock().unwrap().clone().expect("saved");
    assert!(
        text.contains("register 0xaa 1 iqn.2026-11.rs.iscsi:h1,i,0x00023d000001"),
        "{text}"
    );
    assert!(
        text.contains("reserve 1 1 iqn.2026-11.rs.iscsi:h1,i,0x00023d000001"),
        "{text}"
    );
    let keys = PrReadKeys::parse(&pr_in(&lu, &a, 0)).unwrap();

    // "Power loss": a new unit, the same store; new nexuses for the same
    // initiator ports find their keys and the reservation.
    let again = unit(Some(store.clone()));
    again.restore_persistent_reservations(&text).unwrap();
    let (a2, b2) = (nexus(11), nexus(12));
    let a2 = Nexus::new(a2.id, a.initiator_port.to_string(), 1);
    let b2 = Nexus::new(b2.id, b.initiator_port.to_string(), 1);
    ready(&again, &a2);
    ready(&again, &b2);
    let restored = PrReadKeys::parse(&pr_in(&again, &a2, 0)).unwrap();
    assert_eq!(restored, keys);
    let r = PrReadReservation::parse(&pr_in(&again, &b2, 1)).unwrap();
    let held = r.reservation.expect("a reservation");
    assert_eq!((held.key, held.pr_type), (0xaa, 1));
    // Write Exclusive held by a: b's writes conflict, a's do not.
    let write = [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    assert_eq!(
        run(&again, &b2, &write, &[1; 512]).status,
        Status::RESERVATION_CONFLICT
    );
    assert_eq!(run(&again, &a2, &write, &[1; 512]).status, Status::GOOD);
    assert!(
        PrCapabilities::parse(&pr_in(&again, &a2, 2))
            .unwrap()
            .ptpl_a
    );

    // A REGISTER with APTPL 0 ends it: the store is told to keep nothing.
    assert_eq!(
        pr_out(&again, &b2, 0, 0, 0xbb, 0xbc, false).status,
        Status::GOOD
    );
    assert_eq!(*store.state.lock().unwrap(), None);
    assert!(
        !PrCapabilities::parse(&pr_in(&again, &a2, 2))
            .unwrap()
            .ptpl_a
    );
}

#[test]
fn a_store_that_fails_leaves_the_state_as_it_was() {
    let store = Arc::new(Kept::default());
    let lu = unit(Some(store.clone()));
    let a = nexus(1);
    ready(&lu, &a);
    *store.broken.lock().unwrap() = true;
    let r = pr_out(&lu, &a, 0, 0, 0, 0xaa, true);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INSUFFICIENT_REGISTRATION_RESOURCES,
    );
    assert!(registered_keys(&lu, &a).is_empty());
}

#[test]
fn without_a_store_aptpl_is_refused() {
    let lu = unit(None);
    let a = nexus(1);
    ready(&lu, &a);
    assert!(!PrCapabilities::parse(&pr_in(&lu, &a, 2)).unwrap().ptpl_c);
    let r = pr_out(&lu, &a, 0, 0, 0, 0xaa, true);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::INVALID_FIELD_IN_PARAMETER_LIST,
    );
    assert!(registered_keys(&lu, &a).is_empty());
}

#[test]
fn a_damaged_state_is_refused_with_its_line() {
    let lu = unit(Some(Arc::new(Kept::default())));
    for (text, line) in [
        ("nonsense\n", "line 1"),
        (
            "# iscsi-rs persistent reservations v1\ngeneration x\n",
            "line 2",
        ),
        (
            "# iscsi-rs persistent reservations v1\nregister 0x0 1 iqn.x,i,0x01\n",
            "line 2",
        ),
        (
            "# iscsi-rs persistent reservations v1\nregister 0x5 1 iqn.x,i,0x01\nreserve 1 1 iqn.y,i,0x02\n",
            "line 3",
        ),
        (
            "# iscsi-rs persistent reservations v1\nfrobnicate\n",
            "line 2",
        ),
    ] {
        let e = lu.restore_persistent_reservations(text).unwrap_err();
        assert!(e.starts_with(line), "{text:?}: {e}");
    }
}
