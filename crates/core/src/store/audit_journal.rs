//! The embedded audit trail's journal: what makes an appended group of events durable before it reaches
//! `audit.db`.
//!
//! A SQLite transaction per group commit rewrote ~11 whole pages (records, spans and their indexes, key index,
//! head) to store ~3 KB of compressed events — ~45 KB of WAL per commit, then the same again when checkpointed,
//! and most of the audit writer's CPU. The journal makes a sealed group durable with one `pwrite` of its bytes;
//! a flusher moves the journaled groups into `audit.db` in one transaction every [`super::sqlite_audit`]
//! flush interval (each page is then written once for many groups), and every read of the trail flushes
//! first, so readers see every appended event.
//!
//! Two files, `audit.journal-0` and `-1`, used in turn. Each starts with a 16-byte header (magic, salt);
//! entries follow: `len: u32 LE, crc32(salt ‖ payload): u32 LE, payload` (one sealed [`Appended`]). Writing
//! moves to the other file once the current one passes [`ROTATE_BYTES`] and everything in the other file is
//! in `audit.db` and synced ("retired"); its header gets a new salt, so entries left from its previous round
//! fail their checksum. A torn entry (a crash mid-write) fails its checksum too, and reading stops there.
//!
//! Like `audit.db`'s WAL with `synchronous=NORMAL`, the journal survives `kill -9` (the bytes are in the
//! kernel's page cache once `pwrite` returns), not necessarily a power cut; on open, entries that continue
//! `audit.db`'s chain are stored ([`super::sqlite_audit::AuditDb::open`]). One process owns the journal (an
//! exclusive lock on `audit.journal-0`) and appends; another process opening the same trail (`stsd audit
//! export` or `verify` beside a serving node) stores the journaled groups that continue the chain, so it reads
//! every event appended before it opened the trail; the owner skips groups already stored.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Appended, AuditHead, GroupSpan, StoreError, StoredBlock};

const MAGIC: &[u8; 8] = b"STSDJNL1";
const HEADER_LEN: u64 = 16;
/// Writing moves to the other file once the current one is this long (and the other is retired).
pub const ROTATE_BYTES: u64 = 8 << 20;
/// The largest entry read back (a batch of the writer is at most `MAX_BATCH` events, far below this).
const MAX_ENTRY: usize = 256 << 20;

/// One of the journal's two files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Zero,
    One,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Zero => Side::One,
            Side::One => Side::Zero,
        }
    }
}

/// Something per file.
#[derive(Debug)]
pub struct Pair<T> {
    zero: T,
    one: T,
}

impl<T> Pair<T> {
    pub fn get(&self, side: Side) -> &T {
        match side {
            Side::Zero => &self.zero,
            Side::One => &self.one,
        }
    }
    pub fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Zero => &mut self.zero,
            Side::One => &mut self.one,
        }
    }
}

/// One journaled group, and the file it is in.
pub struct Pending {
    pub appended: Appended,
    pub file: Side,
}

/// The journal of the process that owns the trail.
pub struct Journal {
    files: Pair<File>,
    paths: Pair<PathBuf>,
    cur: Side,
    offset: u64,
    salt: u64,
    /// Whether everything in each file is in `audit.db` and synced (the file may be reused).
    pub retired: Pair<bool>,
    /// The chain's tip including pending groups: `next_seq`, `last_hash` and `max_time` continue from here.
    pub head: AuditHead,
    /// Journaled groups not yet in `audit.db`, in order.
    pub pending: Vec<Pending>,
    /// Events in `pending`.
    pub pending_events: i64,
    buf: Vec<u8>,
}

fn io(what: &str, e: &std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        // ENOSPC
        StoreError::Backend(
            "the audit journal is full (no space left on the data directory)".into(),
        )
    } else {
        StoreError::Backend(format!("audit journal: {what}: {e}"))
    }
}

fn journal_paths(db: &Path) -> Pair<PathBuf> {
    let name = |i: usize| {
        let mut p = db.to_path_buf();
        p.set_file_name(format!("audit.journal-{i}"));
        p
    };
    Pair {
        zero: name(0),
        one: name(1),
    }
}

impl Journal {
    /// Open (creating) the journal beside `db` and take ownership of it. `Ok(None)`: another process owns it.
    /// Returns the journal and the entries it holds, oldest first (not yet checked against `audit.db`).
    pub fn open(db: &Path) -> Result<Option<(Journal, Vec<Appended>)>, StoreError> {
        let paths = journal_paths(db);
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
                .map_err(|e| io("open", &e))
        };
        let zero = open(&paths.zero)?;
        match zero.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &e)),
        }
        let files = Pair {
            zero,
            one: open(&paths.one)?,
        };
        let mut found = read_entries(&files.zero)?;
        found.extend(read_entries(&files.one)?);
        found.sort_by_key(|a| a.blocks.first().map_or(i64::MAX, |b| b.seq));
        let j = Journal {
            files,
            paths,
            cur: Side::Zero,
            offset: HEADER_LEN,
            salt: 0,
            retired: Pair {
                zero: false,
                one: true,
            },
            head: AuditHead::default(),
            pending: Vec::new(),
            pending_events: 0,
            buf: Vec::new(),
        };
        Ok(Some((j, found)))
    }

    /// Start both files over (new salts: nothing in them is read again) and continue the chain from `head`.
    /// Call once what they held is in `audit.db` and synced.
    pub fn reset(&mut self, head: AuditHead) -> Result<(), StoreError> {
        self.salt = write_header(&self.files.one)?;
        self.salt = write_header(&self.files.zero)?;
        self.cur = Side::Zero;
        self.offset = HEADER_LEN;
        self.retired = Pair {
            zero: false,
            one: true,
        };
        self.head = head;
        self.pending.clear();
        self.pending_events = 0;
        Ok(())
    }

    /// Make one sealed group durable and pending. On error nothing was journaled (a retry writes it again at
    /// the same place).
    pub fn append(&mut self, a: Appended) -> Result<(), StoreError> {
        let other = self.cur.other();
        if self.offset >= ROTATE_BYTES && *self.retired.get(other) {
            self.salt = write_header(self.files.get(other))?;
            self.cur = other;
            self.offset = HEADER_LEN;
            *self.retired.get_mut(other) = false;
        }
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]);
        encode(&a, &mut self.buf);
        let len = u32::try_from(self.buf.len() - 8)
            .map_err(|_| StoreError::Backend("audit journal: entry too large".into()))?;
        let crc = checksum(self.salt, self.buf.get(8..).unwrap_or_default());
        // The entry's header: its length in the low half, the checksum in the high half.
        let word = (u64::from(crc) << 32) | u64::from(len);
        if let Some(h) = self.buf.get_mut(..8) {
            h.copy_from_slice(&word.to_le_bytes());
        }
        self.files
            .get(self.cur)
            .write_all_at(&self.buf, self.offset)
            .map_err(|e| io("write", &e))?;
        self.offset += self.buf.len() as u64;
        self.head.next_seq = a.head.next_seq;
        self.head.last_hash.clone_from(&a.head.last_hash);
        self.head.max_time = a.head.max_time;
        self.pending_events += a.blocks.iter().map(|b| b.count).sum::<i64>();
        self.pending.push(Pending {
            appended: a,
            file: self.cur,
        });
        Ok(())
    }

    /// The file not being written, if it still holds entries that are not known to be in `audit.db` and synced.
    pub fn unretired_other(&self) -> Option<Side> {
        let other = self.cur.other();
        (!*self.retired.get(other)).then_some(other)
    }

    pub fn path(&self, side: Side) -> &Path {
        self.paths.get(side)
    }
}

/// The entries of the journal beside `db` as they are now, oldest first, read without owning it (the owner may
/// be writing: a torn or rewritten entry ends a file's entries; callers check the chain of what they use).
pub fn read_unowned(db: &Path) -> Result<Vec<Appended>, StoreError> {
    let paths = journal_paths(db);
    let mut found = Vec::new();
    for p in [&paths.zero, &paths.one] {
        match std::fs::read(p) {
            Ok(bytes) => found.extend(parse_file(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &e)),
        }
    }
    found.sort_by_key(|a| a.blocks.first().map_or(i64::MAX, |b| b.seq));
    Ok(found)
}

fn checksum(salt: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Write a fresh header (new random salt) at the start of `f`; returns the salt.
fn write_header(f: &File) -> Result<u64, StoreError> {
    let salt: u64 = rand::random();
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&salt.to_le_bytes());
    f.write_all_at(&h, 0).map_err(|e| io("write", &e))?;
    Ok(salt)
}

/// The valid entries of one file, in file order: reading stops at the first entry whose length or checksum
/// does not hold (a torn write, or the end of this round). A file without a valid header holds none.
fn read_entries(mut f: &File) -> Result<Vec<Appended>, StoreError> {
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| io("read", &e))?;
    Ok(parse_file(&bytes))
}

/// [`read_entries`] over a file's bytes (never panics on any input).
pub fn parse_file(bytes: &[u8]) -> Vec<Appended> {
    let mut out = Vec::new();
    let Some((magic, rest)) = bytes.split_first_chunk::<8>() else {
        return out;
    };
    let Some((salt, mut rest)) = rest.split_first_chunk::<8>() else {
        return out;
    };
    if magic != MAGIC {
        return out;
    }
    let salt = u64::from_le_bytes(*salt);
    while let Some((word, after)) = rest.split_first_chunk::<8>() {
        // The entry's header: its length in the low half, the checksum in the high half.
        let word = u64::from_le_bytes(*word);
        let len = usize::try_from(word & 0xffff_ffff).unwrap_or(usize::MAX);
        let crc = u32::try_from(word >> 32).unwrap_or(0);
        if len > MAX_ENTRY {
            break;
        }
        let (Some(payload), Some(next)) = (after.get(..len), after.get(len..)) else {
            break;
        };
        if checksum(salt, payload) != crc {
            break;
        }
        let Some(a) = decode(payload) else { break };
        out.push(a);
        rest = next;
    }
    out
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

/// One sealed group as journal payload: blocks, spans, index keys, and the head's chain fields.
pub fn encode(a: &Appended, out: &mut Vec<u8>) {
    put_i64(out, a.blocks.len() as i64);
    for b in &a.blocks {
        put_i64(out, b.seq);
        put_i64(out, b.count);
        put_bytes(out, &b.hash);
        put_bytes(out, &b.data);
    }
    put_i64(out, a.spans.len() as i64);
    for s in &a.spans {
        put_i64(out, s.grp);
        put_i64(out, s.time_lo);
        put_i64(out, s.time_hi);
        put_i64(out, s.hi_max);
    }
    put_i64(out, a.keys.len() as i64);
    for (k, g) in &a.keys {
        put_i64(out, *k);
        put_i64(out, *g);
    }
    put_i64(out, a.head.next_seq);
    put_bytes(out, &a.head.last_hash);
    put_i64(out, a.head.max_time);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn i64(&mut self) -> Option<i64> {
        let (v, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(i64::from_le_bytes(*v))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.i64()?).ok()?;
        let v = self.0.get(..n)?;
        self.0 = self.0.get(n..)?;
        Some(v)
    }
    /// A count of items of at least `min` bytes each that the rest can hold.
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = usize::try_from(self.i64()?).ok()?;
        (n <= self.0.len() / min).then_some(n)
    }
}

/// The inverse of [`encode`]; `None` for anything it did not write.
pub fn decode(payload: &[u8]) -> Option<Appended> {
    let mut r = Reader(payload);
    let mut a = Appended::default();
    for _ in 0..r.count(32)? {
        a.blocks.push(StoredBlock {
            seq: r.i64()?,
            count: r.i64()?,
            hash: r.bytes()?.to_vec(),
            data: r.bytes()?.to_vec(),
        });
    }
    for _ in 0..r.count(32)? {
        a.spans.push(GroupSpan {
            grp: r.i64()?,
            time_lo: r.i64()?,
            time_hi: r.i64()?,
            hi_max: r.i64()?,
        });
    }
    for _ in 0..r.count(16)? {
        a.keys.push((r.i64()?, r.i64()?));
    }
    a.head.next_seq = r.i64()?;
    a.head.last_hash = r.bytes()?.to_vec();
    a.head.max_time = r.i64()?;
    r.0.is_empty().then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn appended(seq: i64, n: usize) -> Appended {
        Appended {
            blocks: (0..n)
                .map(|i| StoredBlock {
                    seq: seq + i as i64,
                    count: 1,
                    hash: vec![i as u8; 16],
                    data: vec![7; 100 + i],
                })
                .collect(),
            spans: vec![GroupSpan {
                grp: seq >> 5,
                time_lo: 10,
                time_hi: 20,
                hi_max: 20,
            }],
            keys: vec![(42, seq >> 5), (-1, seq >> 5)],
            head: AuditHead {
                next_seq: seq + n as i64,
                last_hash: vec![9; 16],
                max_time: 20,
                ..AuditHead::default()
            },
        }
    }

    proptest! {
        /// What `encode` writes, `decode` reads back (the head's chain fields; the rest of the head is
        /// `audit.db`'s).
        #[test]
        fn entries_round_trip(seq in 1i64..1 << 40, n in 0usize..5, keys in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..8)) {
            let mut a = appended(seq, n);
            a.keys = keys;
            let mut buf = Vec::new();
            encode(&a, &mut buf);
            prop_assert_eq!(decode(&buf), Some(a));
        }

        /// Any bytes at all: a journal file never panics the reader and never yields more than it holds.
        #[test]
        fn arbitrary_files_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600), salt in any::<u64>()) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&salt.to_le_bytes());
            bytes.extend_from_slice(&tail);
            let _ = parse_file(&bytes);
            let _ = parse_file(&tail);
            let _ = decode(&tail);
        }
    }

    fn journal(dir: &Path) -> Journal {
        let (mut j, found) = Journal::open(&dir.join("audit.db")).unwrap().unwrap();
        assert!(found.is_empty());
        j.reset(AuditHead::default()).unwrap();
        j
    }

    #[test]
    fn journaled_entries_are_read_back_in_order_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(dir.path());
        j.append(appended(1, 2)).unwrap();
        j.append(appended(3, 1)).unwrap();
        j.append(appended(4, 3)).unwrap();
        let path = j.path(Side::Zero).to_path_buf();
        drop(j);
        let (_, found) = Journal::open(&dir.path().join("audit.db"))
            .unwrap()
            .unwrap();
        assert_eq!(found, vec![appended(1, 2), appended(3, 1), appended(4, 3)]);
        // A crash in the middle of the last write: it is dropped, the ones before stay.
        let len = std::fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 5).unwrap();
        let (_, found) = Journal::open(&dir.path().join("audit.db"))
            .unwrap()
            .unwrap();
        assert_eq!(found, vec![appended(1, 2), appended(3, 1)]);
        // A flipped bit in the middle entry: reading stops before it.
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = HEADER_LEN as usize + 8 + bytes.len() / 3;
        bytes[mid] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (_, found) = Journal::open(&dir.path().join("audit.db"))
            .unwrap()
            .unwrap();
        assert!(
            found.len() < 2,
            "{} entries survived a flipped bit",
            found.len()
        );
    }

    #[test]
    fn a_reset_journal_reads_back_empty_and_only_one_process_owns_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(dir.path());
        j.append(appended(1, 2)).unwrap();
        // While it is open, a second opener (another process, or this one) is not the owner.
        assert!(
            Journal::open(&dir.path().join("audit.db"))
                .unwrap()
                .is_none()
        );
        j.reset(AuditHead::default()).unwrap();
        drop(j);
        let (_, found) = Journal::open(&dir.path().join("audit.db"))
            .unwrap()
            .unwrap();
        assert!(
            found.is_empty(),
            "entries of an earlier round were read again"
        );
    }

    #[test]
    fn writing_moves_to_the_retired_file_and_old_entries_there_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(dir.path());
        let big = |seq: i64| {
            let mut a = appended(seq, 1);
            a.blocks[0].data = vec![1; 1 << 20];
            a
        };
        let mut seq = 1;
        while j.cur == Side::Zero {
            // File 1 starts retired: once file 0 passes ROTATE_BYTES the next entry goes to file 1.
            j.append(big(seq)).unwrap();
            seq += 1;
        }
        assert_eq!(j.unretired_other(), Some(Side::Zero));
        // File 0 is not retired yet: writing stays in file 1 however long it gets.
        while j.offset < ROTATE_BYTES + (2 << 20) {
            j.append(big(seq)).unwrap();
            seq += 1;
        }
        assert_eq!(j.cur, Side::One);
        *j.retired.get_mut(Side::Zero) = true;
        j.append(appended(seq, 1)).unwrap();
        assert_eq!(j.cur, Side::Zero, "a retired file is reused");
        drop(j);
        let (_, found) = Journal::open(&dir.path().join("audit.db"))
            .unwrap()
            .unwrap();
        let seqs: Vec<i64> = found.iter().map(|a| a.blocks[0].seq).collect();
        // File 0's first round is gone (new salt); file 1's entries and the new one in file 0 remain.
        assert_eq!(
            seqs.first().copied(),
            Some(seqs[seqs.len() - 1] - (seqs.len() as i64 - 1))
        );
        assert_eq!(*seqs.last().unwrap(), seq);
        assert!(seqs.len() < seq as usize - 1);
    }
}
