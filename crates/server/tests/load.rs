//! A short load run as a correctness test (not a timing assertion): 20
//! clients for 3 seconds with retries and cut-off uploads; nothing lost,
//! nothing counted twice. `examples/load.rs` runs the long version.

mod common;

#[test]
fn short_load_loses_and_duplicates_nothing() {
    for backend in common::backends() {
        let env = common::start(backend, |c| {
            // One token stands for a whole fleet here; the per-token budget has
            // its own test (bad_input.rs).
            c.token_per_minute = 0
        });
        let work = tempfile::tempdir().unwrap();
        let templates = common::load::templates(work.path());
        let r = common::load::run(env.addr(), &env.token, templates, 20, 3.0);
        eprintln!(
            "{backend}: {} stored, {} duplicates, {} interrupted, {:.0} reports/s",
            r.stored,
            r.duplicates,
            r.interrupted,
            r.rate()
        );
        assert_eq!(r.errors, 0, "{backend}");
        assert!(
            r.stored > 0 && r.duplicates > 0 && r.interrupted > 0,
            "{backend}: {r:?}"
        );
        assert_eq!(
            env.report_count(),
            r.stored as i64,
            "{backend}: stored rows != distinct records sent"
        );
        assert_eq!(
            common::load::api_total(env.addr()),
            r.stored as i64,
            "{backend}: bucket counts"
        );
        assert_eq!(
            env.blob_files().len() as u64,
            r.stored,
            "{backend}: blob files"
        );
    }
}
