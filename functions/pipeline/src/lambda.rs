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
/// error by name instead of the runtime dying with an opaque init error. A transient failure (AWS
/// throttling or a 5xx, e.g. S3 while reading the trust root) is not kept: the next invocation
/// sets up again, so a blip cannot poison a warm environment for its whole life. Any other
/// failure is kept and reported every time.
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
        // Boxed: a handler's future nests the whole domain's (build → adapters → SDK), and laying
        // that out inline in the runtime's future overflowed rustc's query depth limit.
        let response = Box::pin(handler(state, request)).await;
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
/// regex engine was ~0.35 MB of every zip.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let filter = log_filter(env("AWS_LAMBDA_LOG_LEVEL"), env("RUST_LOG"));
    let lines = tracing_subscriber::fmt::layer().with_target(false).without_time();
    let registry = tracing_subscriber::registry().with(filter);
    if env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text")) {
        registry.with(lines).init();
    } else {
        registry.with(lines.json().with_current_span(false)).init();
    }
}

/// lambda_runtime logs every raw event at TRACE ("raw JSON event received from Lambda"): the
/// webhook's headers carry GitLab's token, which is the webhook secret. Its targets never log
/// below INFO, whatever level is asked for.
const RAW_EVENT_TARGETS: [&str; 2] = ["lambda_runtime", "lambda_runtime_api_client"];

/// Lambda's log level (a level name) wins over `RUST_LOG` (directives such as `info,gix=warn`);
/// whatever does not parse, or names no default, logs at info rather than nothing. The runtime's
/// own targets are clamped to INFO at most (see [`RAW_EVENT_TARGETS`]).
fn log_filter(lambda_level: Option<String>, rust_log: Option<String>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::LevelFilter;
    let asked = requested_filter(lambda_level, rust_log);
    let default = asked.default_level().unwrap_or(LevelFilter::INFO);
    let mut clamped: tracing_subscriber::filter::Targets = asked
        .into_iter()
        .filter(|(target, _)| !RAW_EVENT_TARGETS.iter().any(|quiet| target.starts_with(quiet)))
        .collect();
    clamped = clamped.with_default(default);
    for target in RAW_EVENT_TARGETS {
        clamped = clamped.with_target(target, default.min(LevelFilter::INFO));
    }
    clamped
}

fn requested_filter(lambda_level: Option<String>, rust_log: Option<String>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let info = Targets::new().with_default(tracing::Level::INFO);
    if let Some(level) = lambda_level {
        // Lambda's levels are TRACE…ERROR and FATAL; tracing has no FATAL.
        let level = level.to_ascii_lowercase().replace("fatal", "error");
        return level.parse::<LevelFilter>().map(|l| Targets::new().with_default(l)).unwrap_or(info);
    }
    match rust_log.and_then(|directives| directives.parse::<Targets>().ok()) {
        Some(targets) if targets.default_level().is_some() => targets,
        Some(targets) => targets.with_default(tracing::Level::INFO),
        None => info,
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;
    use tracing::Level;

    #[test]
    fn lambda_s_log_level_wins_and_every_value_means_a_level() {
        let level = |lambda: Option<&str>, rust_log: Option<&str>, target: &str| {
            let filter = log_filter(lambda.map(String::from), rust_log.map(String::from));
            [Level::TRACE, Level::DEBUG, Level::INFO, Level::WARN, Level::ERROR]
                .into_iter()
                .find(|l| filter.would_enable(target, l))
        };
        assert_eq!(level(None, None, "pipeline"), Some(Level::INFO));
        assert_eq!(level(Some("DEBUG"), Some("error"), "pipeline"), Some(Level::DEBUG));
        assert_eq!(level(Some("FATAL"), None, "pipeline"), Some(Level::ERROR));
        assert_eq!(level(None, Some("info,gix=warn"), "gix"), Some(Level::WARN));
        assert_eq!(level(None, Some("info,gix=warn"), "pipeline"), Some(Level::INFO));
        assert_eq!(level(Some("loud"), None, "pipeline"), Some(Level::INFO), "unparsable: info, not silence");
        assert_eq!(level(None, Some("loud"), "pipeline"), Some(Level::INFO), "no default: info, not silence");
    }

    #[test]
    fn the_runtime_never_logs_raw_events_whatever_the_level() {
        let traced = |lambda: Option<&str>, rust_log: Option<&str>, target: &str| {
            log_filter(lambda.map(String::from), rust_log.map(String::from)).would_enable(target, &Level::TRACE)
        };
        // lambda_runtime logs each raw event at TRACE from this module.
        let raw = "lambda_runtime::layers::api_response";
        assert!(!traced(Some("TRACE"), None, raw));
        assert!(!traced(None, Some("trace"), raw));
        assert!(!traced(None, Some("info,lambda_runtime=trace"), raw));
        assert!(!traced(Some("TRACE"), None, "lambda_runtime_api_client"));
        assert!(traced(Some("TRACE"), None, "pipeline"), "everything else at the level asked for");
        let quiet = log_filter(Some("ERROR".into()), None);
        assert!(!quiet.would_enable(raw, &Level::INFO), "never louder than asked either");
    }
}
