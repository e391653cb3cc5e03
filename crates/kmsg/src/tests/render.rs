//! Output format tests (makedumpfile byte-exactness and options).

use crate::render::render_record;
use crate::{write_log, write_makedumpfile, Caller, Flags, Log, LogKind, Record, RenderOptions};

fn rec(ts: u64, text: &[u8], caller: Option<Caller>) -> Record {
    Record {
        seq: 0,
        ts_nsec: ts,
        level: 6,
        facility: 0,
        flags: Flags::from_raw(2),
        caller,
        text: text.to_vec(),
        dev_info: None,
        dict: None,
        dataless: false,
    }
}

fn log_of(records: Vec<Record>) -> Log {
    Log {
        kind: LogKind::Lockless,
        records,
        warnings: vec![],
        lost: 0,
        gaps: vec![],
        caller_id_exported: true,
        plain_text: None,
    }
}

fn render(log: &Log, opts: &RenderOptions) -> Vec<u8> {
    let mut out = Vec::new();
    write_log(log, opts, &mut out).unwrap();
    out
}

#[test]
fn makedumpfile_timestamps_and_escapes() {
    let mut empty = rec(5, b"", None);
    empty.dataless = true;
    let log = log_of(vec![
        rec(0, b"Linux version 6.1.0", None),
        rec(1_234_567_890_123, b"tab\there\rcr", None),
        rec(99_999_999_999_999, b"a\nb\nc", None),
        empty,
        rec(7_000_001_000, b"caf\xc3\xa9 \x01\x7f\x00\x0b\x0c", None),
        rec(1_000, b"", None),
    ]);
    let mut out = Vec::new();
    write_makedumpfile(&log, &mut out).unwrap();
    let expect: &[u8] = b"[    0.000000] Linux version 6.1.0\n\
[ 1234.567890] tab\there\rcr\n\
[99999.999999] a\n               b\n               c\n\
[    7.000001] caf\\xffffffc3\\xffffffa9 \\x01\\x7f\\x00\x0b\x0c\n\
[    0.000001] \n";
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(expect)
    );
    // Seconds wider than 5 digits just grow.
    let mut line = Vec::new();
    render_record(
        &rec(123_456_000_000_000, b"x", None),
        &RenderOptions::MAKEDUMPFILE,
        &mut line,
    );
    assert_eq!(line, b"[123456.000000] x\n");
}

#[test]
fn makedumpfile_caller_column_by_version() {
    let log = log_of(vec![
        rec(1_000_000, b"one\ntwo", Some(Caller::Task(123))),
        rec(2_000_000, b"irq", Some(Caller::Cpu(16))),
        rec(
            3_000_000,
            b"big",
            Some(Caller::Task(4_000_000_000 & 0x7fff_ffff)),
        ),
    ]);
    let old = render(&log, &RenderOptions::makedumpfile((1, 7, 2), &log));
    assert_eq!(
        String::from_utf8(old).unwrap(),
        "[    0.001000] one\n               two\n[    0.002000] irq\n[    0.003000] big\n"
    );
    let new = render(&log, &RenderOptions::makedumpfile((1, 7, 5), &log));
    assert_eq!(
        String::from_utf8(new).unwrap(),
        "[    0.001000] [    T123] one\n                          two\n\
[    0.002000] [     C16] irq\n[    0.003000] [T1852516352] big\n"
    );
    let mut no_key = log.clone();
    no_key.caller_id_exported = false;
    assert!(!RenderOptions::makedumpfile((1, 7, 9), &no_key).caller);
}

#[test]
fn level_raw_and_empty_line_options() {
    let mut r = rec(1_500_000_000, b"x\x01\ny", None);
    r.level = 3;
    r.facility = 1;
    let mut e = rec(2_000_000_000, b"", None);
    e.dataless = true;
    let log = log_of(vec![r, e]);
    let opts = RenderOptions {
        level: true,
        timestamps: true,
        caller: false,
        escape: false,
        empty_lines: true,
    };
    assert_eq!(
        render(&log, &opts),
        b"<11>[    1.500000] x\x01\ny\n<6>[    2.000000] \n"
    );
    let bare = RenderOptions {
        timestamps: false,
        level: false,
        ..opts
    };
    assert_eq!(render(&log, &bare), b"x\x01\ny\n\n");
}

#[test]
fn plain_log_is_written_raw() {
    let mut log = log_of(vec![]);
    log.kind = LogKind::Plain;
    log.plain_text = Some(b"<6>raw \xff text".to_vec());
    assert_eq!(
        render(&log, &RenderOptions::MAKEDUMPFILE),
        b"<6>raw \xff text"
    );
}
