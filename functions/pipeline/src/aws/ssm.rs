//! The watch's marks in SSM Parameter Store: two String parameters the stack creates, holding
//! `-` while unset (a parameter cannot be empty). `sigship up` writes `after` once; an operator's
//! `sigship run` of an older release writes the pin, `sigship follow` resets it.

use crate::error::{Error, Result};
use crate::trigger::watch::{WatchMarks, WatchState};

/// What an unset mark holds.
pub const UNSET: &str = "-";

pub struct WatchParameters {
    client: aws_sdk_ssm::Client,
    /// The parameter holding the newest release at `up`.
    pub after: String,
    /// The parameter holding the operator's pin.
    pub pin: String,
}

impl WatchParameters {
    pub fn new(config: &aws_config::SdkConfig, after: String, pin: String) -> Self {
        WatchParameters { client: aws_sdk_ssm::Client::new(config), after, pin }
    }

    /// `SIGSHIP_WATCH_AFTER_PARAMETER` and `SIGSHIP_RELEASE_PIN_PARAMETER`.
    pub fn from_env(config: &aws_config::SdkConfig, env: &crate::config::Env) -> Result<Self> {
        Ok(Self::new(
            config,
            env.required("SIGSHIP_WATCH_AFTER_PARAMETER")?,
            env.required("SIGSHIP_RELEASE_PIN_PARAMETER")?,
        ))
    }

    /// Sets a mark (`None` unsets it).
    pub async fn set(&self, parameter: &str, value: Option<&str>) -> Result<()> {
        self.client
            .put_parameter()
            .name(parameter)
            .value(value.unwrap_or(UNSET))
            .overwrite(true)
            .send()
            .await
            .map_err(|e| Error::aws("ssm:PutParameter", e))?;
        Ok(())
    }
}

impl WatchState for WatchParameters {
    async fn read(&self) -> Result<WatchMarks> {
        let read = self
            .client
            .get_parameters()
            .names(&self.after)
            .names(&self.pin)
            .send()
            .await
            .map_err(|e| Error::aws("ssm:GetParameters", e))?;
        let value = |name: &str| {
            read.parameters()
                .iter()
                .find(|p| p.name() == Some(name))
                .and_then(|p| p.value())
                .filter(|v| *v != UNSET)
                .map(String::from)
        };
        if let Some(missing) = read.invalid_parameters().first() {
            return Err(Error::config(format!("SSM parameter {missing} does not exist: is the stack up to date?")));
        }
        Ok(WatchMarks { after: value(&self.after), pin: value(&self.pin) })
    }
}
