//! Reading the stored trail: `LookupEvents` pages and exports, answered from the group index
//! ([`crate::trail`]) on any store backend.
//!
//! A query narrows the sequence range (cursor, the stored range) and the group range (time bounds: the newest
//! group holding an event at or before `until` is found walking down from the top; the oldest that may hold an
//! event at or after `since` by one lookup on the never-decreasing `hi_max`), then reads only the groups its
//! key names (an attribute, or the account), newest first or oldest first, filtering every record exactly.

use crate::store::{AuditFilter, AuditQuery, AuditRow, Store, StoreError};

use crate::trail::{self, Attr, Codec};

/// Groups read per index query.
const GROUPS_PER_STEP: usize = 64;

/// The attribute and value a filter names.
fn filter_key(f: &AuditFilter) -> (Attr, String) {
    match f {
        AuditFilter::EventName(v) => (Attr::EventName, v.clone()),
        AuditFilter::ResourceType(v) => (Attr::ResourceType, v.clone()),
        AuditFilter::Username(v) => (Attr::Username, v.clone()),
        AuditFilter::AccessKeyId(v) => (Attr::AccessKeyId, v.clone()),
        AuditFilter::ResourceName(v) => (Attr::ResourceName, v.clone()),
        AuditFilter::EventSource(v) => (Attr::EventSource, v.clone()),
        AuditFilter::EventId(v) => (Attr::EventId, v.clone()),
        AuditFilter::ReadOnly(v) => (Attr::ReadOnly, v.to_string()),
    }
}

/// Whether `row` answers `q` (the index only narrows; this decides).
pub fn matches(row: &AuditRow, q: &AuditQuery) -> bool {
    if q.account.as_ref().is_some_and(|a| *a != row.account)
        || q.since.is_some_and(|t| row.event_time < t)
        || q.until.is_some_and(|t| row.event_time > t)
    {
        return false;
    }
    match &q.filter {
        None => true,
        Some(AuditFilter::EventName(v)) => row.event_name == *v,
        Some(AuditFilter::Username(v)) => row.username == *v,
        Some(AuditFilter::AccessKeyId(v)) => row.access_key_id == *v,
        Some(AuditFilter::EventSource(v)) => row.event_source == *v,
        Some(AuditFilter::EventId(v)) => row.event_id == *v,
        Some(AuditFilter::ReadOnly(v)) => row.read_only == *v,
        Some(AuditFilter::ResourceName(v)) => row.resources.iter().any(|(_, n)| n == v),
        Some(AuditFilter::ResourceType(v)) => row.resources.iter().any(|(t, _)| t == v),
    }
}

/// Events answering `q`, at most `q.limit`, newest first (oldest first if `q.ascending`).
pub fn lookup(store: &dyn Store, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
    let mut out = Vec::new();
    if q.limit == 0 || q.filter == Some(AuditFilter::EventId(String::new())) {
        return Ok(out);
    }
    // An ID this trail issued names its second: look only there.
    let narrowed;
    let q = match &q.filter {
        Some(AuditFilter::EventId(id)) => match trail::event_id_time(id) {
            Some(t) => {
                narrowed = AuditQuery {
                    since: Some(q.since.map_or(t, |s| s.max(t))),
                    until: Some(q.until.map_or(t, |u| u.min(t))),
                    ..q.clone()
                };
                if narrowed.since > narrowed.until {
                    return Ok(out);
                }
                &narrowed
            }
            None => q,
        },
        _ => q,
    };
    let head = store.audit_head()?;
    let (mut lo, mut hi) = (head.first_seq, head.next_seq - 1);
    if let Some(c) = q.cursor {
        if q.ascending {
            lo = lo.max(c + 1);
        } else {
            hi = hi.min(c - 1);
        }
    }
    if lo > hi {
        return Ok(out);
    }
    let (mut glo, mut ghi) = (trail::group_of(lo), trail::group_of(hi));
    if let Some(until) = q.until {
        match store.audit_newest_group_until(until)? {
            Some(g) if g >= glo => ghi = ghi.min(g),
            _ => return Ok(out),
        }
    }
    if let Some(since) = q.since {
        match store.audit_first_group_since(since)? {
            Some(g) => glo = glo.max(g),
            None => return Ok(out),
        }
    }
    // Without an account (an export of everything) there is no key: every group in range is read.
    let key = q.account.as_deref().map(|a| match &q.filter {
        Some(f) => {
            let (attr, value) = filter_key(f);
            trail::key(a, attr, &value)
        }
        None => trail::key(a, Attr::Account, ""),
    });
    let mut codec = Codec::new();
    let desc = !q.ascending;
    // The first event number of the last block read.
    let mut read_up_to: Option<i64> = None;
    let mut next = if desc { ghi } else { glo };
    while glo <= next && next <= ghi {
        let groups: Vec<i64> = match key {
            Some(k) => {
                let (a, b) = if desc { (glo, next) } else { (next, ghi) };
                store.audit_key_groups(k, a, b, desc, GROUPS_PER_STEP)?
            }
            None => {
                let step = i64::try_from(GROUPS_PER_STEP).unwrap_or(32);
                if desc {
                    (glo.max(next - step + 1)..=next).rev().collect()
                } else {
                    (next..=ghi.min(next + step - 1)).collect()
                }
            }
        };
        let Some(&last) = groups.last() else { break };
        for g in groups {
            let (first, end) = trail::group_bounds(g);
            let mut blocks = store.audit_blocks(first.max(lo), end.min(hi))?;
            if desc {
                blocks.reverse();
            }
            for b in blocks {
                // Neighbouring groups share blocks: each is read once, when first met. Its events in other groups
                // are answered then, in order (blocks are met in sequence order and never overlap); those
                // groups' own visit skips it. Events of groups the key does not name cannot match.
                if read_up_to.is_some_and(|r| if desc { b.seq >= r } else { b.seq <= r }) {
                    continue;
                }
                read_up_to = Some(b.seq);
                // Filter on the headers; only the events returned have their bodies copied out.
                let mut rows = codec
                    .decode_matching(&b, |h| (lo..=hi).contains(&h.seq) && matches(h, q))
                    .map_err(|c| b.corrupt(&c))?;
                if desc {
                    rows.reverse();
                }
                for r in rows {
                    out.push(r);
                    if out.len() >= q.limit {
                        return Ok(out);
                    }
                }
            }
        }
        next = if desc { last - 1 } else { last + 1 };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn store_with(rows: &[AuditRow]) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("stsd.db")).unwrap();
        let mut codec = Codec::new();
        // Appends of varied sizes, so blocks of 1 to 64 events start and end anywhere in the groups.
        let mut at = 0;
        let mut size = 1;
        while at < rows.len() {
            let end = (at + size).min(rows.len());
            s.audit_append(&codec.encode(&rows[at..end])).unwrap();
            at = end;
            size = size * 7 % 97 + 1;
        }
        (dir, s)
    }

    fn ids(rows: &[AuditRow]) -> Vec<&str> {
        rows.iter().map(|r| r.event_id.as_str()).collect()
    }

    #[test]
    fn event_ids_with_their_second_are_found_there() {
        let rows: Vec<AuditRow> = (0..3000)
            .map(|i| AuditRow {
                account: "a".into(),
                event_id: trail::new_event_id(10_000 + i / 7),
                event_time: 10_000 + i / 7,
                event_name: "AssumeRole".into(),
                ..AuditRow::default()
            })
            .collect();
        let (_d, s) = store_with(&rows);
        let find = |id: &str, since: Option<i64>| {
            lookup(
                &s,
                &AuditQuery {
                    account: Some("a".into()),
                    filter: Some(AuditFilter::EventId(id.into())),
                    since,
                    limit: 50,
                    ..AuditQuery::default()
                },
            )
            .unwrap()
        };
        for i in [0usize, 6, 7, 1500, 2999] {
            assert_eq!(
                ids(&find(&rows[i].event_id, None)),
                [rows[i].event_id.as_str()]
            );
        }
        // A time range that excludes the ID's second finds nothing; an unknown ID of a stored second neither.
        assert!(find(&rows[0].event_id, Some(10_001)).is_empty());
        assert!(find(&trail::new_event_id(10_003), None).is_empty());
    }

    #[test]
    fn filters_pages_and_time_ranges() {
        let rows: Vec<AuditRow> = (0..1000)
            .map(|i| AuditRow {
                account: if i % 2 == 0 { "a".into() } else { "b".into() },
                event_id: format!("e{i}"),
                event_time: 1000 + i,
                event_name: if i == 5 || i == 900 {
                    "CreateUser"
                } else {
                    "AssumeRole"
                }
                .into(),
                username: format!("u{}", i % 7),
                resources: vec![("AWS::IAM::Role".into(), format!("r{i}"))],
                body: "{}".into(),
                ..AuditRow::default()
            })
            .collect();
        let (_d, s) = store_with(&rows);
        let q = AuditQuery {
            account: Some("a".into()),
            limit: 2,
            ..AuditQuery::default()
        };
        let page = lookup(&s, &q).unwrap();
        assert_eq!(ids(&page), ["e998", "e996"]);
        let page2 = lookup(
            &s,
            &AuditQuery {
                cursor: Some(page[1].seq),
                ..q.clone()
            },
        )
        .unwrap();
        assert_eq!(ids(&page2), ["e994", "e992"]);
        let by = |f: AuditFilter, acct: &str| {
            lookup(
                &s,
                &AuditQuery {
                    account: Some(acct.into()),
                    filter: Some(f),
                    limit: 50,
                    ..AuditQuery::default()
                },
            )
            .unwrap()
        };
        assert_eq!(
            ids(&by(AuditFilter::ResourceName("r3".into()), "b")),
            ["e3"]
        );
        assert!(
            by(AuditFilter::ResourceName("r3".into()), "a").is_empty(),
            "other account"
        );
        assert_eq!(
            ids(&by(AuditFilter::EventName("CreateUser".into()), "a")),
            ["e900"]
        );
        assert_eq!(
            ids(&by(AuditFilter::EventName("CreateUser".into()), "b")),
            ["e5"]
        );
        assert_eq!(
            by(AuditFilter::ResourceType("AWS::IAM::Role".into()), "a").len(),
            50
        );
        assert_eq!(ids(&by(AuditFilter::EventId("e77".into()), "b")), ["e77"]);
        assert!(by(AuditFilter::EventId(String::new()), "b").is_empty());
        assert!(by(AuditFilter::Username("nobody".into()), "a").is_empty());
        let u3: Vec<AuditRow> = by(AuditFilter::Username("u3".into()), "b");
        assert_eq!(u3.len(), 50);
        assert!(u3.iter().all(|r| r.username == "u3" && r.account == "b"));
        // Time ranges, both directions.
        let window = AuditQuery {
            account: Some("a".into()),
            since: Some(1300),
            until: Some(1310),
            limit: 50,
            ..AuditQuery::default()
        };
        assert_eq!(
            ids(&lookup(&s, &window).unwrap()),
            ["e310", "e308", "e306", "e304", "e302", "e300"]
        );
        let asc = lookup(
            &s,
            &AuditQuery {
                ascending: true,
                ..window.clone()
            },
        )
        .unwrap();
        assert_eq!(ids(&asc), ["e300", "e302", "e304", "e306", "e308", "e310"]);
        assert!(
            lookup(
                &s,
                &AuditQuery {
                    until: Some(999),
                    ..window.clone()
                }
            )
            .unwrap()
            .is_empty()
        );
        assert!(
            lookup(
                &s,
                &AuditQuery {
                    since: Some(2000),
                    until: None,
                    ..window
                }
            )
            .unwrap()
            .is_empty()
        );
        // Export: every account, oldest first, page by page.
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = lookup(
                &s,
                &AuditQuery {
                    ascending: true,
                    cursor,
                    limit: 333,
                    ..AuditQuery::default()
                },
            )
            .unwrap();
            let Some(last) = page.last() else { break };
            cursor = Some(last.seq);
            all.extend(page);
        }
        assert_eq!(all.len(), 1000);
        assert!(all.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    }

    /// Property: for random trails and queries, the indexed lookup returns exactly what a scan of every
    /// record would (same events, same order).
    #[test]
    fn indexed_lookup_equals_a_full_scan() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let rows: Vec<AuditRow> = (0..1500)
            .map(|i| AuditRow {
                account: ["a", "b", "c"][rng.random_range(0..3)].into(),
                event_id: format!("e{i}"),
                // Mostly increasing times with stragglers, as events from slow requests arrive.
                event_time: 10_000 + i / 3
                    - if rng.random_bool(0.05) {
                        rng.random_range(0..200)
                    } else {
                        0
                    },
                event_name: ["AssumeRole", "CreateUser", "ListRoles"][rng.random_range(0..3)]
                    .into(),
                username: format!("u{}", rng.random_range(0..20)),
                access_key_id: format!("AKIA{}", rng.random_range(0..5)),
                read_only: rng.random_bool(0.5),
                resources: vec![(
                    "AWS::IAM::Role".into(),
                    format!("r{}", rng.random_range(0..50)),
                )],
                body: "{}".into(),
                ..AuditRow::default()
            })
            .collect();
        let (_d, s) = store_with(&rows);
        for _ in 0..300 {
            let filter = match rng.random_range(0..6) {
                0 => None,
                1 => Some(AuditFilter::EventName("CreateUser".into())),
                2 => Some(AuditFilter::Username(format!(
                    "u{}",
                    rng.random_range(0..25)
                ))),
                3 => Some(AuditFilter::ResourceName(format!(
                    "r{}",
                    rng.random_range(0..60)
                ))),
                4 => Some(AuditFilter::ReadOnly(rng.random_bool(0.5))),
                _ => Some(AuditFilter::AccessKeyId(format!(
                    "AKIA{}",
                    rng.random_range(0..6)
                ))),
            };
            let since = rng
                .random_bool(0.5)
                .then(|| 10_000 + rng.random_range(0..500));
            let until = rng
                .random_bool(0.5)
                .then(|| 10_000 + rng.random_range(0..500));
            let q = AuditQuery {
                account: Some(["a", "b", "c"][rng.random_range(0..3)].into()),
                since,
                until,
                filter,
                cursor: rng.random_bool(0.3).then(|| rng.random_range(1..1500)),
                ascending: rng.random_bool(0.3),
                limit: rng.random_range(1..60),
            };
            let mut expected: Vec<AuditRow> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| AuditRow {
                    seq: i64::try_from(i).unwrap() + 1,
                    ..r.clone()
                })
                .filter(|r| matches(r, &q))
                .filter(|r| match q.cursor {
                    Some(c) if q.ascending => r.seq > c,
                    Some(c) => r.seq < c,
                    None => true,
                })
                .collect();
            if !q.ascending {
                expected.reverse();
            }
            expected.truncate(q.limit);
            assert_eq!(ids(&lookup(&s, &q).unwrap()), ids(&expected), "{q:?}");
        }
    }
}
