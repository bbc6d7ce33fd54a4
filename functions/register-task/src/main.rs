//! register-task: pin the built image by digest in a new Fargate task definition revision, at
//! the profile that runs — or the running release at another profile.
use pipeline::aws::{Ecr, Ecs};
use pipeline::task_definition::{self, RegisterInput, TaskConfig};
use pipeline::{config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let config = TaskConfig::from_env(&env)?;
        let images = Ecr::new(&sdk, env.required("SIGSHIP_ECR_REPOSITORY")?);
        Ok((config, images, Ecs::new(&sdk)))
    };
    lambda::serve(setup, |(config, images, ecs), input: RegisterInput| async move {
        task_definition::handle(&input, config, images, ecs, ecs, ecs).await
    })
    .await
}
