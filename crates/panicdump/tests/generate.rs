//! `panicdump generate`: the real binary writes one man page per visible
//! command (and per `lab` recipe), pages groff renders without warnings,
//! and completion scripts the shells accept.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_panicdump")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pd-generate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Commands listed by `panicdump --help` (visible ones, without `help`).
fn visible_commands() -> Vec<String> {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut in_commands = false;
    let mut names = Vec::new();
    for line in text.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            // Wrapped descriptions continue deeper indented.
            if line.starts_with("   ") {
                continue;
            }
            let name = line.split_whitespace().next().unwrap().to_string();
            if name != "help" {
                names.push(name);
            }
        }
    }
    names
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn one_man_page_per_command_and_groff_renders_them() {
    let dir = tmpdir("man");
    run_ok(Command::new(bin()).args(["generate", "man"]).arg(&dir));
    let commands = visible_commands();
    assert!(commands.len() >= 15, "{commands:?}");
    assert!(
        !commands.iter().any(|c| c == "generate"),
        "generate is hidden"
    );
    let page = |name: &str| dir.join(format!("{name}.1"));
    for c in &commands {
        let p = page(&format!("panicdump-{c}"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH"),
            "{p:?} is not roff"
        );
        assert!(
            text.contains(&format!("panicdump\\-{c}")),
            "{p:?} does not name itself"
        );
    }
    assert!(!page("panicdump-generate").exists());
    // Nested commands get pages too.
    assert!(page("panicdump-lab-kdump").exists());
    let main = std::fs::read_to_string(page("panicdump")).unwrap();
    assert!(
        main.contains(".TH panicdump 1"),
        "{}",
        &main[..200.min(main.len())]
    );
    if have("groff") {
        for p in [
            page("panicdump"),
            page("panicdump-collect"),
            page("panicdump-dump"),
        ] {
            let out = Command::new("groff")
                .args(["-man", "-Tutf8", "-ww"])
                .arg(&p)
                .output()
                .unwrap();
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && warnings.trim().is_empty(),
                "{p:?}: {warnings}"
            );
            let rendered = String::from_utf8_lossy(&out.stdout);
            assert!(
                rendered.contains("SYNOPSIS") || rendered.contains("S\u{8}SY"),
                "{p:?}"
            );
        }
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("groff missing: scripts/install-deps.sh installs it");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn check_shell(shell: &str, file: &Path, syntax_check: &[&str]) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("collect") && text.contains("pstore-dir"),
        "{file:?}"
    );
    if have(shell) {
        let out = Command::new(shell)
            .args(syntax_check)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} rejects {file:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else if shell == "bash" {
        panic!("bash missing");
    } else {
        eprintln!("note: {shell} not installed; {file:?} checked for content only");
    }
}

#[test]
fn completions_for_bash_zsh_fish() {
    let dir = tmpdir("completions");
    run_ok(
        Command::new(bin())
            .args(["generate", "completions", "--dir"])
            .arg(&dir),
    );
    check_shell("bash", &dir.join("panicdump.bash"), &["-n"]);
    check_shell("zsh", &dir.join("_panicdump"), &["-n"]);
    check_shell("fish", &dir.join("panicdump.fish"), &["--no-execute"]);
    // One shell to stdout equals the file.
    let stdout = run_ok(Command::new(bin()).args(["generate", "completions", "bash"]));
    assert_eq!(
        stdout,
        std::fs::read_to_string(dir.join("panicdump.bash")).unwrap()
    );
    // Bad input: a clear error, nothing written.
    let out = Command::new(bin())
        .args(["generate", "completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
    std::fs::remove_dir_all(&dir).unwrap();
}
