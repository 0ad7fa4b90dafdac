//! Export files for log shippers: gzip-compressed JSON Lines (one CloudTrail record per line), one file per
//! account and region per export run, named and laid out as CloudTrail names its files:
//! `AWSLogs/{account}/CloudTrail/{region}/{YYYY}/{MM}/{DD}/{account}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{unique}.json.gz`.
//!
//! A run covers every stored event after the last exported one. Files are written under a temporary name and
//! synced, then recorded in the store together with the new export mark (a compare-and-set: of several nodes
//! exporting at once one wins, the others delete their files), then renamed into place. Each record carries
//! the file's SHA-256 and the previous file's, so the files form a hash chain that the signed digests cover.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::store::{AuditQuery, ExportRecord, Store, StoreError};

use super::query;

/// Most events one run exports (a large backlog takes several runs).
const RUN_MAX: i64 = 200_000;
/// Account directory for events no account received (failed authentication with an unknown key).
const NO_ACCOUNT: &str = "000000000000";

/// Why an export did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing export files under {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(dir: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        dir: dir.to_path_buf(),
        source,
    }
}

/// `YYYYMMDDTHHmmZ` and the date path of `t`.
fn stamp(t: i64) -> (String, String) {
    let d =
        time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (
        format!(
            "{:04}{:02}{:02}T{:02}{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute()
        ),
        format!("{:04}/{:02}/{:02}", d.year(), u8::from(d.month()), d.day()),
    )
}

/// A path component from untrusted text (the region comes from the caller's signature scope): only what a
/// region or account ID can hold.
fn component(s: &str, fallback: &str) -> String {
    if !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        s.to_string()
    } else {
        fallback.to_string()
    }
}

/// The `awsRegion` of a stored CloudTrail record (its bodies are written by [`super::event`], keys sorted).
fn region_of(body: &str) -> &str {
    body.split_once("\"awsRegion\":\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("", |(r, _)| r)
}

fn unique() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| {
            char::from(
                *ALPHABET
                    .get(rng.random_range(0..ALPHABET.len()))
                    .unwrap_or(&b'A'),
            )
        })
        .collect()
}

struct Open {
    rel: String,
    gz: GzEncoder<std::fs::File>,
    events: i64,
    oldest: i64,
    newest: i64,
}

/// What one call exported.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Exported {
    pub events: i64,
    pub files: usize,
}

/// Export every stored event after the export mark, up to `through` (all if `None`), in runs of at most
/// [`RUN_MAX`] events. Returns what this node wrote (nothing when another node exported first).
pub fn export(
    store: &dyn Store,
    dir: &Path,
    through: Option<i64>,
    now: i64,
) -> Result<Exported, ExportError> {
    let mut total = Exported::default();
    loop {
        let head = store.audit_head()?;
        let start = (head.exported_through + 1).max(head.first_seq);
        let end = through
            .unwrap_or(i64::MAX)
            .min(head.next_seq - 1)
            .min(start + RUN_MAX - 1);
        if start > end {
            return Ok(total);
        }
        match run(store, dir, head.exported_through, start, end, now)? {
            Some(done) => {
                total.events += done.events;
                total.files += done.files;
            }
            // Another node exported this range meanwhile: look again.
            None => continue,
        }
    }
}

/// Export events `start..=end` and record them as exported after `expected`. `None` if another node won.
fn run(
    store: &dyn Store,
    dir: &Path,
    expected: i64,
    start: i64,
    end: i64,
    now: i64,
) -> Result<Option<Exported>, ExportError> {
    let prev = store
        .audit_exports()?
        .last()
        .map(|r| r.sha256.clone())
        .unwrap_or_default();
    let (records, events) = write_files(store, dir, start, end, None, now, prev)?;
    if !store.audit_claim_export(expected, end, &records)? {
        for r in &records {
            let _ = std::fs::remove_file(dir.join(format!("{}.tmp", r.name)));
        }
        return Ok(None);
    }
    for r in &records {
        finish(dir, &r.name).map_err(io_err(dir))?;
    }
    Ok(Some(Exported {
        events,
        files: records.len(),
    }))
}

/// Write every stored event (at or after `since`) as CloudTrail-style files under `dir`, without recording
/// them (`stsd audit export --format cloudtrail`: a copy for someone else, not the node's own export).
pub fn write_copy(
    store: &dyn Store,
    dir: &Path,
    since: Option<i64>,
    now: i64,
) -> Result<Vec<ExportRecord>, ExportError> {
    let head = store.audit_head()?;
    let mut all = Vec::new();
    let mut start = head.first_seq;
    let mut prev = String::new();
    while start < head.next_seq {
        let end = (start + RUN_MAX - 1).min(head.next_seq - 1);
        let (records, _) = write_files(store, dir, start, end, since, now, prev.clone())?;
        for r in &records {
            finish(dir, &r.name).map_err(io_err(dir))?;
        }
        if let Some(r) = records.last() {
            prev.clone_from(&r.sha256);
        }
        all.extend(records);
        start = end + 1;
    }
    Ok(all)
}

/// Write events `start..=end` (at or after `since`) into one temporary file per account and region; returns
/// their records, chained after `prev`, and the number of events written.
fn write_files(
    store: &dyn Store,
    dir: &Path,
    start: i64,
    end: i64,
    since: Option<i64>,
    now: i64,
    mut prev: String,
) -> Result<(Vec<ExportRecord>, i64), ExportError> {
    let (minute, day) = stamp(now);
    let mut open: BTreeMap<(String, String), Open> = BTreeMap::new();
    let mut cursor = Some(start - 1);
    let mut events = 0i64;
    'read: loop {
        let rows = query::lookup(
            store,
            &AuditQuery {
                cursor,
                since,
                ascending: true,
                limit: 4096,
                ..AuditQuery::default()
            },
        )?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            if row.seq > end {
                break 'read;
            }
            cursor = Some(row.seq);
            let account = component(&row.account, NO_ACCOUNT);
            let region = component(region_of(&row.body), "us-east-1");
            let key = (account.clone(), region.clone());
            if !open.contains_key(&key) {
                let rel = format!(
                    "AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{minute}_{}.json.gz",
                    unique()
                );
                let path = dir.join(format!("{rel}.tmp"));
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io_err(dir))?;
                }
                let file = std::fs::File::create(&path).map_err(io_err(dir))?;
                open.insert(
                    key.clone(),
                    Open {
                        rel,
                        gz: GzEncoder::new(file, Compression::default()),
                        events: 0,
                        oldest: row.event_time,
                        newest: row.event_time,
                    },
                );
            }
            if let Some(f) = open.get_mut(&key) {
                f.gz.write_all(row.body.as_bytes()).map_err(io_err(dir))?;
                f.gz.write_all(b"\n").map_err(io_err(dir))?;
                f.events += 1;
                f.oldest = f.oldest.min(row.event_time);
                f.newest = f.newest.max(row.event_time);
            }
            events += 1;
            if row.seq == end {
                break 'read;
            }
        }
    }
    let mut records = Vec::with_capacity(open.len());
    for f in open.into_values() {
        let file = f.gz.finish().map_err(io_err(dir))?;
        file.sync_all().map_err(io_err(dir))?;
        drop(file);
        let bytes = std::fs::read(dir.join(format!("{}.tmp", f.rel))).map_err(io_err(dir))?;
        let sha256 = hex(&Sha256::digest(&bytes));
        records.push(ExportRecord {
            name: f.rel,
            first_seq: start,
            last_seq: end,
            events: f.events,
            sha256: sha256.clone(),
            prev_sha256: std::mem::replace(&mut prev, sha256),
            oldest: f.oldest,
            newest: f.newest,
            created: now,
        });
    }
    Ok((records, events))
}

/// Move a recorded file from its temporary name into place (also after a crash between recording and
/// renaming: [`recover`]).
fn finish(dir: &Path, name: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    if tmp.exists() {
        let fin = dir.join(name);
        std::fs::rename(&tmp, &fin)?;
        if let Some(parent) = fin.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

/// Rename recorded files still under their temporary names (a node stopped between the two steps).
pub fn recover(store: &dyn Store, dir: &Path) -> Result<(), ExportError> {
    for r in store.audit_exports()?.iter().rev().take(64) {
        finish(dir, &r.name).map_err(io_err(dir))?;
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditRow, sqlite::SqliteStore};
    use std::io::Read as _;

    #[test]
    fn files_per_account_and_region_chained_and_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        let mut codec = super::super::trail::Codec::new();
        let rows: Vec<_> = (0..30)
            .map(|i| AuditRow {
                account: if i % 3 == 0 {
                    "111122223333".into()
                } else {
                    "444455556666".into()
                },
                event_id: format!("e{i}"),
                event_time: 1_767_225_600 + i,
                body: format!(
                    r#"{{"awsRegion":"{}","eventID":"e{i}"}}"#,
                    if i % 2 == 0 { "us-east-1" } else { "../../etc" }
                ),
                ..AuditRow::default()
            })
            .collect();
        s.audit_append(&codec.encode(&rows)).unwrap();
        let out = dir.path().join("export");
        let done = export(&s, &out, Some(20), 1_767_229_200).unwrap();
        // Two accounts; the hostile region is filed under the default one.
        assert_eq!(
            done,
            Exported {
                events: 20,
                files: 2
            }
        );
        assert_eq!(s.audit_head().unwrap().exported_through, 20);
        let done = export(&s, &out, None, 1_767_232_800).unwrap();
        assert_eq!(done.events, 10);
        assert!(export(&s, &out, None, 1_767_232_900).unwrap().events == 0);
        let recs = s.audit_exports().unwrap();
        assert_eq!(recs.first().unwrap().prev_sha256, "");
        let mut total = 0;
        for w in recs.windows(2) {
            assert_eq!(w[1].prev_sha256, w[0].sha256);
        }
        for r in &recs {
            assert!(r.name.starts_with("AWSLogs/"), "{}", r.name);
            // The hostile region became the fallback, never a path.
            assert!(!r.name.contains(".."), "{}", r.name);
            let bytes = std::fs::read(out.join(&r.name)).unwrap();
            assert_eq!(hex(&Sha256::digest(&bytes)), r.sha256);
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(text.lines().count() as i64, r.events);
            total += r.events;
        }
        assert_eq!(total, 30);
        assert!(recs.iter().any(|r| r.name.contains(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/111122223333_CloudTrail_us-east-1_20260101T0100Z_"
        )));
    }
}
