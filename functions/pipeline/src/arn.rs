//! Amazon Resource Names, read in one place: `arn:partition:service:region:account:resource`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// `type/path`, `type:name…` or a bare name, as the service writes it.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(raw: &'a str) -> Option<Self> {
        let mut parts = raw.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty() && !arn.resource.is_empty()).then_some(arn)
    }

    /// The resource's type and names, split at `/` and `:`: `task-definition/btcd:7` →
    /// `[task-definition, btcd, 7]`, `execution:sigship:run-1` → `[execution, sigship, run-1]`.
    pub fn resource_parts(&self) -> Vec<&'a str> {
        self.resource.split(['/', ':']).collect()
    }

    /// This ARN's partition, service, region and account with another resource.
    pub fn with_resource(&self, resource: &str) -> String {
        format!("arn:{}:{}:{}:{}:{resource}", self.partition, self.service, self.region, self.account)
    }
}

/// The name at the end of an ARN's resource path (`…:service/sigship/btcd` → `btcd`,
/// `…:task-definition/btcd:7` → `btcd:7`, `…:role/path/DeployRole` → `DeployRole`), or
/// `name_or_arn` itself when it is a plain name, as ECS and IAM requests accept either.
pub fn name_of(name_or_arn: &str) -> &str {
    let resource = Arn::parse(name_or_arn).map_or(name_or_arn, |arn| arn.resource);
    resource.rsplit('/').next().unwrap_or(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_reads_into_its_parts_and_names() {
        let arn = Arn::parse("arn:aws:ecs:us-east-1:123456789012:task-definition/btcd:7").unwrap();
        assert_eq!((arn.service, arn.region, arn.account), ("ecs", "us-east-1", "123456789012"));
        assert_eq!(arn.resource_parts(), ["task-definition", "btcd", "7"]);
        assert_eq!(arn.with_resource("cluster/sigship"), "arn:aws:ecs:us-east-1:123456789012:cluster/sigship");
        let secret = Arn::parse("arn:aws:secretsmanager:us-east-1:1:secret:rpc-AbCd:password::").unwrap();
        assert_eq!(secret.resource_parts(), ["secret", "rpc-AbCd", "password", "", ""]);
        assert_eq!(name_of("arn:aws:ecs:us-east-1:1:service/sigship/btcd"), "btcd");
        assert_eq!(name_of("arn:aws:ecs:us-east-1:1:task-definition/btcd:7"), "btcd:7");
        assert_eq!(name_of("sigship"), "sigship");
        assert!(Arn::parse("sigship").is_none() && Arn::parse("arn:aws:ecs").is_none());
    }
}
