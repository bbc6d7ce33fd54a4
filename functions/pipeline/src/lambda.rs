//! The one way a sigship function runs: JSON logs, input parsed into the handler's type (a bad
//! input is the named error `InvalidInput`, not a runtime deserialisation failure), output as JSON.

use std::future::Future;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Runs `handler` for every invocation until the runtime stops.
///
/// `setup` builds what the function needs (config, clients, the trust root), once, at cold start.
/// If it fails, the invocation reports that error by name instead of the runtime dying with an
/// opaque init error. A transient failure (AWS throttling or a 5xx, e.g. S3 while reading the
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
    let _ = set_up().await;
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

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG`, default info.
fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .init();
}
