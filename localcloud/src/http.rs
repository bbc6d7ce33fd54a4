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

/// (access key, signing service) of a SigV4-signed request, from its Authorization header's
/// credential scope (`Credential=<key>/<date>/<region>/<service>/aws4_request`).
/// A form (`a=1&b=2&b=3`, a query string or an `application/x-www-form-urlencoded` body) →
/// {a: [1], b: [2, 3]}, decoded as the form encoding says (`+` is a space).
pub fn form(text: &[u8]) -> std::collections::HashMap<String, Vec<String>> {
    let mut params = std::collections::HashMap::<String, Vec<String>>::new();
    for (key, value) in form_urlencoded::parse(text) {
        params.entry(key.into_owned()).or_default().push(value.into_owned());
    }
    params
}

pub fn signer_of(headers: &hyper::HeaderMap) -> Option<(&str, &str)> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let scope = authorization.split("Credential=").nth(1)?.split(',').next()?;
    let mut parts = scope.split('/');
    Some((parts.next()?, parts.nth(2)?))
}

/// AWS's AccessDenied in the service's protocol: the query services and S3 answer 403
/// `AccessDenied`, the REST-JSON ones (Lambda, EFS) 403 `AccessDeniedException`, the JSON ones
/// 400 `AccessDeniedException`.
pub fn access_denied(service: &str, message: &str) -> Reply {
    let (status, code) = match service {
        "s3" | "sts" | "iam" | "cloudformation" | "sns" => (403, "AccessDenied"),
        "lambda" | "elasticfilesystem" => (403, "AccessDeniedException"),
        _ => (400, "AccessDeniedException"),
    };
    aws_error(service, status, code, message)
}

/// An AWS error's content type and body in the service's protocol: S3's XML, the query
/// services' XML, else JSON.
pub fn aws_error_body(service: &str, code: &str, message: &str) -> (&'static str, String) {
    if service == "s3" {
        ("application/xml", format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"))
    } else if matches!(service, "sts" | "iam" | "cloudformation" | "sns") {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"),
        )
    } else {
        ("application/x-amz-json-1.1", serde_json::json!({"__type": code, "message": message}).to_string())
    }
}

/// An AWS error answer (the error type also in `x-amzn-errortype`, which REST-JSON clients read).
pub fn aws_error(service: &str, status: u16, code: &str, message: &str) -> Reply {
    let (content_type, body) = aws_error_body(service, code, message);
    let mut response = reply(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body);
    response.headers_mut().insert("content-type", content_type.parse().unwrap());
    if let Ok(code) = code.parse() {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}
