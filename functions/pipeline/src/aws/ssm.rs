//! The stack's release marks in SSM Parameter Store: three String parameters under
//! `/sigship/<stack>/`, holding `-` while unset (a parameter cannot be empty). They are not stack
//! resources — `sigship up` creates them, `sigship down` deletes them — so no template change can
//! reset them. `up` writes `after` once; deploy raises `ran` to each release it deploys; an
//! operator's `sigship run` of an older release writes the pin, `sigship follow` resets it.

use crate::deployment::ReleaseLedger;
use crate::error::{Error, Result};
use crate::trigger::watch::{WatchMarks, WatchState};

/// What an unset mark holds.
pub const UNSET: &str = "-";

/// The marks' names for a stack: (after, pin, ran).
fn mark_names(stack: &str) -> [String; 3] {
    ["watch-after", "release-pin", "release-ran"].map(|mark| format!("/sigship/{stack}/{mark}"))
}

pub struct WatchParameters {
    client: aws_sdk_ssm::Client,
    /// The parameter holding the newest release at `up`.
    pub after: String,
    /// The parameter holding the operator's pin.
    pub pin: String,
    /// The parameter holding the newest release deployed.
    pub ran: String,
}

impl WatchParameters {
    pub fn new(config: &aws_config::SdkConfig, [after, pin, ran]: [String; 3]) -> Self {
        WatchParameters { client: aws_sdk_ssm::Client::new(config), after, pin, ran }
    }

    /// The marks of `stack` (see [`mark_names`]).
    pub fn of_stack(config: &aws_config::SdkConfig, stack: &str) -> Self {
        Self::new(config, mark_names(stack))
    }

    /// `SIGSHIP_WATCH_AFTER_PARAMETER`, `SIGSHIP_RELEASE_PIN_PARAMETER`, `SIGSHIP_RELEASE_RAN_PARAMETER`.
    pub fn from_env(config: &aws_config::SdkConfig, env: &crate::config::Env) -> Result<Self> {
        Ok(Self::new(
            config,
            [
                env.required("SIGSHIP_WATCH_AFTER_PARAMETER")?,
                env.required("SIGSHIP_RELEASE_PIN_PARAMETER")?,
                env.required("SIGSHIP_RELEASE_RAN_PARAMETER")?,
            ],
        ))
    }

    fn names(&self) -> Vec<String> {
        vec![self.after.clone(), self.pin.clone(), self.ran.clone()]
    }

    /// Sets a mark (`None` unsets it).
    pub async fn set(&self, parameter: &str, value: Option<&str>) -> Result<()> {
        put(&self.client, parameter, value.unwrap_or(UNSET)).await
    }

    /// Creates the marks that do not exist yet, unset (`up`); returns how many it created.
    pub async fn ensure(&self) -> Result<usize> {
        let mut created = 0;
        for name in self.names() {
            let put = self
                .client
                .put_parameter()
                .name(&name)
                .value(UNSET)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(false)
                .send()
                .await;
            match put {
                Ok(_) => created += 1,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_already_exists()) => {}
                Err(e) => return Err(Error::aws("ssm:PutParameter", e)),
            }
        }
        Ok(created)
    }

    /// Deletes the marks (`down`); returns how many there were.
    pub async fn delete(&self) -> Result<usize> {
        let deleted = self
            .client
            .delete_parameters()
            .set_names(Some(self.names()))
            .send()
            .await
            .map_err(|e| Error::aws("ssm:DeleteParameters", e))?;
        Ok(deleted.deleted_parameters().len())
    }

    /// The marks that exist, and the names of those that do not.
    pub async fn read_existing(&self) -> Result<(WatchMarks, Vec<String>)> {
        let read = self
            .client
            .get_parameters()
            .set_names(Some(self.names()))
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
        let marks = WatchMarks { after: value(&self.after), pin: value(&self.pin), ran: value(&self.ran) };
        Ok((marks, read.invalid_parameters().to_vec()))
    }
}

impl WatchState for WatchParameters {
    async fn read(&self) -> Result<WatchMarks> {
        let (marks, missing) = self.read_existing().await?;
        match missing.first() {
            Some(missing) => Err(not_created(missing)),
            None => Ok(marks),
        }
    }
}

/// The newest release deployed, as deploy keeps it: the one mark its role may read and write.
pub struct RanParameter {
    client: aws_sdk_ssm::Client,
    pub name: String,
}

impl RanParameter {
    /// `SIGSHIP_RELEASE_RAN_PARAMETER`.
    pub fn from_env(config: &aws_config::SdkConfig, env: &crate::config::Env) -> Result<Self> {
        Ok(RanParameter {
            client: aws_sdk_ssm::Client::new(config),
            name: env.required("SIGSHIP_RELEASE_RAN_PARAMETER")?,
        })
    }
}

impl ReleaseLedger for RanParameter {
    async fn newest_ran(&self) -> Result<Option<String>> {
        let read = self.client.get_parameter().name(&self.name).send().await;
        match read {
            Ok(read) => Ok(read.parameter().and_then(|p| p.value()).filter(|v| *v != UNSET).map(String::from)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Err(not_created(&self.name)),
            Err(e) => Err(Error::aws("ssm:GetParameter", e)),
        }
    }

    async fn record_ran(&self, tag: &str) -> Result<()> {
        put(&self.client, &self.name, tag).await
    }
}

/// Writes a mark that exists (`up` creates them).
async fn put(client: &aws_sdk_ssm::Client, name: &str, value: &str) -> Result<()> {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| Error::aws("ssm:PutParameter", e))?;
    Ok(())
}

fn not_created(name: &str) -> Error {
    Error::config(format!("SSM parameter {name} does not exist: run `sigship up` to create it"))
}
