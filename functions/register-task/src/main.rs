//! register-task: pin the built image by digest in a new Fargate task definition revision.
use pipeline::aws::{Ecr, Ecs};
use pipeline::task_definition::{self, RegisterRequest, TaskConfig};
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
    lambda::serve(setup, |(config, images, tasks), request: RegisterRequest| async move {
        task_definition::register(&request, config, images, tasks).await
    })
    .await
}
