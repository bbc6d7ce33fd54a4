//! queue: lets an execution go on only when no earlier one is still running.
use pipeline::aws::StepFunctions;
use pipeline::queue::{self, QueueConfig, QueueRequest};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async { QueueConfig::from_env(&Env::process()).map(|config| (config, sdk.clone())) };
    lambda::serve(setup, |(config, sdk), request: QueueRequest| async move {
        // The state machine is the one running this execution: no configuration to get wrong.
        let executions = StepFunctions::new(sdk, queue::state_machine_of(&request.execution)?);
        queue::take_turn(request, config, &executions).await
    })
    .await
}
