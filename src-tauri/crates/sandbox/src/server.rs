//! The running server: a hyper accept loop around the axum router, with fault injection at the
//! connection level (a reset must drop the connection, which a router cannot do).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Request, Response, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::FaultKind;
use crate::error::ApiError;
use crate::faults::{WRITE_FATE, WriteFate};
use crate::state::AppState;
use crate::{admin, auth, ratelimit, routes};

pub fn router(st: AppState) -> Router {
    let api = routes::authed(st.profile())
        .layer(from_fn_with_state(st.clone(), ratelimit::enforce))
        .layer(from_fn_with_state(st.clone(), auth::require));
    Router::new()
        .route("/api/public/health", get(routes::health::health))
        .merge(api)
        .nest("/_sandbox", admin::router())
        .nest("/_media", crate::media::blob::router())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::disable())
        .with_state(st)
}

#[derive(Debug, thiserror::Error)]
#[error("injected fault: connection reset")]
struct InjectedReset;

fn status_response(code: u16) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body =
        json!({"message": status.canonical_reason().unwrap_or("Error"), "error": "injected fault"});
    (status, axum::Json(body)).into_response()
}

/// Runs one request through faults and the router.
async fn serve_one(
    st: AppState,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, InjectedReset> {
    let req = req.map(Body::new);
    if !req.uri().path().starts_with("/api/public/") {
        return Ok(router
            .oneshot(req)
            .await
            .unwrap_or_else(|e: Infallible| match e {}));
    }
    *st.requests
        .lock()
        .entry(format!("{} {}", req.method(), req.uri().path()))
        .or_default() += 1;
    let mut req = crate::request_check::check(&st, req).await;
    let path = req.uri().path();
    if let Some((_, code)) = st
        .config
        .failing_paths
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
    {
        return Ok(status_response(*code));
    }
    let is_batch = req.method() == Method::POST && path == "/api/public/ingestion";
    let (fired, slow_ms, timeout_ms, long_delay_ms) = {
        let mut f = st.faults.lock();
        let fired = if f.applies_to(req.method(), path) {
            f.decide(is_batch)
        } else {
            None
        };
        let c = f.config();
        (fired, c.slow_ms, c.timeout_ms, c.long_delay_ms)
    };
    let Some(fired) = fired else {
        return Ok(router
            .oneshot(req)
            .await
            .unwrap_or_else(|e: Infallible| match e {}));
    };
    match fired.kind {
        FaultKind::Http500 => Ok(status_response(500)),
        FaultKind::Http502 => Ok(status_response(502)),
        FaultKind::Http503 => Ok(status_response(503)),
        FaultKind::Http504 => Ok(status_response(504)),
        FaultKind::ConnectionReset => Err(InjectedReset),
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(slow_ms)).await;
            Ok(router
                .oneshot(req)
                .await
                .unwrap_or_else(|e: Infallible| match e {}))
        }
        FaultKind::TimeoutAfterApply => {
            let resp = router
                .oneshot(req)
                .await
                .unwrap_or_else(|e: Infallible| match e {});
            tokio::time::sleep(Duration::from_millis(timeout_ms)).await;
            Ok(resp)
        }
        FaultKind::DropAfterAccept => {
            let resp = WRITE_FATE
                .scope(WriteFate::Dropped, router.oneshot(req))
                .await
                .unwrap_or_else(|e: Infallible| match e {});
            st.store.write().purge_dropped();
            Ok(resp)
        }
        FaultKind::LongDelay => Ok(WRITE_FATE
            .scope(WriteFate::DelayedMs(long_delay_ms), router.oneshot(req))
            .await
            .unwrap_or_else(|e: Infallible| match e {})),
        FaultKind::Partial207 => {
            req.extensions_mut().insert(fired);
            Ok(router
                .oneshot(req)
                .await
                .unwrap_or_else(|e: Infallible| match e {}))
        }
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

pub async fn bind(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
