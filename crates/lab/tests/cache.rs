//! Reuse of cached artifacts: a directory is reused only while the
//! fingerprint of its inputs (static panicdump binary, kernel, command
//! lines, guest `/init`) matches the current one.
//!
//! The staleness tests need no QEMU: they write a complete artifact by hand
//! into a temporary lab root and point the lab at a nonexistent QEMU, so a
//! reuse succeeds and a rebuild fails at once naming QEMU. The last test
//! runs one real scenario (shared with `tests/scenarios.rs` through the
//! artifact cache) and checks the second call reuses it.

use lab::artifact::{Durations, Meta, DONE, META, QEMU_ELF, QEMU_KDUMP};
use lab::cache::{
    CacheState, Fingerprint, IN_CMDLINE, IN_CRASH_CMDLINE, IN_KEXEC, IN_PANICDUMP, IN_RUN,
};
use lab::scenario::ScenarioMeta;
use lab::{Lab, LabConfig, LabError, Mode, PanicKind, Params, Recipe, Scenario};
use std::path::{Path, PathBuf};

fn temp_root(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("panicdump-lab-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A lab on `root` whose guest binary is the file `bin` and whose QEMU
/// does not exist (a rebuild fails before booting anything). `None` when
/// no kernel is installed outside CI.
fn fake_lab(root: &Path, bin: &Path) -> Option<Lab> {
    let lab = Lab::new(LabConfig {
        root: Some(root.to_path_buf()),
        panicdump_bin: Some(bin.to_path_buf()),
        qemu: Some("/nonexistent/qemu-system-x86_64".into()),
        progress: true,
        ..LabConfig::default()
    });
    match lab.kernel() {
        Ok(_) => Some(lab),
        Err(e) if std::env::var_os("CI").is_some() => panic!("lab kernel missing in CI: {e}"),
        Err(e) => {
            eprintln!("no lab kernel ({e}); skipping");
            None
        }
    }
}

/// A complete qemu-dump artifact written by hand, with `fingerprint`.
fn write_fake_artifact(lab: &Lab, params: &Params, fingerprint: Option<Fingerprint>) -> PathBuf {
    let dir = lab.artifact_dir(Recipe::QemuDump, params).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let kernel = lab.kernel().unwrap();
    let meta = Meta {
        recipe: Recipe::QemuDump,
        lab_version: lab::artifact::LAB_VERSION,
        kernel: kernel.path.clone(),
        release: kernel.release.clone(),
        modules_dir: kernel.modules_dir.clone(),
        params: params.clone(),
        memory_mib: params.memory_mib,
        cmdline: String::new(),
        crash_cmdline: None,
        qemu_argv: Vec::new(),
        token: "handmade".into(),
        marker: "panicdump-lab-marker handmade".into(),
        created_unix: 0,
        phases: Vec::new(),
        durations: Durations::default(),
        initramfs_bytes: 0,
        files: vec![QEMU_ELF.into(), QEMU_KDUMP.into()],
        fingerprint,
    };
    for f in &meta.files {
        std::fs::write(dir.join(f), b"").unwrap();
    }
    std::fs::write(dir.join(META), serde_json::to_string(&meta).unwrap()).unwrap();
    std::fs::write(dir.join(DONE), b"").unwrap();
    dir
}

fn assert_rebuild_attempted(r: lab::Result<lab::Artifact>, dir: &Path) {
    match r {
        Err(LabError::Missing { what, .. }) => assert!(what.contains("qemu"), "{what}"),
        Err(e) => panic!("expected a rebuild stopped by the missing QEMU, got {e}"),
        Ok(a) => panic!("stale artifact reused: {}", a.dir.display()),
    }
    assert!(
        !dir.join(DONE).exists(),
        "the stale directory was not cleared"
    );
}

#[test]
fn changed_panicdump_binary_makes_the_artifact_stale() {
    let root = temp_root("binary");
    let bin = root.join("panicdump");
    std::fs::write(&bin, b"static panicdump, capture v1").unwrap();
    let Some(lab) = fake_lab(&root, &bin) else {
        return;
    };
    let params = Params::default();
    let fp = lab.recipe_fingerprint(Recipe::QemuDump, &params).unwrap();
    assert!(fp.get(IN_PANICDUMP).unwrap().starts_with("sha256:"));
    let dir = write_fake_artifact(&lab, &params, Some(fp.clone()));

    // Same inputs: reused as is (a rebuild would fail on the missing QEMU).
    assert_eq!(
        lab.recipe_cache_state(Recipe::QemuDump, &params).unwrap(),
        CacheState::Fresh
    );
    let a = lab.artifact(Recipe::QemuDump).expect("reused");
    assert_eq!(a.meta.token, "handmade");
    assert_eq!(a.meta.fingerprint.as_ref(), Some(&fp));

    // The capture code changed: same path, other bytes.
    std::fs::write(&bin, b"static panicdump, capture v2 with a fix").unwrap();
    let now = lab.recipe_fingerprint(Recipe::QemuDump, &params).unwrap();
    assert_ne!(now.get(IN_PANICDUMP), fp.get(IN_PANICDUMP));
    assert_eq!(now.get(IN_CMDLINE), fp.get(IN_CMDLINE));
    assert_eq!(
        lab.recipe_cache_state(Recipe::QemuDump, &params).unwrap(),
        CacheState::Stale("stale: panicdump binary changed".into())
    );
    assert_rebuild_attempted(lab.artifact(Recipe::QemuDump), &dir);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn artifact_without_fingerprint_is_stale() {
    let root = temp_root("old");
    let bin = root.join("panicdump");
    std::fs::write(&bin, b"static panicdump").unwrap();
    let Some(lab) = fake_lab(&root, &bin) else {
        return;
    };
    let params = Params::default();
    // As the lab wrote them before fingerprints: complete, no fingerprint.
    let dir = write_fake_artifact(&lab, &params, None);
    let text = std::fs::read_to_string(dir.join(META)).unwrap();
    assert!(!text.contains("fingerprint"), "{text}");
    match lab.recipe_cache_state(Recipe::QemuDump, &params).unwrap() {
        CacheState::Stale(why) => assert!(why.contains("no fingerprint"), "{why}"),
        other => panic!("expected stale, got {other:?}"),
    }
    assert_rebuild_attempted(lab.artifact(Recipe::QemuDump), &dir);
    let _ = std::fs::remove_dir_all(root);
}

/// Guest parameters reach the fingerprint through the command line
/// (`crashkernel=`) and the run's key; the marker token does not.
#[test]
fn command_line_is_part_of_the_fingerprint() {
    let root = temp_root("cmdline");
    let bin = root.join("panicdump");
    std::fs::write(&bin, b"static panicdump").unwrap();
    let Some(lab) = fake_lab(&root, &bin) else {
        return;
    };
    let a = lab
        .recipe_fingerprint(Recipe::Kdump, &Params::default())
        .unwrap();
    let again = lab
        .recipe_fingerprint(Recipe::Kdump, &Params::default())
        .unwrap();
    assert_eq!(a, again, "fingerprints are deterministic");
    let cmdline = a.get(IN_CMDLINE).unwrap();
    assert!(cmdline.contains("crashkernel=256M"), "{cmdline}");
    assert!(cmdline.contains("panicdump_lab.token=TOKEN"), "{cmdline}");
    // kdump's crash kernel is loaded by the host's `kexec -p` line.
    assert!(a
        .get(IN_CRASH_CMDLINE)
        .is_some_and(|c| c.contains("irqpoll")));
    assert!(a.get(IN_KEXEC).is_some());
    let q = lab
        .recipe_fingerprint(Recipe::QemuDump, &Params::default())
        .unwrap();
    assert!(q.get(IN_CRASH_CMDLINE).is_none() && q.get(IN_KEXEC).is_none());
    let p = Params {
        crashkernel: "192M".into(),
        ..Params::default()
    };
    let b = lab.recipe_fingerprint(Recipe::Kdump, &p).unwrap();
    assert!(b.get(IN_CMDLINE).unwrap().contains("crashkernel=192M"));
    assert_ne!(a.get(IN_RUN), b.get(IN_RUN));
    let why = b.stale_reason(Some(&a)).unwrap();
    assert!(why.contains("kernel cmdline"), "{why}");
    let _ = std::fs::remove_dir_all(root);
}

/// Scenarios go through the same rule: a hand-written complete scenario
/// directory is fresh with the current fingerprint and stale with another
/// binary's.
#[test]
fn scenario_with_other_binary_is_stale() {
    let root = temp_root("scenario");
    let bin = root.join("panicdump");
    std::fs::write(&bin, b"static panicdump, collect v1").unwrap();
    let Some(lab) = fake_lab(&root, &bin) else {
        return;
    };
    let s = Scenario::new(PanicKind::Sysrq, Mode::Pstore);
    let kernel = lab.kernel().unwrap();
    let dir = root.join(&kernel.release).join(s.key());
    std::fs::create_dir_all(&dir).unwrap();
    assert!(matches!(
        lab.scenario_cache_state(&s).unwrap(),
        CacheState::Missing(_)
    ));
    let probe = ScenarioMeta {
        scenario: s.clone(),
        release: kernel.release.clone(),
        cmdline: String::new(),
        marker: "panicdump-lab-marker handmade".into(),
        collect_rc: 0,
        estimate: None,
        capture_initrd_bytes: None,
        phases: Vec::new(),
        qemu_s: 0.0,
        total_s: 0.0,
        fingerprint: None,
    };
    std::fs::write(
        dir.join("scenario.json"),
        serde_json::to_string(&probe).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join(DONE), b"").unwrap();
    match lab.scenario_cache_state(&s).unwrap() {
        CacheState::Stale(why) => assert!(why.contains("no fingerprint"), "{why}"),
        other => panic!("expected stale, got {other:?}"),
    }
    // Record the current fingerprint the way a build does.
    let mut v = serde_json::to_value(&probe).unwrap();
    v["fingerprint"] = serde_json::to_value(lab.scenario_fingerprint(&s).unwrap()).unwrap();
    std::fs::write(dir.join("scenario.json"), v.to_string()).unwrap();
    assert_eq!(lab.scenario_cache_state(&s).unwrap(), CacheState::Fresh);
    let o = lab.scenario(&s, false).expect("reused");
    assert_eq!(o.meta.marker, "panicdump-lab-marker handmade");
    // The collect code changed.
    std::fs::write(&bin, b"static panicdump, collect v2").unwrap();
    assert_eq!(
        lab.scenario_cache_state(&s).unwrap(),
        CacheState::Stale("stale: panicdump binary changed".into())
    );
    match lab.scenario(&s, false) {
        Err(LabError::Missing { what, .. }) => assert!(what.contains("qemu"), "{what}"),
        Err(e) => panic!("expected a rebuild stopped by the missing QEMU, got {e}"),
        Ok(o) => panic!("stale scenario reused: {}", o.dir.display()),
    }
    let _ = std::fs::remove_dir_all(root);
}

/// A real scenario (the sysrq/pstore one `tests/scenarios.rs` also runs):
/// its record carries a fingerprint, it is fresh right after, and the second
/// call reuses it (same marker token) instead of booting again.
#[test]
fn real_scenario_is_reused_on_the_second_call() {
    let lab = Lab::from_env().expect("lab configuration");
    let s = Scenario::new(PanicKind::Sysrq, Mode::Pstore);
    let first = lab.scenario(&s, false).expect("scenario");
    let fp = first
        .meta
        .fingerprint
        .clone()
        .expect("fingerprint recorded");
    assert!(fp
        .get(IN_PANICDUMP)
        .is_some_and(|v| v.starts_with("sha256:")));
    assert_eq!(lab.scenario_cache_state(&s).unwrap(), CacheState::Fresh);
    let second = lab.scenario(&s, false).expect("scenario again");
    assert_eq!(
        second.meta.marker, first.meta.marker,
        "rebooted instead of reusing"
    );
    assert_eq!(second.meta.fingerprint, Some(fp));
}
