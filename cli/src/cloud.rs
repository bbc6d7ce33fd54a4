//! AWS access for the CLI: the standard configuration chain (environment, profile, SSO,
//! credential_process), optionally pointed at another endpoint such as the local cloud.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::{Error, Result};

pub struct Cloud {
    pub sdk: SdkConfig,
    pub region: String,
    /// Set when talking to something other than AWS (the local cloud): S3 then uses path-style URLs.
    pub endpoint: Option<String>,
}

impl Cloud {
    pub async fn connect(region: Option<String>, endpoint: Option<String>) -> Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| Error::Usage("no AWS region: set AWS_REGION, a profile's region, or --region".into()))?;
        Ok(Cloud { sdk, region, endpoint })
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(self.endpoint.is_some()).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    pub fn efs(&self) -> aws_sdk_efs::Client {
        aws_sdk_efs::Client::new(&self.sdk)
    }

    /// The pipeline's state machine, through the library's adapter.
    pub fn step_functions(&self, state_machine_arn: &str) -> pipeline::aws::StepFunctions {
        pipeline::aws::StepFunctions::new(&self.sdk, state_machine_arn.to_string())
    }

    /// The account the credentials belong to; also proves they work before anything is changed.
    pub async fn account(&self) -> Result<String> {
        let identity = aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| Error::aws("sts:GetCallerIdentity (are AWS credentials set?)", e))?;
        identity.account().map(str::to_string).ok_or_else(|| Error::Usage("STS returned no account id".into()))
    }
}
