//! destroy: tear down what sigship created, as the execution input says.
use pipeline::aws::{AwsTeardown, Ecr, Ecs, Efs};
use pipeline::teardown::{self, DestroyRequest, TeardownConfig};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let config = TeardownConfig::from_env(&env)?;
        let aws = AwsTeardown {
            ecr: Ecr::new(&sdk, env.required("SIGSHIP_ECR_REPOSITORY")?),
            ecs: Ecs::new(&sdk),
            efs: Efs::new(&sdk),
        };
        Ok((config, aws))
    };
    lambda::serve(setup, |(config, aws), request: DestroyRequest| async move {
        teardown::destroy(&request, config, &aws.ecs, aws).await
    })
    .await
}
