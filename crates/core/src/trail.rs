//! The stored form of the audit trail, shared by every store backend.
//!
//! * **Records.** An event is stored as one record: a small header (the columns `LookupEvents` filters on, as a
//!   JSON array) and the CloudTrail record, compressed against a fixed dictionary of typical events
//!   (`dict_v1.txt`), so even a lone event compresses to about a fifth of its JSON. The first byte names the
//!   format: 2 is zstd (level 5, the dictionary prepared once per process, so a record costs under 10
//!   microseconds); 1, raw deflate with the same dictionary as a preset, is still read (it cost four times the
//!   CPU to write: deflate re-hashes the whole dictionary for every record).
//! * **Sequence and groups.** Events are numbered 1, 2, 3, … with no gaps. Groups of 32 consecutive numbers
//!   are the unit of the index: for each group the store keeps the range of event times, and for each lookup
//!   key (account + attribute + value, hashed to 47 bits) the groups it occurs in. A lookup reads the groups a
//!   key names and filters their records exactly, so a hash collision costs a read, never a wrong answer, and
//!   a value repeated within a group (a user's many calls) costs one index entry per group, not per event.
//!   Entries are ordered by epoch (32 groups) first, so appends touch only the newest epoch's pages; a lookup
//!   probes the key in each epoch of its range, newest first.
//! * **Chain.** Every record carries `h(n) = SHA-256(h(n-1) ‖ n ‖ record)[..16]`: altering, removing or
//!   reordering a record breaks the chain from that point. Signed digests (stsd's `audit::digest`) pin the chain's
//!   head, so rewriting the whole chain is detected too.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One stored audit event: the CloudTrail record (`body`, JSON) and the columns `LookupEvents` filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRow {
    /// Insertion order, assigned by the store (0 before insertion).
    pub seq: i64,
    /// The account that sees the event (`recipientAccountId`; empty when unknown).
    pub account: String,
    pub event_id: String,
    pub event_time: i64,
    pub event_name: String,
    pub event_source: String,
    pub username: String,
    pub access_key_id: String,
    pub read_only: bool,
    /// `(ResourceType, ResourceName)` pairs.
    pub resources: Vec<(String, String)>,
    pub body: String,
}

/// The state of the audit trail: where it starts and ends, and how far it was exported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditHead {
    /// The number the next event gets (events are `first_seq..next_seq`).
    pub next_seq: i64,
    /// Chain hash of event `next_seq - 1` (or `base_hash` when none is stored).
    pub last_hash: Vec<u8>,
    /// The oldest stored event (older ones were exported and removed).
    pub first_seq: i64,
    /// Chain hash of event `first_seq - 1`.
    pub base_hash: Vec<u8>,
    /// Events `..=exported_through` are in recorded export files.
    pub exported_through: i64,
    /// The latest event time ever appended (spans' `hi_max` continue from it).
    pub max_time: i64,
}

/// One stored record: its number, chain hash and encoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
}

/// The event times of one index group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSpan {
    pub grp: i64,
    pub time_lo: i64,
    pub time_hi: i64,
    /// The latest event time in this group or any before it: never decreases from group to group, so the
    /// first group that may hold events after a time is found by one index lookup.
    pub hi_max: i64,
}

/// What one append writes (from [`seal`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appended {
    pub events: Vec<StoredEvent>,
    /// Group spans to widen (min/max with what is stored).
    pub spans: Vec<GroupSpan>,
    /// `(key, group)` index entries (already-present ones are ignored).
    pub keys: Vec<(i64, i64)>,
    pub head: AuditHead,
}

/// A reading of the audit writer's and maintenance's counters at one moment (stsd's `audit::Stats`), as
/// the metrics exposition shows them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub purged_for_age: u64,
    pub purged_for_size: u64,
    pub exported_events: u64,
    pub export_files: u64,
    pub digests: u64,
    pub failures: u64,
    pub stored_bytes: u64,
    pub commits: u64,
    pub committed_events: u64,
}

/// log2 of the events per index group.
pub const GROUP_BITS: u32 = 5;
/// log2 of the groups per index epoch. Index entries are ordered by (epoch, key, group): the entries a commit
/// adds all fall in the newest epoch's few pages, instead of one random page of the whole index per key (the
/// keys are hashes), which made every commit write hundreds of pages.
pub const EPOCH_BITS: u32 = 5;

/// A new event's ID: a UUID version 7 whose timestamp is the event's own time (seconds, random sub-second
/// part), so a lookup by EventId needs only the groups of that second instead of probing every index epoch.
pub fn new_event_id(event_time: i64) -> String {
    let nanos = rand::random::<u32>() % 1_000_000_000;
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(event_time).unwrap_or(0),
        nanos,
    );
    uuid::Uuid::new_v7(ts).to_string()
}

/// The second an event ID made by [`new_event_id`] was issued in (None for other IDs, e.g. random
/// version-4 IDs of events recorded before).
pub fn event_id_time(id: &str) -> Option<i64> {
    let u = uuid::Uuid::parse_str(id).ok()?;
    if u.get_version_num() != 7 {
        return None;
    }
    let (secs, _) = u.get_timestamp()?.to_unix();
    i64::try_from(secs).ok()
}

/// The index epoch of group `g`.
pub fn epoch_of(g: i64) -> i64 {
    g >> EPOCH_BITS
}
/// Bytes of a record's chain hash.
pub const HASH_LEN: usize = 16;
/// Format byte: header + body deflated against [`DICT_V1`] (read only).
const FORMAT_V1: u8 = 1;
/// Format byte: header + body as a zstd frame compressed with [`DICT_V1`] as a raw-content dictionary, level 5
/// (read only).
const FORMAT_ZSTD_V1: u8 = 2;
/// Format byte of new records: header + body as a zstd frame compressed with [`DICT_V2`], a dictionary trained
/// on varied stsd traffic (`scripts/train-audit-dict.sh`). Trained dictionaries carry entropy tables, so a
/// record no longer builds its own: measured on 20,000 AssumeRole records of `scripts/bench.sh` (not in the
/// training traffic), see [`ZSTD_LEVEL`].
const FORMAT_ZSTD_V2: u8 = 3;
/// zstd level of new records (with [`DICT_V2`], 16 KiB). Measured (2026-11-30) on the JSON of 20,000
/// AssumeRole records of `scripts/bench.sh` (other names and values than the training traffic), one thread:
/// level 1 takes 2.0 µs and 249 bytes per record, level 3 2.5 µs and 239 bytes, level 5 6.0 µs and 234 bytes.
/// Inside the loaded server the dictionary's match tables compete for the caches: a 64 KiB dictionary at
/// level 3 (234 bytes alone) made compression 8.7 % of the server's CPU, against 6.2 % with 16 KiB at level 1.
/// Format 2 (level 5 with the raw dictionary) takes 9.3 µs and 290 bytes on the same records. Stored records
/// (header line included) average 312 bytes at level 1 and 303 at level 3 in `scripts/bench.sh`'s trail;
/// level 3 keeps the trail near the 400 bytes per event (index included) that issue #18 asks for.
const ZSTD_LEVEL: i32 = 3;

struct Dictionaries {
    encoder: zstd::dict::EncoderDictionary<'static>,
    decoder_v1: zstd::dict::DecoderDictionary<'static>,
    decoder_v2: zstd::dict::DecoderDictionary<'static>,
}

fn zstd_dictionaries() -> &'static Dictionaries {
    static DICTS: std::sync::OnceLock<Dictionaries> = std::sync::OnceLock::new();
    DICTS.get_or_init(|| Dictionaries {
        encoder: zstd::dict::EncoderDictionary::copy(DICT_V2, ZSTD_LEVEL),
        decoder_v1: zstd::dict::DecoderDictionary::copy(DICT_V1),
        decoder_v2: zstd::dict::DecoderDictionary::copy(DICT_V2),
    })
}
/// The preset dictionary of formats 1 and 2. Never edit: stored records depend on it byte for byte.
static DICT_V1: &[u8] = include_bytes!("dict_v1.txt");
/// The trained dictionary of format 3. Never edit either: a new dictionary needs a new format byte.
static DICT_V2: &[u8] = include_bytes!("dict_v2.zdict");

/// Train a dictionary of `size` bytes on the plain text of stored `events` (for `scripts/train-audit-dict.sh`).
pub fn train_dictionary(events: &[StoredEvent], size: usize) -> io::Result<Vec<u8>> {
    let mut c = Codec::new();
    let mut samples = Vec::with_capacity(events.len());
    for e in events {
        let plain = c
            .inflate(&e.data, false)
            .map_err(|e| io::Error::other(e.to_string()))?;
        samples.push(plain.to_vec());
    }
    zstd::dict::from_samples(&samples, size)
}
/// The largest decoded record accepted (a record is at most a request's parameters plus its answer).
const MAX_RECORD: usize = 8 << 20;
/// Output per inflate step when only the header line is wanted (most headers are 150–400 bytes).
const HEADER_CHUNK: usize = 512;

/// The index group of event `seq`.
pub fn group_of(seq: i64) -> i64 {
    seq >> GROUP_BITS
}

/// First and last sequence number of group `g`.
pub fn group_bounds(g: i64) -> (i64, i64) {
    (g << GROUP_BITS, (g << GROUP_BITS) | ((1 << GROUP_BITS) - 1))
}

/// The hash before the first event of a fresh trail.
pub fn genesis() -> Vec<u8> {
    vec![0; HASH_LEN]
}

/// The chain hash of record `data` stored as event `seq` after an event whose hash is `prev`.
pub fn chain(prev: &[u8], seq: i64, data: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(data);
    h.finalize().get(..HASH_LEN).unwrap_or_default().to_vec()
}

/// What a lookup can be keyed on. The tag is part of the hashed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// Every event of an account (lookups without an attribute).
    Account,
    EventId,
    EventName,
    ReadOnly,
    Username,
    ResourceType,
    ResourceName,
    EventSource,
    AccessKeyId,
}

impl Attr {
    fn tag(self) -> u8 {
        match self {
            Attr::Account => b'A',
            Attr::EventId => b'I',
            Attr::EventName => b'N',
            Attr::ReadOnly => b'R',
            Attr::Username => b'U',
            Attr::ResourceType => b'T',
            Attr::ResourceName => b'M',
            Attr::EventSource => b'S',
            Attr::AccessKeyId => b'K',
        }
    }
}

/// The index key of `attr` = `value` in `account`: 47 bits of FNV-1a (stable across versions and platforms;
/// small enough that SQLite stores it in 6 bytes). Collisions only make a lookup read a group in vain.
pub fn key(account: &str, attr: Attr, value: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(attr.tag());
    account.bytes().for_each(&mut eat);
    eat(0x1f);
    value.bytes().for_each(&mut eat);
    let folded = h ^ (h >> 47);
    i64::try_from(folded & ((1 << 47) - 1)).unwrap_or(0)
}

/// Every index key of an event.
pub fn keys_of(row: &AuditRow) -> Vec<i64> {
    let a = row.account.as_str();
    let mut keys = vec![
        key(a, Attr::Account, ""),
        key(a, Attr::EventId, &row.event_id),
        key(a, Attr::EventName, &row.event_name),
        key(a, Attr::EventSource, &row.event_source),
        key(
            a,
            Attr::ReadOnly,
            if row.read_only { "true" } else { "false" },
        ),
    ];
    if !row.username.is_empty() {
        keys.push(key(a, Attr::Username, &row.username));
    }
    if !row.access_key_id.is_empty() {
        keys.push(key(a, Attr::AccessKeyId, &row.access_key_id));
    }
    for (t, n) in &row.resources {
        keys.push(key(a, Attr::ResourceType, t));
        keys.push(key(a, Attr::ResourceName, n));
    }
    keys
}

/// A record that cannot be decoded (damaged or altered storage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable audit record: {0}")]
pub struct Corrupt(pub String);

/// The columns of a record, before its body.
type Header = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    bool,
    Vec<(String, String)>,
);

/// An event ready to append: its record, time and index keys.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub time: i64,
    pub data: Vec<u8>,
    pub keys: Vec<i64>,
}

/// Reusable compression state (allocating a compressor per record costs more than compressing it).
pub struct Codec {
    deflate: Compress,
    inflate: Decompress,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    unzstd_v1: Option<zstd::bulk::Decompressor<'static>>,
    unzstd_v2: Option<zstd::bulk::Decompressor<'static>>,
    out: Vec<u8>,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::new()
    }
}

impl Codec {
    pub fn new() -> Codec {
        let dicts = zstd_dictionaries();
        let zstd = zstd::bulk::Compressor::with_prepared_dictionary(&dicts.encoder)
            .and_then(|mut c| {
                c.include_checksum(false)?;
                c.include_dictid(false)?;
                Ok(c)
            })
            .map_err(|e| tracing::error!(error = %e, "zstd unavailable; audit records fall back to deflate"))
            .ok();
        Codec {
            deflate: Compress::new(Compression::new(6), false),
            inflate: Decompress::new(false),
            zstd,
            unzstd_v1: zstd::bulk::Decompressor::with_prepared_dictionary(&dicts.decoder_v1).ok(),
            unzstd_v2: zstd::bulk::Decompressor::with_prepared_dictionary(&dicts.decoder_v2).ok(),
            out: Vec::new(),
        }
    }

    /// The stored record of `row`.
    pub fn encode(&mut self, row: &AuditRow) -> Encoded {
        // The same JSON array as `Header`, serialized from borrowed fields (no copies of the row's strings).
        let header = (
            &row.account,
            &row.event_id,
            row.event_time,
            &row.event_name,
            &row.event_source,
            &row.username,
            &row.access_key_id,
            row.read_only,
            &row.resources,
        );
        let mut plain = Vec::with_capacity(row.body.len() + 256);
        if serde_json::to_writer(&mut plain, &header).is_err() {
            plain.clear();
        }
        plain.push(b'\n');
        plain.extend_from_slice(row.body.as_bytes());
        let mut data = Vec::with_capacity(plain.len() / 4 + 64);
        match self.zstd.as_mut().and_then(|z| z.compress(&plain).ok()) {
            Some(frame) => {
                data.push(FORMAT_ZSTD_V2);
                data.extend_from_slice(&frame);
            }
            None => {
                data.push(FORMAT_V1);
                if let Err(e) = self.deflate_into(&plain, &mut data) {
                    // Unreachable with in-memory buffers.
                    tracing::error!(error = %e, "compressing an audit record failed");
                }
            }
        }
        Encoded {
            time: row.event_time,
            data,
            keys: keys_of(row),
        }
    }

    fn deflate_into(&mut self, plain: &[u8], data: &mut Vec<u8>) -> io::Result<()> {
        self.deflate.reset();
        self.deflate
            .set_dictionary(DICT_V1)
            .map_err(io::Error::other)?;
        let start = self.deflate.total_in();
        loop {
            data.reserve(plain.len() / 2 + 256);
            let consumed = usize::try_from(self.deflate.total_in() - start).unwrap_or(0);
            let status = self
                .deflate
                .compress_vec(
                    plain.get(consumed..).unwrap_or_default(),
                    data,
                    FlushCompress::Finish,
                )
                .map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                return Ok(());
            }
        }
    }

    /// The plain text of a zstd record (whole: a small frame decompresses in about 2 µs).
    fn unzstd(&mut self, frame: &[u8], format: u8) -> Result<&[u8], Corrupt> {
        let size = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Corrupt("damaged zstd frame".into()))?;
        if size > MAX_RECORD {
            return Err(Corrupt("record too large".into()));
        }
        let d = if format == FORMAT_ZSTD_V1 {
            &mut self.unzstd_v1
        } else {
            &mut self.unzstd_v2
        };
        let d = d
            .as_mut()
            .ok_or_else(|| Corrupt("zstd unavailable".into()))?;
        self.out.clear();
        self.out.reserve(size);
        let n = d
            .decompress_to_buffer(frame, &mut self.out)
            .map_err(|e| Corrupt(format!("zstd: {e}")))?;
        if n != size {
            return Err(Corrupt("truncated record".into()));
        }
        Ok(&self.out)
    }

    /// The plain text (header line + body) of a stored record; with `header_only`, at least its header line
    /// (inflating stops once the line is out: filtering reads only the header).
    fn inflate(&mut self, data: &[u8], header_only: bool) -> Result<&[u8], Corrupt> {
        let (&format, packed) = data
            .split_first()
            .ok_or_else(|| Corrupt("empty record".into()))?;
        if format == FORMAT_ZSTD_V1 || format == FORMAT_ZSTD_V2 {
            return self.unzstd(packed, format);
        }
        if format != FORMAT_V1 {
            return Err(Corrupt(format!("unknown record format {format}")));
        }
        self.inflate.reset(false);
        self.inflate
            .set_dictionary(DICT_V1)
            .map_err(|e| Corrupt(e.to_string()))?;
        self.out.clear();
        loop {
            if self.out.len() >= MAX_RECORD {
                return Err(Corrupt("record too large".into()));
            }
            let chunk = if header_only {
                HEADER_CHUNK
            } else {
                (packed.len() * 4).clamp(4096, MAX_RECORD)
            };
            // `decompress_vec` writes only into spare capacity: this bounds each step's output.
            self.out.reserve_exact(chunk);
            let consumed = usize::try_from(self.inflate.total_in()).unwrap_or(usize::MAX);
            let before = self.out.len();
            let status = self
                .inflate
                .decompress_vec(
                    packed.get(consumed..).unwrap_or_default(),
                    &mut self.out,
                    if header_only {
                        FlushDecompress::None
                    } else {
                        FlushDecompress::Finish
                    },
                )
                .map_err(|e| Corrupt(e.to_string()))?;
            match status {
                Status::StreamEnd => return Ok(&self.out),
                _ if header_only && self.out.get(before..).is_some_and(|o| o.contains(&b'\n')) => {
                    return Ok(&self.out);
                }
                _ if self.out.len() == before
                    && usize::try_from(self.inflate.total_in()).unwrap_or(0) == consumed =>
                {
                    return Err(Corrupt("truncated record".into()));
                }
                _ => {}
            }
        }
    }

    /// The event stored in `data` as `seq`.
    pub fn decode(&mut self, seq: i64, data: &[u8]) -> Result<AuditRow, Corrupt> {
        self.decode_part(seq, data, false)
    }

    /// The event stored in `data` as `seq` without its body (empty): every field a lookup filters on, at a
    /// fraction of the cost of [`Codec::decode`].
    pub fn decode_header(&mut self, seq: i64, data: &[u8]) -> Result<AuditRow, Corrupt> {
        self.decode_part(seq, data, true)
    }

    fn decode_part(
        &mut self,
        seq: i64,
        data: &[u8],
        header_only: bool,
    ) -> Result<AuditRow, Corrupt> {
        let plain = self.inflate(data, header_only)?;
        let nl = plain
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| Corrupt("no header".into()))?;
        let (head, body) = plain.split_at(nl);
        let h: Header =
            serde_json::from_slice(head).map_err(|e| Corrupt(format!("header: {e}")))?;
        let body = if header_only {
            ""
        } else {
            std::str::from_utf8(body.get(1..).unwrap_or_default())
                .map_err(|_| Corrupt("body is not UTF-8".into()))?
        };
        Ok(AuditRow {
            seq,
            account: h.0,
            event_id: h.1,
            event_time: h.2,
            event_name: h.3,
            event_source: h.4,
            username: h.5,
            access_key_id: h.6,
            read_only: h.7,
            resources: h.8,
            body: body.to_string(),
        })
    }
}

/// `lo_floor` of each span of an append, in order: the earliest time in that group or any later one of the
/// batch (stores keep, per group, the earliest time from it to the end of the trail — monotone in the group,
/// so "the newest group that may hold an event at or before t" is one index seek).
pub fn lo_floors(spans: &[GroupSpan]) -> Vec<i64> {
    let mut m = i64::MAX;
    let mut floors: Vec<i64> = spans
        .iter()
        .rev()
        .map(|s| {
            m = m.min(s.time_lo);
            m
        })
        .collect();
    floors.reverse();
    floors
}

/// Count an event at `time` (with the trail's newest time so far `max_time`) into the span of group `grp`,
/// the last of `spans` or a new one (events arrive in sequence order).
pub fn widen_spans(spans: &mut Vec<GroupSpan>, grp: i64, time: i64, max_time: i64) {
    match spans.last_mut() {
        Some(s) if s.grp == grp => {
            s.time_lo = s.time_lo.min(time);
            s.time_hi = s.time_hi.max(time);
            s.hi_max = max_time;
        }
        _ => spans.push(GroupSpan {
            grp,
            time_lo: time,
            time_hi: time,
            hi_max: max_time,
        }),
    }
}

/// Number the encoded events after `head`, chain them, and say what the store must write: the records, the
/// time span of every group touched, and the (key, group) index entries (duplicates removed).
pub fn seal(head: &AuditHead, batch: &[Encoded]) -> Appended {
    let mut prev = head.last_hash.clone();
    let mut events = Vec::with_capacity(batch.len());
    let mut spans: Vec<GroupSpan> = Vec::new();
    let mut keys: Vec<(i64, i64)> = Vec::with_capacity(batch.len() * 4);
    let mut seq = head.next_seq;
    let mut max_time = head.max_time;
    for e in batch {
        let hash = chain(&prev, seq, &e.data);
        let g = group_of(seq);
        max_time = max_time.max(e.time);
        widen_spans(&mut spans, g, e.time, max_time);
        keys.extend(e.keys.iter().map(|&k| (k, g)));
        events.push(StoredEvent {
            seq,
            hash: hash.clone(),
            data: e.data.clone(),
        });
        prev = hash;
        seq += 1;
    }
    keys.sort_unstable();
    keys.dedup();
    Appended {
        events,
        spans,
        keys,
        head: AuditHead {
            next_seq: seq,
            last_hash: prev,
            max_time,
            ..head.clone()
        },
    }
}

/// The header fields of a record as a loose JSON value (for messages naming an event).
pub fn describe(row: &AuditRow) -> Value {
    serde_json::json!({"seq": row.seq, "eventID": row.event_id, "eventName": row.event_name})
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(i: usize) -> AuditRow {
        AuditRow {
            seq: 0,
            account: "111122223333".into(),
            event_id: format!("e-{i}"),
            event_time: 1_700_000_000 + i64::try_from(i).unwrap(),
            event_name: if i.is_multiple_of(3) {
                "CreateUser"
            } else {
                "AssumeRole"
            }
            .into(),
            event_source: "sts.amazonaws.com".into(),
            username: format!("user{}", i % 5),
            access_key_id: "AKIAEXAMPLE".into(),
            read_only: i.is_multiple_of(2),
            resources: vec![(
                "AWS::IAM::Role".into(),
                format!("arn:aws:iam::111122223333:role/r{i}"),
            )],
            body: format!(r#"{{"eventID":"e-{i}","eventName":"AssumeRole"}}"#),
        }
    }

    #[test]
    fn records_round_trip_and_compress() {
        let mut c = Codec::new();
        // A typical AssumeRole record as the server writes it (names and values unlike the training traffic's).
        let mut r = row(1);
        r.body = concat!(
            r#"{"eventVersion":"1.08","userIdentity":{"accessKeyId":"AKIAQX7PLM2NV4RT6YBE","accountId":"#,
            r#""210987654321","arn":"arn:aws:iam::210987654321:user/payments-batch","principalId":"#,
            r#""AIDAQX7PLM2NZ3KD8WQJH","type":"IAMUser","userName":"payments-batch"},"eventTime":"#,
            r#""2026-11-30T04:04:49Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"#,
            r#""eu-central-1","sourceIPAddress":"10.42.7.19","userAgent":"aws-sdk-java/2.29.1 ua/2.1 "#,
            r#"os/Linux#5.15 lang/java#21.0.4 md/OpenJDK_64-Bit_Server_VM#21.0.4+7-LTS m/D,N","#,
            r#""requestParameters":{"roleArn":"arn:aws:iam::210987654321:role/ledger-writer","#,
            r#""roleSessionName":"payments-batch-1764475489"},"responseElements":{"assumedRoleUser":{"arn":"#,
            r#""arn:aws:sts::210987654321:assumed-role/ledger-writer/payments-batch-1764475489","#,
            r#""assumedRoleId":"AROAQX7PLM2NXSH4KD2PA:payments-batch-1764475489"},"credentials":{"#,
            r#""accessKeyId":"ASIAQX7PLM2NRKTIHSZM","expiration":"2026-11-30T05:04:49Z"}},"requestID":"#,
            r#""a5dcb520-ad5b-4503-8886-7685a7f9ed54","eventID":"01a22aa0-79f8-7fe4-9cbe-cccbe2d4360c","#,
            r#""readOnly":true,"resources":[{"accountId":"210987654321","type":"AWS::IAM::Role","ARN":"#,
            r#""arn:aws:iam::210987654321:role/ledger-writer"},{"type":"AWS::IAM::AccessKey","ARN":"#,
            r#""ASIAQX7PLM2NRKTIHSZM"},{"accountId":"210987654321","type":"AWS::STS::AssumedRole","ARN":"#,
            r#""arn:aws:sts::210987654321:assumed-role/ledger-writer/payments-batch-1764475489"}],"#,
            r#""eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"210987654321","#,
            r#""eventCategory":"Management"}"#
        )
        .to_string();
        let e = c.encode(&r);
        assert!(
            e.data.len() * 4 < r.body.len(),
            "{} of {}",
            e.data.len(),
            r.body.len()
        );
        let back = c.decode(7, &e.data).unwrap();
        assert_eq!(back, AuditRow { seq: 7, ..r });
        // Large records (beyond one output reservation) too.
        let mut big = row(2);
        big.body = "x".repeat(3 << 20);
        let e = c.encode(&big);
        assert_eq!(c.decode(1, &e.data).unwrap().body.len(), 3 << 20);
    }

    #[test]
    fn new_records_use_the_trained_dictionary_and_older_formats_still_decode() {
        let mut codec = Codec::new();
        let mut deflate = Codec {
            zstd: None,
            ..Codec::new()
        };
        // Format 2 as earlier versions wrote it: level 5 against the raw dictionary.
        let v1 = zstd::dict::EncoderDictionary::copy(DICT_V1, 5);
        let mut zstd_v1 = zstd::bulk::Compressor::with_prepared_dictionary(&v1).unwrap();
        for i in 0..20 {
            let r = row(i);
            let z = codec.encode(&r);
            let d = deflate.encode(&r);
            assert_eq!((z.data[0], d.data[0]), (FORMAT_ZSTD_V2, FORMAT_V1));
            let plain = codec.inflate(&z.data, false).unwrap().to_vec();
            let mut old = vec![FORMAT_ZSTD_V1];
            old.extend(zstd_v1.compress(&plain).unwrap());
            for data in [&z.data, &d.data, &old] {
                let back = codec.decode(1, data).unwrap();
                assert_eq!(back.body, r.body);
                assert_eq!(codec.decode_header(1, data).unwrap().event_id, r.event_id);
            }
        }
        // The trained dictionary is in place (not the raw one), and unknown formats are refused.
        assert_ne!(DICT_V2, DICT_V1);
        let mut bad = codec.encode(&row(1)).data;
        bad[0] = 9;
        assert!(codec.decode(1, &bad).is_err());
    }

    #[test]
    fn event_ids_carry_their_second() {
        let id = new_event_id(1_764_466_900);
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
        assert_eq!(event_id_time(&id), Some(1_764_466_900));
        assert_eq!(event_id_time("e6b7b6d8-eebc-4da6-a381-d717cea174b7"), None);
        assert_eq!(event_id_time("not an id"), None);
        assert_ne!(new_event_id(5), new_event_id(5));
    }

    #[test]
    fn header_decoding_matches_full_decoding_without_the_body() {
        let mut c = Codec::new();
        for i in 0..50 {
            let mut r = row(i);
            // Headers longer than one inflate step: many long resource names.
            r.resources = (0..i)
                .map(|k| {
                    (
                        "AWS::IAM::Role".into(),
                        format!("arn:aws:iam::111122223333:role/{}", "r".repeat(k * 40)),
                    )
                })
                .collect();
            let e = c.encode(&r);
            let full = c.decode(7, &e.data).unwrap();
            let head = c.decode_header(7, &e.data).unwrap();
            assert_eq!(
                head,
                AuditRow {
                    body: String::new(),
                    ..full.clone()
                }
            );
            assert_eq!(full.body, r.body);
        }
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let mut c = Codec::new();
        let e = c.encode(&row(1));
        assert!(c.decode(1, &[]).is_err());
        assert!(c.decode(1, &[9, 1, 2]).is_err());
        for cut in 1..e.data.len() {
            assert!(
                c.decode(1, e.data.get(..cut).unwrap()).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = e.data.clone();
        for i in 1..flipped.len() {
            flipped[i] ^= 0x55;
            let _ = c.decode(1, &flipped);
            flipped[i] ^= 0x55;
        }
        assert_eq!(c.decode(1, &e.data).unwrap().event_id, "e-1");
    }

    #[test]
    fn keys_are_stable_and_scoped_by_account_and_attribute() {
        // Stored indexes depend on these values: they must never change.
        assert_eq!(
            key("1", Attr::EventName, "AssumeRole"),
            key("1", Attr::EventName, "AssumeRole")
        );
        assert_ne!(
            key("1", Attr::EventName, "x"),
            key("2", Attr::EventName, "x")
        );
        assert_ne!(
            key("1", Attr::EventName, "x"),
            key("1", Attr::Username, "x")
        );
        assert_eq!(
            key("111122223333", Attr::Username, "alice"),
            137_587_877_233_818
        );
        assert!((0..1 << 47).contains(&key("a", Attr::Account, "")));
    }

    #[test]
    fn seal_numbers_chains_and_indexes() {
        let mut c = Codec::new();
        let batch: Vec<Encoded> = (26..38).map(|i| c.encode(&row(i))).collect();
        let head = AuditHead {
            next_seq: 26,
            last_hash: genesis(),
            first_seq: 1,
            base_hash: genesis(),
            ..AuditHead::default()
        };
        let a = seal(&head, &batch);
        assert_eq!(a.head.next_seq, 38);
        assert_eq!(a.events.first().unwrap().seq, 26);
        assert_eq!(a.spans.len(), 2, "events 26..=31 and 32..=37");
        assert_eq!(a.spans[0].grp, 0);
        assert_eq!(a.spans[1].grp, 1);
        let mut prev = genesis();
        for e in &a.events {
            assert_eq!(e.hash, chain(&prev, e.seq, &e.data));
            prev = e.hash.clone();
        }
        assert_eq!(a.head.last_hash, prev);
        // The account key is in both groups once each.
        let acct = key("111122223333", Attr::Account, "");
        assert_eq!(a.keys.iter().filter(|k| k.0 == acct).count(), 2);
    }
}
