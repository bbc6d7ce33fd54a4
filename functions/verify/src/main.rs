//! verify: fetch the annotated tag, check its signature and name against the trust root, and
//! that it is no older than the newest release deployed (unless the execution allows it).
use pipeline::verify::{self, TagRequest, VerifyConfig};
use pipeline::{aws, config::Env, lambda, release};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = lambda::start().await;
    let setup = || async {
        let env = Env::process();
        let config = VerifyConfig::from_env(&env)?;
        let trust = aws::load_trust_root(&verify::trust_root_location(&env)?, &sdk).await?;
        let deployed = aws::RanParameter::from_env(&sdk, &env)?;
        Ok((config, trust, deployed))
    };
    lambda::serve(setup, |(config, trust, deployed), request: TagRequest| async move {
        let verified = verify::verify(&request, config, trust).await?;
        release::check_against_ledger(deployed, &verified.tag, verified.allow_downgrade).await?;
        Ok(verified)
    })
    .await
}
