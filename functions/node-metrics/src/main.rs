//! node-metrics: every minute, reads btcd's sync progress from its log group and publishes it
//! (height, lag, flat time, task counts) as CloudWatch embedded metrics for the stack's alarms;
//! when the node's profile no longer fits (far behind, or current again), starts the switch —
//! unless the account's Fargate quota cannot place it, which it says instead.
use pipeline::aws::{Ecs, Logs, ServiceQuotas, StepFunctions};
use pipeline::node::{self, NodeConfig, SampleRequest};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async {
        let env = Env::process();
        let executions = StepFunctions::new(&sdk, env.required("SIGSHIP_STATE_MACHINE_ARN")?);
        let clients = (Ecs::new(&sdk), Logs::new(&sdk), executions, ServiceQuotas::new(&sdk));
        NodeConfig::from_env(&env).map(|config| (config, clients))
    };
    lambda::serve(setup, |(config, (ecs, logs, executions, quotas)), _: SampleRequest| {
        node::publish(config, ecs, ecs, logs, executions, quotas, pipeline::config::now_ms())
    })
    .await
}
