//! The `stsd` command line: `serve` and `account create`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};

use stsd::app::{App, Clock, Config};
use stsd::store::sqlite::SqliteStore;

/// Default listen address: loopback only, so a first run exposes nothing.
const DEFAULT_LISTEN: &str = "127.0.0.1:8556";

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
        /// Output format (only `jsonl`).
        #[arg(long, default_value = "jsonl")]
        format: String,
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
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            store,
            audit_retention_days,
            audit_log,
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
                routes: Arc::new(tables),
                ..Config::default()
            };
            serve(
                listen,
                &data_dir,
                store.as_deref(),
                audit_retention_days,
                audit_log.as_deref(),
                config,
            )
        }
        Command::Audit {
            command:
                AuditCommand::Export {
                    data_dir,
                    store,
                    since,
                    format,
                },
        } => audit_export(&data_dir, store.as_deref(), since.as_deref(), &format),
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
    use stsd::store::{AuditQuery, Change};
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
    let mut cursor = None;
    let mut events = 0usize;
    loop {
        let rows = src
            .query_audit(&AuditQuery {
                cursor,
                ascending: true,
                limit: 1000,
                ..AuditQuery::default()
            })
            .context("reading audit events")?;
        let Some(last) = rows.last() else { break };
        cursor = Some(last.seq);
        dst.append_audit(&rows).context("writing audit events")?;
        events += rows.len();
    }
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
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn serve(
    listen: SocketAddr,
    data_dir: &Path,
    store_url: Option<&str>,
    audit_retention_days: u32,
    audit_log: Option<&Path>,
    config: Config,
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
    if app.management_account.is_empty() {
        bootstrap(&mut app, data_dir)?;
    }
    let sink = match audit_log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening audit log {}", p.display()))?,
        ),
        None => None,
    };
    app.audit.configure(audit_retention_days, sink);
    let app = Arc::new(app);
    app.start_follower();
    stsd::usage::spawn_flusher(&app);
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
        eprintln!("stsd: shutting down, draining in-flight requests");
        let _ = tx.send(());
        // Drain, but never hang: a stuck client cannot keep the process alive.
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(Ok(r)) => r.context("server error")?,
            Ok(Err(e)) => bail!("server task failed: {e}"),
            Err(_) => eprintln!("stsd: drain timed out; exiting"),
        }
        Ok::<(), anyhow::Error>(())
    })?;
    stsd::usage::flush(&app_for_flush);
    if !app_for_flush.audit.flush(Duration::from_secs(10)) {
        eprintln!("stsd: audit queue did not drain in time; some events may be lost");
    }
    Ok(())
}

/// `stsd audit export`: stored events, oldest first, one JSON record per line.
fn audit_export(
    data_dir: &Path,
    store_url: Option<&str>,
    since: Option<&str>,
    format: &str,
) -> Result<()> {
    use stsd::store::AuditQuery;
    if format != "jsonl" {
        bail!("unsupported format {format:?} (only jsonl)");
    }
    let since = match since {
        Some(s) => Some(
            stsd::audit::lookup::parse_time(s)
                .with_context(|| format!("--since {s:?} is neither RFC 3339 nor Unix seconds"))?,
        ),
        None => None,
    };
    if store_url.is_none() && !data_dir.join("stsd.db").exists() {
        bail!("no store at {}", data_dir.join("stsd.db").display());
    }
    let store = open_store(data_dir, store_url)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut cursor = None;
    loop {
        let rows = store
            .query_audit(&AuditQuery {
                since,
                cursor,
                ascending: true,
                limit: 1000,
                ..AuditQuery::default()
            })
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
        app.refresh().context("reading the store")?;
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
        eprintln!("stsd: created management account {id}; root access key {} (from STSD_ROOT_ACCESS_KEY_ID)", key.id);
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
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let raw = &xml[start..end];
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
