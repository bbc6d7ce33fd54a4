//! verify: fetch the annotated tag, check its signature and name against the trust root.
use pipeline::verify::{self, TagRequest, VerifyConfig};
use pipeline::{aws, config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async {
        let config = VerifyConfig::from_env(&Env::process())?;
        let trust = aws::load_trust_root(&config.trust_root, &sdk).await?;
        Ok((config, trust))
    };
    lambda::serve(
        setup,
        |(config, trust), request: TagRequest| async move { verify::verify(&request, config, trust).await },
    )
    .await
}
