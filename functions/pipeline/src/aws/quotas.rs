use crate::error::{Error, Result};
use crate::quota::{Quota, QuotaValues};

/// Service Quotas, for the preflight and node-metrics.
pub struct ServiceQuotas {
    client: aws_sdk_servicequotas::Client,
}

impl ServiceQuotas {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        ServiceQuotas { client: aws_sdk_servicequotas::Client::new(config) }
    }
}

impl QuotaValues for ServiceQuotas {
    /// GetServiceQuota answers the applied value; "if the applied quota value is not available
    /// for a quota, the quota is not retrieved" (its API reference), and then AWS's default
    /// applies: GetAWSDefaultServiceQuota.
    async fn value(&self, quota: Quota) -> Result<Option<f64>> {
        let applied = self.client.get_service_quota().service_code(quota.service).quota_code(quota.code).send().await;
        match applied {
            Ok(answer) => Ok(answer.quota().and_then(|q| q.value())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_resource_exception()) => {
                let default = self
                    .client
                    .get_aws_default_service_quota()
                    .service_code(quota.service)
                    .quota_code(quota.code)
                    .send()
                    .await
                    .map_err(|e| Error::aws("servicequotas:GetAWSDefaultServiceQuota", e))?;
                Ok(default.quota().and_then(|q| q.value()))
            }
            Err(e) => Err(Error::aws("servicequotas:GetServiceQuota", e)),
        }
    }
}
