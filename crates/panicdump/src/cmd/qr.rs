//! `panicdump qr`: the crash log a panic screen's QR code links to.
//!
//! Kernels since 6.12 can draw the end of the log as a QR code when they
//! panic (drm_panic, `drm.panic_screen=qr_code`). The URL prefix is fixed
//! when the kernel is built (`CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL`), so a
//! phone usually opens the distribution's page, not ours. A user with no
//! pstore and no kdump can still paste the scanned URL here: it is decoded
//! locally, analysed like any log, and with `--save` kept as a crash record
//! that `report` and `submit` handle like every other.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use crashdb::{NewRecord, SourceKind, SystemInfo};

use super::capture::now;
use super::records::StateArgs;

/// Arguments of `panicdump qr`.
#[derive(clap::Args, Debug)]
pub struct QrArgs {
    /// The URL the panic screen's QR code holds (quote it for the shell), or `-` to read it from stdin.
    pub url: String,
    /// Print the decoded kernel log instead of the analysis.
    #[arg(long, conflicts_with = "json")]
    pub log: bool,
    /// Print the analysis as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the log as a crash record (then `panicdump report` and `submit` take it).
    #[arg(long)]
    pub save: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Longest URL read from stdin: a version-40 QR code holds under 3 KiB of
/// data, 7 KiB as digits; anything far larger is not one.
const MAX_URL: u64 = 64 << 10;

/// Run `panicdump qr`.
pub fn run(args: QrArgs) -> anyhow::Result<ExitCode> {
    let url = if args.url == "-" {
        let mut s = String::new();
        io::stdin()
            .lock()
            .take(MAX_URL)
            .read_to_string(&mut s)
            .context("reading the URL from stdin")?;
        s
    } else {
        args.url.clone()
    };
    let url = url.trim();
    if url.is_empty() {
        bail!("no URL given");
    }
    let decoded = drmpanic::decode_url(url)
        .with_context(|| "not a readable drm_panic QR-code URL (it needs a=, v= and z= or zl=)")?;
    let analysis = oops::analyze(&decoded.log);
    let mut out = io::stdout().lock();

    let saved = if args.save {
        let store = args.state.store();
        // The crashed kernel, as the URL names it (not this machine's now).
        let system = SystemInfo {
            kernel_release: decoded.version.clone().filter(|v| !v.is_empty()),
            machine: decoded.arch.clone().filter(|a| !a.is_empty()),
            ..Default::default()
        };
        let description = match &decoded.prefix {
            Some(p) => format!("drm_panic QR code ({p})"),
            None => "drm_panic QR code".to_string(),
        };
        let rec =
            NewRecord::new(decoded.log.clone(), SourceKind::DrmPanic, description).system(system);
        let w = store
            .write(&rec, now())
            .with_context(|| format!("saving the record under {}", store.dir().display()))?;
        Some(w)
    } else {
        None
    };

    if args.log {
        out.write_all(&decoded.log).context("writing to stdout")?;
    } else if args.json {
        let j = serde_json::json!({
            "arch": decoded.arch,
            "release": decoded.version,
            "distribution": decoded.distribution,
            "prefix": decoded.prefix,
            "scheme": decoded.scheme.parameter(),
            "digits": decoded.digits,
            "compressed_bytes": decoded.compressed_len,
            "log_bytes": decoded.log.len(),
            "title": analysis.title(),
            "signature_hash": analysis.primary().map(|r| r.signature_hash()),
            "record": saved.as_ref().map(|w| w.id.as_str()),
            "analysis": analysis,
        });
        serde_json::to_writer_pretty(&mut out, &j).context("writing JSON")?;
        writeln!(out).context("writing to stdout")?;
    } else {
        let mut s = String::new();
        s.push_str(&format!(
            "QR code:   {} {}, {} log bytes from {} digits ({}=)\n",
            decoded.arch.as_deref().unwrap_or("unknown machine"),
            decoded.version.as_deref().unwrap_or("unknown release"),
            decoded.log.len(),
            decoded.digits,
            decoded.scheme.parameter(),
        ));
        match analysis.primary() {
            Some(r) => super::analyze::render(&mut s, r),
            None => s.push_str(&format!(
                "no crash report found in the {} lines the code holds\n",
                analysis.lines
            )),
        }
        out.write_all(s.as_bytes()).context("writing to stdout")?;
    }
    if let Some(w) = saved {
        eprintln!(
            "panicdump qr: {} record {} ({})",
            if w.created {
                "saved as"
            } else {
                "already kept as"
            },
            w.id,
            w.dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
