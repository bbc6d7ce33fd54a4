//! deploy: create or update the Fargate service and judge its rollout.
use pipeline::aws::Ecs;
use pipeline::deployment::{self, DeployConfig, DeployRequest};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async { DeployConfig::from_env(&Env::process()).map(|config| (config, Ecs::new(&sdk))) };
    lambda::serve(setup, |(config, ecs), request: DeployRequest| deployment::handle(request, config, ecs, ecs)).await
}
