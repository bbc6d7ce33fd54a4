//! Minimal HTTP plumbing shared by the router and the runtime host.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub type Reply = Response<Full<Bytes>>;

/// Serves `handler` on `listener` until the runtime stops. Each request's body is read in full:
/// everything here is small JSON.
pub fn serve<S, F, Fut>(listener: TcpListener, state: Arc<S>, handler: F)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Bytes>) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            // One write per response without Nagle's delay (~90 ms a call otherwise).
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let reply = handler(state, Request::from_parts(parts, body)).await;
                        // An error closes the connection without an answer.
                        if reply.extensions().get::<Dropped>().is_some() {
                            return Err(std::io::Error::other("connection dropped (injected fault)"));
                        }
                        Ok(reply)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}

/// Marks a reply that must not be sent: the connection closes instead.
#[derive(Clone, Copy)]
pub struct Dropped;

pub fn dropped() -> Reply {
    let mut response = reply(StatusCode::INTERNAL_SERVER_ERROR, "");
    response.extensions_mut().insert(Dropped);
    response
}

pub fn reply(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}
