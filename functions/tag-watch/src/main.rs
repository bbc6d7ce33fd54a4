//! tag-watch: on a schedule, starts the pipeline for the maintainer-signed release tags of the
//! upstream repository that have not run yet.
use pipeline::trigger::watch::{self, WatchRequest};
use pipeline::trigger::ReleaseVerifier;
use pipeline::{aws, config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let mode = watch::mode_from_env(&env)?;
        let (trust, remote, target) = aws::trigger_setup(&sdk, &env).await?;
        let marks = aws::WatchParameters::from_env(&sdk, &env)?;
        Ok((mode, ReleaseVerifier { remote, trust }, target, marks))
    };
    lambda::serve(setup, |(mode, verifier, target, marks), request: WatchRequest| {
        watch::watch(request, *mode, &verifier.trust.tag_policy, &verifier.remote, verifier, target, marks)
    })
    .await
}
