//! verify: fetch the annotated tag, check its signature and name against the trust root.
use pipeline::verify::{self, TagRequest, VerifyConfig};
use pipeline::{aws, config::Env, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async {
        let env = Env::process();
        let config = VerifyConfig::from_env(&env)?;
        let trust = aws::load_trust_root(&verify::trust_root_location(&env)?, &sdk).await?;
        Ok((config, trust))
    };
    lambda::serve(
        setup,
        |(config, trust), request: TagRequest| async move { verify::verify(&request, config, trust).await },
    )
    .await
}
