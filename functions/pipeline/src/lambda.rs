//! The one way a sigship function runs: JSON logs, input parsed into the handler's type (a bad
//! input is the named error `InvalidInput`, not a runtime deserialisation failure), output as JSON.

use std::future::Future;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Runs `handler` for every invocation until the runtime stops.
///
/// `setup` is what the function built at cold start (config, clients). If it failed, every
/// invocation reports that error by name instead of the runtime dying with an opaque init error.
pub async fn serve<S, Req, Resp, F, Fut>(setup: Result<S>, handler: F) -> std::result::Result<(), lambda_runtime::Error>
where
    S: 'static,
    Req: DeserializeOwned,
    Resp: Serialize,
    F: Fn(&'static S, Req) -> Fut,
    Fut: Future<Output = Result<Resp>>,
{
    // The state lives as long as the process, like the execution environment it describes.
    let setup: &'static Result<S> = Box::leak(Box::new(setup));
    if let Err(err) = setup {
        tracing::error!(error_type = err.name(), error = %err, "cold start failed");
    }
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let state = setup.as_ref().map_err(Clone::clone)?;
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
