//! trigger-build: start CodeBuild on the verified commit (or skip it), and poll it.
use pipeline::aws::{BaseImagesParameter, CodeBuild, Ecr};
use pipeline::build::{self, BuildConfig, BuildRequest, BuildWorld};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let config = BuildConfig::from_env(&env)?;
        let images = Ecr::new(&sdk, env.required("SIGSHIP_ECR_REPOSITORY")?);
        let base_images = BaseImagesParameter::from_env(&sdk, &env)?;
        Ok((config, CodeBuild::new(&sdk), images, base_images))
    };
    lambda::serve(setup, |(config, builds, images, base_images), request: BuildRequest| async move {
        build::handle(request, config, &BuildWorld { builds, images, base_images }).await
    })
    .await
}
