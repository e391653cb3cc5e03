//! The dashboard in a real browser: the real server (temporary SQLite
//! database) ingests real report bundles over HTTP, then Debian's headless
//! Chromium, driven over the DevTools protocol (`dashboard/cdp.rs`), loads
//! the pages, runs their JavaScript against the JSON API, uses the filters
//! and takes screenshots; the checks read the DOM the scripts built.
//!
//! Screenshots land in `<target>/test-artifacts/dashboard-*.png`.
//! Without `chromium` the test is skipped loudly, except in CI (`CI=true`),
//! where that is a failure: `scripts/install-deps.sh` installs it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crashdb::{Bundle, BundleOptions, NewRecord, SourceKind, Store};
use serde_json::json;

#[path = "dashboard/cdp.rs"]
mod cdp;
use cdp::Chrome;

/// Corpus logs ingested, with the facts the checks rely on.
struct Crash {
    log: &'static str,
    title: &'static str,
    kind: &'static str,
    release: &'static str,
    /// A function of the call trace, shown on the report page.
    frame: &'static str,
}

const CRASHES: &[Crash] = &[
    Crash {
        log: "lab/sysrq-c-debian-6.1.log",
        title: "kernel panic: sysrq triggered crash",
        kind: "panic",
        release: "6.1.0-56-amd64",
        frame: "sysrq_handle_crash",
    },
    Crash {
        log: "lab/init-exit-debian-6.1.log",
        title: "kernel panic: Attempted to kill init!",
        kind: "panic",
        release: "6.1.0-56-amd64",
        frame: "do_exit",
    },
    Crash {
        log: "kernel-bug/healer-btrfs-after-fault-injection.log",
        title: "kernel BUG in clear_state_bit",
        kind: "kernel-bug",
        release: "6.5.0-rc5",
        frame: "clear_state_bit",
    },
    Crash {
        log: "kernel-bug/netdev-ip-make-skb-inline-rip.log",
        title: "kernel BUG in __ip_make_skb",
        kind: "kernel-bug",
        release: "5.10.152-syzkaller",
        frame: "__ip_make_skb",
    },
    Crash {
        log: "warning/clearlinux-backtick-modeset-lock.log",
        title: "WARNING in drm_mode_config_cleanup",
        kind: "warning",
        release: "5.0.2-717.native",
        frame: "",
    },
];

/// A panic message that would run script if a page used it as HTML.
const HOSTILE: &str = "<img src=x onerror=\"document.title='pwned'\">";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$CARGO_TARGET_DIR/test-artifacts`, else the workspace's `target/`.
fn artifact_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let dir = base.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("creating the test-artifacts directory");
    dir
}

/// The Chromium binary, or None (after saying so) when it is missing
/// outside CI.
fn chromium() -> Option<PathBuf> {
    let name = std::env::var_os("PANICDUMP_CHROMIUM").unwrap_or_else(|| "chromium".into());
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(&name))
        .chain(std::iter::once(PathBuf::from(&name)))
        .find(|p| p.is_file());
    if found.is_none() {
        let msg = "chromium not found: the dashboard browser test needs Debian's \
                   chromium (scripts/install-deps.sh installs it)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    }
    found
}

/// Save a screenshot under the artifact directory and check it is a real,
/// non-blank 1280×900 PNG.
fn save_png(name: &str, png: &[u8]) -> PathBuf {
    let path = artifact_dir().join(name);
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900), "{name} size");
    // A blank 1280×900 page compresses to a few KB; drawn text, tables
    // and charts are far larger.
    assert!(
        png.len() > 25_000,
        "{name} is only {} bytes: a blank page?",
        png.len()
    );
    path
}

/// A minimal HTTP/1.1 exchange over a fresh connection (`Connection: close`):
/// returns the status and body. Enough for a test client of our own server.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connecting to the server");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("reading the answer");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let mut body = resp[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http(addr, "GET", path, &[], b"");
    assert_eq!(
        status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("JSON")
}

/// A report bundle of a corpus log, made the way `panicdump report` does.
fn bundle_of(log: &str, state: &Path) -> Vec<u8> {
    let text = std::fs::read(corpus(log));
    bundle_of_text(text.unwrap_or_else(|e| panic!("{log}: {e}")), log, state)
}

fn corpus(log: &str) -> PathBuf {
    workspace().join("crates/oops/tests/corpus").join(log)
}

/// A report bundle of the log `text` (described as `log`).
fn bundle_of_text(text: Vec<u8>, log: &str, state: &Path) -> Vec<u8> {
    let store = Store::new(state);
    let rec = NewRecord::new(text, SourceKind::File, log.to_string());
    let written = store
        .write(&rec, 1_700_000_000)
        .expect("writing the record");
    let record = store.resolve(&written.id).expect("reading the record");
    let bundle = Bundle::build(&record, &BundleOptions::default()).expect("building the bundle");
    let path = state.join(format!("{}.tar.gz", written.id));
    bundle.write(&path).expect("writing the bundle");
    std::fs::read(&path).unwrap()
}

/// Upload a bundle as machine `machine` (64 hex digits); returns the answer.
fn submit(addr: SocketAddr, token: &str, machine: &str, gz: &[u8]) -> serde_json::Value {
    let auth = format!("Bearer {token}");
    let (status, body) = http(
        addr,
        "POST",
        "/api/v1/reports",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/gzip"),
            ("X-Panicdump-Machine", machine),
        ],
        gz,
    );
    assert_eq!(
        status,
        201,
        "upload refused: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

/// How many bucket rows the top page's table shows, and their titles.
fn rows(dom: &str) -> usize {
    dom.matches("data-bucket=\"").count()
}

/// The text of the first element whose opening tag contains `marker`.
fn element_text<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page"));
    let start = at + dom[at..].find('>').unwrap() + 1;
    let end = start + dom[start..].find('<').unwrap();
    &dom[start..end]
}

/// The value of `attr` in the first opening tag containing `marker`.
fn element_attr<'a>(dom: &'a str, marker: &str, attr: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page"));
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..at + dom[at..].find('>').unwrap()];
    let key = format!("{attr}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"));
    let rest = &tag[v + key.len()..];
    &rest[..rest.find('"').unwrap()]
}

/// HTML-escaped as Chromium serializes text nodes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn dashboard_pages_render_filter_and_highlight_in_chromium() {
    let Some(bin) = chromium() else { return };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let addr = server.addr;
    let base = format!("http://{addr}");

    // Ingest: every crash from one machine, the first one from a second
    // machine too (a bucket with 2 reports on 2 machines).
    let machine_a = "a".repeat(64);
    let machine_b = "b".repeat(64);
    let mut report_ids = Vec::new();
    let mut bucket_ids = Vec::new();
    for (i, c) in CRASHES.iter().enumerate() {
        let gz = bundle_of(c.log, &tmp.path().join(format!("client-{i}")));
        let answer = submit(addr, &server.token, &machine_a, &gz);
        assert_eq!(answer["title"], c.title, "{}", c.log);
        assert_eq!(answer["kind"], c.kind, "{}", c.log);
        report_ids.push(answer["report_id"].as_str().unwrap().to_string());
        bucket_ids.push(answer["bucket_id"].as_str().unwrap().to_string());
        if i == 0 {
            submit(addr, &server.token, &machine_b, &gz);
        }
    }
    // A crash whose title carries markup (the panic message is whatever the
    // kernel printed): the pages must show it as text, never run it.
    let real = std::fs::read_to_string(corpus(CRASHES[0].log)).unwrap();
    // (A renamed frame gives it a signature, so a bucket, of its own.)
    let hostile = real
        .replace("sysrq triggered crash", HOSTILE)
        .replace("sysrq_handle_crash", "hostile_handle_crash");
    assert_ne!(hostile, real);
    let gz = bundle_of_text(hostile.into_bytes(), "hostile", &tmp.path().join("hostile"));
    let answer = submit(addr, &server.token, &machine_a, &gz);
    assert!(answer["title"].as_str().unwrap().contains(HOSTILE));
    let hostile_report = answer["report_id"].as_str().unwrap().to_string();
    let buckets = CRASHES.len() + 1;
    let listed = get_json(addr, "/api/v1/buckets");
    assert_eq!(listed["total"], buckets);

    // One browser for the whole test; each page is loaded fresh and read
    // once its scripts drew the data.
    let mut chrome = Chrome::launch(&bin, 1280, 900);
    let urls = [
        format!("{base}/"),
        format!("{base}/?release={}", CRASHES[2].release),
        // What the filter form submits (every field, empty ones too).
        format!("{base}/?release=&kind=panic&window=&q=&sort=machines&order=asc"),
        format!("{base}/?q=no-such-crash-title"),
        format!("{base}/buckets/{}", bucket_ids[0]),
        format!("{base}/reports/{}", report_ids[0]),
        format!("{base}/reports/{}", report_ids[2]),
        format!("{base}/buckets/no-such-bucket"),
        format!("{base}/?window=24h"),
        format!("{base}/reports/{hostile_report}"),
    ];
    let doms: Vec<String> = urls
        .iter()
        .map(|url| {
            chrome.open(url);
            chrome.dom()
        })
        .collect();
    let [top, filtered, panics, none, bucket, report, btrfs, missing, day, hostile] = &doms[..]
    else {
        unreachable!()
    };

    // The top page: every bucket, most reports first, the chart drawn.
    assert_eq!(rows(top), buckets, "top page rows:\n{top}");
    for c in CRASHES {
        assert!(top.contains(&esc(c.title)), "top page lacks {:?}", c.title);
    }
    let first_row = top.find("data-bucket=\"").unwrap();
    assert!(
        top[first_row..].find(&esc(CRASHES[0].title)).unwrap()
            < top[first_row..].find(&esc(CRASHES[1].title)).unwrap(),
        "the bucket with 2 reports is not first"
    );
    assert!(top.contains("class=\"chart\""), "no chart on the top page");
    assert!(top.contains("class=\"bar\""), "the chart has no bars");
    assert!(
        top.contains(&format!("<option value=\"{}\">", CRASHES[2].release)),
        "the release menu lacks {}",
        CRASHES[2].release
    );

    // A filtered link shows only the matching rows, and the menus show the
    // filter.
    assert_eq!(rows(filtered), 1, "release filter:\n{filtered}");
    assert!(filtered.contains(&esc(CRASHES[2].title)));
    assert!(!filtered.contains(&esc(CRASHES[0].title)));
    assert!(
        filtered.contains(&format!("with release {}", CRASHES[2].release)),
        "the page does not name the release filter"
    );
    // Two panics of the corpus and the hostile one.
    assert_eq!(rows(panics), 3, "kind filter:\n{panics}");
    assert!(panics.contains("aria-sort=\"ascending\""), "sort not shown");
    assert_eq!(rows(none), 0);
    assert!(none.contains("No crashes match"), "no empty state:\n{none}");

    // A bucket page: title, counts, history chart, its reports.
    assert_eq!(element_text(bucket, "id=\"title\""), esc(CRASHES[0].title));
    assert!(bucket.contains("class=\"chart\""), "no history chart");
    assert_eq!(bucket.matches("data-report=\"").count(), 2);
    assert!(bucket.contains(&report_ids[0]));

    // A report page: title, the highlighted report line, the call trace.
    assert_eq!(element_text(report, "id=\"title\""), esc(CRASHES[0].title));
    let first = element_text(report, "l hl hl-first");
    assert!(
        first.contains("Kernel panic - not syncing: sysrq triggered crash"),
        "highlighted line is {first:?}"
    );
    assert!(
        report.matches("class=\"l hl").count() > 10,
        "report lines not highlighted"
    );
    let trace_at = report.find("id=\"call-trace\"").expect("no call trace");
    assert!(report[trace_at..].contains(CRASHES[0].frame));
    assert!(report.contains("id=\"registers\""), "no registers");
    assert!(report.contains(&format!("/api/v1/reports/{}/bundle", report_ids[0])));
    assert!(btrfs.contains(CRASHES[2].frame));
    // Its report starts deep in the log: the log box scrolled down to it.
    let scrolled: u32 = element_attr(btrfs, "id=\"log\"", "data-scroll-top")
        .parse()
        .expect("a scroll offset");
    assert!(scrolled > 0, "the log was not scrolled to the report");

    // Everything arrived just now, so the last day holds every bucket.
    assert_eq!(rows(day), buckets, "24 h window:\n{day}");

    // Markup in a title stays text: escaped in the DOM, no element made.
    for page in [top, hostile] {
        assert!(
            page.contains(&esc(HOSTILE)),
            "hostile title not shown as text"
        );
        assert!(!page.contains("<img"), "a title turned into markup");
    }

    // A missing bucket is a readable error, not a blank page.
    assert!(
        missing.contains("notice error"),
        "no error shown:\n{missing}"
    );

    // Using the filters as a person would: pick a release in the menu,
    // then search titles, sort by a header, go back, reload.
    chrome.open(&urls[0]);
    let row_count = "document.querySelectorAll('tr[data-bucket]').length";
    chrome.eval(&format!(
        "(() => {{ const s = document.getElementById('f-release'); s.value = {}; \
         s.dispatchEvent(new Event('change')); }})()",
        json!(CRASHES[2].release)
    ));
    chrome.wait_ready();
    assert_eq!(
        chrome.eval("location.search"),
        json!(format!("?release={}", CRASHES[2].release))
    );
    assert_eq!(chrome.eval(row_count), json!(1), "release menu");
    chrome.eval(
        "(() => { document.getElementById('f-release').value = ''; \
         document.getElementById('f-q').value = 'kernel BUG'; \
         document.getElementById('filters').requestSubmit(); })()",
    );
    chrome.wait_ready();
    assert_eq!(chrome.eval("location.search"), json!("?q=kernel+BUG"));
    assert_eq!(chrome.eval(row_count), json!(2), "title search");
    chrome.eval("document.querySelector('th a[data-sort=\"machines\"]').click()");
    chrome.wait_ready();
    assert_eq!(
        chrome.eval("location.search"),
        json!("?q=kernel+BUG&sort=machines")
    );
    assert_eq!(
        chrome.eval("document.querySelector('th[aria-sort=\"descending\"]').textContent"),
        json!("Machines ▼")
    );
    chrome.eval("history.back()");
    chrome.wait_for(
        "location.search === '?q=kernel+BUG'",
        Duration::from_secs(30),
    );
    chrome.wait_ready();
    assert_eq!(chrome.eval(row_count), json!(2), "after going back");
    chrome.reload();
    assert_eq!(
        chrome.eval("document.getElementById('f-q').value"),
        json!("kernel BUG"),
        "reload lost the search"
    );
    assert_eq!(chrome.eval(row_count), json!(2), "after a reload");

    // Screenshots for people.
    let pages = [
        (&urls[0], "dashboard-top.png"),
        (&urls[1], "dashboard-filtered.png"),
        (&urls[4], "dashboard-bucket.png"),
        (&urls[5], "dashboard-report.png"),
    ];
    let mut shots = Vec::new();
    for (url, name) in pages {
        chrome.open(url);
        let png = chrome.screenshot();
        save_png(name, &png);
        shots.push(png);
    }
    assert_ne!(
        shots[0], shots[1],
        "the filtered page looks like the unfiltered one"
    );
    eprintln!(
        "dashboard: {} screenshots in {} ({:.1} s)",
        pages.len(),
        artifact_dir().display(),
        started.elapsed().as_secs_f64()
    );
}

/// A drm_panic URL prefix that ends in '#' (Arch Linux's) puts the crash
/// data in the fragment, which the browser never sends: the server's landing
/// page must move it into the query so the report gets filed, as a phone's
/// browser would do it.
#[test]
fn drm_panic_data_in_the_url_fragment_is_filed_from_chromium() {
    let Some(bin) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let base = format!("http://{}", server.addr);
    let log = std::fs::read(corpus(CRASHES[0].log)).unwrap();
    let url = drmpanic::encode_url(&format!("{base}/drm-panic#"), &log, "x86_64", "6.14.0-test");
    assert!(url.contains("/drm-panic#?a="), "{url}");
    let decoded = drmpanic::decode_url(&url).unwrap();
    let analysis = oops::analyze(&decoded.log);
    let title = analysis
        .primary()
        .expect("the QR log holds the panic")
        .title
        .clone();

    let mut chrome = Chrome::launch(&bin, 1280, 900);
    chrome.call("Page.navigate", serde_json::json!({ "url": url }));
    let filed = format!(
        "document.readyState === 'complete' && document.title === {}",
        serde_json::Value::String(title.clone())
    );
    chrome.wait_for(&filed, Duration::from_secs(30));
    let dom = chrome.dom();
    assert!(dom.contains("The crash log was filed."), "{dom}");
    let href = chrome.eval("window.location.href");
    let href = href.as_str().unwrap();
    assert!(
        href.starts_with(&format!("{base}/drm-panic?a=x86_64")),
        "{href}"
    );
    assert!(!href.contains('#'), "the fragment stayed: {href}");
    let listed = get_json(server.addr, "/api/v1/buckets");
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["buckets"][0]["title"], title.as_str(), "{listed}");

    // The bare address (no data anywhere) explains itself and files nothing.
    chrome.call(
        "Page.navigate",
        serde_json::json!({ "url": format!("{base}/drm-panic") }),
    );
    chrome.wait_for(
        "document.readyState === 'complete' && document.title === 'Crash reports from panic screens'",
        Duration::from_secs(30),
    );
    assert!(chrome.dom().contains("holds no crash data"));
    assert_eq!(get_json(server.addr, "/api/v1/buckets")["total"], 1);
}

/// The real server on a free port with a temporary SQLite database and
/// blob directory, and a client token made through the admin API.
struct TestServer {
    addr: SocketAddr,
    token: String,
    _running: server::Running,
}

fn start_server(dir: &Path) -> TestServer {
    let config = server::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: format!("sqlite://{}", dir.join("server.sqlite").display()),
        blobs: dir.join("blobs").display().to_string(),
        ..server::Config::default()
    };
    let token = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = server::Store::open(&config.db)
                .await
                .expect("opening the database");
            server::admin::add_token(&store, "dashboard-test")
                .await
                .expect("making a token")
        });
    let running = server::run(config).expect("starting the server");
    TestServer {
        addr: running.addr,
        token,
        _running: running,
    }
}
