//! The `stsd` command line: `serve` and `account create`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use stsd::app::{App, Clock, Config};
use stsd::store::sqlite::SqliteStore;

/// mimalloc instead of glibc's allocator: a request allocates and frees many small buffers across threads (the
/// audit writer frees what workers built), and glibc's bins and consolidation took ~14 % of stsd's CPU under
/// AssumeRole c=64 (perf, d24e449).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Default listen address: loopback only, so a first run exposes nothing.
const DEFAULT_LISTEN: &str = "127.0.0.1:8556";

/// Records `stsd audit train-dictionary` samples at most.
const MAX_TRAINING_EVENTS: i64 = 100_000;
#[derive(Parser)]
#[command(
    name = "stsd",
    version,
    about = "Self-hosted Security Token Service, wire-compatible with AWS STS and IAM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Directory holding the embedded store (and, with `--store`, generated root credentials).
        #[arg(long, default_value = "./stsd-data")]
        data_dir: PathBuf,
        /// A shared store for several nodes: `postgres://USER[:PASS]@HOST:PORT/DB`. Without it, the
        /// embedded SQLite store under `--data-dir`.
        #[arg(long, env = "STSD_STORE")]
        store: Option<String>,
        /// Days to keep audit events (0 keeps them forever).
        #[arg(long, default_value_t = stsd::audit::DEFAULT_RETENTION_DAYS)]
        audit_retention_days: u32,
        /// Also append every audit event to this file as JSON lines (for log shippers).
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// Most bytes the stored audit trail may occupy (e.g. 500M, 20G; 0: no limit). The oldest events are
        /// exported, then removed.
        #[arg(long, default_value = "0", value_parser = parse_bytes)]
        audit_max_bytes: u64,
        /// Export the trail here as gzip JSON Lines files named as CloudTrail names its files, every
        /// --audit-export-interval. Events removed by retention or the size limit are always exported first
        /// (to DATA_DIR/audit-export when this is not set).
        #[arg(long)]
        audit_export_dir: Option<PathBuf>,
        /// Seconds between exports.
        #[arg(long, default_value_t = stsd::audit::DEFAULT_INTERVAL_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        audit_export_interval: u64,
        /// Seconds between signed digests of the trail.
        #[arg(long, default_value_t = stsd::audit::DEFAULT_INTERVAL_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        audit_digest_interval: u64,
        /// The Ed25519 key that signs digests (created if absent; default DATA_DIR/audit-signing.key).
        #[arg(long)]
        audit_signing_key: Option<PathBuf>,
        /// Seconds between checks of retention and the size limit.
        #[arg(long, default_value_t = stsd::audit::DEFAULT_CHECK_SECS, value_parser = clap::value_parser!(u64).range(1..=3600))]
        audit_check_interval: u64,
        /// Record no audit events at all. Only to measure what recording costs; never in production.
        #[arg(long, hide = true)]
        audit_disabled_for_benchmarks: bool,
        /// Accept plain-http OIDC issuers (local issuers and tests only).
        #[arg(long)]
        allow_http_oidc: bool,
        /// Milliseconds allowed for one OIDC discovery + JWKS fetch (100 to 60000).
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
        oidc_fetch_timeout_ms: u64,
        /// Route tables of custom services for `/_stsd/authorize` (JSON; see docs/authorizer.md).
        #[arg(long)]
        routes: Option<PathBuf>,
        /// Base domain of virtual-hosted-style S3 requests (`BUCKET.DOMAIN`) for `/_stsd/authorize`;
        /// repeat for several.
        #[arg(long = "s3-domain")]
        s3_domains: Vec<String>,
    },
    /// Read the audit trail from the store.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage accounts on a running server (authenticated with the management root keys from the AWS_* env).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage the keys that seal session tokens on a running server (management root keys from the AWS_* env).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Move a whole installation between stores (stop the servers first).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy accounts, IAM, token keys and the audit trail into an empty store: `DIR` is an embedded store's
    /// data directory, `postgres://…` a shared one.
    Copy {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print stored events (oldest first), one CloudTrail record per line.
    Export {
        /// Directory holding the embedded store.
        #[arg(long, default_value = "./stsd-data")]
        data_dir: PathBuf,
        /// Read a shared store instead (`postgres://…`, as `serve --store`).
        #[arg(long, env = "STSD_STORE")]
        store: Option<String>,
        /// Only events at or after this time (RFC 3339 or Unix seconds).
        #[arg(long)]
        since: Option<String>,
        /// Output format: `jsonl` (to standard output) or `cloudtrail` (gzip JSON Lines files under --out,
        /// laid out as CloudTrail lays out its files).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Directory for `--format cloudtrail`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the public key that verifies this node's digests (keep a copy apart from the store).
    PublicKey {
        #[arg(long, default_value = "./stsd-data")]
        data_dir: PathBuf,
        /// The signing key file (default DATA_DIR/audit-signing.key).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Benchmarks only: append synthetic events shaped like real traffic (see `audit::synth`).
    #[command(hide = true)]
    Generate {
        #[arg(long, default_value = "./stsd-data")]
        data_dir: PathBuf,
        #[arg(long, env = "STSD_STORE")]
        store: Option<String>,
        #[arg(long)]
        events: u64,
        /// Spread the events over this many days before now.
        #[arg(long, default_value_t = 30)]
        days: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Maintainers only: train a compression dictionary on the records of a trail (scripts/train-audit-dict.sh).
    #[command(hide = true)]
    TrainDictionary {
        #[arg(long, default_value = "./stsd-data")]
        data_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 16_384)]
        size: usize,
    },
    /// Check that the trail is whole and unaltered: the stored chain, the signed digests, the export records
    /// and, with --export-dir, the files. Exits 0 when intact; otherwise names what is missing or altered.
    Verify {
        #[arg(long, default_value = "./stsd-data")]
        data_dir: PathBuf,
        #[arg(long, env = "STSD_STORE")]
        store: Option<String>,
        /// The export directory (`serve --audit-export-dir`, or DATA_DIR/audit-export).
        #[arg(long)]
        export_dir: Option<PathBuf>,
        /// Trust only digests signed by this key (hex, from `stsd audit public-key`); repeatable.
        #[arg(long)]
        public_key: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Start sealing new session tokens with a fresh key; older tokens stay valid until they expire.
    Rotate {
        /// Server endpoint, e.g. http://127.0.0.1:8556
        #[arg(long)]
        endpoint: String,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and print its root keys as one JSON object.
    Create {
        #[arg(long)]
        name: String,
        /// 12-digit account ID (random when omitted).
        #[arg(long)]
        id: Option<String>,
        /// Server endpoint, e.g. http://127.0.0.1:8556
        #[arg(long)]
        endpoint: String,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STSD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // When stderr cannot be written (a log file on a full disk), the default reports that with eprintln!,
        // which panics on the same failure and would kill whichever thread logged (e.g. the audit writer).
        .log_internal_errors(false)
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            store,
            audit_retention_days,
            audit_log,
            audit_max_bytes,
            audit_export_dir,
            audit_export_interval,
            audit_digest_interval,
            audit_signing_key,
            audit_check_interval,
            audit_disabled_for_benchmarks,
            allow_http_oidc,
            oidc_fetch_timeout_ms,
            routes,
            s3_domains,
        } => {
            let mut tables = stsd::authorizer::RouteTables::new(s3_domains);
            if let Some(path) = routes {
                tables
                    .load_file(&path)
                    .map_err(|e| anyhow::anyhow!("--routes: {e}"))?;
            }
            let config = Config {
                allow_http_oidc,
                oidc_fetch_timeout: Duration::from_millis(oidc_fetch_timeout_ms),
                audit_recording: !audit_disabled_for_benchmarks,
                ..Config::default()
            };
            serve(
                listen,
                &data_dir,
                store.as_deref(),
                AuditFlags {
                    retention_days: audit_retention_days,
                    log: audit_log,
                    max_bytes: audit_max_bytes,
                    export_dir: audit_export_dir,
                    export_interval: Duration::from_secs(audit_export_interval),
                    digest_interval: Duration::from_secs(audit_digest_interval),
                    signing_key: audit_signing_key,
                    check_interval: Duration::from_secs(audit_check_interval),
                },
                config,
                Arc::new(tables),
            )
        }
        Command::Audit {
            command:
                AuditCommand::Export {
                    data_dir,
                    store,
                    since,
                    format,
                    out,
                },
        } => audit_export(
            &data_dir,
            store.as_deref(),
            since.as_deref(),
            &format,
            out.as_deref(),
        ),
        Command::Audit {
            command: AuditCommand::PublicKey { data_dir, key },
        } => {
            let path = key.unwrap_or_else(|| data_dir.join(SIGNING_KEY_FILE));
            if !path.exists() {
                bail!(
                    "no audit signing key at {} (a server creates it on its first start)",
                    path.display()
                );
            }
            let signer = stsd::audit::digest::Signer::load_or_create(&path)?;
            let k = signer.public_key();
            println!("{}", stsd::audit::digest::public_key_hex(&k));
            eprintln!("fingerprint {}", stsd::audit::digest::fingerprint(&k));
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Generate {
                    data_dir,
                    store,
                    events,
                    days,
                    seed,
                },
        } => {
            let st = existing_store(&data_dir, store.as_deref())?;
            let account = st
                .get_meta("management_account")?
                .unwrap_or_else(|| "111122223333".into());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
            let started = std::time::Instant::now();
            let n = stsd::audit::synth::generate(
                st.as_ref(),
                &account,
                events,
                now - days * 86_400,
                now,
                seed,
            )?;
            eprintln!(
                "stsd: appended {n} synthetic events for {account} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::TrainDictionary {
                    data_dir,
                    out,
                    size,
                },
        } => {
            let st = existing_store(&data_dir, None)?;
            let head = st.audit_head()?;
            // The newest events at most: a sample, and a bound on what is held in memory.
            let from = head.first_seq.max(head.next_seq - MAX_TRAINING_EVENTS);
            let blocks = st.audit_blocks(from, head.next_seq - 1)?;
            let dict = stsd::audit::trail::train_dictionary(&blocks, size)?;
            std::fs::write(&out, &dict)?;
            eprintln!(
                "stsd: trained a {}-byte dictionary on {} blocks",
                dict.len(),
                blocks.len()
            );
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    data_dir,
                    store,
                    export_dir,
                    public_key,
                },
        } => audit_verify(
            &data_dir,
            store.as_deref(),
            export_dir.as_deref(),
            &public_key,
        ),
        Command::Account {
            command: AccountCommand::Create { name, id, endpoint },
        } => account_create(&name, id.as_deref(), &endpoint),
        Command::Keys {
            command: KeysCommand::Rotate { endpoint },
        } => keys_rotate(&endpoint),
        Command::Store {
            command: StoreCommand::Copy { from, to },
        } => store_copy(&from, &to),
    }
}

/// The store: PostgreSQL for a `postgres://` URL, else the embedded SQLite file under `data_dir`.
fn open_store(data_dir: &Path, url: Option<&str>) -> Result<Box<dyn stsd::store::Store>> {
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => Ok(Box::new(
            stsd::store::postgres::PgStore::open(u).context("opening the PostgreSQL store")?,
        )),
        Some(u) => bail!(
            "unsupported --store {:?}: expected postgres://USER[:PASS]@HOST:PORT/DB",
            redact(u)
        ),
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating data dir {}", data_dir.display()))?;
            Ok(Box::new(
                SqliteStore::open(&data_dir.join("stsd.db")).context("opening the store")?,
            ))
        }
    }
}

/// A store named on the command line: a `postgres://` URL or an embedded store's data directory.
fn store_at(spec: &str) -> Result<Box<dyn stsd::store::Store>> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        open_store(Path::new("."), Some(spec))
    } else {
        open_store(Path::new(spec), None)
    }
}

/// `stsd store copy`: everything a node needs — entities (accounts, users, groups, roles, policies, MFA
/// devices, providers), the management account and token key ring, and the audit trail — into an empty
/// store. The short-lived guards (SAML assertions already used, MFA failure counters) start empty.
fn store_copy(from: &str, to: &str) -> Result<()> {
    use stsd::store::Change;
    let src = store_at(from)?;
    let dst = store_at(to)?;
    if !dst
        .load_all()
        .context("reading the destination")?
        .records
        .is_empty()
    {
        bail!("the destination {} is not empty", redact(to));
    }
    let snapshot = src.load_all().context("reading the source")?;
    for chunk in snapshot.records.chunks(500) {
        let changes: Vec<Change> = chunk
            .iter()
            .map(|r| Change::Put {
                record: r.clone(),
                expected: None,
            })
            .collect();
        dst.apply(&changes).context("writing entities")?;
    }
    for name in ["management_account", "token_keys"] {
        if let Some(v) = src.get_meta(name).context("reading settings")? {
            dst.put_meta(name, &v).context("writing settings")?;
        }
    }
    let events =
        stsd::audit::copy_trail(src.as_ref(), dst.as_ref()).context("copying the audit trail")?;
    eprintln!(
        "stsd: copied {} entities and {events} audit events from {} to {}",
        snapshot.records.len(),
        redact(from),
        redact(to)
    );
    Ok(())
}

/// A store URL without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// The signing key's file name in the data directory.
const SIGNING_KEY_FILE: &str = "audit-signing.key";

/// `serve`'s audit options.
struct AuditFlags {
    retention_days: u32,
    log: Option<PathBuf>,
    max_bytes: u64,
    export_dir: Option<PathBuf>,
    export_interval: Duration,
    digest_interval: Duration,
    signing_key: Option<PathBuf>,
    check_interval: Duration,
}

/// `123`, `64K`, `500M`, `20G` (powers of 1024).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (s.get(..i).unwrap_or(""), s.get(i..).unwrap_or("")),
        None => (s, ""),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn serve(
    listen: SocketAddr,
    data_dir: &Path,
    store_url: Option<&str>,
    audit: AuditFlags,
    config: Config,
    routes: Arc<stsd::authorizer::RouteTables>,
) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let store = open_store(data_dir, store_url)?;
    let offset = match std::env::var("STSD_CLOCK_OFFSET_SECS") {
        Ok(v) => v
            .parse::<i64>()
            .context("STSD_CLOCK_OFFSET_SECS must be an integer")?,
        Err(_) => 0,
    };
    let mut app = App::new(store, config, Clock::with_offset(offset)).context("loading state")?;
    app.routes = routes;
    if app.management_account.is_empty() {
        bootstrap(&mut app, data_dir)?;
    }
    let sink = match &audit.log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening audit log {}", p.display()))?,
        ),
        None => None,
    };
    let key_path = audit
        .signing_key
        .clone()
        .unwrap_or_else(|| data_dir.join(SIGNING_KEY_FILE));
    let signer = stsd::audit::digest::Signer::load_or_create(&key_path)?;
    if let Some(d) = &audit.export_dir {
        std::fs::create_dir_all(d)
            .with_context(|| format!("creating audit export dir {}", d.display()))?;
    }
    app.audit.configure(stsd::audit::Settings {
        retention_days: audit.retention_days,
        max_bytes: audit.max_bytes,
        export_dir: audit.export_dir.clone(),
        export_interval: audit.export_interval,
        archive_dir: Some(data_dir.join("audit-export")),
        signer: Some(Arc::new(signer)),
        digest_interval: audit.digest_interval,
        check_interval: audit.check_interval,
        account: app.management_account.clone(),
        region: "us-east-1".into(),
        sink,
    });
    let app = Arc::new(app);
    app.start_follower();
    app.node.start_usage_flusher();
    let app_for_flush = app.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        eprintln!("stsd: listening on http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(stsd::server::run(app, listener, async move {
            let _ = rx.await;
        }));
        shutdown_signal().await;
        tracing::info!("shutting down, draining in-flight requests");
        let _ = tx.send(());
        // Drain, but never hang: a stuck client cannot keep the process alive.
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(Ok(r)) => r.context("server error")?,
            Ok(Err(e)) => bail!("server task failed: {e}"),
            Err(_) => eprintln!("stsd: drain timed out; exiting"),
        }
        Ok::<(), anyhow::Error>(())
    })?;
    app_for_flush.flush_usage();
    // A store that refuses events (disk full) will not take the rest in the next seconds either.
    let drain = if app_for_flush.audit.is_failing() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    };
    if !app_for_flush.audit.flush(drain) {
        tracing::error!(
            requests = app_for_flush.audit.queue_depth(),
            "the audit queue did not drain in time; the events of these requests are lost"
        );
    }
    // Stored events are durable already (the embedded store's journal); settling moves them into place so
    // the next start has nothing to recover.
    if let Err(e) = app_for_flush.node.store().audit_settle() {
        tracing::warn!(error = %e, "settling the audit trail; the next start recovers it");
    }
    Ok(())
}

/// `stsd audit export`: stored events, oldest first, one JSON record per line (or as CloudTrail files).
fn audit_export(
    data_dir: &Path,
    store_url: Option<&str>,
    since: Option<&str>,
    format: &str,
    out: Option<&Path>,
) -> Result<()> {
    use stsd::store::AuditQuery;
    let since = match since {
        Some(s) => Some(
            stsd::cloudtrail::parse_time(s)
                .with_context(|| format!("--since {s:?} is neither RFC 3339 nor Unix seconds"))?,
        ),
        None => None,
    };
    let store = existing_store(data_dir, store_url)?;
    match format {
        "jsonl" => {}
        "cloudtrail" => {
            let dir = out.context("--format cloudtrail needs --out DIR")?;
            std::fs::create_dir_all(dir)?;
            let now = Clock::default().now();
            let files = stsd::audit::export::write_copy(store.as_ref(), dir, since, now)?;
            eprintln!("stsd: wrote {} files under {}", files.len(), dir.display());
            for f in files {
                println!("{}", f.name);
            }
            return Ok(());
        }
        other => bail!("unsupported format {other:?} (jsonl or cloudtrail)"),
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut cursor = None;
    loop {
        let rows = stsd::audit::query::lookup(
            store.as_ref(),
            &AuditQuery {
                since,
                cursor,
                ascending: true,
                limit: 4096,
                ..AuditQuery::default()
            },
        )
        .context("reading audit events")?;
        let Some(last) = rows.last() else { break };
        cursor = Some(last.seq);
        for r in &rows {
            writeln!(out, "{}", r.body)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The store of an existing installation (refusing to create an empty one by mistake).
fn existing_store(data_dir: &Path, store_url: Option<&str>) -> Result<Box<dyn stsd::store::Store>> {
    if store_url.is_none() && !data_dir.join("stsd.db").exists() {
        bail!("no store at {}", data_dir.join("stsd.db").display());
    }
    open_store(data_dir, store_url)
}

/// `stsd audit verify`.
fn audit_verify(
    data_dir: &Path,
    store_url: Option<&str>,
    export_dir: Option<&Path>,
    keys: &[String],
) -> Result<()> {
    let store = existing_store(data_dir, store_url)?;
    let pinned = keys
        .iter()
        .map(|k| {
            stsd::audit::digest::parse_public_key(k)
                .with_context(|| format!("--public-key {k:?} is not a hex Ed25519 public key"))
        })
        .collect::<Result<Vec<_>>>()?;
    // Without --export-dir, the directory the server archives into when none is configured.
    let archive = data_dir.join("audit-export");
    let export_dir = export_dir.or_else(|| archive.is_dir().then_some(archive.as_path()));
    let report = stsd::audit::verify::verify(store.as_ref(), export_dir, &pinned)?;
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    if report.intact() {
        println!("audit trail intact");
        return Ok(());
    }
    for p in &report.problems {
        println!("PROBLEM: {p}");
    }
    std::process::exit(1);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// First start: create the management account with root keys from the environment or freshly generated.
/// Race-free when several nodes start together on one empty store: the first node to record its account ID
/// decides it, and the account is created once (a second creation is refused by the store's revision check
/// and then found to exist). With generated keys, only the node that created the account writes them.
fn bootstrap(app: &mut App, data_dir: &Path) -> Result<()> {
    let env_id = match std::env::var("STSD_ACCOUNT_ID") {
        Ok(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => Some(id),
        Ok(id) => bail!("STSD_ACCOUNT_ID must be 12 digits, got {id:?}"),
        Err(_) => None,
    };
    let env_key = match (
        std::env::var("STSD_ROOT_ACCESS_KEY_ID"),
        std::env::var("STSD_ROOT_SECRET_ACCESS_KEY"),
    ) {
        (Ok(k), Ok(s)) => {
            if !stsd::ids::is_well_formed_key_id(&k) {
                bail!("STSD_ROOT_ACCESS_KEY_ID is not a well-formed access key ID");
            }
            if s.is_empty() || s.len() > 128 {
                bail!("STSD_ROOT_SECRET_ACCESS_KEY must be 1..128 characters");
            }
            Some((k, s))
        }
        (Err(_), Err(_)) => None,
        _ => bail!("set both STSD_ROOT_ACCESS_KEY_ID and STSD_ROOT_SECRET_ACCESS_KEY, or neither"),
    };
    let candidate = env_id.unwrap_or_else(stsd::ids::account_id);
    let id = app
        .claim_management_account(&candidate)
        .context("recording the management account")?;
    let mine = id == candidate;
    // Another node recorded its own (generated) ID first: wait for it to create the account.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !mine && !app.has_account(&id) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        app.refresh(None).context("reading the store")?;
    }
    if app.has_account(&id) {
        eprintln!("stsd: management account {id} (created by another node)");
        return Ok(());
    }
    let generated = env_key.is_none();
    let key = match stsd::iam::create_account_for_management(app, &id, env_key) {
        Ok(key) => key,
        Err(e) if e.code == stsd::error::ErrorCode::EntityAlreadyExists => {
            eprintln!("stsd: management account {id} (created by another node)");
            return Ok(());
        }
        Err(e) => bail!("{e}"),
    };
    if generated {
        let path = data_dir.join("root-credentials.json");
        let body = serde_json::json!({"AccountId": id, "AccessKeyId": key.id, "SecretAccessKey": key.secret});
        write_private(&path, &serde_json::to_vec_pretty(&body)?)?;
        eprintln!(
            "stsd: created management account {id}; root access key {} (secret written to {})",
            key.id,
            path.display()
        );
    } else {
        eprintln!(
            "stsd: created management account {id}; root access key {} (from STSD_ROOT_ACCESS_KEY_ID)",
            key.id
        );
    }
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

/// `stsd account create`: a signed call to the running server's `CreateAccount` extension.
fn account_create(name: &str, id: Option<&str>, endpoint: &str) -> Result<()> {
    let mut params = vec![("Action", "CreateAccount"), ("AccountName", name)];
    if let Some(id) = id {
        params.push(("AccountId", id));
    }
    let text = call_extension(endpoint, &params)?;
    let out = serde_json::json!({
        "AccountId": xml_text(&text, "AccountId").context("no AccountId in response")?,
        "AccessKeyId": xml_text(&text, "AccessKeyId").context("no AccessKeyId in response")?,
        "SecretAccessKey": xml_text(&text, "SecretAccessKey").context("no SecretAccessKey in response")?,
    });
    println!("{out}");
    Ok(())
}

/// `stsd keys rotate`: a signed call to the `RotateTokenKeys` extension.
fn keys_rotate(endpoint: &str) -> Result<()> {
    let text = call_extension(endpoint, &[("Action", "RotateTokenKeys")])?;
    let active = xml_text(&text, "ActiveKeyId").context("no ActiveKeyId in response")?;
    println!(
        "{}",
        serde_json::json!({ "ActiveKeyId": active.parse::<u64>().unwrap_or(0) })
    );
    Ok(())
}

/// POST an IAM-namespace stsd extension action, SigV4-signed with the AWS_* environment credentials.
fn call_extension(endpoint: &str, params: &[(&str, &str)]) -> Result<String> {
    let key_id = std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID is not set")?;
    let secret =
        std::env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY is not set")?;
    let token = std::env::var("AWS_SESSION_TOKEN").ok();
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Version", "2010-05-08");
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let url = endpoint.trim_end_matches('/');
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .context("--endpoint must start with http:// or https://")?;
    let host = host.split('/').next().unwrap_or(host);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = sigv4::sign_request(&sigv4::SigningParams {
        method: "POST",
        host,
        path: "/",
        query: "",
        headers: &[("content-type", content_type)],
        body: body.as_bytes(),
        access_key_id: &key_id,
        secret_access_key: &secret,
        session_token: token.as_deref(),
        region: &region,
        service: "iam",
        timestamp: now,
    })
    .map_err(|e| anyhow::anyhow!("signing failed: {e}"))?;
    let mut req = ureq::post(&format!("{url}/")).header("content-type", content_type);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req
        .config()
        .http_status_as_error(false)
        .build()
        .send(body.as_bytes())
        .context("contacting the server")?;
    let status = resp.status().as_u16();
    let text = resp
        .into_body()
        .read_to_string()
        .context("reading the response")?;
    if status != 200 {
        let code = xml_text(&text, "Code").unwrap_or_default();
        let msg = xml_text(&text, "Message").unwrap_or_default();
        bail!(
            "{} failed ({status}): {code}: {msg}",
            params.first().map_or("call", |p| p.1)
        );
    }
    Ok(text)
}

/// Text of the first `<tag>` in one of our own responses (entity-decoded).
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let (_, after) = xml.split_once(&format!("<{tag}>"))?;
    let (raw, _) = after.split_once(&format!("</{tag}>"))?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#9;", "\t")
            .replace("&#10;", "\n")
            .replace("&#13;", "\r")
            .replace("&amp;", "&"),
    )
}
