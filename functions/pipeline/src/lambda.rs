//! The one way a sigship function runs: JSON logs, input parsed into the handler's type (a bad
//! input is the named error `InvalidInput`, not a runtime deserialisation failure), output as JSON.

use std::future::Future;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Runs `handler` for every invocation until the runtime stops.
///
/// `setup` builds what the function needs (config, clients, the trust root) once, on the first
/// invocation rather than in Lambda's Init phase: Init stays the runtime and the SDK clients
/// (what a Python function's Init does too), and the network reads (trust root, webhook secret)
/// are counted in the invocation that needs them. If setup fails, the invocation reports that
/// error by name instead of the runtime dying with an opaque init error. A transient failure (AWS throttling or a 5xx, e.g. S3 while reading the
/// trust root) is not kept: the next invocation sets up again, so a blip cannot poison a warm
/// environment for its whole life. Any other failure is kept and reported every time.
pub async fn serve<S, Req, Resp, I, IFut, F, Fut>(
    setup: I,
    handler: F,
) -> std::result::Result<(), lambda_runtime::Error>
where
    S: 'static,
    Req: DeserializeOwned,
    Resp: Serialize,
    I: Fn() -> IFut,
    IFut: Future<Output = Result<S>>,
    F: Fn(&'static S, Req) -> Fut,
    Fut: Future<Output = Result<Resp>>,
{
    // The state lives as long as the process, like the execution environment it describes.
    let ready: &'static std::sync::OnceLock<S> = Box::leak(Box::new(std::sync::OnceLock::new()));
    let refused: &'static std::sync::OnceLock<Error> = Box::leak(Box::new(std::sync::OnceLock::new()));
    let set_up = async || -> Result<&'static S> {
        if let Some(state) = ready.get() {
            return Ok(state);
        }
        if let Some(err) = refused.get() {
            return Err(err.clone());
        }
        match setup().await {
            Ok(state) => Ok(ready.get_or_init(|| state)),
            Err(err) => {
                tracing::error!(error_type = err.name(), error = %err, transient = err.is_transient(), "setup failed");
                if !err.is_transient() {
                    let _ = refused.set(err.clone());
                }
                Err(err)
            }
        }
    };
    let (handler, set_up) = (&handler, &set_up);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let state = set_up().await?;
        let request: Req = serde_json::from_value(event.payload).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let response = handler(state, request).await;
        match &response {
            // Results carry names, ids and verdicts, never secrets: one line per invocation.
            Ok(result) => {
                tracing::info!(result = %serde_json::to_string(result).unwrap_or_default(), "invocation succeeded")
            }
            Err(err) => tracing::error!(error_type = err.name(), error = %err, "invocation failed"),
        }
        response
    }))
    .await
}

/// Cold start common to every function: JSON logs, then the AWS configuration its clients share.
pub async fn start() -> aws_config::SdkConfig {
    init_tracing();
    crate::aws::sdk_config().await
}

/// Logs to stdout (CloudWatch) as Lambda's advanced logging controls say: `AWS_LAMBDA_LOG_FORMAT`
/// (`Text` for plain lines; JSON otherwise, which the template sets) and `AWS_LAMBDA_LOG_LEVEL`,
/// else `RUST_LOG` directives (`info,gix=warn`), else info. The same variables the runtime's
/// `init_default_subscriber` reads, but filtered with `Targets` rather than `EnvFilter`, whose
/// regex engine is ~150 KB of every zip.
fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let directives = env("AWS_LAMBDA_LOG_LEVEL").or_else(|| env("RUST_LOG")).unwrap_or_else(|| "info".into());
    // Lambda's levels are TRACE…ERROR and FATAL; tracing has no FATAL.
    let directives = directives.to_ascii_lowercase().replace("fatal", "error");
    let filter = directives.parse::<Targets>().unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let lines = tracing_subscriber::fmt::layer().with_target(false).without_time();
    let registry = tracing_subscriber::registry().with(filter);
    if env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text")) {
        registry.with(lines).init();
    } else {
        registry.with(lines.json().with_current_span(false)).init();
    }
}
