//! The running server: a hyper accept loop around the axum router. Paths are normalised first
//! (`/api/v1/x` → `/x`, `/api/v2/x` → `/v2/x`, no trailing slash) so each route is written once;
//! faults fire at the connection level (a reset must drop the connection, which a router cannot).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, Response, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use langfuse_sandbox::FaultKind;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{admin, auth, ratelimit, routes};

pub fn router(st: AppState) -> Router {
    let api = routes::authed()
        .layer(from_fn_with_state(st.clone(), ratelimit::enforce))
        .layer(from_fn_with_state(st.clone(), auth::require));
    Router::new()
        .merge(routes::public())
        .merge(api)
        .nest("/_sandbox", admin::router())
        .fallback(|| async { ApiError::not_found("Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::Detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed".into())
        })
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(st)
}

/// `/api/v1/runs/query/` → `/runs/query`; `/api/v2/runs/query` → `/v2/runs/query`.
pub fn normalise(path: &str) -> String {
    let p = if let Some(rest) = path.strip_prefix("/api/v1") {
        rest.to_string()
    } else if let Some(rest) = path.strip_prefix("/api/v2") {
        format!("/v2{rest}")
    } else {
        path.to_string()
    };
    let p = p.trim_end_matches('/');
    if p.is_empty() { "/".into() } else { p.into() }
}

fn rewrite(req: &mut Request<Body>) {
    let path = normalise(req.uri().path());
    let pq = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if let Ok(uri) = pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

#[derive(Debug, thiserror::Error)]
#[error("injected fault: connection reset")]
struct InjectedReset;

fn injected(code: u16) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::Detail(status, "injected fault".into()).into_response()
}

async fn serve_one(
    st: AppState,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, InjectedReset> {
    let mut req = req.map(Body::new);
    rewrite(&mut req);
    let path = req.uri().path();
    let call = |r| async {
        router
            .clone()
            .oneshot(r)
            .await
            .unwrap_or_else(|e: Infallible| match e {})
    };
    if path.starts_with("/_sandbox") || path == "/info" {
        return Ok(call(req).await);
    }
    let (fired, slow_ms, timeout_ms) = {
        let mut f = st.faults.lock();
        let fired = f.decide(false);
        (fired, f.config().slow_ms, f.config().timeout_ms)
    };
    let Some(fired) = fired else {
        return Ok(call(req).await);
    };
    match fired.kind {
        FaultKind::Http500 | FaultKind::Partial207 => Ok(injected(500)),
        FaultKind::Http502 => Ok(injected(502)),
        FaultKind::Http503 => Ok(injected(503)),
        FaultKind::Http504 => Ok(injected(504)),
        FaultKind::ConnectionReset => Err(InjectedReset),
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(slow_ms)).await;
            Ok(call(req).await)
        }
        FaultKind::TimeoutAfterApply => {
            let resp = call(req).await;
            tokio::time::sleep(Duration::from_millis(timeout_ms)).await;
            Ok(resp)
        }
        // Langfuse's asynchronous ingestion faults; this double does not model them.
        FaultKind::DropAfterAccept | FaultKind::LongDelay => Ok(call(req).await),
    }
}

/// Accepts connections until `shutdown` flips, then drops every open connection.
pub async fn run(listener: TcpListener, st: AppState, mut shutdown: watch::Receiver<bool>) {
    let app = router(st.clone());
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (st, app) = (st.clone(), app.clone());
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| serve_one(st.clone(), app.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}
