//! tag-push: the webhook behind a Lambda Function URL; starts the pipeline for a pushed release tag.
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use pipeline::trigger::{webhook, NewerThanDeployed, ReleaseVerifier};
use pipeline::{aws, config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let env = Env::process();
    let setup = || async {
        let (trust, remote, target) = aws::trigger_setup(&sdk, &env).await?;
        let secret = aws::secret_string(&sdk, &env.required("SIGSHIP_WEBHOOK_SECRET_ARN")?).await?;
        webhook::check_secret(&secret)?;
        let deployed = aws::RanParameter::from_env(&sdk, &env)?;
        Ok((secret, NewerThanDeployed { check: ReleaseVerifier { remote, trust }, deployed }, target))
    };
    lambda::serve(setup, |(secret, release, target), request: LambdaFunctionUrlRequest| async move {
        let (policy, remote) = (&release.check.trust.tag_policy, &release.check.remote);
        Ok(webhook::respond(&request, secret, policy, remote, release, target).await)
    })
    .await
}
