//! trigger-build: start CodeBuild on the verified commit (or skip it), and poll it.
use pipeline::aws::{CodeBuild, Ecr};
use pipeline::build::{self, BuildConfig, BuildRequest};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let config = BuildConfig::from_env(&env)?;
        let images = Ecr::new(&sdk, env.required("SIGSHIP_ECR_REPOSITORY")?);
        Ok((config, CodeBuild::new(&sdk), images))
    };
    lambda::serve(setup, |(config, builds, images), request: BuildRequest| {
        build::handle(request, config, builds, images)
    })
    .await
}
