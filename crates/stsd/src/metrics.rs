//! Prometheus metrics (`GET /metrics`): requests and latency per action and outcome, authorization decisions,
//! the audit queue, the
//! store's generation and change-feed lag, store errors. Hand-rolled text exposition: a few counters and
//! histograms do not need a metrics framework on the hot path (one uncontended lock per request).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// A latency histogram's reading: cumulative bucket counts (`le` [`BUCKETS`]), total count and sum (seconds).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Histogram {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

impl Histogram {
    /// Write the histogram's series under `labels` (`k="v",…`).
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        for (le, n) in BUCKETS.iter().zip(self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// A latency histogram updated without a lock, for timings taken on threads that hold none (store commits).
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    count: AtomicU64,
    sum_nanos: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (le, b) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Run `op`, recording how long it took when it succeeded.
    pub fn time<T, E>(&self, op: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = std::time::Instant::now();
        let out = op();
        if out.is_ok() {
            self.observe(started.elapsed());
        }
        out
    }

    pub fn snapshot(&self) -> Histogram {
        let mut h = Histogram {
            count: self.count.load(Ordering::Relaxed),
            sum: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
            ..Histogram::default()
        };
        for (out, b) in h.buckets.iter_mut().zip(&self.buckets) {
            *out = b.load(Ordering::Relaxed);
        }
        h
    }
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    /// (action, outcome) → latency histogram. Actions are served action names (or `Unknown`), outcomes
    /// `ok` or an AWS error code: both bounded sets.
    /// action → outcome → histogram (nested so that a lookup borrows the names instead of allocating).
    requests: Mutex<BTreeMap<String, BTreeMap<String, Histogram>>>,
    store_errors: AtomicU64,
    /// How long the store took to commit an IAM change (`Node::write`).
    pub iam_commits: LatencyHistogram,
    /// `[kind][decision]`: authorization decisions, see [`DecisionKind`] and [`Decision`].
    decisions: [[AtomicU64; 3]; 3],
}

/// Which policies an authorization decision weighed.
#[derive(Debug, Clone, Copy)]
pub enum DecisionKind {
    /// A call in the caller's own account: identity policies, boundary, session policies.
    Identity = 0,
    /// An `AssumeRole*` call: the role's trust policy (and the caller's own policies for a signed caller).
    Trust = 1,
    /// A request to another service's resource (`/_stsd/authorize`): identity and resource-based policies.
    Resource = 2,
}

/// The outcome of an authorization decision.
#[derive(Debug, Clone, Copy)]
pub enum Decision {
    Allow = 0,
    ExplicitDeny = 1,
    ImplicitDeny = 2,
}

impl From<policy::Effect> for Decision {
    fn from(e: policy::Effect) -> Decision {
        match e {
            policy::Effect::Allow => Decision::Allow,
            policy::Effect::ExplicitDeny => Decision::ExplicitDeny,
            policy::Effect::ImplicitDeny => Decision::ImplicitDeny,
        }
    }
}

impl Metrics {
    /// Count one request of `action` that ended in `outcome` after `elapsed`.
    pub fn request(&self, action: &str, outcome: &str, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let Ok(mut m) = self.requests.lock() else {
            return;
        };
        let by_outcome = match m.get_mut(action) {
            Some(o) => o,
            None => m.entry(action.to_string()).or_default(),
        };
        let h = match by_outcome.get_mut(outcome) {
            Some(h) => h,
            None => by_outcome.entry(outcome.to_string()).or_default(),
        };
        h.count += 1;
        h.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le
                && let Some(b) = h.buckets.get_mut(i)
            {
                *b += 1;
            }
        }
    }

    /// Count one authorization decision.
    pub fn decision(&self, kind: DecisionKind, decision: Decision) {
        if let Some(c) = self
            .decisions
            .get(kind as usize)
            .and_then(|k| k.get(decision as usize))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count a failed store operation.
    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with the gauges the caller reads at scrape time.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP stsd_requests_total Requests answered, by action and outcome (ok or the AWS error code)."
        );
        let _ = writeln!(out, "# TYPE stsd_requests_total counter");
        let requests: Vec<(String, String, Histogram)> = self
            .requests
            .lock()
            .map(|m| {
                m.iter()
                    .flat_map(|(a, o)| o.iter().map(|(o, h)| (a.clone(), o.clone(), *h)))
                    .collect()
            })
            .unwrap_or_default();
        for (action, outcome, h) in &requests {
            let _ = writeln!(
                out,
                "stsd_requests_total{{action=\"{action}\",outcome=\"{outcome}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP stsd_request_duration_seconds Time to answer a request, by action and outcome."
        );
        let _ = writeln!(out, "# TYPE stsd_request_duration_seconds histogram");
        for (action, outcome, h) in &requests {
            let labels = format!("action=\"{action}\",outcome=\"{outcome}\"");
            h.write(&mut out, "stsd_request_duration_seconds", &labels);
        }
        let _ = writeln!(
            out,
            "# HELP stsd_authorization_decisions_total Authorization decisions by the policy engine, by the policies \
             weighed (identity: a call in the caller's account; trust: AssumeRole*; resource: /_stsd/authorize) and \
             outcome."
        );
        let _ = writeln!(out, "# TYPE stsd_authorization_decisions_total counter");
        for (kind, counts) in ["identity", "trust", "resource"]
            .iter()
            .zip(&self.decisions)
        {
            for (decision, n) in ["allow", "explicit_deny", "implicit_deny"]
                .iter()
                .zip(counts)
            {
                let _ = writeln!(
                    out,
                    "stsd_authorization_decisions_total{{kind=\"{kind}\",decision=\"{decision}\"}} {}",
                    n.load(Ordering::Relaxed)
                );
            }
        }
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        let _ = writeln!(
            out,
            "# HELP stsd_store_commit_duration_seconds Time the store took to make a write durable: an IAM change \
             (what=\"iam\") or a group of audit events (what=\"audit\", answers wait for it)."
        );
        let _ = writeln!(out, "# TYPE stsd_store_commit_duration_seconds histogram");
        let name = "stsd_store_commit_duration_seconds";
        self.iam_commits
            .snapshot()
            .write(&mut out, name, "what=\"iam\"");
        gauges.audit_commits.write(&mut out, name, "what=\"audit\"");
        gauge(
            &mut out,
            "stsd_store_errors_total",
            "Store operations that failed.",
            "counter",
            self.store_errors.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "stsd_audit_queue_depth",
            "Requests whose audit events are queued, not yet stored.",
            "gauge",
            gauges.audit_queue_depth.to_string(),
        );
        let a = &gauges.audit;
        let _ = writeln!(
            out,
            "# HELP stsd_audit_purged_events_total Audit events removed from the store, by reason (age: older than \
             --audit-retention-days; size: over --audit-max-bytes). Every one was exported first when an export \
             directory is set."
        );
        let _ = writeln!(out, "# TYPE stsd_audit_purged_events_total counter");
        let _ = writeln!(
            out,
            "stsd_audit_purged_events_total{{reason=\"age\"}} {}",
            a.purged_for_age
        );
        let _ = writeln!(
            out,
            "stsd_audit_purged_events_total{{reason=\"size\"}} {}",
            a.purged_for_size
        );
        for (name, help, kind, value) in [
            (
                "stsd_audit_exported_events_total",
                "Audit events written to export files.",
                "counter",
                a.exported_events,
            ),
            (
                "stsd_audit_export_files_total",
                "Export files written.",
                "counter",
                a.export_files,
            ),
            (
                "stsd_audit_digests_total",
                "Signed digest files written.",
                "counter",
                a.digests,
            ),
            (
                "stsd_audit_maintenance_failures_total",
                "Audit writes, exports, digests or purges that failed (details in the log).",
                "counter",
                a.failures,
            ),
            (
                "stsd_audit_commits_total",
                "Group commits of audit events (each stores every event queued meanwhile).",
                "counter",
                a.commits,
            ),
            (
                "stsd_audit_committed_events_total",
                "Audit events stored by those commits (divided by stsd_audit_commits_total: the mean group size).",
                "counter",
                a.committed_events,
            ),
            (
                "stsd_audit_stored_bytes",
                "Bytes the audit trail occupies in the store (as of the last maintenance pass).",
                "gauge",
                a.stored_bytes,
            ),
        ] {
            gauge(&mut out, name, help, kind, value.to_string());
        }
        gauge(
            &mut out,
            "stsd_store_generation",
            "The store generation this node's state reflects.",
            "gauge",
            gauges.generation.to_string(),
        );
        gauge(
            &mut out,
            "stsd_change_feed_lag_seconds",
            "Seconds since this node last confirmed it is in sync with a shared store (0 for an embedded one).",
            "gauge",
            format!("{:.3}", gauges.sync_lag.as_secs_f64()),
        );
        out
    }
}

/// Values read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub audit_queue_depth: u64,
    pub audit: stsd_core::trail::StatsSnapshot,
    /// How long the store took to commit each group of audit events.
    pub audit_commits: Histogram,
    pub generation: i64,
    pub sync_lag: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_and_buckets() {
        let m = Metrics::default();
        m.request("AssumeRole", "ok", Duration::from_micros(300));
        m.request("AssumeRole", "ok", Duration::from_millis(3));
        m.request("AssumeRole", "AccessDenied", Duration::from_millis(1));
        m.store_error();
        m.iam_commits.observe(Duration::from_micros(800));
        m.decision(DecisionKind::Trust, Decision::Allow);
        m.decision(DecisionKind::Trust, policy::Effect::ExplicitDeny.into());
        m.decision(DecisionKind::Trust, Decision::ExplicitDeny);
        let text = m.render(&Gauges {
            audit_queue_depth: 7,
            audit: stsd_core::trail::StatsSnapshot {
                purged_for_size: 5,
                stored_bytes: 1024,
                ..Default::default()
            },
            audit_commits: {
                let h = LatencyHistogram::default();
                h.observe(Duration::from_millis(2));
                h.snapshot()
            },
            generation: 42,
            sync_lag: Duration::from_millis(1500),
        });
        assert!(text.contains("stsd_requests_total{action=\"AssumeRole\",outcome=\"ok\"} 2"));
        assert!(
            text.contains("stsd_requests_total{action=\"AssumeRole\",outcome=\"AccessDenied\"} 1")
        );
        assert!(text.contains(
            "stsd_request_duration_seconds_bucket{action=\"AssumeRole\",outcome=\"ok\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "stsd_request_duration_seconds_bucket{action=\"AssumeRole\",outcome=\"ok\",le=\"0.005\"} 2"
        ));
        assert!(text.contains("stsd_store_errors_total 1"));
        let commits = "stsd_store_commit_duration_seconds";
        for line in [
            "_bucket{what=\"iam\",le=\"0.0005\"} 0",
            "_bucket{what=\"iam\",le=\"0.001\"} 1",
            "_count{what=\"iam\"} 1",
            "_bucket{what=\"audit\",le=\"0.001\"} 0",
            "_bucket{what=\"audit\",le=\"0.0025\"} 1",
            "_bucket{what=\"audit\",le=\"+Inf\"} 1",
            "_sum{what=\"audit\"} 0.002",
        ] {
            assert!(
                text.contains(&format!("{commits}{line}\n")),
                "{commits}{line}"
            );
        }
        assert!(text.contains(
            "stsd_authorization_decisions_total{kind=\"trust\",decision=\"explicit_deny\"} 2"
        ));
        assert!(
            text.contains(
                "stsd_authorization_decisions_total{kind=\"trust\",decision=\"allow\"} 1"
            )
        );
        assert!(text.contains(
            "stsd_authorization_decisions_total{kind=\"identity\",decision=\"implicit_deny\"} 0"
        ));
        assert!(text.contains("stsd_audit_queue_depth 7"));
        assert!(text.contains("stsd_audit_purged_events_total{reason=\"size\"} 5"));
        assert!(text.contains("stsd_audit_purged_events_total{reason=\"age\"} 0"));
        assert!(text.contains("stsd_audit_stored_bytes 1024"));
        assert!(text.contains("stsd_store_generation 42"));
        assert!(text.contains("stsd_change_feed_lag_seconds 1.500"));
    }
}
