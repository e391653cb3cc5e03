//! drm_panic QR-code URLs filed as reports; tokens, retention and export.

mod common;

use common::bundles::{self, machine};
use common::http;

#[test]
fn drm_panic_urls_are_filed_once() {
    for backend in common::backends() {
        let env = common::start(backend, |c| c.drm_per_minute = 3);
        let log = bundles::corpus(bundles::SYSRQ);
        let url = drmpanic::encode_url(
            "https://crashes.example/drm-panic",
            &log,
            "x86_64",
            "6.14.0-test",
        );
        let decoded = drmpanic::decode_url(&url).unwrap();
        let expect = oops::analyze(&decoded.log);
        let expect = expect.primary().expect("the QR log still holds the panic");
        assert_eq!(expect.title, "kernel panic: sysrq triggered crash");
        let query = &url[url.find('?').unwrap()..];

        // The phone opens the URL: an HTML page naming the crash.
        let r = env.get(&format!("/drm-panic{query}"));
        assert_eq!(r.status, 201, "{backend}: {}", r.text());
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        let page = r.text();
        assert!(page.contains(&expect.title), "{page}");
        assert!(
            page.contains(&format!("/buckets/{}", expect.signature_hash())),
            "{page}"
        );

        // Scanned again: the same report.
        let r = env.get(&format!("/drm-panic{query}"));
        assert_eq!(r.status, 200);
        assert!(r.text().contains("already filed"));

        // Scripts post the URL with a token.
        let auth = format!("Bearer {}", env.token);
        let r = http::request(
            env.addr(),
            "POST",
            "/api/v1/drm-panic",
            &[("Authorization", &auth), ("Content-Type", "text/plain")],
            url.as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let a = r.json();
        assert_eq!(a["duplicate"], true);
        assert_eq!(a["bucket_id"], expect.signature_hash());
        let r = http::request(
            env.addr(),
            "POST",
            "/api/v1/drm-panic",
            &[("Content-Type", "text/plain")],
            url.as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status, 401);

        // The report: source drm_panic, release from the URL, the log.
        let rep = env
            .get(&format!(
                "/api/v1/reports/{}",
                a["report_id"].as_str().unwrap()
            ))
            .json();
        assert_eq!(rep["source"], "drm_panic");
        assert_eq!(rep["release"], "6.14.0-test");
        assert_eq!(rep["log"].as_str().unwrap().as_bytes(), &decoded.log[..]);
        assert_eq!(env.report_count(), 1);
        assert_eq!(
            env.get(&format!(
                "/api/v1/reports/{}/bundle",
                a["report_id"].as_str().unwrap()
            ))
            .status,
            404
        );

        // Damaged URLs: a clear 400 page, nothing stored.
        let cut = &query[..query.len() - 7];
        let r = env.get(&format!("/drm-panic{cut}"));
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("not a drm_panic URL"));
        assert_eq!(env.report_count(), 1);

        // The per-address budget (3 a minute here) is spent: 429.
        let r = env.get(&format!("/drm-panic{query}"));
        assert_eq!(r.status, 429, "{}", r.text());
        assert_eq!(env.report_count(), 1);
    }
}

#[test]
fn tokens_retention_and_export() {
    for backend in common::backends() {
        let env = common::start(backend, |_| {});
        let work = tempfile::tempdir().unwrap();
        let a = bundles::build(
            &work.path().join("a"),
            &bundles::corpus(bundles::SYSRQ),
            1_700_000_000,
        );
        let b = bundles::build(
            &work.path().join("b"),
            &bundles::corpus(bundles::GPF),
            1_700_000_000,
        );
        let ra = env.post_bundle(&machine(1), &a).json();
        env.post_bundle(&machine(2), &a);
        env.post_bundle(&machine(1), &b);
        assert_eq!(env.report_count(), 3);

        common::block_on(async {
            let store = server::Store::open(&env.db).await.unwrap();
            let blobs = server::Blobs::open(env.blobs.to_str().unwrap()).unwrap();

            // Tokens: only hashes stored, names unique while active.
            let t = server::admin::add_token(&store, "lab-42").await.unwrap();
            assert!(t.starts_with("pdt_") && t.len() == 68);
            assert!(matches!(
                server::admin::add_token(&store, "lab-42").await,
                Err(server::Error::TokenExists(_))
            ));
            assert!(server::admin::add_token(&store, "bad name").await.is_err());
            let list = server::admin::list_tokens(&store).await.unwrap();
            assert_eq!(list.len(), 2);
            server::admin::revoke_token(&store, "lab-42").await.unwrap();
            assert!(server::admin::revoke_token(&store, "lab-42").await.is_err());
            let list = server::admin::list_tokens(&store).await.unwrap();
            assert!(list
                .iter()
                .any(|t| t.name == "lab-42" && t.revoked_at.is_some()));
            // Re-adding a revoked name gives a new, working token.
            let t2 = server::admin::add_token(&store, "lab-42").await.unwrap();
            assert_ne!(t, t2);

            // Retention: nothing is older than 30 days yet.
            let now = server::api::now();
            let p = server::admin::prune(&store, &blobs, 30, now).await.unwrap();
            assert_eq!(p.reports, 0);
            // 31 days from now, everything is.
            let p = server::admin::prune(&store, &blobs, 30, now + 31 * 86_400)
                .await
                .unwrap();
            assert_eq!(p.reports, 3);

            // Export: every bucket and report as JSON lines.
            let mut out = Vec::new();
            let (nb, nr) = server::admin::export(&store, &mut out).await.unwrap();
            assert_eq!((nb, nr), (2, 3));
            let lines: Vec<serde_json::Value> = out
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 5);
            assert_eq!(lines.iter().filter(|l| l["type"] == "bucket").count(), 2);
            assert!(lines
                .iter()
                .filter(|l| l["type"] == "report")
                .all(|l| l["bundle_stored"] == false && l.get("log").is_none()));
            store.close().await;
        });
        // The bundles are gone, the statistics stay.
        assert!(env.blob_files().is_empty(), "{:?}", env.blob_files());
        let id = ra["report_id"].as_str().unwrap();
        assert_eq!(env.get(&format!("/api/v1/reports/{id}/bundle")).status, 404);
        let rep = env.get(&format!("/api/v1/reports/{id}")).json();
        assert!(rep["log"].is_null());
        let l = env.get("/api/v1/buckets").json();
        assert_eq!(l["total"], 2);
        assert_eq!(l["buckets"][0]["count"], 2);
        assert_eq!(l["buckets"][0]["machines"], 2);
        // And a retry of a pruned report is still a duplicate.
        let r = env.post_bundle(&machine(1), &a);
        assert_eq!(r.json()["duplicate"], true);
        assert_eq!(env.report_count(), 3);
    }
}
