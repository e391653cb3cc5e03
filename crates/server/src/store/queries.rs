//! Read-only queries: buckets with their statistics, reports, series.
//! Statistics are computed from the report rows (which retention never
//! deletes), so they are always consistent with what was received.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Store;
use crate::error::Result;

/// Sort order of the bucket list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Reports received.
    #[default]
    Count,
    /// Distinct machines.
    Machines,
    /// First received.
    FirstSeen,
    /// Last received.
    LastSeen,
}

impl Sort {
    /// Parse the API's `sort` value.
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "count" => Sort::Count,
            "machines" => Sort::Machines,
            "first_seen" => Sort::FirstSeen,
            "last_seen" => Sort::LastSeen,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Sort::Count => "n",
            Sort::Machines => "m",
            Sort::FirstSeen => "f",
            Sort::LastSeen => "l",
        }
    }
}

/// Filters of the bucket list and the series.
#[derive(Debug, Clone, Default)]
pub struct BucketFilter {
    /// Kernel release, exact.
    pub release: Option<String>,
    /// Kind, exact.
    pub kind: Option<String>,
    /// Received at or after (Unix seconds).
    pub since: Option<i64>,
    /// Received before (Unix seconds).
    pub until: Option<i64>,
    /// Substring of the title, case-insensitive.
    pub q: Option<String>,
    /// Sort key.
    pub sort: Sort,
    /// Ascending instead of descending.
    pub ascending: bool,
    /// Page size.
    pub limit: i64,
    /// Page start.
    pub offset: i64,
}

/// A bucket with its statistics (the API's `Bucket`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BucketRow {
    /// Bucket id.
    pub id: String,
    /// The signature hash (equal to the id).
    pub signature_hash: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: String,
    /// Reports.
    pub count: i64,
    /// Distinct machines.
    pub machines: i64,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
    /// Kernel releases seen, sorted.
    pub releases: Vec<String>,
}

/// Reports on one UTC day.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Reports received that day.
    pub count: i64,
}

/// A stored report (the API's `Report`, less the analysis).
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// Report id.
    pub id: String,
    /// Bucket id.
    pub bucket_id: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Unix seconds.
    pub crash_time: Option<i64>,
    /// Kernel release.
    pub release: Option<String>,
    /// First 12 hex of the machine hash.
    pub machine: String,
    /// `bundle` or `drm_panic`.
    pub source: String,
    /// Server title.
    pub title: String,
    /// Server kind.
    pub kind: String,
    /// Server signature hash.
    pub signature_hash: String,
    /// The client's title.
    pub client_title: Option<String>,
    /// The log (gone after retention).
    pub log: Option<String>,
    /// 1-based report line.
    pub report_line: Option<i64>,
    /// The stored bundle's key (not part of the API).
    #[serde(skip)]
    pub blob_key: Option<String>,
    /// Full machine hash (not part of the API).
    #[serde(skip)]
    pub machine_full: String,
    /// The client's record id (not part of the API; export has it).
    #[serde(skip)]
    pub record_id: String,
}

const REPORT_COLUMNS: &str =
    "id, bucket_id, received_at, crash_time, kernel_release, machine, source, \
     title, kind, signature_hash, client_title, log, report_line, blob_key, record_id";

/// A bucket from the columns both bucket queries select: id, title, kind,
/// count, machines, first and last seen (releases are filled in after).
fn bucket_row(r: &AnyRow) -> Result<BucketRow> {
    let id: String = r.try_get(0)?;
    Ok(BucketRow {
        signature_hash: id.clone(),
        id,
        title: r.try_get(1)?,
        kind: r.try_get(2)?,
        count: r.try_get(3)?,
        machines: r.try_get(4)?,
        first_seen: r.try_get(5)?,
        last_seen: r.try_get(6)?,
        releases: Vec::new(),
    })
}

fn report_row(r: &AnyRow, with_log: bool) -> Result<ReportRow> {
    let machine: String = r.try_get(5)?;
    Ok(ReportRow {
        id: r.try_get(0)?,
        bucket_id: r.try_get(1)?,
        received_at: r.try_get(2)?,
        crash_time: r.try_get(3)?,
        release: r.try_get(4)?,
        machine: machine.chars().take(12).collect(),
        source: r.try_get(6)?,
        title: r.try_get(7)?,
        kind: r.try_get(8)?,
        signature_hash: r.try_get(9)?,
        client_title: r.try_get(10)?,
        log: if with_log { r.try_get(11)? } else { None },
        report_line: r.try_get(12)?,
        blob_key: r.try_get(13)?,
        machine_full: machine,
        record_id: r.try_get(14)?,
    })
}

/// `YYYY-MM-DD` of a day number since 1970-01-01.
pub fn day_string(day: i64) -> String {
    let (y, m, d, ..) = crashdb::time::civil(day * 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// SQL text and its bound values, built together so numbering stays right.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

enum Arg {
    S(String),
    I(i64),
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }
    /// Append `text` with `?` replaced by the next `$N`.
    fn arg(&mut self, text: &str, a: Arg) {
        self.args.push(a);
        self.text
            .push_str(&text.replace('?', &format!("${}", self.args.len())));
    }
    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::S(s) => q.bind(s.as_str()),
                Arg::I(i) => q.bind(*i),
            };
        }
        q
    }
}

fn like_pattern(q: &str) -> String {
    let mut p = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn filters(sql: &mut Sql, f: &BucketFilter, with_title: bool) {
    if let Some(r) = &f.release {
        sql.arg(" AND r.kernel_release = ?", Arg::S(r.clone()));
    }
    if let Some(k) = &f.kind {
        sql.arg(" AND r.kind = ?", Arg::S(k.clone()));
    }
    if let Some(s) = f.since {
        sql.arg(" AND r.received_at >= ?", Arg::I(s));
    }
    if let Some(u) = f.until {
        sql.arg(" AND r.received_at < ?", Arg::I(u));
    }
    if with_title {
        if let Some(q) = &f.q {
            sql.arg(
                " AND LOWER(r.title) LIKE ? ESCAPE '\\'",
                Arg::S(like_pattern(q)),
            );
        }
    }
}

impl Store {
    /// One page of buckets matching `f`, and how many match in all.
    pub async fn list_buckets(&self, f: &BucketFilter) -> Result<(i64, Vec<BucketRow>)> {
        let mut count = Sql::new("SELECT COUNT(DISTINCT r.bucket_id) FROM reports r WHERE 1 = 1");
        filters(&mut count, f, true);
        let total: i64 = count.query().fetch_one(self.pool()).await?.try_get(0)?;

        let mut sql = Sql::new(
            "SELECT r.bucket_id, b.title, b.kind, COUNT(*) AS n, COUNT(DISTINCT r.machine) AS m, \
             MIN(r.received_at) AS f, MAX(r.received_at) AS l \
             FROM reports r JOIN buckets b ON b.id = r.bucket_id WHERE 1 = 1",
        );
        filters(&mut sql, f, true);
        sql.push(&format!(
            " GROUP BY r.bucket_id, b.title, b.kind ORDER BY {} {}, r.bucket_id ASC",
            f.sort.column(),
            if f.ascending { "ASC" } else { "DESC" }
        ));
        sql.arg(" LIMIT ?", Arg::I(f.limit));
        sql.arg(" OFFSET ?", Arg::I(f.offset));
        let rows = sql.query().fetch_all(self.pool()).await?;
        let mut out = rows.iter().map(bucket_row).collect::<Result<Vec<_>>>()?;
        self.fill_releases(&mut out).await?;
        Ok((total, out))
    }

    async fn fill_releases(&self, buckets: &mut [BucketRow]) -> Result<()> {
        if buckets.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(
            "SELECT DISTINCT bucket_id, kernel_release FROM reports \
             WHERE kernel_release IS NOT NULL AND bucket_id IN (",
        );
        for (i, b) in buckets.iter().enumerate() {
            sql.arg(if i == 0 { "?" } else { ", ?" }, Arg::S(b.id.clone()));
        }
        sql.push(") ORDER BY kernel_release");
        for r in sql.query().fetch_all(self.pool()).await? {
            let id: String = r.try_get(0)?;
            let rel: String = r.try_get(1)?;
            if let Some(b) = buckets.iter_mut().find(|b| b.id == id) {
                b.releases.push(rel);
            }
        }
        Ok(())
    }

    /// One bucket with its statistics over all its reports.
    pub async fn bucket(&self, id: &str) -> Result<Option<BucketRow>> {
        let row = sqlx::query(
            "SELECT b.id, b.title, b.kind, COUNT(r.id), COUNT(DISTINCT r.machine), \
             MIN(r.received_at), MAX(r.received_at) \
             FROM buckets b JOIN reports r ON r.bucket_id = b.id WHERE b.id = $1 \
             GROUP BY b.id, b.title, b.kind",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let mut b = [bucket_row(&r)?];
        self.fill_releases(&mut b).await?;
        let [b] = b;
        Ok(Some(b))
    }

    /// Reports per UTC day between day numbers `first` and `last`
    /// (inclusive), zero days included.
    pub async fn series(
        &self,
        bucket: Option<&str>,
        f: &BucketFilter,
        first: i64,
        last: i64,
    ) -> Result<Vec<DayCount>> {
        let mut sql =
            Sql::new("SELECT r.received_at / 86400 AS d, COUNT(*) FROM reports r WHERE 1 = 1");
        if let Some(b) = bucket {
            sql.arg(" AND r.bucket_id = ?", Arg::S(b.to_string()));
        }
        sql.arg(" AND r.received_at >= ?", Arg::I(first * 86_400));
        sql.arg(" AND r.received_at < ?", Arg::I((last + 1) * 86_400));
        filters(&mut sql, f, false);
        sql.push(" GROUP BY r.received_at / 86400");
        let mut counts = std::collections::HashMap::new();
        for r in sql.query().fetch_all(self.pool()).await? {
            let d: i64 = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            counts.insert(d, n);
        }
        Ok((first..=last)
            .map(|d| DayCount {
                day: day_string(d),
                count: counts.get(&d).copied().unwrap_or(0),
            })
            .collect())
    }

    /// The latest `limit` reports of a bucket, newest first, without logs.
    pub async fn bucket_reports(&self, bucket: &str, limit: i64) -> Result<Vec<ReportRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE bucket_id = $1 \
             ORDER BY received_at DESC, id DESC LIMIT $2"
        ))
        .bind(bucket)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| report_row(r, false)).collect()
    }

    /// One report, with its log.
    pub async fn report(&self, id: &str) -> Result<Option<ReportRow>> {
        let row = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| report_row(&r, true)).transpose()
    }

    /// Reports in received order, one page after `after` (received_at, id),
    /// for export.
    pub async fn reports_page(
        &self,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<ReportRow>> {
        let (t, id) = after.unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports \
             WHERE received_at > $1 OR (received_at = $1 AND id > $2) \
             ORDER BY received_at, id LIMIT $3"
        ))
        .bind(t)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| report_row(r, false)).collect()
    }

    /// Distinct releases and kinds, sorted.
    pub async fn facets(&self) -> Result<(Vec<String>, Vec<String>)> {
        let releases = sqlx::query(
            "SELECT DISTINCT kernel_release FROM reports WHERE kernel_release IS NOT NULL ORDER BY kernel_release",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<String>, _>>()?;
        let kinds = sqlx::query("SELECT DISTINCT kind FROM reports ORDER BY kind")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<String>, _>>()?;
        Ok((releases, kinds))
    }

    /// Number of reports stored.
    pub async fn report_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM reports")
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }
}
