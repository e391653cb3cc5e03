//! A real `Notify` call on a real session bus: a private `dbus-daemon`
//! owned by an unprivileged user (nobody when the test runs as root, which
//! also proves the uid drop), `dbus-monitor` capturing the call, and the
//! logind state files that point at that bus.

use notify::desktop::{graphical_users, Notification, Sender, Urgency};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn tools_or_skip() -> bool {
    let missing: Vec<_> = ["dbus-daemon", "dbus-monitor", "busctl"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("missing {missing:?}: scripts/install-deps.sh installs dbus and systemd");
    }
    eprintln!("note: {missing:?} missing; desktop notification test skipped");
    false
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn as_user(cmd: &mut Command, uid: u32, gid: u32) -> &mut Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != uid {
        cmd.gid(gid).uid(uid);
    }
    cmd
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn notify_reaches_the_users_session_bus_as_that_user() {
    if !tools_or_skip() {
        return;
    }
    // SAFETY: no preconditions.
    let (uid, gid) = unsafe {
        if libc::geteuid() == 0 {
            (65534, 65534)
        } else {
            (libc::geteuid(), libc::getegid())
        }
    };
    let root = std::env::temp_dir().join(format!("notify-desktop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let runtime = root.join(format!("user/{uid}"));
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::create_dir_all(root.join("systemd/users")).unwrap();
    std::fs::create_dir_all(root.join("systemd/sessions")).unwrap();
    // The bus owner must be able to create its socket.
    Command::new("chown")
        .arg(format!("{uid}:{gid}"))
        .arg(&runtime)
        .status()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    for d in [&root, &root.join("user")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bus = runtime.join("bus");
    let conf = root.join("session.conf");
    std::fs::write(
        &conf,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
"#,
            bus.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _daemon = Kill(
        as_user(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", conf.display()))
                .args(["--nofork", "--print-address"])
                .stdout(Stdio::null()),
            uid,
            gid,
        )
        .spawn()
        .unwrap(),
    );
    wait_for(&bus);
    // logind's view: one user whose display session is a Wayland session,
    // and one tty-only user who must not be notified.
    std::fs::write(
        root.join(format!("systemd/users/{uid}")),
        format!(
            "NAME=testuser\nSTATE=active\nRUNTIME={}\nDISPLAY=c7\n",
            runtime.display()
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("systemd/sessions/c7"),
        "UID=0\nTYPE=wayland\nACTIVE=1\n",
    )
    .unwrap();
    std::fs::write(root.join("systemd/users/4242"), "NAME=ttyuser\nDISPLAY=3\n").unwrap();
    std::fs::write(root.join("systemd/sessions/3"), "TYPE=tty\n").unwrap();

    let users = graphical_users(&root).unwrap();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].uid, uid);
    assert_eq!(users[0].bus, bus);

    let monitor_out = root.join("monitor.txt");
    let mut monitor = Kill(
        as_user(
            Command::new("dbus-monitor")
                .arg("--address")
                .arg(format!("unix:path={}", bus.display()))
                .arg("interface='org.freedesktop.Notifications'")
                .stdout(std::fs::File::create(&monitor_out).unwrap())
                .stderr(Stdio::null()),
            uid,
            gid,
        )
        .spawn()
        .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));

    let n = Notification {
        app_name: "panicdump".into(),
        icon: "dialog-warning".into(),
        summary: "Kernel crash: BUG: unable to handle page fault in foo".into(),
        body: "Report: /var/lib/panicdump/crashes/r1 <see panicdump show r1>".into(),
        urgency: Urgency::Critical,
        hints: vec![("x-panicdump-record".into(), "r1".into())],
    };
    let err = Sender::default().send(&users[0], &n).unwrap_err();
    // Nobody owns org.freedesktop.Notifications on this bus, so the bus
    // itself answers ServiceUnknown: the call got through authentication
    // (as the user) and was routed.
    assert!(
        err.to_string().contains("org.freedesktop.Notifications"),
        "{err}"
    );

    std::thread::sleep(Duration::from_millis(300));
    let _ = monitor.0.kill();
    let _ = monitor.0.wait();
    let mut text = String::new();
    std::fs::File::open(&monitor_out)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("member=Notify"), "{text}");
    assert!(
        text.contains("string \"Kernel crash: BUG: unable to handle page fault in foo\""),
        "{text}"
    );
    assert!(
        text.contains(
            "string \"Report: /var/lib/panicdump/crashes/r1 &lt;see panicdump show r1&gt;\""
        ),
        "{text}"
    );
    assert!(
        text.contains("string \"urgency\"") && text.contains("byte 2"),
        "{text}"
    );
    assert!(
        text.contains("string \"x-panicdump-record\"") && text.contains("string \"r1\""),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(PathBuf::from(&root));
}
