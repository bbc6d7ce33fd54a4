use crate::error::{Error, Result};

/// Reads a secret's string value (the webhook secret), once per environment; never logged.
pub async fn secret_string(config: &aws_config::SdkConfig, secret_id: &str) -> Result<String> {
    let value = aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| Error::aws("secretsmanager:GetSecretValue", e))?;
    value
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| Error::config(format!("secret {secret_id} holds no string")))
}
