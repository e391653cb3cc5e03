//! Load run on loopback: a real server (in this process, SQLite in a
//! temporary directory or a private PostgreSQL cluster), N clients for T
//! seconds sending distinct real bundles, immediate re-sends and uploads
//! cut off half-way; then checks that the stored count equals the distinct
//! records sent and prints the ingest rate.
//!
//! ```text
//! cargo run --release -p server --example load -- [--clients 50] [--seconds 30] [--db sqlite|postgres]
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> std::process::ExitCode {
    let mut clients = 50usize;
    let mut seconds = 30f64;
    let mut db = "sqlite".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--clients", Some(v)) => clients = v.parse().expect("--clients N"),
            ("--seconds", Some(v)) => seconds = v.parse().expect("--seconds T"),
            ("--db", Some(v)) if v == "sqlite" || v == "postgres" => db = v,
            _ => {
                eprintln!("usage: load [--clients N] [--seconds T] [--db sqlite|postgres]");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let backend: &'static str = if db == "postgres" {
        if common::pg::cluster().is_none() {
            return std::process::ExitCode::from(1);
        }
        "postgres"
    } else {
        "sqlite"
    };
    let env = common::start(backend, |c| {
        // One token stands for a whole fleet here; the per-token budget has
        // its own test (bad_input.rs).
        c.token_per_minute = 0
    });
    let work = tempfile::tempdir().expect("tempdir");
    let templates = common::load::templates(work.path());
    eprintln!(
        "load: {clients} clients for {seconds} s against {backend} on {}",
        env.addr()
    );
    let r = common::load::run(env.addr(), &env.token, templates, clients, seconds);
    let stored_rows = env.report_count();
    let api_total = common::load::api_total(env.addr());
    let blobs = env.blob_files().len();
    println!("backend            {backend}");
    println!("clients            {clients}");
    println!("seconds            {:.1}", r.seconds);
    println!("distinct sent      {}", r.stored);
    println!("re-sends (dup)     {}", r.duplicates);
    println!("cut-off uploads    {}", r.interrupted);
    println!("errors             {}", r.errors);
    println!("stored rows        {stored_rows}");
    println!("bucket count sum   {api_total}");
    println!("blob files         {blobs}");
    println!("ingest rate        {:.0} reports/s", r.rate());
    println!(
        "latency p50/p99    {:.1} / {:.1} ms",
        r.percentile(0.5),
        r.percentile(0.99)
    );
    let ok = r.errors == 0
        && stored_rows == r.stored as i64
        && api_total == r.stored as i64
        && blobs as u64 == r.stored;
    println!(
        "lost or duplicated {}",
        if ok { "none" } else { "MISMATCH" }
    );
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}
