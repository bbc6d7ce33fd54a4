//! node-metrics: every minute, reads btcd's sync progress from its log group and publishes it
//! (height, lag, flat time, task counts) as CloudWatch embedded metrics for the stack's alarms.
use pipeline::aws::{Ecs, Logs};
use pipeline::node::{self, NodeConfig, SampleRequest};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup =
        || async { NodeConfig::from_env(&Env::process()).map(|config| (config, Ecs::new(&sdk), Logs::new(&sdk))) };
    lambda::serve(setup, |(config, services, logs), _: SampleRequest| {
        node::publish(config, services, logs, lambda::now_ms())
    })
    .await
}
