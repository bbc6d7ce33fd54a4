//! What AWS authorizes a request *on*: for each action sigship's principals use, the resource
//! ARN(s) IAM evaluates, derived from the request's parameters — `*` where the request names no
//! resource of the action's resource type (ecs:ListTasks without a container instance, the
//! actions with no resource-level permissions) — the condition keys the template relies on, and
//! the permissions AWS checks behind the call (iam:PassRole for a task definition's roles,
//! ecs:TagResource for tags on create). The one resource model: the local cloud's authorizer
//! judges every request with it, and the permission contract (cli/tests/permissions.rs) judges
//! each grant's call with it. Sources: the Service Authorization Reference's "Actions, resources,
//! and condition keys" page of each service.

use std::collections::{BTreeMap, HashMap};

/// A request's parameters by their API names (`cluster`, `services`, `FileSystemId`, `bucket`,
/// …): strings, lists of strings; a parameter holding objects is present with empty strings.
pub type Params = BTreeMap<String, Vec<String>>;

/// Where the request is made.
#[derive(Clone, Debug)]
pub struct Place {
    pub partition: String,
    pub region: String,
    pub account: String,
}

/// One permission a request needs: IAM must allow `action` on `resource` with `context`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub action: String,
    pub resource: String,
    pub context: HashMap<String, String>,
}

/// The model does not know the action, or the request lacks what it needs to name the resource.
#[derive(Debug, PartialEq, Eq)]
pub struct Unresolved(pub String);

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The signing name of a service (the credential scope's) → its IAM action prefix.
pub fn action_prefix(signing_name: &str) -> &str {
    match signing_name {
        "monitoring" => "cloudwatch",
        other => other,
    }
}

/// Every permission a request for `action` with `params` needs.
pub fn checks(action: &str, params: &Params, place: &Place) -> Result<Vec<Check>, Unresolved> {
    let model = Model { action, params, place };
    model.checks()
}

struct Model<'a> {
    action: &'a str,
    params: &'a Params,
    place: &'a Place,
}

impl Model<'_> {
    fn all(&self, name: &str) -> &[String] {
        self.params.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    fn first(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.all(n).first()).map(String::as_str)
    }

    fn required(&self, names: &[&str]) -> Result<&str, Unresolved> {
        self.first(names).ok_or_else(|| Unresolved(format!("{} names no {}", self.action, names.join(" or "))))
    }

    /// A parameter that must hold an ARN (a name would need a lookup).
    fn arn_given(&self, names: &[&str]) -> Result<String, Unresolved> {
        let value = self.required(names)?;
        if value.starts_with("arn:") {
            Ok(value.to_string())
        } else {
            Err(Unresolved(format!("{} names {value} by name: resolve it to its ARN first", self.action)))
        }
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        let Place { partition, region, account } = self.place;
        format!("arn:{partition}:{service}:{region}:{account}:{rest}")
    }

    /// An ARN parameter as given, or the ARN of the name given.
    fn named(&self, value: &str, service: &str, rest: impl Fn(&str) -> String) -> String {
        if value.starts_with("arn:") {
            value.to_string()
        } else {
            self.arn(service, &rest(value))
        }
    }

    fn check(&self, action: &str, resource: String) -> Check {
        Check { action: action.to_string(), resource, context: HashMap::new() }
    }

    fn on(&self, resources: Vec<String>) -> Vec<Check> {
        resources.into_iter().map(|r| self.check(self.action, r)).collect()
    }

    fn everything(&self) -> Vec<Check> {
        self.on(vec!["*".into()])
    }

    /// The cluster a request names (by name or ARN; ECS's default cluster when it names none).
    fn cluster(&self) -> String {
        let cluster = self.first(&["cluster"]).unwrap_or("default");
        pipeline::arn::name_of(cluster).to_string()
    }

    fn cluster_context(&self) -> HashMap<String, String> {
        HashMap::from([("ecs:cluster".to_string(), self.arn("ecs", &format!("cluster/{}", self.cluster())))])
    }

    fn with_cluster(&self, checks: Vec<Check>) -> Vec<Check> {
        checks.into_iter().map(|c| Check { context: self.cluster_context(), ..c }).collect()
    }

    /// ARNs of the cluster's `kind` resources a request names (names, ids or ARNs).
    fn in_cluster(&self, kind: &str, names: &[&str]) -> Vec<String> {
        let cluster = self.cluster();
        names
            .iter()
            .flat_map(|n| self.all(n))
            .map(|v| self.named(v, "ecs", |id| format!("{kind}/{cluster}/{id}")))
            .collect()
    }

    fn repository(&self) -> Result<String, Unresolved> {
        let name = self.required(&["repositoryName"])?;
        Ok(self.arn("ecr", &format!("repository/{name}")))
    }

    fn log_group(&self) -> Result<String, Unresolved> {
        let group = self.required(&["logGroupIdentifier", "logGroupName"])?;
        Ok(self.named(group, "logs", |name| format!("log-group:{name}:*")))
    }

    fn file_system(&self) -> Result<String, Unresolved> {
        let id = self.required(&["FileSystemId"])?;
        Ok(self.arn("elasticfilesystem", &format!("file-system/{id}")))
    }

    fn passed_roles(&self, service: &str, names: &[&str]) -> Vec<Check> {
        let context = HashMap::from([("iam:PassedToService".to_string(), service.to_string())]);
        names
            .iter()
            .flat_map(|n| self.all(n))
            .filter(|role| !role.is_empty())
            .map(|role| Check { context: context.clone(), ..self.check("iam:PassRole", role.clone()) })
            .collect()
    }

    /// Tags given on create are authorized as ecs:TagResource on the created resource.
    fn tagged_on_create(&self, resource: &str) -> Vec<Check> {
        if self.all("tags").is_empty() {
            vec![]
        } else {
            vec![Check { context: self.cluster_context(), ..self.check("ecs:TagResource", resource.to_string()) }]
        }
    }

    fn checks(&self) -> Result<Vec<Check>, Unresolved> {
        Ok(match self.action {
            // ECS. Service actions are on the service; ListTasks is on a container instance,
            // which sigship never names: `*`, narrowed by ecs:cluster.
            "ecs:DescribeServices" | "ecs:UpdateService" | "ecs:DeleteService" => {
                self.with_cluster(self.on(self.in_cluster("service", &["services", "service"])))
            }
            "ecs:CreateService" => {
                let service = self.in_cluster("service", &["serviceName"]);
                let created =
                    service.first().cloned().ok_or_else(|| Unresolved("CreateService names no serviceName".into()))?;
                [self.with_cluster(self.on(service)), self.tagged_on_create(&created)].concat()
            }
            "ecs:ListTasks" => {
                let instances = self.in_cluster("container-instance", &["containerInstance"]);
                let on = if instances.is_empty() { self.everything() } else { self.on(instances) };
                self.with_cluster(on)
            }
            "ecs:DescribeTasks" | "ecs:StopTask" => {
                self.with_cluster(self.on(self.in_cluster("task", &["tasks", "task"])))
            }
            "ecs:RegisterTaskDefinition" => {
                let family = self.required(&["family"])?;
                // The revision is not known before it is created.
                let created = self.arn("ecs", &format!("task-definition/{family}:*"));
                [
                    self.everything(),
                    self.passed_roles("ecs-tasks.amazonaws.com", &["executionRoleArn", "taskRoleArn"]),
                    self.tagged_on_create(&created),
                ]
                .concat()
            }
            "ecs:ListTaskDefinitions" | "ecs:DescribeTaskDefinition" | "ecs:DeregisterTaskDefinition" => {
                self.everything()
            }
            // Tagging actions name their resource by ARN.
            "ecs:TagResource" | "ecs:ListTagsForResource" | "ecr:ListTagsForResource" => {
                self.on(vec![self.required(&["resourceArn"])?.to_string()])
            }
            // ECR: on the repository; the login token has no resource.
            "ecr:GetAuthorizationToken" => self.everything(),
            "ecr:DescribeRepositories" => {
                let names = self.all("repositoryNames");
                if names.is_empty() {
                    self.everything()
                } else {
                    self.on(names.iter().map(|n| self.arn("ecr", &format!("repository/{n}"))).collect())
                }
            }
            action if action.starts_with("ecr:") => self.on(vec![self.repository()?]),
            // CodeBuild: on the project (a build id is `<project>:<uuid>`).
            "codebuild:StartBuild" | "codebuild:ListBuildsForProject" => {
                let project = self.required(&["projectName"])?;
                self.on(vec![self.named(project, "codebuild", |p| format!("project/{p}"))])
            }
            "codebuild:BatchGetBuilds" => self.on(self
                .all("ids")
                .iter()
                .map(|id| {
                    let project = id.rsplit('/').next().unwrap_or(id).split(':').next().unwrap_or(id);
                    self.arn("codebuild", &format!("project/{project}"))
                })
                .collect()),
            "codebuild:BatchGetProjects" => self.on(self
                .all("names")
                .iter()
                .map(|p| self.named(p, "codebuild", |p| format!("project/{p}")))
                .collect()),
            // Step Functions.
            "states:StartExecution" | "states:ListExecutions" | "states:DescribeStateMachine" => {
                self.on(vec![self.required(&["stateMachineArn"])?.to_string()])
            }
            "states:DescribeExecution" | "states:GetExecutionHistory" | "states:StopExecution" => {
                self.on(vec![self.required(&["executionArn"])?.to_string()])
            }
            // A secret or a stack named by name is judged on its full ARN, which AWS looks up:
            // the caller of the model resolves the name first.
            "secretsmanager:GetSecretValue" | "secretsmanager:DescribeSecret" => {
                self.on(vec![self.arn_given(&["SecretId"])?])
            }
            // CloudWatch Logs: a group's events and streams are on the group; DescribeLogGroups
            // is on no group.
            "logs:FilterLogEvents" | "logs:DescribeLogStreams" | "logs:GetLogEvents" => {
                self.on(vec![self.log_group()?])
            }
            "logs:DescribeLogGroups" => self.on(vec![self.arn("logs", "log-group::log-stream:")]),
            // EFS: a mount target's actions are on its file system.
            "elasticfilesystem:DescribeFileSystems" | "elasticfilesystem:DescribeAccessPoints" => {
                match self.first(&["FileSystemId"]) {
                    Some(_) => self.on(vec![self.file_system()?]),
                    None => self.everything(),
                }
            }
            "elasticfilesystem:DescribeMountTargets" | "elasticfilesystem:DeleteFileSystem" => {
                self.on(vec![self.file_system()?])
            }
            // EFS deletes the mount target's network interface as the caller.
            "elasticfilesystem:DeleteMountTarget" => {
                let interfaces = self.all("NetworkInterfaceId").iter().map(|id| {
                    self.check("ec2:DeleteNetworkInterface", self.arn("ec2", &format!("network-interface/{id}")))
                });
                [self.on(vec![self.file_system()?]), interfaces.collect()].concat()
            }
            "elasticfilesystem:DeleteAccessPoint" => {
                let id = self.required(&["AccessPointId"])?;
                self.on(vec![self.arn("elasticfilesystem", &format!("access-point/{id}"))])
            }
            // S3: a listing is on the bucket, with its prefix; a read on the object (and, at a
            // version, s3:GetObjectVersion).
            "s3:ListBucket" => {
                let bucket = self.required(&["bucket"])?;
                let context =
                    HashMap::from([("s3:prefix".to_string(), self.first(&["prefix"]).unwrap_or("").to_string())]);
                vec![Check {
                    context,
                    ..self.check(self.action, format!("arn:{}:s3:::{bucket}", self.place.partition))
                }]
            }
            "s3:GetObject" => {
                let object = format!(
                    "arn:{}:s3:::{}/{}",
                    self.place.partition,
                    self.required(&["bucket"])?,
                    self.required(&["key"])?
                );
                let action = if self.first(&["versionId"]).is_some() { "s3:GetObjectVersion" } else { "s3:GetObject" };
                vec![self.check(action, object)]
            }
            "cloudformation:DescribeStacks" => match self.first(&["StackName"]) {
                Some(_) => self.on(vec![self.arn_given(&["StackName"])?]),
                None => self.everything(),
            },
            // Lambda: the function, at the qualifier the request names.
            "lambda:InvokeFunction" | "lambda:GetFunctionConfiguration" => {
                let function = self.required(&["FunctionName"])?;
                let mut arn = self.named(function, "lambda", |name| format!("function:{name}"));
                if let Some(qualifier) = self.first(&["Qualifier"]) {
                    arn = format!("{arn}:{qualifier}");
                }
                self.on(vec![arn])
            }
            // A function URL request: InvokeFunctionUrl with the URL's auth type and, for URLs
            // created since October 2025, InvokeFunction via the URL.
            "lambda:InvokeFunctionUrl" => {
                let function = self.required(&["FunctionName"])?;
                let arn = self.named(function, "lambda", |name| format!("function:{name}"));
                let auth = self.required(&["FunctionUrlAuthType"])?;
                let context = |key: &str, value: &str| HashMap::from([(key.to_string(), value.to_string())]);
                vec![
                    Check {
                        context: context("lambda:FunctionUrlAuthType", auth),
                        ..self.check(self.action, arn.clone())
                    },
                    Check {
                        context: context("lambda:InvokedViaFunctionUrl", "true"),
                        ..self.check("lambda:InvokeFunction", arn)
                    },
                ]
            }
            // SSM Parameter Store: on each parameter named (the ARN drops the name's leading "/").
            "ssm:GetParameters" | "ssm:GetParameter" | "ssm:PutParameter" => {
                let names = [self.all("Names"), self.all("Name")].concat();
                if names.is_empty() {
                    return Err(Unresolved(format!("{} names no parameter", self.action)));
                }
                self.on(names
                    .iter()
                    .map(|n| self.arn("ssm", &format!("parameter/{}", n.trim_start_matches('/'))))
                    .collect())
            }
            "sts:GetCallerIdentity" => vec![],
            // Read-only; sigship grants them on "*" (resource-level support unconfirmed here).
            "servicequotas:GetServiceQuota" | "servicequotas:GetAWSDefaultServiceQuota" => self.everything(),
            other => return Err(Unresolved(format!("no resource model for {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> Place {
        Place { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into() }
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        let mut params = Params::new();
        for (k, v) in pairs {
            params.entry(k.to_string()).or_default().push(v.to_string());
        }
        params
    }

    #[test]
    fn list_tasks_naming_no_container_instance_is_judged_on_everything_in_its_cluster() {
        let checks =
            checks("ecs:ListTasks", &params(&[("cluster", "sigship"), ("serviceName", "btcd")]), &place()).unwrap();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].resource, "*");
        assert_eq!(checks[0].context["ecs:cluster"], "arn:aws:ecs:us-east-1:123456789012:cluster/sigship");
    }

    #[test]
    fn service_actions_are_on_the_named_service_whether_named_or_by_arn() {
        let by_arn = params(&[("cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/sigship"), ("service", "btcd")]);
        let checks = checks("ecs:UpdateService", &by_arn, &place()).unwrap();
        assert_eq!(checks[0].resource, "arn:aws:ecs:us-east-1:123456789012:service/sigship/btcd");
    }

    #[test]
    fn a_task_definition_passes_its_roles_and_tags_on_create() {
        let request = params(&[
            ("family", "sigship-btcd"),
            ("executionRoleArn", "arn:aws:iam::123456789012:role/exec"),
            ("taskRoleArn", "arn:aws:iam::123456789012:role/task"),
            ("tags", ""),
        ]);
        let checks = checks("ecs:RegisterTaskDefinition", &request, &place()).unwrap();
        let actions: Vec<_> = checks.iter().map(|c| (c.action.as_str(), c.resource.as_str())).collect();
        assert_eq!(
            actions,
            [
                ("ecs:RegisterTaskDefinition", "*"),
                ("iam:PassRole", "arn:aws:iam::123456789012:role/exec"),
                ("iam:PassRole", "arn:aws:iam::123456789012:role/task"),
                ("ecs:TagResource", "arn:aws:ecs:us-east-1:123456789012:task-definition/sigship-btcd:*"),
            ]
        );
        assert_eq!(checks[1].context["iam:PassedToService"], "ecs-tasks.amazonaws.com");
    }

    #[test]
    fn reads_at_a_version_need_get_object_version_and_listings_carry_their_prefix() {
        let read = params(&[("bucket", "b"), ("key", "p/source.zip"), ("versionId", "3")]);
        assert_eq!(checks("s3:GetObject", &read, &place()).unwrap()[0].action, "s3:GetObjectVersion");
        let list = checks("s3:ListBucket", &params(&[("bucket", "b"), ("prefix", "p/trust-root/")]), &place()).unwrap();
        assert_eq!(
            (list[0].resource.as_str(), list[0].context["s3:prefix"].as_str()),
            ("arn:aws:s3:::b", "p/trust-root/")
        );
    }

    #[test]
    fn an_action_without_a_model_or_a_resource_is_unresolved() {
        assert!(checks("ecs:DeleteCluster", &Params::new(), &place()).is_err());
        assert!(checks("elasticfilesystem:DeleteFileSystem", &Params::new(), &place()).is_err());
    }
}
