//! The account's quotas that decide whether sigship's sizes can run at all, as Service Quotas
//! reports them: the preflight checks them before `up`, node-metrics before a profile switch.

use crate::error::Result;

/// A quota, by Service Quotas' service and quota codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub service: &'static str,
    pub code: &'static str,
}

/// "Concurrently running builds for ARM/Large environment": default 1 per region, 0 in some new
/// accounts (every release would fail at StartBuild).
pub const CODEBUILD_ARM_LARGE_BUILDS: Quota = Quota { service: "codebuild", code: "L-596BEAB4" };

/// "Fargate On-Demand vCPU resource count": vCPUs of running Fargate tasks, per region (AWS's
/// default 6; new accounts may start lower). The service stops the old task before it starts
/// the new one (one btcd per data directory), so the larger of the two sizes must fit.
pub const FARGATE_ON_DEMAND_VCPUS: Quota = Quota { service: "fargate", code: "L-3032A538" };

impl Quota {
    /// The exact command that asks AWS to raise it to `value`.
    pub fn increase_request(&self, region: &str, value: f64) -> String {
        format!(
            "aws service-quotas request-service-quota-increase --region {region} --service-code {} --quota-code {} \
             --desired-value {value:.0}",
            self.service, self.code
        )
    }
}

/// Service Quotas, as far as sigship reads it.
pub trait QuotaValues {
    /// The quota's value for the account and region (the applied value, else AWS's default);
    /// None when Service Quotas has none.
    async fn value(&self, quota: Quota) -> Result<Option<f64>>;
}

/// A known answer, for tests.
impl QuotaValues for Option<f64> {
    async fn value(&self, _: Quota) -> Result<Option<f64>> {
        Ok(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_quota_the_region_and_the_value() {
        assert_eq!(
            FARGATE_ON_DEMAND_VCPUS.increase_request("us-east-1", 16.0),
            "aws service-quotas request-service-quota-increase --region us-east-1 --service-code fargate \
             --quota-code L-3032A538 --desired-value 16"
        );
    }
}
