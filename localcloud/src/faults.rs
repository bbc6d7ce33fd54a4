//! Faults the local cloud can inject, per test: AWS's own throttling and server errors, added
//! latency and dropped connections on chosen AWS calls; a failed CodeBuild build; a function that crashes or overruns its
//! timeout mid-invocation; a git remote that stalls or drops connections. Nothing is injected
//! unless a test asks.

use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// AWS's throttling answer for the service's protocol (HTTP 400 `ThrottlingException`;
    /// Lambda: 429 `TooManyRequestsException`).
    Throttle,
    /// HTTP 500 `InternalFailure` or 503 `ServiceUnavailable`.
    ServerError(u16),
    /// The call goes through, this much later.
    Latency(Duration),
    /// The connection closes without an answer.
    Drop,
    /// An error AWS answers in a documented case, e.g. CodeBuild's 400
    /// `AccountLimitExceededException` for a new account's build.
    Refused { status: u16, code: &'static str, message: &'static str },
}

impl Kind {
    /// AWS's AccessDenied answer with `message`.
    pub fn access_denied(message: &'static str) -> Kind {
        Kind::Refused { status: 400, code: "AccessDeniedException", message }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Often {
    /// The next N matching calls.
    Next(u32),
    /// Every matching call until cleared.
    Always,
    /// This fraction of matching calls (deterministic: every ⌈1/f⌉-th).
    Fraction(f64),
}

/// One fault on one service's calls: `service` is the signing name (`ecs`, `ecr`, `codebuild`,
/// `states`, `s3`, `lambda`, ...), `operation` the API operation (`UpdateService`), or any.
#[derive(Debug, Clone)]
pub struct Fault {
    pub service: String,
    pub operation: Option<String>,
    pub kind: Kind,
    pub often: Often,
    seen: u32,
}

impl Fault {
    pub fn new(service: &str, operation: Option<&str>, kind: Kind, often: Often) -> Self {
        Fault { service: service.into(), operation: operation.map(String::from), kind, often, seen: 0 }
    }
}

/// What happens to one function's next invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionFault {
    /// The process dies once it has the invocation: `Runtime.ExitError`.
    Crash,
    /// The invocation runs past its deadline: Lambda stops the process, `Sandbox.Timedout`
    /// (ended at once here instead of after the configured timeout).
    Overrun,
}

/// How the git remote misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GitFault {
    #[default]
    None,
    /// Accepts connections and never answers.
    Stall,
    /// Closes every connection at once.
    Drop,
}

#[derive(Default)]
pub struct Faults {
    calls: Mutex<Vec<Fault>>,
    functions: Mutex<Vec<(String, FunctionFault)>>,
    /// Builds to fail, with the reason their log gives.
    pub failing_builds: Mutex<Vec<String>>,
    /// Builds whose environment changes a byte of btcd (see [`crate::codebuild::Tampering`]).
    pub tampered_builds: Mutex<u32>,
    pub git: Mutex<GitFault>,
    /// Every fault injected: (service or function, operation, kind).
    pub injected: Mutex<Vec<String>>,
    /// Step Functions' ListExecutions shows an execution only this long after it started (AWS:
    /// the listing is eventually consistent). Zero: at once.
    pub listing_lag: Mutex<Duration>,
}

impl Faults {
    pub fn on_call(&self, fault: Fault) {
        self.calls.lock().unwrap().push(fault);
    }

    pub fn on_function(&self, function: &str, fault: FunctionFault) {
        self.functions.lock().unwrap().push((function.to_string(), fault));
    }

    pub fn fail_next_build(&self, reason: &str) {
        self.failing_builds.lock().unwrap().push(reason.to_string());
    }

    pub fn tamper_next_build(&self) {
        *self.tampered_builds.lock().unwrap() += 1;
    }

    /// Whether this build is to be tampered with (and counts it).
    pub fn take_tampered_build(&self) -> bool {
        let mut left = self.tampered_builds.lock().unwrap();
        let tampered = *left > 0;
        *left = left.saturating_sub(1);
        tampered
    }

    pub fn git(&self, fault: GitFault) {
        *self.git.lock().unwrap() = fault;
    }

    /// Back to a healthy cloud.
    /// ListExecutions' answer (JSON) without the executions started within the lag.
    pub fn lagging_listing(&self, body: bytes::Bytes) -> bytes::Bytes {
        let lag = *self.listing_lag.lock().unwrap();
        if lag.is_zero() {
            return body;
        }
        let Ok(mut listing) = serde_json::from_slice::<serde_json::Value>(&body) else { return body };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let newest_shown = now.saturating_sub(lag).as_secs_f64();
        if let Some(executions) = listing["executions"].as_array_mut() {
            executions.retain(|e| e["startDate"].as_f64().is_none_or(|started| started <= newest_shown));
        }
        listing.to_string().into()
    }

    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
        self.functions.lock().unwrap().clear();
        self.failing_builds.lock().unwrap().clear();
        *self.tampered_builds.lock().unwrap() = 0;
        *self.git.lock().unwrap() = GitFault::None;
    }

    /// The fault this call meets, if any (and counts it).
    pub fn for_call(&self, service: &str, operation: &str) -> Option<Kind> {
        let mut calls = self.calls.lock().unwrap();
        let fault =
            calls.iter_mut().find(|f| f.service == service && f.operation.as_deref().is_none_or(|o| o == operation))?;
        fault.seen += 1;
        let hit = match fault.often {
            Often::Next(0) => false,
            Often::Next(ref mut left) => {
                *left -= 1;
                true
            }
            Often::Always => true,
            Often::Fraction(f) => f > 0.0 && fault.seen % ((1.0 / f).ceil() as u32).max(1) == 0,
        };
        hit.then(|| {
            self.injected.lock().unwrap().push(format!("{service} {operation} {:?}", fault.kind));
            fault.kind.clone()
        })
    }

    /// The fault the function's next invocation meets, if any (taken: it happens once).
    pub fn for_function(&self, function: &str) -> Option<FunctionFault> {
        let mut functions = self.functions.lock().unwrap();
        let index = functions.iter().position(|(name, _)| name == function)?;
        let (_, fault) = functions.remove(index);
        self.injected.lock().unwrap().push(format!("{function} {fault:?}"));
        Some(fault)
    }
}

/// The answer AWS gives for `kind` in the service's protocol: (status, content type, body).
pub fn error_response(service: &str, kind: &Kind) -> (u16, &'static str, String) {
    let (status, code, message) = match (kind, service) {
        (Kind::Throttle, "lambda") => (429, "TooManyRequestsException", "Rate exceeded"),
        (Kind::Throttle, _) => (400, "ThrottlingException", "Rate exceeded"),
        (Kind::ServerError(503), _) => (503, "ServiceUnavailable", "Service unavailable"),
        (Kind::ServerError(status), _) => (*status, "InternalFailure", "We encountered an internal error"),
        (Kind::Refused { status, code, message }, _) => (*status, *code, *message),
        _ => unreachable!("latency and dropped connections are not answers"),
    };
    let (content_type, body) = crate::http::aws_error_body(service, code, message);
    (status, content_type, body)
}

/// (signing service, operation) of a signed AWS request: the service from the credential scope
/// of its Authorization header, the operation from `X-Amz-Target` (JSON protocols), else the
/// `Action` of the query protocol — in the query string or, as the SDKs send it (CloudFormation,
/// IAM, STS), in the form body — else the method and path.
pub fn call_of(
    headers: &hyper::HeaderMap,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Option<(String, String)> {
    let (_, service) = crate::http::signer_of(headers)?;
    let service = service.to_string();
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let action = |form: &[u8]| crate::http::form(form).remove("Action").and_then(|mut a| a.pop());
    let is_form = headers
        .get("content-type")
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let operation = match headers.get("x-amz-target").and_then(|t| t.to_str().ok()) {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_string(),
        None => action(query.as_bytes())
            .or_else(|| is_form.then(|| action(body)).flatten())
            .unwrap_or_else(|| format!("{method} {path}")),
    };
    Some((service, operation))
}

/// A TCP proxy in front of the git daemon: the stack's repository URL points here, so a test can
/// make the remote stall or drop connections (see [`GitFault`]).
pub async fn git_proxy(target_port: u16, faults: std::sync::Arc<Faults>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("git proxy port");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { continue };
            let fault = *faults.git.lock().unwrap();
            if fault != GitFault::None {
                faults.injected.lock().unwrap().push(format!("git {fault:?}"));
            }
            tokio::spawn(async move {
                match fault {
                    GitFault::Drop => drop(inbound),
                    // Bounded: the client's own timeout ends it long before.
                    GitFault::Stall => {
                        tokio::time::sleep(Duration::from_secs(300)).await;
                        drop(inbound);
                    }
                    GitFault::None => {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }
                }
            });
        }
    });
    port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_n_then_nothing_and_fractions_are_deterministic() {
        let faults = Faults::default();
        faults.on_call(Fault::new("ecs", Some("UpdateService"), Kind::Throttle, Often::Next(2)));
        assert_eq!(faults.for_call("ecs", "DescribeServices"), None);
        assert_eq!(faults.for_call("ecs", "UpdateService"), Some(Kind::Throttle));
        assert_eq!(faults.for_call("ecs", "UpdateService"), Some(Kind::Throttle));
        assert_eq!(faults.for_call("ecs", "UpdateService"), None);
        faults.clear();
        faults.on_call(Fault::new("ecr", None, Kind::ServerError(500), Often::Fraction(0.5)));
        let hits: Vec<bool> = (0..4).map(|_| faults.for_call("ecr", "DescribeImages").is_some()).collect();
        assert_eq!(hits, [false, true, false, true]);
        assert_eq!(faults.injected.lock().unwrap().len(), 4);
    }

    #[test]
    fn a_query_protocol_action_is_read_from_the_form_body_too() {
        let mut headers = hyper::HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIA/20261207/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0"
                .parse()
                .unwrap(),
        );
        headers.insert("content-type", "application/x-www-form-urlencoded; charset=utf-8".parse().unwrap());
        let body = b"Action=UpdateStack&Version=2010-05-15&StackName=sigship";
        assert_eq!(call_of(&headers, "POST", "/", body), Some(("cloudformation".into(), "UpdateStack".into())));
        assert_eq!(
            call_of(&headers, "GET", "/?Action=DescribeStacks&StackName=s", b""),
            Some(("cloudformation".into(), "DescribeStacks".into()))
        );
        headers.remove("content-type");
        assert_eq!(
            call_of(&headers, "PUT", "/bucket/key?x-id=PutObject", b"Action=x"),
            Some(("cloudformation".into(), "PUT /bucket/key".into()))
        );
    }

    #[test]
    fn errors_speak_the_services_protocol() {
        assert_eq!(error_response("lambda", &Kind::Throttle).0, 429);
        let (status, _, body) = error_response("ecs", &Kind::Throttle);
        assert_eq!((status, body.as_str()), (400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#));
        assert!(error_response("sts", &Kind::ServerError(503)).2.contains("<Code>ServiceUnavailable</Code>"));
    }
}
