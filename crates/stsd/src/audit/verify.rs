//! `stsd audit verify`: check that the trail is whole and unaltered — the stored chain, the signed digests, the
//! export records and (given the directory) the export and digest files — and name the first thing that is
//! not.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError, StoredBlock};

use super::digest::{self, parse_public_key, signature_valid};
use super::export::hex;
use super::trail::{self, Codec};

/// The member `k` of a JSON object (`null` when absent, as indexing would read it).
fn at<'v>(v: &'v Value, k: &str) -> &'v Value {
    v.get(k).unwrap_or(&Value::Null)
}

/// Events read per step while walking the chain.
const CHUNK: i64 = 4096;

/// The outcome of a verification.
#[derive(Debug, Default)]
pub struct Report {
    /// What is wrong, most basic first (the first is the first missing or altered item).
    pub problems: Vec<String>,
    /// What was checked, and caveats.
    pub notes: Vec<String>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How a problem names the block `b`: its first event (and how many follow in the block).
fn block_name(codec: &mut Codec, b: &StoredBlock) -> String {
    let rest = match b.count {
        1 => String::new(),
        n => format!(" and the {} events after it in its block", n - 1),
    };
    match codec.decode(b).ok().as_deref() {
        Some([r, ..]) => format!(
            "event {} (eventID {}, {}){rest}",
            b.seq, r.event_id, r.event_name
        ),
        _ => format!("event {} (undecodable){rest}", b.seq),
    }
}

fn gunzip(bytes: &[u8]) -> Option<String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .take(64 << 20)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// Every file under `dir/AWSLogs/*/<kind>/…` (relative paths), for finding files nobody recorded.
fn files_under(dir: &Path, kind: &str, suffix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.join("AWSLogs")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if rel.split('/').nth(2) == Some(kind) && rel.ends_with(suffix) {
                    out.insert(rel);
                }
            }
        }
    }
    out
}

/// Verify the trail in `store`. `export_dir` adds the files; `pinned` keys (kept apart from the store) are the
/// only ones trusted to have signed digests — without them, digests are checked against the key they name.
pub fn verify(
    store: &dyn Store,
    export_dir: Option<&Path>,
    pinned: &[VerifyingKey],
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let head = store.audit_head()?;
    let digests = store.audit_digests()?;
    let exports = store.audit_exports()?;

    // 1. Digests: signatures, their own chain, their files.
    let mut chain_claims: Vec<(i64, i64, String)> = Vec::new(); // (digest end, lastSeq, lastHash)
    let mut signed_files: BTreeMap<String, String> = BTreeMap::new();
    let mut prev: Option<&crate::store::DigestRecord> = None;
    let mut last_claim = 0i64;
    for d in &digests {
        let when = digest::iso(d.end_time);
        let Ok(body) = serde_json::from_str::<Value>(&d.body) else {
            report.problems.push(format!("digest {when} is not JSON"));
            continue;
        };
        let named = at(&body, "stsdPublicKey")
            .as_str()
            .and_then(parse_public_key);
        let key = if pinned.is_empty() {
            named
        } else {
            named.filter(|k| pinned.contains(k))
        };
        match key {
            Some(k) if signature_valid(d, &k) => {}
            Some(_) => report.problems.push(format!(
                "digest {when}: signature does not match (digest altered)"
            )),
            None => report
                .problems
                .push(format!("digest {when}: not signed by a trusted key")),
        }
        let (want_hash, want_sig) = match prev {
            Some(p) => (
                Value::String(hex(&Sha256::digest(p.body.as_bytes()))),
                Value::String(p.signature.clone()),
            ),
            None => (Value::Null, Value::Null),
        };
        if *at(&body, "previousDigestHashValue") != want_hash
            || *at(&body, "previousDigestSignature") != want_sig
        {
            report.problems.push(format!(
                "digest {when} does not follow the digest before it (a digest was removed or replaced)"
            ));
        }
        if let Some(p) = prev
            && at(&body, "digestStartTime").as_str() != Some(digest::iso(p.end_time).as_str())
        {
            report.problems.push(format!(
                "digest {when}: periods are not contiguous (a digest is missing)"
            ));
        }
        for f in at(&body, "logFiles").as_array().into_iter().flatten() {
            if let (Some(n), Some(h)) = (at(f, "s3Object").as_str(), at(f, "hashValue").as_str()) {
                signed_files.insert(n.to_string(), h.to_string());
            }
        }
        let last_seq = at(at(&body, "stsdChain"), "lastSeq").as_i64().unwrap_or(0);
        let last_hash = at(at(&body, "stsdChain"), "lastHash")
            .as_str()
            .unwrap_or("")
            .to_string();
        if last_seq < last_claim {
            report.problems.push(format!(
                "digest {when} covers fewer events than the digest before it"
            ));
        }
        last_claim = last_claim.max(last_seq);
        chain_claims.push((d.end_time, last_seq, last_hash));
        if let Some(dir) = export_dir {
            let name = at(&body, "digestS3Object").as_str().unwrap_or("");
            let on_disk = std::fs::read(dir.join(name)).ok().and_then(|b| gunzip(&b));
            let sig = std::fs::read_to_string(dir.join(format!("{name}.sig"))).ok();
            if on_disk.as_deref() != Some(d.body.as_str())
                || sig.as_deref().map(str::trim) != Some(d.signature.as_str())
            {
                report.problems.push(format!(
                    "digest file {name} is missing or differs from the stored digest"
                ));
            }
        }
        prev = Some(d);
    }
    if let Some(dir) = export_dir {
        let known: BTreeSet<String> = digests
            .iter()
            .filter_map(|d| serde_json::from_str::<Value>(&d.body).ok())
            .filter_map(|b| at(&b, "digestS3Object").as_str().map(str::to_string))
            .collect();
        for extra in files_under(dir, "CloudTrail-Digest", ".json.gz").difference(&known) {
            report.problems.push(format!(
                "digest file {extra} is not in the store (a stored digest was removed)"
            ));
        }
    }
    if last_claim > head.next_seq - 1 {
        report.problems.push(format!(
            "events {}..{} are covered by a signed digest but missing from the store",
            head.next_seq, last_claim
        ));
    }

    // 2. Export records and files.
    let mut prev_sha = String::new();
    let mut covered = 0i64;
    for f in &exports {
        if f.prev_sha256 != prev_sha {
            report.problems.push(format!(
                "export file {} does not follow the file before it (chain broken)",
                f.name
            ));
        }
        prev_sha = f.sha256.clone();
        if f.first_seq > covered + 1 {
            report.problems.push(format!(
                "events {}..{} were never exported (export records removed?)",
                covered + 1,
                f.first_seq - 1
            ));
        }
        covered = covered.max(f.last_seq);
        if let Some(signed) = signed_files.get(&f.name)
            && *signed != f.sha256
        {
            report.problems.push(format!(
                "export record {} differs from its signed digest",
                f.name
            ));
        }
        if let Some(dir) = export_dir {
            match std::fs::read(dir.join(&f.name)) {
                Ok(bytes) if hex(&Sha256::digest(&bytes)) == f.sha256 => {}
                Ok(_) => report
                    .problems
                    .push(format!("export file {} was altered", f.name)),
                Err(_) => report
                    .problems
                    .push(format!("export file {} is missing", f.name)),
            }
        }
    }
    for name in signed_files.keys() {
        if !exports.iter().any(|f| &f.name == name) {
            report.problems.push(format!(
                "export file {name} is in a signed digest but its record was removed"
            ));
        }
    }
    if let Some(dir) = export_dir {
        let recorded: BTreeSet<String> = exports.iter().map(|f| f.name.clone()).collect();
        for extra in files_under(dir, "CloudTrail", ".json.gz").difference(&recorded) {
            report.problems.push(format!(
                "export file {extra} was never recorded (added or renamed)"
            ));
        }
    }
    if head.first_seq > 1 && covered < head.first_seq - 1 {
        report.problems.push(format!(
            "events {}..{} were removed from the store without being exported",
            covered + 1,
            head.first_seq - 1
        ));
    }

    // 3. The stored chain, and the digests' claims about it.
    let wanted: BTreeSet<i64> = chain_claims.iter().map(|c| c.1).collect();
    let mut hashes: BTreeMap<i64, String> = BTreeMap::new();
    hashes.insert(head.first_seq - 1, hex(&head.base_hash));
    let mut codec = Codec::new();
    let mut prev_hash = head.base_hash.clone();
    let mut expect = head.first_seq;
    let mut chain_ok = true;
    'walk: while expect < head.next_seq {
        let blocks = store.audit_blocks(expect, (expect + CHUNK - 1).min(head.next_seq - 1))?;
        if blocks.is_empty() {
            report.problems.push(format!(
                "events {expect}..{} are missing from the store",
                head.next_seq - 1
            ));
            chain_ok = false;
            break;
        }
        for b in blocks {
            if b.seq != expect {
                report
                    .problems
                    .push(format!("event {expect} is missing from the store"));
                chain_ok = false;
                break 'walk;
            }
            let h = trail::chain(&prev_hash, b.seq, &b.data);
            if h != b.hash {
                report.problems.push(format!(
                    "{} was altered or moved (its hash does not follow the chain)",
                    block_name(&mut codec, &b)
                ));
                chain_ok = false;
                break 'walk;
            }
            // The count is covered by the hash inside the stored bytes; the row's own copy (which the store
            // uses to find blocks) must agree with it.
            if trail::count_of(&b.data) != Some(b.count) || b.count < 1 {
                report.problems.push(format!(
                    "{} has an altered event count ({} in the row)",
                    block_name(&mut codec, &b),
                    b.count
                ));
                chain_ok = false;
                break 'walk;
            }
            if wanted.contains(&b.last()) {
                hashes.insert(b.last(), hex(&b.hash));
            }
            prev_hash = h;
            expect = b.last() + 1;
        }
    }
    if chain_ok && prev_hash != head.last_hash {
        report
            .problems
            .push("the trail's head does not match its last event".to_string());
    }
    let mut prev_claim = 0;
    for (end, last_seq, last_hash) in &chain_claims {
        if let Some(stored) = hashes.get(last_seq)
            && stored != last_hash
        {
            report.problems.push(format!(
                "events {}..{} differ from what the digest of {} signed (altered and re-chained)",
                prev_claim + 1,
                last_seq,
                digest::iso(*end)
            ));
        }
        prev_claim = *last_seq;
    }

    report.notes.push(format!(
        "{} stored events ({}..{}), {} digests, {} export files",
        head.next_seq - head.first_seq,
        head.first_seq,
        head.next_seq - 1,
        digests.len(),
        exports.len()
    ));
    if pinned.is_empty() && !digests.is_empty() {
        report.notes.push(
            "digest signatures were checked against the key each digest names; pass --public-key (from \
             `stsd audit public-key`, kept apart from the store) to trust only that key"
                .into(),
        );
    }
    if let Some((_, last, _)) = chain_claims.last()
        && *last < head.next_seq - 1
    {
        report.notes.push(format!(
                "events {}..{} are newer than the last digest: only the chain protects them until the next one",
                last + 1,
                head.next_seq - 1
            ));
    }
    Ok(report)
}
