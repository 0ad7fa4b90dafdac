//! The stored form of the audit trail, shared by every store backend.
//!
//! * **Blocks.** The writer stores each group commit's events as one block: one row holding consecutive
//!   events, compressed together as one zstd frame against a dictionary trained on typical events
//!   (`dict_v2.zdict`). Events of one commit share most of their text (the same caller, role, user agent), so a
//!   block compresses to a fraction of what its events would one by one, and a commit writes one row instead of
//!   one per event. Each event inside is a header (the columns `LookupEvents` filters on, as a JSON array) and the
//!   CloudTrail record. The first byte of a row names its format: 4 is a block (the newest); 1–3 are single
//!   events from earlier versions (raw deflate or zstd against `dict_v1.txt`, or zstd against `dict_v2.zdict`),
//!   still read as blocks of one.
//! * **Sequence and groups.** Events are numbered 1, 2, 3, … with no gaps; a block covers `seq..seq + count`.
//!   Groups of 32 consecutive numbers are the unit of the index: for each group the store keeps the range of
//!   event times, and for each lookup key (account + attribute + value, hashed to 47 bits) the groups it occurs
//!   in. A lookup reads the blocks of the groups a key names and filters their events exactly, so a hash
//!   collision costs a read, never a wrong answer, and a value repeated within a group (a user's many calls)
//!   costs one index entry per group, not per event. Entries are ordered by epoch (32 groups) first, so appends
//!   touch only the newest epoch's pages; a lookup probes the key in each epoch of its range, newest first.
//! * **Chain.** Every block carries `h = SHA-256(h(previous block) ‖ first seq ‖ stored bytes)[..16]` (the
//!   stored bytes include the block's event count): altering, removing or reordering a block breaks the chain
//!   from that point. Signed digests (stsd's `audit::digest`) pin the chain's head, so rewriting the whole chain
//!   is detected too. A single-event row of an earlier version is a block of one under the same formula.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
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

/// One stored block: `count` consecutive events from `seq`, their chain hash and encoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// The number of the block's first event.
    pub seq: i64,
    /// How many events the block holds (also recorded inside `data`, which the chain covers).
    pub count: i64,
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
}

impl StoredBlock {
    /// The number of the block's last event.
    pub fn last(&self) -> i64 {
        self.seq + self.count - 1
    }
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
    pub blocks: Vec<StoredBlock>,
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
/// The random bits come from the thread's user-space generator (not a `getrandom` system call per ID, as
/// `Uuid::new_v7` makes).
pub fn new_event_id(event_time: i64) -> String {
    let millis = u64::try_from(event_time)
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_add(rand::random::<u64>() % 1000);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random())
        .into_uuid()
        .to_string()
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
/// Format byte: one event, header + body deflated against [`DICT_V1`] (read only).
const FORMAT_V1: u8 = 1;
/// Format byte: one event, header + body as a zstd frame compressed with [`DICT_V1`] as a raw-content
/// dictionary, level 5 (read only).
const FORMAT_ZSTD_V1: u8 = 2;
/// Format byte: one event, header + body as a zstd frame compressed with [`DICT_V2`] (read only; written by
/// versions before blocks).
const FORMAT_ZSTD_V2: u8 = 3;
/// Format byte of new rows: a block. The event count (u32, little-endian), then one zstd frame compressed with
/// [`DICT_V2`] at [`ZSTD_LEVEL`] holding each event as `u32 LE length ‖ header JSON ‖ u32 LE length ‖ body`.
const FORMAT_BLOCK: u8 = 4;
/// Format byte of a block compressed with raw deflate and [`DICT_V1`] as preset (same layout as
/// [`FORMAT_BLOCK`]): written only if zstd cannot be set up.
const FORMAT_DEFLATE_BLOCK: u8 = 5;
/// zstd level of blocks of several events (with [`DICT_V2`], 16 KiB). Level 1 rather than 3: a block of 18
/// AssumeRole events compresses in 15 µs instead of 22 for ~7 % more bytes (`audit/encode_block_18`, criterion,
/// 2026-11-30) — under load the writer's CPU is taken from the requests on a small machine.
const ZSTD_LEVEL: i32 = 1;
/// zstd level of a block of one event (a lone client's commit): there level 3 costs no more time than 1
/// (`audit/encode_block_1`: 3.25 vs 3.14 µs) and stores ~4 % fewer bytes, and a quiet trail is all such blocks.
const ZSTD_LEVEL_LONE: i32 = 3;

/// Most events in one block. Never raise it: stores find the blocks holding an event by looking this far back.
pub const MAX_BLOCK_EVENTS: i64 = 64;
/// A block is closed once its plain text passes this size (one event may still take it beyond).
const BLOCK_PLAIN_TARGET: usize = 1 << 20;
/// The largest decoded block accepted: [`BLOCK_PLAIN_TARGET`] plus one event, which is at most a request's
/// parameters plus its answer.
const MAX_PLAIN: usize = 16 << 20;

struct Dictionaries {
    encoder: zstd::dict::EncoderDictionary<'static>,
    encoder_lone: zstd::dict::EncoderDictionary<'static>,
    decoder_v1: zstd::dict::DecoderDictionary<'static>,
    decoder_v2: zstd::dict::DecoderDictionary<'static>,
}

fn zstd_dictionaries() -> &'static Dictionaries {
    static DICTS: std::sync::OnceLock<Dictionaries> = std::sync::OnceLock::new();
    DICTS.get_or_init(|| Dictionaries {
        encoder: zstd::dict::EncoderDictionary::copy(DICT_V2, ZSTD_LEVEL),
        encoder_lone: zstd::dict::EncoderDictionary::copy(DICT_V2, ZSTD_LEVEL_LONE),
        decoder_v1: zstd::dict::DecoderDictionary::copy(DICT_V1),
        decoder_v2: zstd::dict::DecoderDictionary::copy(DICT_V2),
    })
}
/// The preset dictionary of formats 1, 2 and 5. Never edit: stored records depend on it byte for byte.
static DICT_V1: &[u8] = include_bytes!("dict_v1.txt");
/// The trained dictionary of formats 3 and 4. Never edit either: a new dictionary needs a new format byte.
static DICT_V2: &[u8] = include_bytes!("dict_v2.zdict");

/// Train a dictionary of `size` bytes on the events of stored `blocks` (for `scripts/train-audit-dict.sh`):
/// each sample is one event as a block lays it out.
pub fn train_dictionary(blocks: &[StoredBlock], size: usize) -> io::Result<Vec<u8>> {
    let mut c = Codec::new();
    let mut samples = Vec::new();
    for b in blocks {
        let rows = c.decode(b).map_err(|e| io::Error::other(e.to_string()))?;
        for r in rows {
            let mut sample = Vec::new();
            push_event(&mut sample, &r);
            samples.push(sample);
        }
    }
    zstd::dict::from_samples(&samples, size)
}

/// Append `row` to a block's plain text: `u32 LE length ‖ header JSON ‖ u32 LE length ‖ body`.
fn push_event(plain: &mut Vec<u8>, row: &AuditRow) {
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
    let at = plain.len();
    plain.extend_from_slice(&[0; 4]);
    if serde_json::to_writer(&mut *plain, &header).is_err() {
        plain.truncate(at + 4);
    }
    let len = u32::try_from(plain.len() - at - 4).unwrap_or(u32::MAX);
    if let Some(slot) = plain.get_mut(at..at + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
    let body = row.body.as_bytes();
    plain.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    plain.extend_from_slice(body);
}

/// The next length-prefixed part of a block's plain text, and the rest.
fn take_part(plain: &[u8]) -> Result<(&[u8], &[u8]), Corrupt> {
    let (len, rest) = plain
        .split_first_chunk::<4>()
        .ok_or_else(|| Corrupt("truncated block".into()))?;
    let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
    if len > rest.len() {
        return Err(Corrupt("truncated block".into()));
    }
    Ok(rest.split_at(len))
}

/// How many events the stored bytes `data` hold (None when they cannot say).
pub fn count_of(data: &[u8]) -> Option<i64> {
    match data.split_first() {
        Some((&(FORMAT_V1 | FORMAT_ZSTD_V1 | FORMAT_ZSTD_V2), _)) => Some(1),
        Some((&(FORMAT_BLOCK | FORMAT_DEFLATE_BLOCK), rest)) => rest
            .first_chunk::<4>()
            .map(|c| i64::from(u32::from_le_bytes(*c))),
        _ => None,
    }
}

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

/// The chain hash of the block stored as `data` from event `seq` on, after a block whose hash is `prev`.
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

/// What the index needs of one event of a block: its time and lookup keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub time: i64,
    pub keys: Vec<i64>,
}

/// A block ready to append: its stored bytes and, per event in order, what the index needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub data: Vec<u8>,
    pub events: Vec<Indexed>,
}

/// Reusable compression state (allocating a compressor per block costs more than compressing it).
pub struct Codec {
    deflate: Compress,
    inflate: Decompress,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    zstd_lone: Option<zstd::bulk::Compressor<'static>>,
    unzstd_v1: Option<zstd::bulk::Decompressor<'static>>,
    unzstd_v2: Option<zstd::bulk::Decompressor<'static>>,
    plain: Vec<u8>,
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
        let compressor = |dict| {
            zstd::bulk::Compressor::with_prepared_dictionary(dict)
                .and_then(|mut c| {
                    c.include_checksum(false)?;
                    c.include_dictid(false)?;
                    Ok(c)
                })
                .map_err(|e| tracing::error!(error = %e, "zstd unavailable; audit records fall back to deflate"))
                .ok()
        };
        Codec {
            deflate: Compress::new(Compression::new(6), false),
            inflate: Decompress::new(false),
            zstd: compressor(&dicts.encoder),
            zstd_lone: compressor(&dicts.encoder_lone),
            unzstd_v1: zstd::bulk::Decompressor::with_prepared_dictionary(&dicts.decoder_v1).ok(),
            unzstd_v2: zstd::bulk::Decompressor::with_prepared_dictionary(&dicts.decoder_v2).ok(),
            plain: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The blocks storing `rows`, in order: at most [`MAX_BLOCK_EVENTS`] events each, closed early past
    /// [`BLOCK_PLAIN_TARGET`] bytes of plain text.
    pub fn encode(&mut self, rows: &[AuditRow]) -> Vec<Encoded> {
        let mut out = Vec::new();
        let mut events = Vec::new();
        self.plain.clear();
        for row in rows {
            push_event(&mut self.plain, row);
            events.push(Indexed {
                time: row.event_time,
                keys: keys_of(row),
            });
            if events.len() >= MAX_BLOCK_EVENTS as usize || self.plain.len() >= BLOCK_PLAIN_TARGET {
                out.push(self.seal_block(std::mem::take(&mut events)));
            }
        }
        if !events.is_empty() {
            out.push(self.seal_block(events));
        }
        out
    }

    /// Compress the plain text gathered for `events` into one block.
    fn seal_block(&mut self, events: Vec<Indexed>) -> Encoded {
        let count = u32::try_from(events.len()).unwrap_or(u32::MAX);
        let mut data = Vec::with_capacity(self.plain.len() / 4 + 64);
        data.push(FORMAT_BLOCK);
        data.extend_from_slice(&count.to_le_bytes());
        let zstd = if count == 1 {
            &mut self.zstd_lone
        } else {
            &mut self.zstd
        };
        match zstd.as_mut().and_then(|z| z.compress(&self.plain).ok()) {
            Some(frame) => data.extend_from_slice(&frame),
            None => {
                if let Some(f) = data.first_mut() {
                    *f = FORMAT_DEFLATE_BLOCK;
                }
                let plain = std::mem::take(&mut self.plain);
                if let Err(e) = self.deflate_into(&plain, &mut data) {
                    // Unreachable with in-memory buffers.
                    tracing::error!(error = %e, "compressing an audit block failed");
                }
                self.plain = plain;
            }
        }
        self.plain.clear();
        Encoded { data, events }
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

    /// The plain text of a zstd frame compressed against the dictionary of `format`.
    fn unzstd(&mut self, frame: &[u8], format: u8) -> Result<(), Corrupt> {
        let size = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Corrupt("damaged zstd frame".into()))?;
        if size > MAX_PLAIN {
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
        Ok(())
    }

    /// Inflate a raw deflate stream (preset [`DICT_V1`]) into `self.out`.
    fn inflate(&mut self, packed: &[u8]) -> Result<(), Corrupt> {
        self.inflate.reset(false);
        self.inflate
            .set_dictionary(DICT_V1)
            .map_err(|e| Corrupt(e.to_string()))?;
        self.out.clear();
        loop {
            if self.out.len() >= MAX_PLAIN {
                return Err(Corrupt("record too large".into()));
            }
            // `decompress_vec` writes only into spare capacity: this bounds each step's output.
            self.out
                .reserve_exact((packed.len() * 4).clamp(4096, MAX_PLAIN));
            let consumed = usize::try_from(self.inflate.total_in()).unwrap_or(usize::MAX);
            let before = self.out.len();
            let status = self
                .inflate
                .decompress_vec(
                    packed.get(consumed..).unwrap_or_default(),
                    &mut self.out,
                    FlushDecompress::Finish,
                )
                .map_err(|e| Corrupt(e.to_string()))?;
            match status {
                Status::StreamEnd => return Ok(()),
                _ if self.out.len() == before
                    && usize::try_from(self.inflate.total_in()).unwrap_or(0) == consumed =>
                {
                    return Err(Corrupt("truncated record".into()));
                }
                _ => {}
            }
        }
    }

    /// Every event of block `b`, in order.
    pub fn decode(&mut self, b: &StoredBlock) -> Result<Vec<AuditRow>, Corrupt> {
        self.decode_matching(b, |_| true)
    }

    /// The events of block `b` that `keep` accepts, in order. `keep` sees each event without its body (every
    /// field a lookup filters on); only the kept events' bodies are copied out.
    pub fn decode_matching(
        &mut self,
        b: &StoredBlock,
        mut keep: impl FnMut(&AuditRow) -> bool,
    ) -> Result<Vec<AuditRow>, Corrupt> {
        let (&format, packed) = b
            .data
            .split_first()
            .ok_or_else(|| Corrupt("empty record".into()))?;
        let count =
            count_of(&b.data).ok_or_else(|| Corrupt(format!("unknown record format {format}")))?;
        if count != b.count {
            return Err(Corrupt(format!(
                "the block says it holds {count} events, its row {}",
                b.count
            )));
        }
        match format {
            FORMAT_V1 => self.inflate(packed)?,
            FORMAT_ZSTD_V1 | FORMAT_ZSTD_V2 => self.unzstd(packed, format)?,
            FORMAT_BLOCK => self.unzstd(packed.get(4..).unwrap_or_default(), FORMAT_ZSTD_V2)?,
            _ => self.inflate(packed.get(4..).unwrap_or_default())?,
        }
        let mut out = Vec::new();
        let mut rest: &[u8] = &self.out;
        for seq in b.seq..b.seq + count {
            let (head, body) = if format == FORMAT_BLOCK || format == FORMAT_DEFLATE_BLOCK {
                let (head, after) = take_part(rest)?;
                let (body, after) = take_part(after)?;
                rest = after;
                (head, body)
            } else {
                // One event: its header line, then its body.
                let nl = rest
                    .iter()
                    .position(|&c| c == b'\n')
                    .ok_or_else(|| Corrupt("no header".into()))?;
                let (head, body) = rest.split_at(nl);
                rest = &[];
                (head, body.get(1..).unwrap_or_default())
            };
            let h: Header =
                serde_json::from_slice(head).map_err(|e| Corrupt(format!("header: {e}")))?;
            let mut row = AuditRow {
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
                body: String::new(),
            };
            if keep(&row) {
                std::str::from_utf8(body)
                    .map_err(|_| Corrupt("body is not UTF-8".into()))?
                    .clone_into(&mut row.body);
                out.push(row);
            }
        }
        if !rest.is_empty() {
            return Err(Corrupt("bytes after the block's last event".into()));
        }
        Ok(out)
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

/// Number the blocks' events after `head`, chain the blocks, and say what the store must write: the blocks,
/// the time span of every group touched, and the (key, group) index entries (duplicates removed).
pub fn seal(head: &AuditHead, batch: &[Encoded]) -> Appended {
    let mut prev = head.last_hash.clone();
    let mut blocks = Vec::with_capacity(batch.len());
    let mut spans: Vec<GroupSpan> = Vec::new();
    let mut keys: Vec<(i64, i64)> = Vec::new();
    let mut seq = head.next_seq;
    let mut max_time = head.max_time;
    for b in batch.iter().filter(|b| !b.events.is_empty()) {
        let first = seq;
        for e in &b.events {
            let g = group_of(seq);
            max_time = max_time.max(e.time);
            widen_spans(&mut spans, g, e.time, max_time);
            keys.extend(e.keys.iter().map(|&k| (k, g)));
            seq += 1;
        }
        let hash = chain(&prev, first, &b.data);
        blocks.push(StoredBlock {
            seq: first,
            count: seq - first,
            hash: hash.clone(),
            data: b.data.clone(),
        });
        prev = hash;
    }
    keys.sort_unstable();
    keys.dedup();
    Appended {
        blocks,
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

    /// `e` as a store returns it, from event `seq` on (hash left empty).
    fn stored(e: &Encoded, seq: i64) -> StoredBlock {
        StoredBlock {
            seq,
            count: i64::try_from(e.events.len()).unwrap(),
            hash: Vec::new(),
            data: e.data.clone(),
        }
    }

    /// The one block storing `r`.
    fn one(c: &mut Codec, r: &AuditRow) -> StoredBlock {
        let mut blocks = c.encode(std::slice::from_ref(r));
        assert_eq!(blocks.len(), 1);
        stored(&blocks.remove(0), 7)
    }

    /// A typical AssumeRole record as the server writes it (names and values unlike the training traffic's).
    fn assume_role_body(i: usize) -> String {
        concat!(
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
            r#""accessKeyId":"ASIAQX7PLM2NRKTIHSZ@","expiration":"2026-11-30T05:04:49Z"}},"requestID":"#,
            r#""a5dcb520-ad5b-4503-8886-7685a7f9ed5@","eventID":"01a22aa0-79f8-7fe4-9cbe-cccbe2d4360@","#,
            r#""readOnly":true,"resources":[{"accountId":"210987654321","type":"AWS::IAM::Role","ARN":"#,
            r#""arn:aws:iam::210987654321:role/ledger-writer"},{"type":"AWS::IAM::AccessKey","ARN":"#,
            r#""ASIAQX7PLM2NRKTIHSZM"},{"accountId":"210987654321","type":"AWS::STS::AssumedRole","ARN":"#,
            r#""arn:aws:sts::210987654321:assumed-role/ledger-writer/payments-batch-1764475489"}],"#,
            r#""eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"210987654321","#,
            r#""eventCategory":"Management"}"#
        )
        .replace('@', &format!("{:x}", i % 16))
    }

    #[test]
    fn records_round_trip_and_compress() {
        let mut c = Codec::new();
        let mut r = row(1);
        r.body = assume_role_body(1);
        let b = one(&mut c, &r);
        assert_eq!(b.data[0], FORMAT_BLOCK);
        // A lone event compresses to under a quarter of its JSON (the dictionary).
        assert!(
            b.data.len() * 4 < r.body.len(),
            "{} of {}",
            b.data.len(),
            r.body.len()
        );
        assert_eq!(c.decode(&b).unwrap(), [AuditRow { seq: 7, ..r }]);
        // Large records (beyond one output reservation) too.
        let mut big = row(2);
        big.body = "x".repeat(3 << 20);
        let b = one(&mut c, &big);
        assert_eq!(c.decode(&b).unwrap()[0].body.len(), 3 << 20);
        // Bodies are length-framed: any text round-trips, newlines included.
        let mut odd = row(3);
        odd.body = "line one\nline two\n\u{0}".into();
        let b = one(&mut c, &odd);
        assert_eq!(c.decode(&b).unwrap()[0].body, odd.body);
    }

    #[test]
    fn a_block_of_a_commit_s_events_compresses_far_better_than_each_alone() {
        let mut c = Codec::new();
        let rows: Vec<AuditRow> = (0..18)
            .map(|i| AuditRow {
                body: assume_role_body(i),
                ..row(i)
            })
            .collect();
        let alone: usize = rows.iter().map(|r| one(&mut c, r).data.len()).sum();
        let blocks = c.encode(&rows);
        assert_eq!(blocks.len(), 1);
        let together = blocks[0].data.len();
        assert!(
            together * 3 < alone,
            "{together} bytes together, {alone} alone"
        );
        let back = c.decode(&stored(&blocks[0], 100)).unwrap();
        assert_eq!(back.len(), 18);
        for (i, (b, r)) in back.iter().zip(&rows).enumerate() {
            assert_eq!(
                b,
                &AuditRow {
                    seq: 100 + i64::try_from(i).unwrap(),
                    ..r.clone()
                }
            );
        }
        assert_eq!(blocks[0].events[3].time, rows[3].event_time);
        assert_eq!(blocks[0].events[3].keys, keys_of(&rows[3]));
    }

    #[test]
    fn blocks_are_bounded_in_events_and_size() {
        let mut c = Codec::new();
        let rows: Vec<AuditRow> = (0..150).map(row).collect();
        let sizes: Vec<usize> = c.encode(&rows).iter().map(|b| b.events.len()).collect();
        assert_eq!(sizes, [64, 64, 22]);
        let mut big = row(0);
        big.body = "y".repeat(BLOCK_PLAIN_TARGET / 2 + 1);
        let sizes: Vec<usize> = c
            .encode(&[big.clone(), big.clone(), big.clone(), row(1)])
            .iter()
            .map(|b| b.events.len())
            .collect();
        assert_eq!(sizes, [2, 2]);
        assert!(c.encode(&[]).is_empty());
    }

    #[test]
    fn single_event_records_of_earlier_versions_still_decode() {
        let mut codec = Codec::new();
        let v1 = zstd::dict::EncoderDictionary::copy(DICT_V1, 5);
        let mut zstd_v1 = zstd::bulk::Compressor::with_prepared_dictionary(&v1).unwrap();
        let v2 = zstd::dict::EncoderDictionary::copy(DICT_V2, 3);
        let mut zstd_v2 = zstd::bulk::Compressor::with_prepared_dictionary(&v2).unwrap();
        for i in 0..20 {
            let r = row(i);
            // Their plain text: the header line, then the body.
            let mut plain = serde_json::to_vec(&(
                &r.account,
                &r.event_id,
                r.event_time,
                &r.event_name,
                &r.event_source,
                &r.username,
                &r.access_key_id,
                r.read_only,
                &r.resources,
            ))
            .unwrap();
            plain.push(b'\n');
            plain.extend_from_slice(r.body.as_bytes());
            let mut deflated = vec![FORMAT_V1];
            codec.deflate_into(&plain, &mut deflated).unwrap();
            let mut old_v1 = vec![FORMAT_ZSTD_V1];
            old_v1.extend(zstd_v1.compress(&plain).unwrap());
            let mut old_v2 = vec![FORMAT_ZSTD_V2];
            old_v2.extend(zstd_v2.compress(&plain).unwrap());
            for data in [deflated, old_v1, old_v2] {
                let b = StoredBlock {
                    seq: 9,
                    count: 1,
                    hash: Vec::new(),
                    data,
                };
                assert_eq!(
                    codec.decode(&b).unwrap(),
                    [AuditRow {
                        seq: 9,
                        ..r.clone()
                    }]
                );
            }
        }
        // Blocks written by deflate (no zstd) decode too; unknown formats are refused.
        let mut deflate = Codec {
            zstd: None,
            ..Codec::new()
        };
        let rows: Vec<AuditRow> = (0..5).map(row).collect();
        let d = deflate.encode(&rows);
        assert_eq!(d[0].data[0], FORMAT_DEFLATE_BLOCK);
        assert_eq!(codec.decode(&stored(&d[0], 1)).unwrap().len(), 5);
        let mut bad = one(&mut codec, &row(1));
        bad.data[0] = 9;
        assert!(codec.decode(&bad).is_err());
        // The trained dictionary is in place (not the raw one).
        assert_ne!(DICT_V2, DICT_V1);
    }

    proptest::proptest! {
        /// Any rows round-trip through blocks, whatever their text (newlines, quotes, non-ASCII), and any bytes
        /// presented as a stored block decode or fail — never panic, never claim more events than the row.
        #[test]
        fn blocks_round_trip_and_arbitrary_bytes_never_panic(
            texts in proptest::collection::vec(".{0,40}", 1..80),
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            count in 0i64..70,
        ) {
            let mut c = Codec::new();
            let rows: Vec<AuditRow> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| AuditRow {
                    username: t.clone(),
                    body: format!("{t}\n{i}"),
                    resources: vec![(t.clone(), t.clone())],
                    ..row(i)
                })
                .collect();
            let mut seq = 1;
            let mut back = Vec::new();
            for e in c.encode(&rows) {
                let b = stored(&e, seq);
                seq += b.count;
                back.extend(c.decode(&b).unwrap());
            }
            proptest::prop_assert_eq!(back.len(), rows.len());
            for (b, r) in back.iter().zip(&rows) {
                proptest::prop_assert_eq!(b, &AuditRow { seq: b.seq, ..r.clone() });
            }
            for format in [FORMAT_V1, FORMAT_ZSTD_V1, FORMAT_ZSTD_V2, FORMAT_BLOCK, FORMAT_DEFLATE_BLOCK] {
                let mut data = vec![format];
                data.extend_from_slice(&junk);
                let b = StoredBlock { seq: 1, count, hash: Vec::new(), data };
                if let Ok(rows) = c.decode(&b) {
                    proptest::prop_assert_eq!(i64::try_from(rows.len()).unwrap(), count);
                }
            }
        }
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
    fn filtering_sees_every_header_and_copies_only_kept_bodies() {
        let mut c = Codec::new();
        let rows: Vec<AuditRow> = (0..50)
            .map(|i| {
                let mut r = row(i);
                // Headers of every size: many long resource names.
                r.resources = (0..i % 7)
                    .map(|k| {
                        (
                            "AWS::IAM::Role".into(),
                            format!("arn:aws:iam::111122223333:role/{}", "r".repeat(k * 40)),
                        )
                    })
                    .collect();
                r
            })
            .collect();
        let b = stored(&c.encode(&rows)[0], 1);
        let mut seen = Vec::new();
        let kept = c
            .decode_matching(&b, |h| {
                assert!(h.body.is_empty());
                seen.push(h.clone());
                h.event_name == "CreateUser"
            })
            .unwrap();
        assert_eq!(seen.len(), 50);
        for (s, r) in seen.iter().zip(&rows) {
            assert_eq!(
                s,
                &AuditRow {
                    seq: s.seq,
                    body: String::new(),
                    ..r.clone()
                }
            );
        }
        assert_eq!(kept.len(), 17);
        assert!(
            kept.iter()
                .all(|k| k.body == rows[usize::try_from(k.seq - 1).unwrap()].body)
        );
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let mut c = Codec::new();
        let rows: Vec<AuditRow> = (0..3).map(row).collect();
        let b = stored(&c.encode(&rows)[0], 1);
        let with = |data: &[u8], count: i64| StoredBlock {
            seq: 1,
            count,
            hash: Vec::new(),
            data: data.to_vec(),
        };
        assert!(c.decode(&with(&[], 1)).is_err());
        assert!(c.decode(&with(&[9, 1, 2], 1)).is_err());
        // A row whose count disagrees with the block's own.
        assert!(c.decode(&with(&b.data, 2)).is_err());
        for cut in 1..b.data.len() {
            assert!(c.decode(&with(&b.data[..cut], 3)).is_err(), "cut at {cut}");
        }
        let mut flipped = b.data.clone();
        for i in 1..flipped.len() {
            flipped[i] ^= 0x55;
            let _ = c.decode(&with(&flipped, 3));
            flipped[i] ^= 0x55;
        }
        assert_eq!(c.decode(&b).unwrap()[2].event_id, "e-2");
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
        let rows: Vec<AuditRow> = (26..38).map(row).collect();
        let mut batch = c.encode(&rows[..5]);
        batch.extend(c.encode(&rows[5..]));
        batch.push(Encoded {
            data: vec![FORMAT_BLOCK, 0, 0, 0, 0],
            events: Vec::new(),
        });
        let head = AuditHead {
            next_seq: 26,
            last_hash: genesis(),
            first_seq: 1,
            base_hash: genesis(),
            ..AuditHead::default()
        };
        let a = seal(&head, &batch);
        assert_eq!(a.head.next_seq, 38);
        // Empty blocks are not stored.
        let firsts: Vec<(i64, i64)> = a.blocks.iter().map(|b| (b.seq, b.count)).collect();
        assert_eq!(firsts, [(26, 5), (31, 7)]);
        assert_eq!(a.blocks[1].last(), 37);
        assert_eq!(a.spans.len(), 2, "events 26..=31 and 32..=37");
        assert_eq!(a.spans[0].grp, 0);
        assert_eq!(a.spans[1].grp, 1);
        let mut prev = genesis();
        for b in &a.blocks {
            assert_eq!(b.hash, chain(&prev, b.seq, &b.data));
            assert_eq!(count_of(&b.data), Some(b.count));
            prev = b.hash.clone();
        }
        assert_eq!(a.head.last_hash, prev);
        // The account key is in both groups once each.
        let acct = key("111122223333", Attr::Account, "");
        assert_eq!(a.keys.iter().filter(|k| k.0 == acct).count(), 2);
    }
}
