//! Arbitrary bytes through the crash-log analyzer, both the in-memory and
//! the streaming entry points: no panic, and both agree.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let a = oops::analyze(data);
    let b = oops::analyze_reader(data).expect("reading from a slice cannot fail");
    assert_eq!(a.reports, b.reports);
    for r in &a.reports {
        assert!(!r.title.is_empty());
        assert!(!r.signature().is_empty());
    }
});
