//! ALUA through the logical unit: TPGS, REPORT and SET TARGET PORT GROUPS,
//! the commands each state lets through and the unit attention a change
//! raises.

use std::sync::Arc;

use iscsi_scsi::data::{AccessState, ReportTargetPortGroups, SetTargetPortGroups, StandardInquiry};
use iscsi_scsi::{
    Asc, LogicalUnit, LuConfig, MemoryBackend, Nexus, SenseKey, Status, TargetPortGroup,
    TargetPortGroups,
};

mod common;
use common::{assert_sense, run};

const TUR: [u8; 6] = [0; 6];
const READ: [u8; 10] = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];
const INQUIRY: [u8; 6] = [0x12, 0, 0, 0, 96, 0];
const MODE_SENSE: [u8; 6] = [0x1a, 0, 0x3f, 0, 255, 0];
const RSOC: [u8; 12] = [0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];

fn rtpg(extended: bool) -> [u8; 12] {
    [
        0xa3,
        0x0a | if extended { 0x20 } else { 0 },
        0,
        0,
        0,
        0,
        0,
        0,
        4,
        0,
        0,
        0,
    ]
}

fn stpg(len: usize) -> [u8; 12] {
    let l = u32::try_from(len).unwrap().to_be_bytes();
    [0xa4, 0x0a, 0, 0, 0, 0, l[0], l[1], l[2], l[3], 0, 0]
}

struct Setup {
    lu: LogicalUnit,
    groups: Arc<TargetPortGroups>,
    /// Through port 1 (group 1) and port 2 (group 2).
    a: Nexus,
    b: Nexus,
}

fn setup(one: AccessState, two: AccessState) -> Setup {
    let groups = Arc::new(TargetPortGroups::new(vec![
        TargetPortGroup::new(1, one, vec![1]),
        TargetPortGroup::new(2, two, vec![2]),
    ]));
    let mut config = LuConfig::new("iqn.2026-11.rs.iscsi:alua", "A1");
    config.port_groups = Some(groups.clone());
    let lu = LogicalUnit::new(Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()), config);
    let a = Nexus::new(1, "iqn.2026-11.rs.iscsi:h,i,0x800000000001", 1);
    let b = Nexus::new(2, "iqn.2026-11.rs.iscsi:h,i,0x800000000002", 2);
    for n in [&a, &b] {
        lu.add_nexus(n);
        let r = run(&lu, n, &INQUIRY, &[]);
        assert_eq!(r.status, Status::GOOD);
        // Consume the power-on attention (REQUEST SENSE passes any state).
        let _ = run(&lu, n, &[0x03, 0, 0, 0, 18, 0], &[]);
    }
    Setup { lu, groups, a, b }
}

#[test]
fn groups_are_reported_and_standby_lets_only_management_through() {
    let s = setup(AccessState::ActiveOptimized, AccessState::Standby);
    let inquiry = StandardInquiry::parse(&run(&s.lu, &s.a, &INQUIRY, &[]).data).unwrap();
    assert_eq!(inquiry.tpgs, 3);
    for extended in [false, true] {
        let r = run(&s.lu, &s.b, &rtpg(extended), &[]);
        assert_eq!(r.status, Status::GOOD, "{r:?}");
        let report = ReportTargetPortGroups::parse(&r.data).unwrap();
        assert_eq!(report.extended, extended);
        let states: Vec<_> = report
            .groups
            .iter()
            .map(|g| (g.id, g.state, g.ports.clone()))
            .collect();
        assert_eq!(
            states,
            [
                (1, AccessState::ActiveOptimized, vec![1]),
                (2, AccessState::Standby, vec![2])
            ]
        );
        assert_eq!(
            ReportTargetPortGroups::parse(&report.encode()).unwrap(),
            report
        );
    }
    assert_eq!(run(&s.lu, &s.a, &READ, &[]).status, Status::GOOD);
    for cdb in [&TUR[..], &READ[..], &RSOC[..]] {
        let r = run(&s.lu, &s.b, cdb, &[]);
        assert_sense(&r, SenseKey::NOT_READY, Asc::NOT_READY_TARGET_PORT_STANDBY);
    }
    for cdb in [&INQUIRY[..], &MODE_SENSE[..], &rtpg(false)[..]] {
        assert_eq!(
            run(&s.lu, &s.b, cdb, &[]).status,
            Status::GOOD,
            "{cdb:02x?}"
        );
    }
}

#[test]
fn set_target_port_groups_swaps_the_paths_and_tells_the_other_nexuses() {
    let s = setup(AccessState::ActiveOptimized, AccessState::Standby);
    let list = SetTargetPortGroups::new(vec![
        (AccessState::Standby, 1),
        (AccessState::ActiveOptimized, 2),
    ])
    .encode();
    let r = run(&s.lu, &s.a, &stpg(list.len()), &list);
    assert_eq!(r.status, Status::GOOD, "{r:?}");
    // The issuing nexus gets no attention: its port is now in standby.
    assert_sense(
        &run(&s.lu, &s.a, &TUR, &[]),
        SenseKey::NOT_READY,
        Asc::NOT_READY_TARGET_PORT_STANDBY,
    );
    assert_sense(
        &run(&s.lu, &s.b, &TUR, &[]),
        SenseKey::UNIT_ATTENTION,
        Asc::ASYMMETRIC_ACCESS_STATE_CHANGED,
    );
    assert_eq!(run(&s.lu, &s.b, &READ, &[]).status, Status::GOOD);
    let report = ReportTargetPortGroups::parse(&run(&s.lu, &s.b, &rtpg(false), &[]).data).unwrap();
    assert_eq!(
        report.groups[0].status_code, 0x01,
        "set by SET TARGET PORT GROUPS"
    );
    // Transitioning cannot be asked for, nor an unknown group; nothing
    // of a refused list is applied.
    for bad in [
        vec![
            (AccessState::ActiveOptimized, 1),
            (AccessState::Transitioning, 2),
        ],
        vec![(AccessState::ActiveOptimized, 1), (AccessState::Standby, 9)],
    ] {
        let list = SetTargetPortGroups::new(bad).encode();
        let r = run(&s.lu, &s.b, &stpg(list.len()), &list);
        assert_sense(
            &r,
            SenseKey::ILLEGAL_REQUEST,
            Asc::INVALID_FIELD_IN_PARAMETER_LIST,
        );
    }
    assert_eq!(s.groups.state_of_port(1), AccessState::Standby);
    let r = run(&s.lu, &s.b, &stpg(6), &[0; 6]);
    assert_sense(
        &r,
        SenseKey::ILLEGAL_REQUEST,
        Asc::PARAMETER_LIST_LENGTH_ERROR,
    );
}

#[test]
fn an_operator_change_tells_every_nexus() {
    let s = setup(
        AccessState::ActiveOptimized,
        AccessState::ActiveNonOptimized,
    );
    assert_eq!(run(&s.lu, &s.b, &READ, &[]).status, Status::GOOD);
    s.groups.set_state(2, AccessState::Unavailable).unwrap();
    assert!(s.groups.set_state(7, AccessState::Standby).is_err());
    for n in [&s.a, &s.b] {
        assert_sense(
            &run(&s.lu, n, &TUR, &[]),
            SenseKey::UNIT_ATTENTION,
            Asc::ASYMMETRIC_ACCESS_STATE_CHANGED,
        );
    }
    // Unavailable: not even MODE SENSE, but SET TARGET PORT GROUPS.
    assert_sense(
        &run(&s.lu, &s.b, &MODE_SENSE, &[]),
        SenseKey::NOT_READY,
        Asc::NOT_READY_TARGET_PORT_UNAVAILABLE,
    );
    let list = SetTargetPortGroups::new(vec![(AccessState::ActiveOptimized, 2)]).encode();
    assert_eq!(
        run(&s.lu, &s.b, &stpg(list.len()), &list).status,
        Status::GOOD
    );
    // Transitioning: REPORT TARGET PORT GROUPS passes, REPORT SUPPORTED
    // OPERATION CODES does not.
    s.groups.set_state(2, AccessState::Transitioning).unwrap();
    let _ = run(&s.lu, &s.b, &INQUIRY, &[]);
    let _ = run(&s.lu, &s.b, &[0x03, 0, 0, 0, 18, 0], &[]);
    assert_eq!(run(&s.lu, &s.b, &rtpg(false), &[]).status, Status::GOOD);
    assert_sense(
        &run(&s.lu, &s.b, &RSOC, &[]),
        SenseKey::NOT_READY,
        Asc::NOT_READY_ASYMMETRIC_ACCESS_STATE_TRANSITION,
    );
}

#[test]
fn without_port_groups_there_is_no_alua() {
    let lu = LogicalUnit::new(
        Arc::new(MemoryBackend::new(1 << 20, 512).unwrap()),
        LuConfig::new("iqn.2026-11.rs.iscsi:plain", "P1"),
    );
    let n = Nexus::new(1, "iqn.x,i,0x1", 1);
    let inquiry = StandardInquiry::parse(&run(&lu, &n, &INQUIRY, &[]).data).unwrap();
    assert_eq!(inquiry.tpgs, 0);
    let r = run(&lu, &n, &rtpg(false), &[]);
    assert_sense(&r, SenseKey::ILLEGAL_REQUEST, Asc::INVALID_FIELD_IN_CDB);
}
