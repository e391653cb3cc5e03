//! Failure paths: missing tools are named with their Debian package, and a
//! QEMU run past its deadline is killed with the phase it was in.

use lab::{Lab, LabConfig, LabError, Params, Recipe};
use std::time::Duration;

fn temp_root(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("panicdump-lab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn missing_qemu_names_the_package() {
    let lab = Lab::new(LabConfig {
        root: Some(temp_root("noqemu")),
        qemu: Some("/nonexistent/qemu-system-x86_64".into()),
        ..LabConfig::default()
    });
    if lab.kernel().is_err() {
        eprintln!("no kernel installed; skipping");
        return;
    }
    let err = lab.artifact(Recipe::QemuDump).unwrap_err();
    assert!(matches!(err, LabError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("qemu-system-x86"), "{err}");
}

#[test]
fn missing_kernel_is_reported() {
    let lab = Lab::new(LabConfig {
        kernel: Some("/nonexistent/vmlinuz-0.0.0".into()),
        root: Some(temp_root("nokernel")),
        ..LabConfig::default()
    });
    let err = lab.artifact(Recipe::Kdump).unwrap_err();
    assert!(err.to_string().contains("linux-image-amd64"), "{err}");
}

#[test]
fn bad_params_are_rejected_before_any_work() {
    let lab = Lab::new(LabConfig {
        root: Some(temp_root("params")),
        ..LabConfig::default()
    });
    let p = Params {
        crashkernel: "16M".into(),
        ..Params::default()
    };
    assert!(matches!(
        lab.artifact_with(Recipe::Kdump, &p, false),
        Err(LabError::Param(_))
    ));
}

/// A real QEMU run with a deadline too short to boot: QEMU is killed and the
/// error names the phase and shows the console.
#[test]
fn deadline_kills_qemu_and_names_the_phase() {
    let root = temp_root("deadline");
    let env = Lab::from_env().unwrap();
    let lab = Lab::new(LabConfig {
        root: Some(root.clone()),
        timeout: Some(Duration::from_secs(3)),
        progress: false,
        ..env.config().clone()
    });
    if lab.kernel().is_err() || which("qemu-system-x86_64").is_none() {
        eprintln!("no kernel or QEMU; skipping");
        return;
    }
    let err = lab.artifact(Recipe::QemuDump).unwrap_err();
    match &err {
        LabError::Timeout { phase, console, .. } => {
            assert!(!phase.is_empty());
            assert!(console.exists());
        }
        other => panic!("expected a timeout, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("timed out") && msg.contains("phase"), "{msg}");
    // No `done` marker: the next call rebuilds instead of reusing.
    assert!(lab.list().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(root);
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
