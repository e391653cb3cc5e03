//! Bundles in S3-compatible object storage, against a real S3 server on
//! loopback (moto's `moto_server`, installed by scripts/install-deps.sh).

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bundles::{self, machine};
use common::http;

struct Moto(Child, SocketAddr);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("moto_server is required in CI (pip install 'moto[server]'): {e}");
            }
            eprintln!("\n!!!!! SKIPPING the S3 test: moto_server: {e} !!!!!\n");
            return None;
        }
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let m = Moto(child, addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http::request(addr, "GET", "/", &[], b"").is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(m)
}

fn object_keys(addr: SocketAddr, bucket: &str) -> Vec<String> {
    let r = http::request(addr, "GET", &format!("/{bucket}?list-type=2"), &[], b"").unwrap();
    r.text()
        .split("<Key>")
        .skip(1)
        .map(|k| k.split("</Key>").next().unwrap().to_string())
        .collect()
}

#[test]
fn bundles_in_s3() {
    let Some(moto) = moto() else { return };
    let bucket = "crashes";
    let r = http::request(moto.1, "PUT", &format!("/{bucket}"), &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    std::env::set_var("AWS_ENDPOINT_URL", format!("http://{}", moto.1));
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_REGION", "us-east-1");

    let env = common::start("sqlite", |c| {
        c.blobs = format!("s3://{bucket}/panicdump/bundles")
    });
    let work = tempfile::tempdir().unwrap();
    let good = bundles::build(work.path(), &bundles::corpus(bundles::SYSRQ), 1_700_000_000);

    // A bad upload leaves no object.
    let r = env.post_bundle(&machine(1), &good[..good.len() / 2]);
    assert_eq!(r.status, 400);
    assert!(object_keys(moto.1, bucket).is_empty());

    let r = env.post_bundle(&machine(1), &good);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["report_id"].as_str().unwrap().to_string();
    let keys = object_keys(moto.1, bucket);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with(&format!("panicdump/bundles/{id}-")),
        "{keys:?}"
    );
    assert_eq!(
        env.post_bundle(&machine(1), &good).json()["duplicate"],
        true
    );
    assert_eq!(object_keys(moto.1, bucket).len(), 1);

    // Read back through the API, byte for byte.
    let b = env.get(&format!("/api/v1/reports/{id}/bundle"));
    assert_eq!(b.status, 200);
    assert_eq!(b.body, good);

    // Retention deletes the object.
    common::block_on(async {
        let store = server::Store::open(&env.db).await.unwrap();
        let blobs = server::Blobs::open(&env.config.blobs).unwrap();
        let p = server::admin::prune(&store, &blobs, 0, server::api::now() + 10)
            .await
            .unwrap();
        assert_eq!(p.reports, 1);
        store.close().await;
    });
    assert!(object_keys(moto.1, bucket).is_empty());
    assert_eq!(env.get(&format!("/api/v1/reports/{id}/bundle")).status, 404);
}
