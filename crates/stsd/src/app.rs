//! The application: a [`Node`] (state, store, configuration, clock, key ring, caches) with the audit
//! trail's writer and the authorizer's route tables. Above the audit writer and below the server: the HTTP
//! layer, the console and the authorizer hold an `App`; authentication and the actions get its node.

use std::sync::Arc;

pub use crate::node::{Clock, Config, MAX_SYNC_LAG, Node};
use crate::store::{Store, StoreError};

pub struct App {
    pub node: Arc<Node>,
    /// The audit trail's writer (events are queued here and stored in batches off the request path).
    pub audit: crate::audit::Audit,
    /// Route tables of `/_stsd/authorize` (built-in `s3`, `--s3-domain`, custom services from `--routes`).
    pub routes: Arc<crate::routes::RouteTables>,
}

/// An `App` is its node plus the writer: everything below the audit writer reads the node through it.
impl std::ops::Deref for App {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl App {
    /// Load the node from `store` and start the audit writer (unless `config` turns recording off).
    pub fn new(store: Box<dyn Store>, config: Config, clock: Clock) -> Result<App, StoreError> {
        let recording = config.audit_recording;
        let node = Node::new(store, config, clock)?;
        let (store, clock) = (node.shared_store(), node.clock.clone());
        let audit = if recording {
            crate::audit::Audit::start(store, clock, crate::audit::DEFAULT_CAPACITY)
        } else {
            tracing::warn!(
                "audit recording is OFF (--audit-disabled-for-benchmarks): not for production"
            );
            crate::audit::Audit::disabled(store, clock)
        };
        Ok(App {
            node: Arc::new(node),
            audit,
            routes: Arc::default(),
        })
    }

    /// Record `candidate` as the management account unless one is recorded already (atomically, across
    /// every node sharing the store); returns the one recorded. Only before the app is shared.
    pub fn claim_management_account(&mut self, candidate: &str) -> Result<String, StoreError> {
        match Arc::get_mut(&mut self.node) {
            Some(node) => node.claim_management_account(candidate),
            None => Err(StoreError::Backend(
                "the management account is claimed before the node is shared".into(),
            )),
        }
    }

    /// Follow other nodes' commits (see [`Node::start_follower`]).
    pub fn start_follower(&self) {
        self.node.start_follower();
    }

    /// Build the audit events of a call and queue them (blocking while the audit queue is full).
    pub fn record(&self, info: &crate::audit::CallInfo<'_>) {
        crate::audit::record_call(&self.node, &self.audit, info);
    }

    /// The metrics exposition with the current gauges.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&crate::metrics::Gauges {
            audit_queue_depth: self.audit.queue_depth(),
            audit: self.audit.stats().snapshot(),
            audit_commits: self.audit.stats().commit_durations.snapshot(),
            generation: self.generation(),
            sync_lag: self.sync_lag(),
        })
    }
}
