//! The stack's release marks in SSM Parameter Store: four String parameters under
//! `/sigship/<stack>/`, holding `-` while unset (a parameter cannot be empty). They are not stack
//! resources — `sigship up` creates them, `sigship down` deletes them — so no template change can
//! reset them. `up` writes `after` once; deploy raises `ran` to each release it deploys; an
//! operator's `sigship run` of an older release writes the pin, `sigship follow` resets it; the
//! watch keeps the tag objects that failed verification in `watch-refused`, with the digest of
//! the trust root that refused them (another trust root checks them again).

use crate::error::{Error, Result};
use crate::release::ReleaseLedger;
use crate::trigger::watch::{RefusedTag, WatchMarks, WatchState};

/// What an unset mark holds.
pub const UNSET: &str = "-";

/// The marks' names for a stack: (after, pin, ran, refused).
fn mark_names(stack: &str) -> [String; 4] {
    MARKS.map(|mark| format!("/sigship/{stack}/{mark}"))
}

/// The marks, as named under `/sigship/<stack>/`.
pub const MARKS: [&str; 4] = ["watch-after", "release-pin", "release-ran", "watch-refused"];

/// `watch-refused`'s value.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refused {
    trust_root: String,
    refused: Vec<RefusedTag>,
}

pub struct WatchParameters {
    client: aws_sdk_ssm::Client,
    /// The parameter holding the newest release at `up`.
    pub after: String,
    /// The parameter holding the operator's pin.
    pub pin: String,
    /// The parameter holding the newest release deployed.
    pub ran: String,
    /// The parameter holding the refused tag objects.
    pub refused: String,
    /// The trust root's digest (`SIGSHIP_TRUST_ROOT_SHA256`): refusals by another are not read.
    trust_root: Option<String>,
}

impl WatchParameters {
    pub fn new(config: &aws_config::SdkConfig, [after, pin, ran, refused]: [String; 4]) -> Self {
        WatchParameters { client: aws_sdk_ssm::Client::new(config), after, pin, ran, refused, trust_root: None }
    }

    /// The marks of `stack` (see [`mark_names`]).
    pub fn of_stack(config: &aws_config::SdkConfig, stack: &str) -> Self {
        Self::new(config, mark_names(stack))
    }

    /// `SIGSHIP_WATCH_AFTER_PARAMETER`, `SIGSHIP_RELEASE_PIN_PARAMETER`, `SIGSHIP_RELEASE_RAN_PARAMETER`,
    /// `SIGSHIP_WATCH_REFUSED_PARAMETER`, and the trust root's `SIGSHIP_TRUST_ROOT_SHA256`.
    pub fn from_env(config: &aws_config::SdkConfig, env: &crate::config::Env) -> Result<Self> {
        let mut parameters = Self::new(
            config,
            [
                env.required("SIGSHIP_WATCH_AFTER_PARAMETER")?,
                env.required("SIGSHIP_RELEASE_PIN_PARAMETER")?,
                env.required("SIGSHIP_RELEASE_RAN_PARAMETER")?,
                env.required("SIGSHIP_WATCH_REFUSED_PARAMETER")?,
            ],
        );
        parameters.trust_root = Some(env.required("SIGSHIP_TRUST_ROOT_SHA256")?);
        Ok(parameters)
    }

    /// The same marks, as read and written under the trust root whose digest is `sha256`.
    pub fn under_trust_root(&self, sha256: &str) -> Self {
        let [after, pin, ran, refused] = [&self.after, &self.pin, &self.ran, &self.refused].map(String::clone);
        let client = self.client.clone();
        WatchParameters { client, after, pin, ran, refused, trust_root: Some(sha256.to_string()) }
    }

    fn names(&self) -> Vec<String> {
        vec![self.after.clone(), self.pin.clone(), self.ran.clone(), self.refused.clone()]
    }

    /// Sets a mark (`None` unsets it).
    pub async fn set(&self, parameter: &str, value: Option<&str>) -> Result<()> {
        put(&self.client, parameter, value.unwrap_or(UNSET)).await
    }

    /// Creates the marks that do not exist yet, unset (`up`); returns how many it created.
    pub async fn ensure(&self) -> Result<usize> {
        create_unset(&self.client, &self.names()).await
    }

    /// Deletes the marks (`down`); returns how many there were.
    pub async fn delete(&self) -> Result<usize> {
        delete(&self.client, &self.names()).await
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
        // Refusals by the trust root in use only (any, for a reader that does not know it).
        let refused = value(&self.refused)
            .and_then(|v| serde_json::from_str::<Refused>(&v).ok())
            .filter(|r| self.trust_root.as_ref().is_none_or(|root| *root == r.trust_root))
            .map(|r| r.refused)
            .unwrap_or_default();
        let marks = WatchMarks { after: value(&self.after), pin: value(&self.pin), ran: value(&self.ran), refused };
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

    async fn remember(&self, refused: &[RefusedTag]) -> Result<()> {
        let trust_root = self.trust_root.clone().ok_or_else(|| Error::config("the trust root's digest is unknown"))?;
        let value = serde_json::to_string(&Refused { trust_root, refused: refused.to_vec() })
            .map_err(|e| Error::Internal(format!("refused tags: {e}")))?;
        put(&self.client, &self.refused, &value).await
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
        get(&self.client, &self.name).await
    }

    async fn record_ran(&self, tag: &str) -> Result<()> {
        put(&self.client, &self.name, tag).await
    }
}

/// The digests the base images were first pulled at (`/sigship/<stack>/base-images`: the
/// entries space-separated, or unset): trigger-build reads and adds to it, `sigship base-images
/// --move` empties it, `up` creates it and `down` deletes it.
pub struct BaseImagesParameter {
    client: aws_sdk_ssm::Client,
    pub name: String,
}

impl BaseImagesParameter {
    pub fn of_stack(config: &aws_config::SdkConfig, stack: &str) -> Self {
        BaseImagesParameter { client: aws_sdk_ssm::Client::new(config), name: format!("/sigship/{stack}/base-images") }
    }

    /// `SIGSHIP_BASE_IMAGES_PARAMETER`.
    pub fn from_env(config: &aws_config::SdkConfig, env: &crate::config::Env) -> Result<Self> {
        Ok(BaseImagesParameter {
            client: aws_sdk_ssm::Client::new(config),
            name: env.required("SIGSHIP_BASE_IMAGES_PARAMETER")?,
        })
    }

    /// Creates it unset unless it exists (`up`); true when it did not.
    pub async fn ensure(&self) -> Result<bool> {
        Ok(create_unset(&self.client, std::slice::from_ref(&self.name)).await? > 0)
    }

    /// Deletes it (`down`); true when it existed.
    pub async fn delete(&self) -> Result<bool> {
        Ok(delete(&self.client, std::slice::from_ref(&self.name)).await? > 0)
    }
}

impl crate::build::BaseImageRecord for BaseImagesParameter {
    async fn recorded(&self) -> Result<Vec<String>> {
        let value = get(&self.client, &self.name).await?.unwrap_or_default();
        Ok(value.split_whitespace().map(String::from).collect())
    }

    async fn set(&self, recorded: &[String]) -> Result<()> {
        let value = if recorded.is_empty() { UNSET.to_string() } else { recorded.join(" ") };
        put(&self.client, &self.name, &value).await
    }
}

/// The last `sigship reproduce` verdict (`/sigship/<stack>/reproduced`, JSON, or unset): the
/// command writes it, `status` shows it beside the image it was about; `up` creates it and `down`
/// deletes it.
pub struct ReproducedParameter {
    client: aws_sdk_ssm::Client,
    pub name: String,
}

impl ReproducedParameter {
    pub fn of_stack(config: &aws_config::SdkConfig, stack: &str) -> Self {
        ReproducedParameter { client: aws_sdk_ssm::Client::new(config), name: format!("/sigship/{stack}/reproduced") }
    }

    /// Creates it unset unless it exists (`up`); true when it did not.
    pub async fn ensure(&self) -> Result<bool> {
        Ok(create_unset(&self.client, std::slice::from_ref(&self.name)).await? > 0)
    }

    /// Deletes it (`down`); true when it existed.
    pub async fn delete(&self) -> Result<bool> {
        Ok(delete(&self.client, std::slice::from_ref(&self.name)).await? > 0)
    }

    /// The last verdict; None before any (or an unreadable value, which the next run replaces).
    pub async fn read(&self) -> Result<Option<crate::build::reproduce::Reproduced>> {
        Ok(get(&self.client, &self.name).await?.and_then(|value| serde_json::from_str(&value).ok()))
    }

    pub async fn write(&self, verdict: &crate::build::reproduce::Reproduced) -> Result<()> {
        let value = serde_json::to_string(verdict).map_err(|e| Error::Internal(e.to_string()))?;
        put(&self.client, &self.name, &value).await
    }
}

/// Creates each parameter that does not exist yet, unset; returns how many it created.
async fn create_unset(client: &aws_sdk_ssm::Client, names: &[String]) -> Result<usize> {
    let mut created = 0;
    for name in names {
        let put = client
            .put_parameter()
            .name(name)
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

/// Deletes the parameters; returns how many there were.
async fn delete(client: &aws_sdk_ssm::Client, names: &[String]) -> Result<usize> {
    let deleted = client
        .delete_parameters()
        .set_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| Error::aws("ssm:DeleteParameters", e))?;
    Ok(deleted.deleted_parameters().len())
}

/// A mark's value, None while unset; a mark `up` did not create is an error naming the fix.
async fn get(client: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>> {
    match client.get_parameter().name(name).send().await {
        Ok(read) => Ok(read.parameter().and_then(|p| p.value()).filter(|v| *v != UNSET).map(String::from)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Err(not_created(name)),
        Err(e) => Err(Error::aws("ssm:GetParameter", e)),
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
