//! tag-watch: on a schedule, starts the pipeline for release tags of the upstream repository
//! that have not run yet.
use pipeline::trigger::watch::{self, WatchRequest};
use pipeline::{aws, config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let mode = watch::mode_from_env(&env)?;
        let (policy, remote, executions) = aws::trigger_setup(&sdk, &env).await?;
        Ok((mode, policy, remote, executions))
    };
    lambda::serve(setup, |(mode, policy, remote, executions), request: WatchRequest| {
        watch::watch(request, *mode, policy, remote, executions)
    })
    .await
}
