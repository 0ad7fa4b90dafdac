//! A small notes service that accepts stsd credentials through [`stsd_authz_layer::AuthzLayer`].
//!
//! Start stsd with the route table of this service, then the service, then sign requests for the SigV4 service
//! name `notes` with stsd credentials (any AWS SDK's signer, or `aws --endpoint-url … s3api`-style tools):
//!
//! ```sh
//! stsd serve --routes crates/stsd-authz-layer/examples/notes-routes.json &
//! cargo run -p stsd-authz-layer --example protected_service -- http://127.0.0.1:8556 127.0.0.1:8600
//! ```
//!
//! `GET /notes` lists, `GET /notes/{id}` reads, `PUT /notes/{id}` writes (the body), `DELETE /notes/{id}`
//! deletes; every handler knows who called from the [`Principal`] the layer put in the request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use stsd_authz_layer::{AuthzConfig, AuthzLayer, Principal};

type Notes = Arc<Mutex<BTreeMap<String, String>>>;

/// Who called, in the response headers (so a client sees what stsd decided).
fn with_principal(p: &Principal, status: StatusCode, body: String) -> Response {
    let team = p.session_tags.get("team").cloned().unwrap_or_default();
    (
        status,
        [
            ("x-principal-arn", p.arn.clone()),
            ("x-principal-account", p.account.clone()),
            ("x-session-team", team),
        ],
        body,
    )
        .into_response()
}

async fn list(State(notes): State<Notes>, Extension(p): Extension<Principal>) -> Response {
    let ids: Vec<String> = notes
        .lock()
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    with_principal(&p, StatusCode::OK, ids.join("\n"))
}

async fn read(
    State(notes): State<Notes>,
    Path(id): Path<String>,
    Extension(p): Extension<Principal>,
) -> Response {
    match notes.lock().ok().and_then(|n| n.get(&id).cloned()) {
        Some(text) => with_principal(&p, StatusCode::OK, text),
        None => with_principal(&p, StatusCode::NOT_FOUND, format!("no note {id}")),
    }
}

async fn write(
    State(notes): State<Notes>,
    Path(id): Path<String>,
    Extension(p): Extension<Principal>,
    body: String,
) -> Response {
    if let Ok(mut n) = notes.lock() {
        n.insert(id, body);
    }
    with_principal(&p, StatusCode::OK, String::new())
}

async fn remove(
    State(notes): State<Notes>,
    Path(id): Path<String>,
    Extension(p): Extension<Principal>,
) -> Response {
    let existed = notes.lock().is_ok_and(|mut n| n.remove(&id).is_some());
    let status = if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    };
    with_principal(&p, status, String::new())
}

/// The service's routes behind the layer.
pub fn app(layer: AuthzLayer) -> Router {
    let notes: Notes = Arc::default();
    Router::new()
        .route("/notes", get(list))
        .route("/notes/{id}", get(read).put(write).delete(remove))
        .with_state(notes)
        .layer(layer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let stsd = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8556".to_string());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8600".to_string());
    let layer = AuthzLayer::new(AuthzConfig::new(stsd, "notes"));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("notes service on http://{listen}");
    axum::serve(listener, app(layer)).await?;
    Ok(())
}
