//! Ingest, deduplication and every query of the API, against a real server
//! over SQLite and over a real PostgreSQL.

mod common;

use common::bundles::{self, machine};

fn today() -> i64 {
    server::api::now().div_euclid(86_400)
}

#[test]
fn ingest_dedup_and_queries() {
    for backend in common::backends() {
        eprintln!("backend: {backend}");
        let env = common::start(backend, |_| {});
        let work = tempfile::tempdir().unwrap();
        let sysrq_log = bundles::corpus(bundles::SYSRQ);
        let gpf_log = bundles::corpus(bundles::GPF);
        let a = bundles::build(&work.path().join("a"), &sysrq_log, 1_700_000_000);
        let b = bundles::build(&work.path().join("b"), &gpf_log, 1_700_000_100);
        let sysrq = oops::analyze(&sysrq_log);
        let sysrq = sysrq.primary().unwrap();
        let gpf = oops::analyze(&gpf_log);
        let gpf = gpf.primary().unwrap();

        // First upload: stored, named by the server.
        let r = env.post_bundle(&machine(1), &a);
        assert_eq!(r.status, 201, "{backend}: {}", r.text());
        let first = r.json();
        assert_eq!(first["duplicate"], false);
        assert_eq!(first["title"], sysrq.title.as_str());
        assert_eq!(first["kind"], sysrq.kind.as_str());
        assert_eq!(first["signature_hash"], sysrq.signature_hash());
        assert_eq!(first["bucket_id"], sysrq.signature_hash());

        // The same record again: counted once.
        let r = env.post_bundle(&machine(1), &a);
        assert_eq!(r.status, 200, "{backend}: {}", r.text());
        assert_eq!(r.json()["duplicate"], true);
        assert_eq!(r.json()["report_id"], first["report_id"]);

        // Another machine with the same crash: same bucket, two machines.
        assert_eq!(env.post_bundle(&machine(2), &a).status, 201);
        // An old client that named the crash wrongly: the server's name wins.
        let lying = bundles::edit_manifest(&b, |m| {
            m["title"] = serde_json::json!("WARNING in nothing");
            m["signature_hash"] = serde_json::json!("0000000000000000");
            m["kind"] = serde_json::json!("warning");
        });
        let r = env.post_bundle(&machine(3), &lying);
        assert_eq!(r.status, 201, "{}", r.text());
        let gpf_report = r.json();
        assert_eq!(gpf_report["title"], gpf.title.as_str());
        assert_eq!(gpf_report["bucket_id"], gpf.signature_hash());
        assert_eq!(env.report_count(), 3);
        assert_eq!(env.blob_files().len(), 3, "{:?}", env.blob_files());

        // Bucket list, default sort by count.
        let l = env.get("/api/v1/buckets").json();
        assert_eq!(l["total"], 2);
        let top = &l["buckets"][0];
        assert_eq!(top["id"], sysrq.signature_hash());
        assert_eq!(top["title"], sysrq.title.as_str());
        assert_eq!(top["count"], 2);
        assert_eq!(top["machines"], 2);
        assert_eq!(top["releases"], serde_json::json!(["6.1.0-56-amd64"]));
        assert!(top["first_seen"].as_i64().unwrap() <= top["last_seen"].as_i64().unwrap());
        let second = &l["buckets"][1];
        assert_eq!(second["count"], 1);

        // Sorting, filters, paging.
        let asc = env.get("/api/v1/buckets?sort=count&order=asc").json();
        assert_eq!(asc["buckets"][0]["id"], gpf.signature_hash());
        let q = env.get("/api/v1/buckets?q=SYSRQ").json();
        assert_eq!(q["total"], 1);
        assert_eq!(q["buckets"][0]["id"], sysrq.signature_hash());
        let k = env
            .get(&format!("/api/v1/buckets?kind={}", gpf.kind.as_str()))
            .json();
        assert_eq!(k["total"], 1);
        let rel = env.get("/api/v1/buckets?release=6.1.0-56-amd64").json();
        assert_eq!(rel["total"], 1);
        let none = env.get("/api/v1/buckets?since=4000000000").json();
        assert_eq!(none["total"], 0);
        let page = env.get("/api/v1/buckets?limit=1&offset=1").json();
        assert_eq!(page["total"], 2);
        assert_eq!(page["buckets"].as_array().unwrap().len(), 1);
        assert_eq!(page["buckets"][0]["id"], gpf.signature_hash());
        let unknown_param = env.get("/api/v1/buckets?frobnicate=1");
        assert_eq!(unknown_param.status, 200);

        // One bucket: series and reports.
        let d = env
            .get(&format!("/api/v1/buckets/{}", sysrq.signature_hash()))
            .json();
        assert_eq!(d["bucket"]["count"], 2);
        let series = d["series"].as_array().unwrap();
        assert_eq!(series.last().unwrap()["count"], 2);
        assert_eq!(
            series.last().unwrap()["day"],
            server::store::day_string(today())
        );
        let reports = d["reports"].as_array().unwrap();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0]["source"], "bundle");
        assert!(reports[0].get("log").is_none(), "summaries carry no log");
        assert_eq!(reports[0]["machine"].as_str().unwrap().len(), 12);

        // One report: the log, the server's analysis, the client's title.
        let rep = env.get(&format!(
            "/api/v1/reports/{}",
            gpf_report["report_id"].as_str().unwrap()
        ));
        assert_eq!(rep.status, 200);
        let rep = rep.json();
        assert_eq!(rep["client_title"], "WARNING in nothing");
        assert_eq!(rep["title"], gpf.title.as_str());
        assert!(rep["log"].as_str().unwrap().contains("general protection"));
        let line = rep["report_line"].as_i64().unwrap() as usize;
        let log_line = rep["log"].as_str().unwrap().lines().nth(line - 1).unwrap();
        assert!(log_line.contains("general protection"), "{log_line}");
        assert_eq!(rep["analysis"]["reports"][0]["title"], gpf.title.as_str());

        // The stored bundle is the uploaded one, byte for byte.
        let bundle = env.get(&format!(
            "/api/v1/reports/{}/bundle",
            first["report_id"].as_str().unwrap()
        ));
        assert_eq!(bundle.status, 200);
        assert_eq!(bundle.body, a);
        assert_eq!(bundle.header("content-type"), Some("application/gzip"));

        // Series over the last 30 days, zero days included.
        let s = env.get("/api/v1/stats/series?days=30").json();
        let s = s["series"].as_array().unwrap();
        assert_eq!(s.len(), 30);
        assert_eq!(s[29]["count"], 3);
        assert_eq!(s[0]["count"], 0);
        let s = env
            .get(&format!(
                "/api/v1/stats/series?days=7&kind={}",
                gpf.kind.as_str()
            ))
            .json();
        assert_eq!(s["series"][6]["count"], 1);

        // Facets.
        let f = env.get("/api/v1/facets").json();
        assert!(f["releases"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("6.1.0-56-amd64")));
        assert_eq!(f["kinds"].as_array().unwrap().len(), 2);

        // Not found, bad parameters: JSON errors.
        for (path, status, code) in [
            ("/api/v1/buckets/ffffffffffffffff", 404, "not_found"),
            ("/api/v1/reports/nope", 404, "not_found"),
            ("/api/v1/reports/nope/bundle", 404, "not_found"),
            ("/api/v1/nothing", 404, "not_found"),
            ("/api/v1/buckets?sort=size", 400, "bad_parameter"),
            ("/api/v1/buckets?limit=x", 400, "bad_parameter"),
            ("/api/v1/buckets?limit=0", 400, "bad_parameter"),
            ("/api/v1/buckets?order=up", 400, "bad_parameter"),
            ("/api/v1/buckets?since=yesterday", 400, "bad_parameter"),
            ("/api/v1/stats/series?days=-1", 400, "bad_parameter"),
        ] {
            let r = env.get(path);
            assert_eq!(r.status, status, "{backend} {path}: {}", r.text());
            assert_eq!(r.json()["error"]["code"], code, "{path}");
        }
        let r = env.get("/api/v1/reports");
        assert_eq!(r.status, 405);
        assert_eq!(r.json()["error"]["code"], "method_not_allowed");
        let by_machines = env.get("/api/v1/buckets?sort=machines").json();
        assert_eq!(by_machines["buckets"][0]["machines"], 2);
        let by_last = env.get("/api/v1/buckets?sort=last_seen&order=asc").json();
        assert_eq!(by_last["total"], 2);
        assert_eq!(env.get("/healthz").text(), "ok");
    }
}

#[test]
fn openapi_describes_every_route() {
    let doc = server::openapi::document();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/reports",
        "/api/v1/reports/{report_id}",
        "/api/v1/reports/{report_id}/bundle",
        "/api/v1/buckets",
        "/api/v1/buckets/{bucket_id}",
        "/api/v1/stats/series",
        "/api/v1/facets",
        "/api/v1/openapi.json",
        "/api/v1/drm-panic",
        "/drm-panic",
        "/healthz",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
    }
    // And the server serves it.
    let env = common::start("sqlite", |_| {});
    let served = env.get("/api/v1/openapi.json").json();
    assert_eq!(served, doc);
}
