//! deploy: create or update the Fargate service, judge its rollout, and record the release it
//! deployed as the newest that ran (the watch's floor).
use pipeline::aws::{Ecs, RanParameter};
use pipeline::deployment::{self, DeployConfig, DeployRequest};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async {
        let env = Env::process();
        let ledger = RanParameter::from_env(&sdk, &env)?;
        DeployConfig::from_env(&env).map(|config| (config, Ecs::new(&sdk), ledger))
    };
    lambda::serve(setup, |(config, ecs, ledger), request: DeployRequest| {
        deployment::handle(request, config, ecs, ecs, ledger)
    })
    .await
}
