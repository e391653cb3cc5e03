//! Administration: client tokens, retention of raw bundles, export.

use std::io::Write;

use rand::RngCore;
use serde_json::json;

use crate::api::{now, sha256_hex};
use crate::blobs::Blobs;
use crate::error::{Error, Result};
use crate::store::{BucketFilter, Sort, Store, TokenInfo};

/// Token names: short, printable, no spaces.
fn check_token_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "token name {name:?}: use 1 to 64 letters, digits, - _ . @"
        )))
    }
}

/// Make a token named `name`; returns the token, which is shown once (only
/// its SHA-256 is stored).
pub async fn add_token(store: &Store, name: &str) -> Result<String> {
    check_token_name(name)?;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = format!(
        "pdt_{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    store
        .add_token(name, &sha256_hex(token.as_bytes()), now())
        .await?;
    Ok(token)
}

/// Every token (names and dates, never the tokens).
pub async fn list_tokens(store: &Store) -> Result<Vec<TokenInfo>> {
    store.list_tokens().await
}

/// Revoke the token named `name`.
pub async fn revoke_token(store: &Store, name: &str) -> Result<()> {
    store.revoke_token(name, now()).await
}

/// What [`prune`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PruneSummary {
    /// Reports whose raw bundle and log were removed.
    pub reports: usize,
}

/// Remove the raw bundles (and stored logs) of reports received more than
/// `keep_days` days ago. Report rows, and so every bucket statistic, stay.
/// The row forgets its bundle before the blob is deleted, so no row ever
/// points at a missing blob.
pub async fn prune(store: &Store, blobs: &Blobs, keep_days: u32, at: i64) -> Result<PruneSummary> {
    let cutoff = at - i64::from(keep_days) * 86_400;
    let mut s = PruneSummary::default();
    for (id, key) in store.expired_blobs(cutoff).await? {
        store.drop_raw(&id).await?;
        blobs.delete(&key).await?;
        s.reports += 1;
    }
    Ok(s)
}

/// Write every bucket, then every report, as JSON lines: `{"type":
/// "bucket", ...}` and `{"type": "report", ...}` (reports without logs).
pub async fn export(store: &Store, out: &mut dyn Write) -> Result<(u64, u64)> {
    let mut buckets = 0u64;
    let mut offset = 0;
    loop {
        let f = BucketFilter {
            sort: Sort::FirstSeen,
            ascending: true,
            limit: 500,
            offset,
            ..BucketFilter::default()
        };
        let (_, page) = store.list_buckets(&f).await?;
        if page.is_empty() {
            break;
        }
        for b in &page {
            let mut v = serde_json::to_value(b).map_err(std::io::Error::from)?;
            v["type"] = json!("bucket");
            serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            buckets += 1;
        }
        offset += page.len() as i64;
    }
    let mut reports = 0u64;
    let mut after = None;
    loop {
        let page = store.reports_page(after.clone(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.received_at, last.id.clone()));
        for r in &page {
            let mut v = serde_json::to_value(r).map_err(std::io::Error::from)?;
            v["type"] = json!("report");
            v["record"] = json!(r.record_id);
            v["bundle_stored"] = json!(r.blob_key.is_some());
            if let Some(o) = v.as_object_mut() {
                o.remove("log");
            }
            serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            reports += 1;
        }
    }
    out.flush()?;
    Ok((buckets, reports))
}
