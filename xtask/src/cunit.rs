//! Reading the logs of `iscsi-test-cu`, libiscsi's CUnit conformance suite.
//!
//! CUnit counts a test that skips itself as passed, so its own summary
//! ("Run Summary: ... Passed") says little. Each test is classified from the
//! verbose log instead, with the rules of `shared/tools/parse_cu.py` (the
//! project's reference, ported line for line):
//!
//! - **PASS**: CUnit said `passed` and the test printed neither `[SKIPPED]`
//!   nor `[FAILED]`;
//! - **SKIP**: passed, but printed `[SKIPPED]` (the feature is absent);
//! - **SOFT**: passed, but printed `[FAILED]` (libiscsi logged an error the
//!   test did not assert on), also when the `[FAILED]` line comes after the
//!   verdict;
//! - **FAIL**: CUnit said `FAILED` (an assertion failed);
//! - **INCOMPLETE**: no verdict before the next suite, the run summary or the
//!   end of the log (a hang killed by `timeout`, or a crash).
//!
//! One quirk is kept for fidelity: when a `Test:` line follows a test that
//! has no verdict yet, the reference forgets the earlier test (it is neither
//! counted nor listed). The expectation file catches a test that vanishes.

use std::fmt::Write as _;

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Passed without skip or error output.
    Pass,
    /// Passed, but skipped itself.
    Skip,
    /// Passed, but printed `[FAILED]`.
    Soft,
    /// An assertion failed.
    Fail,
    /// No verdict (hang or crash).
    Incomplete,
}

impl Class {
    /// Every class, in report order.
    pub(crate) const ALL: [Self; 5] = [
        Self::Pass,
        Self::Skip,
        Self::Soft,
        Self::Fail,
        Self::Incomplete,
    ];

    /// The report label.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Skip => "SKIP",
            Self::Soft => "SOFT",
            Self::Fail => "FAIL",
            Self::Incomplete => "INCOMPLETE",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Pass => 0,
            Self::Skip => 1,
            Self::Soft => 2,
            Self::Fail => 3,
            Self::Incomplete => 4,
        }
    }
}

/// One test of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TestResult {
    /// CUnit suite, e.g. `Read10` (`?` before any `Suite:` line).
    pub(crate) suite: String,
    /// Test name within the suite, e.g. `BeyondEol`.
    pub(crate) test: String,
    /// Classification.
    pub(crate) class: Class,
    /// The first `[SKIPPED]`/`[FAILED]` message, or why it is incomplete.
    pub(crate) message: String,
}

impl TestResult {
    /// `Suite.Test`, the name used by the expectation file.
    pub(crate) fn id(&self) -> String {
        format!("{}.{}", self.suite, self.test)
    }
}

/// Per-class counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts([usize; 5]);

impl Counts {
    /// Counts the classes of `results`.
    pub(crate) fn of(results: &[TestResult]) -> Self {
        let mut counts = Self::default();
        for r in results {
            counts.0[r.class.index()] += 1;
        }
        counts
    }

    /// Tests of class `class`.
    pub(crate) const fn get(self, class: Class) -> usize {
        self.0[class.index()]
    }

    /// All tests.
    pub(crate) fn total(self) -> usize {
        self.0.iter().sum()
    }

    fn add(self, other: Self) -> Self {
        let mut sum = self;
        for (a, b) in sum.0.iter_mut().zip(other.0) {
            *a += b;
        }
        sum
    }

    /// `PASS 177 SKIP 38 SOFT 0 FAIL 0 INCOMPLETE 0`.
    pub(crate) fn describe(self) -> String {
        Class::ALL
            .iter()
            .map(|c| format!("{} {}", c.label(), self.get(*c)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Python's `str.splitlines` separators.
const fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Python's `str.strip()` (its whitespace includes `\x1c`..`\x1f`).
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// `^Suite: (\S+)`.
fn suite_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Suite: ")?;
    let name = rest.split(char::is_whitespace).next()?;
    (!name.is_empty()).then_some(name)
}

/// `^  Test: (\S+) \.\.\.(.*)$`: the name and what follows the dots.
fn test_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("  Test: ")?;
    let end = rest.find(char::is_whitespace)?;
    let (name, after) = rest.split_at(end);
    if name.is_empty() {
        return None;
    }
    Some((name, after.strip_prefix(" ...")?))
}

/// `\[(SKIPPED|FAILED)\][^\n]*`, stripped: the first message on `line`.
fn message_in(line: &str) -> Option<&str> {
    let start = [line.find("[SKIPPED]"), line.find("[FAILED]")]
        .into_iter()
        .flatten()
        .min()?;
    Some(py_strip(&line[start..]))
}

/// The parser's state: the suite and the test whose verdict is pending.
struct Parser {
    results: Vec<TestResult>,
    suite: String,
    current: Option<String>,
    buffer: Vec<String>,
}

impl Parser {
    fn close(&mut self, failed: bool) {
        let Some(test) = self.current.take() else {
            return;
        };
        let buffer = std::mem::take(&mut self.buffer);
        let skipped = buffer.iter().any(|l| l.contains("[SKIPPED]"));
        let soft = buffer.iter().any(|l| l.contains("[FAILED]"));
        let message = buffer
            .iter()
            .find_map(|l| message_in(l))
            .unwrap_or("")
            .to_owned();
        let class = if failed {
            Class::Fail
        } else if soft {
            Class::Soft
        } else if skipped {
            Class::Skip
        } else {
            Class::Pass
        };
        self.results.push(TestResult {
            suite: self.suite.clone(),
            test,
            class,
            message,
        });
    }

    fn incomplete(&mut self) {
        if let Some(test) = self.current.take() {
            self.buffer.clear();
            self.results.push(TestResult {
                suite: self.suite.clone(),
                test,
                class: Class::Incomplete,
                message: "test never finished (hang killed by timeout, or crash)".to_owned(),
            });
        }
    }

    fn line(&mut self, line: &str) {
        if let Some(name) = suite_name(line) {
            self.incomplete();
            name.clone_into(&mut self.suite);
            return;
        }
        if line.contains("CUnit - A unit testing framework") || line.starts_with("Run Summary") {
            self.incomplete();
            return;
        }
        if let Some((name, rest)) = test_line(line) {
            self.current = Some(name.to_owned());
            self.buffer = vec![rest.to_owned()];
            if rest.starts_with("passed") {
                self.close(false);
            } else if rest.starts_with("FAILED") {
                self.close(true);
            }
            return;
        }
        if self.current.is_some() {
            let s = py_strip(line);
            if s.starts_with("passed") {
                self.buffer.push(line.to_owned());
                self.close(false);
            } else if s == "FAILED" {
                self.close(true);
            } else {
                self.buffer.push(line.to_owned());
            }
        } else if line.contains("[FAILED]")
            && let Some(last) = self.results.last_mut()
        {
            // A `[FAILED]` printed after the verdict belongs to that test.
            if last.class == Class::Pass {
                last.class = Class::Soft;
            }
            if last.message.is_empty() {
                py_strip(line).clone_into(&mut last.message);
            }
        }
    }
}

/// Classifies every test of an `iscsi-test-cu` verbose log.
pub(crate) fn parse(log: &str) -> Vec<TestResult> {
    let mut parser = Parser {
        results: Vec::new(),
        suite: "?".to_owned(),
        current: None,
        buffer: Vec::new(),
    };
    let mut lines: Vec<&str> = log.split(is_line_break).collect();
    // `splitlines` yields no empty line after a final line break.
    if log.ends_with(is_line_break) {
        lines.pop();
    }
    for line in lines {
        parser.line(line);
    }
    parser.incomplete();
    parser.results
}

/// One `iscsi-test-cu -t FAMILY...` run.
#[derive(Clone, Debug)]
pub(crate) struct FamilyRun {
    /// `SCSI` or `iSCSI`.
    pub(crate) family: String,
    /// Every test of the log.
    pub(crate) results: Vec<TestResult>,
}

/// A peer's conformance results.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    /// The peer (`ours`, `tgtd`).
    pub(crate) peer: String,
    /// One entry per family run.
    pub(crate) families: Vec<FamilyRun>,
}

impl Report {
    /// Counts over all families.
    pub(crate) fn totals(&self) -> Counts {
        self.families
            .iter()
            .fold(Counts::default(), |acc, f| acc.add(Counts::of(&f.results)))
    }

    /// Every test of every family.
    pub(crate) fn results(&self) -> impl Iterator<Item = &TestResult> {
        self.families.iter().flat_map(|f| f.results.iter())
    }

    fn family(&self, name: &str) -> Option<&FamilyRun> {
        self.families.iter().find(|f| f.family == name)
    }
}

/// A table of family × class, one column block per report:
///
/// ```text
/// family  | ours  PASS SKIP SOFT FAIL INCOMPLETE | tgtd  PASS ...
/// ```
pub(crate) fn table(reports: &[&Report]) -> String {
    let mut families: Vec<&str> = Vec::new();
    for r in reports {
        for f in &r.families {
            if !families.contains(&f.family.as_str()) {
                families.push(&f.family);
            }
        }
    }
    let mut out = String::new();
    let _ = write!(out, "{:<8}", "family");
    for r in reports {
        let _ = write!(out, " | {:<6}", r.peer);
        for c in Class::ALL {
            let _ = write!(out, " {:>5}", short(c));
        }
        let _ = write!(out, " {:>5}", "total");
    }
    out.push('\n');
    let row = |out: &mut String, label: &str, counts: &dyn Fn(&Report) -> Option<Counts>| {
        let _ = write!(out, "{label:<8}");
        for r in reports {
            let _ = write!(out, " | {:<6}", "");
            match counts(r) {
                Some(c) => {
                    for class in Class::ALL {
                        let _ = write!(out, " {:>5}", c.get(class));
                    }
                    let _ = write!(out, " {:>5}", c.total());
                }
                None => {
                    let _ = write!(out, " {:>35}", "not run");
                }
            }
        }
        out.push('\n');
    };
    for family in &families {
        row(&mut out, family, &|r: &Report| {
            r.family(family).map(|f| Counts::of(&f.results))
        });
    }
    row(&mut out, "total", &|r: &Report| Some(r.totals()));
    out
}

/// Column headings short enough for the table.
const fn short(class: Class) -> &'static str {
    match class {
        Class::Incomplete => "INCMP",
        other => other.label(),
    }
}

/// The `Suite.Test` names of an expectation file (`#` starts a comment).
pub(crate) fn parse_expectations(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What an expectation check found: tests that did not pass, and expected
/// tests that were not in the log at all.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Unmet {
    /// `(Suite.Test, class label and message)` of expected tests that ran
    /// and did not PASS.
    pub(crate) not_passing: Vec<(String, String)>,
    /// Expected tests absent from the log.
    pub(crate) absent: Vec<String>,
}

/// Compares `report` with the expected passes.
pub(crate) fn unmet(expected: &[String], report: &Report) -> Unmet {
    let mut out = Unmet::default();
    for id in expected {
        match report.results().find(|r| r.id() == *id) {
            Some(r) if r.class == Class::Pass => {}
            Some(r) => out
                .not_passing
                .push((id.clone(), format!("{} {}", r.class.label(), r.message))),
            None => out.absent.push(id.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Class, Counts, FamilyRun, Report, parse, parse_expectations, table, unmet};

    /// Excerpt of a run against our target (libiscsi 1.19).
    const OURS: &str = "\n\n     CUnit - A unit testing framework for C - Version 2.1-3
     http://cunit.sourceforge.net/


Suite: CompareAndWrite
  Test: Simple ...passed
  Test: InvalidDataOutSize ...    [SKIPPED] LBPPB < 2. Skipping test
passed
Suite: ExtendedCopy
  Test: Simple ...    [SKIPPED] EXTENDEDCOPY is not implemented.
    [SKIPPED] EXTENDEDCOPY is not implemented.
passed
Suite: iSCSIdatasn
  Test: iSCSIDataSnInvalid ...    [FAILED] WRITE10 command failed with status 2 / sense key COMMAND ABORTED(0x0b) / ASCQ (null)(0x4b00)
    [FAILED] WRITE10 command failed with status 2 / sense key COMMAND ABORTED(0x0b) / ASCQ (null)(0x4b00)
passed
Suite: iSCSITMF
  Test: AbortTaskSimpleAsync ...passed

Run Summary:    Type  Total    Ran Passed Failed Inactive
              suites      4      4    n/a      0        0
";

    /// Excerpt of a run against tgtd 1.0.85.
    const TGTD: &str = "Suite: GetLBAStatus
  Test: Simple ...passed
  Test: BeyondEol ...    [FAILED] GET_LBA_STATUS successful but should have failed with ILLEGAL_REQUEST(0x05)/LBA_OUT_OF_RANGE(0x2100)
FAILED
    1. test_get_lba_status_beyond_eol.c:38  - CU_ASSERT_EQUAL(_r,0)
  Test: UnmapSingle ...    [SKIPPED] Logical unit is fully provisioned. Skipping test
passed
Suite: iSCSIdatasn
  Test: iSCSIDataSnInvalid ...FAILED
    1. test_iscsi_datasn_invalid.c:98  - CU_ASSERT_NOT_EQUAL(ret,0)
Suite: Reserve6
  Test: TargetWarmReset ...    [SKIPPED] Task Management functionfor WarmReset is not working/implemented

passed
  Test: LUNReset ...passed    [FAILED] PRIN command: failed with sense. SENSE KEY:UNIT_ATTENTION(6) ASCQ:BUS_RESET(0x2900)

Suite: WriteSame10
  Test: UnmapVPD ...    [FAILED] WRITESAME10 command failed with status 2 / sense key ILLEGAL_REQUEST(0x05) / ASCQ INVALID_FIELD_IN_CDB(0x2400)
passed
  Test: Check ...passed
";

    fn classes(log: &str) -> Vec<(String, Class)> {
        parse(log).into_iter().map(|r| (r.id(), r.class)).collect()
    }

    fn ids(list: &[(&str, Class)]) -> Vec<(String, Class)> {
        list.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
    }

    #[test]
    fn classifies_a_run_against_ours() {
        assert_eq!(
            classes(OURS),
            ids(&[
                ("CompareAndWrite.Simple", Class::Pass),
                ("CompareAndWrite.InvalidDataOutSize", Class::Skip),
                ("ExtendedCopy.Simple", Class::Skip),
                ("iSCSIdatasn.iSCSIDataSnInvalid", Class::Soft),
                ("iSCSITMF.AbortTaskSimpleAsync", Class::Pass),
            ])
        );
        let results = parse(OURS);
        assert_eq!(
            results[1].message, "[SKIPPED] LBPPB < 2. Skipping test",
            "the message runs from the bracket to the end of the line"
        );
        assert!(
            results[3]
                .message
                .starts_with("[FAILED] WRITE10 command failed")
        );
    }

    #[test]
    fn classifies_a_run_against_tgtd() {
        assert_eq!(
            classes(TGTD),
            ids(&[
                ("GetLBAStatus.Simple", Class::Pass),
                ("GetLBAStatus.BeyondEol", Class::Fail),
                ("GetLBAStatus.UnmapSingle", Class::Skip),
                ("iSCSIdatasn.iSCSIDataSnInvalid", Class::Fail),
                ("Reserve6.TargetWarmReset", Class::Skip),
                ("Reserve6.LUNReset", Class::Soft),
                ("WriteSame10.UnmapVPD", Class::Soft),
                ("WriteSame10.Check", Class::Pass),
            ])
        );
        let results = parse(TGTD);
        assert!(results[1].message.starts_with("[FAILED] GET_LBA_STATUS"));
        assert_eq!(results[3].message, "", "a bare FAILED has no message");
        assert!(results[5].message.starts_with("[FAILED] PRIN command"));
    }

    #[test]
    fn a_failed_line_after_the_verdict_makes_a_pass_soft() {
        let log = "Suite: S\n  Test: A ...passed\n    [FAILED] late message\n  Test: B ...    [SKIPPED] x\npassed\n[FAILED] y\n";
        let results = parse(log);
        assert_eq!(results[0].class, Class::Soft);
        assert_eq!(results[0].message, "[FAILED] late message");
        assert_eq!(results[1].class, Class::Skip, "only a PASS turns SOFT");
        assert_eq!(results[1].message, "[SKIPPED] x");
    }

    #[test]
    fn a_test_without_verdict_is_incomplete() {
        // The suite was killed by `timeout` in the middle of a test.
        let log = "Suite: Read10\n  Test: Simple ...passed\n  Test: BeyondEol ...    waiting\n";
        let results = parse(log);
        assert_eq!(results[1].class, Class::Incomplete);
        assert_eq!(results[1].id(), "Read10.BeyondEol");
        // A new suite or the run summary also ends a pending test.
        let log = "Suite: A\n  Test: T ...\nSuite: B\n  Test: U ...\nRun Summary: x\n";
        assert_eq!(
            classes(log),
            ids(&[("A.T", Class::Incomplete), ("B.U", Class::Incomplete)])
        );
    }

    #[test]
    fn a_test_line_without_verdict_forgets_the_pending_test_like_the_reference() {
        let log = "Suite: A\n  Test: T ...\n  Test: U ...passed\n";
        assert_eq!(classes(log), ids(&[("A.U", Class::Pass)]));
    }

    #[test]
    fn lines_break_like_python_splitlines() {
        let log = "Suite: A\r\n  Test: T ...\r    [SKIPPED] s\rpassed\r\n";
        assert_eq!(classes(log), ids(&[("A.T", Class::Skip)]));
    }

    fn report(peer: &str, family: &str, log: &str) -> Report {
        Report {
            peer: peer.to_owned(),
            families: vec![FamilyRun {
                family: family.to_owned(),
                results: parse(log),
            }],
        }
    }

    #[test]
    fn counts_and_table() {
        let ours = report("ours", "SCSI", OURS);
        let tgtd = report("tgtd", "SCSI", TGTD);
        let counts = ours.totals();
        assert_eq!(counts.get(Class::Pass), 2);
        assert_eq!(counts.get(Class::Skip), 2);
        assert_eq!(counts.get(Class::Soft), 1);
        assert_eq!(counts.total(), 5);
        assert_eq!(
            Counts::of(&parse(TGTD)).describe(),
            "PASS 2 SKIP 2 SOFT 2 FAIL 2 INCOMPLETE 0"
        );
        let text = table(&[&ours, &tgtd]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("ours") && lines[0].contains("tgtd"));
        assert!(lines[1].starts_with("SCSI"));
        assert!(lines[2].starts_with("total"));
        let numbers: Vec<&str> = lines[1]
            .split_whitespace()
            .filter(|w| w.parse::<u32>().is_ok())
            .collect();
        assert_eq!(
            numbers,
            ["2", "2", "1", "0", "0", "5", "2", "2", "2", "2", "0", "8"]
        );
    }

    #[test]
    fn expectations() {
        let expected = parse_expectations(
            "# tests our target passes\nCompareAndWrite.Simple\n\nExtendedCopy.Simple  # skips\nRead10.Simple\n",
        );
        assert_eq!(
            expected,
            [
                "CompareAndWrite.Simple",
                "ExtendedCopy.Simple",
                "Read10.Simple"
            ]
        );
        let found = unmet(&expected, &report("ours", "SCSI", OURS));
        assert_eq!(found.not_passing.len(), 1);
        assert_eq!(found.not_passing[0].0, "ExtendedCopy.Simple");
        assert!(found.not_passing[0].1.starts_with("SKIP [SKIPPED]"));
        assert_eq!(found.absent, ["Read10.Simple"]);
    }
}
