//! Resource-level authorization, as AWS evaluates it, for the principals the stack defines. moto
//! judges a request's action only (and S3's by resource); the router asks this authorizer first:
//! the request becomes its IAM action and parameters, the one resource model
//! (`iam::authorization`) names the resources and context AWS evaluates, and the
//! principal's identity policies (read from the local IAM) must allow each — by
//! `iam::policy::allows`, the evaluator the permission contract uses too.
//!
//! Judged: every function (its role's session), the operator (a user holding the stack's
//! OperatorPolicy) and Step Functions invoking a function (the state machine's role). Not judged
//! here: the administrator (`sigship up`/`down` and the local cloud itself), and the simulated
//! CodeBuild and ECS agents, which call moto directly (moto still judges their actions).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use iam::authorization::{self, Check, Params, Place};
use iam::policy::{allows, statements};
use serde_json::Value;

/// Whose keys a request is signed with.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A role's session (a function's role as Lambda assumes it).
    Role { arn: String, session: String },
    /// An IAM user (the operator).
    User { name: String, arn: String },
}

impl Principal {
    /// As CodeBuild records who started a build (`initiator`): a role's session as
    /// `<role name>/<session name>`, a user by name.
    pub fn initiator(&self) -> String {
        match self {
            Principal::Role { arn, session } => format!("{}/{session}", pipeline::arn::name_of(arn)),
            Principal::User { name, .. } => name.clone(),
        }
    }

    /// As AWS names the caller in an AccessDenied message (and a task definition's `registeredBy`).
    pub fn caller(&self) -> String {
        match self {
            Principal::Role { arn, session } => {
                let account = pipeline::arn::Arn::parse(arn).map_or("", |a| a.account);
                format!("arn:aws:sts::{account}:assumed-role/{}/{session}", pipeline::arn::name_of(arn))
            }
            Principal::User { arn, .. } => arn.clone(),
        }
    }
}

/// The keys moto's Step Functions interpreter signs its Lambda invokes with; the header its
/// patched client adds names the state machine's role (see moto_server.py).
pub const INTERPRETER_KEY: &str = "ak";
pub const EXECUTION_ROLE_HEADER: &str = "x-localcloud-role-arn";

/// A request as the authorizer sees it.
pub struct Request<'a> {
    pub service: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub target: Option<&'a str>,
    pub body: &'a [u8],
}

pub struct Authorizer {
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    efs: aws_sdk_efs::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    place: Place,
    principals: Mutex<HashMap<String, Principal>>,
    /// Each principal's identity-policy statements, read once; dropped when the stack changes.
    statements: Mutex<HashMap<String, Vec<Value>>>,
    /// Every denial, as AWS's message says it.
    pub denials: Mutex<Vec<String>>,
    /// From when IAM is enforced (as moto's action checks).
    enforcing: AtomicBool,
}

impl Authorizer {
    /// `sdk`: the administrator's, on moto directly.
    pub fn new(sdk: &aws_config::SdkConfig, account: &str) -> Self {
        Authorizer {
            iam: aws_sdk_iam::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            efs: aws_sdk_efs::Client::new(sdk),
            cloudformation: aws_sdk_cloudformation::Client::new(sdk),
            place: Place {
                partition: "aws".into(),
                region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
                account: account.into(),
            },
            principals: Mutex::new(HashMap::new()),
            statements: Mutex::new(HashMap::new()),
            denials: Mutex::new(Vec::new()),
            enforcing: AtomicBool::new(false),
        }
    }

    pub fn enforce(&self) {
        self.enforcing.store(true, Ordering::SeqCst);
    }

    pub fn enforcing(&self) -> bool {
        self.enforcing.load(Ordering::SeqCst)
    }

    /// Requests signed with `access_key` are judged as `principal`'s from now on.
    pub fn register(&self, access_key: &str, principal: Principal) {
        self.principals.lock().unwrap().insert(access_key.to_string(), principal);
    }

    pub fn principal(&self, access_key: &str) -> Option<Principal> {
        self.principals.lock().unwrap().get(access_key).cloned()
    }

    /// Policies may have changed (a stack was created, updated or deleted).
    pub fn forget_policies(&self) {
        self.statements.lock().unwrap().clear();
    }

    /// None when `principal` may make the request; else AWS's AccessDenied message.
    pub async fn judge(&self, principal: &Principal, request: &Request<'_>) -> Option<String> {
        let caller = principal.caller();
        let denied = |action: &str, resource: &str, why: &str| {
            let message =
                format!("User: {caller} is not authorized to perform: {action} on resource: {resource} {why}");
            self.denials.lock().unwrap().push(message.clone());
            Some(message)
        };
        let Some((action, mut params)) = action_and_params(request) else {
            let what = format!("{} {} {}", request.service, request.method, request.path);
            return denied(&what, "*", "because the local cloud's authorizer does not know this request");
        };
        self.look_up(&action, &mut params).await;
        let checks = match authorization::checks(&action, &params, &self.place) {
            Ok(checks) => checks,
            Err(unresolved) => {
                return denied(&action, "*", &format!("because the local cloud cannot resolve it: {unresolved}"))
            }
        };
        let (Check { action, resource, .. }, unjudged) = first_denied(&self.statements_of(principal).await, checks)?;
        let because = match unjudged {
            Some(what) => format!("because the local cloud cannot judge the policy: {what}"),
            None => format!("because no identity-based policy allows the {action} action"),
        };
        denied(&action, &resource, &because)
    }

    /// None when anyone may call `function`'s URL; else why not. A public URL's request is
    /// judged against the function's resource policy (its statements for principal `*`), with the
    /// URL's auth type.
    pub async fn judge_function_url(&self, function: &str) -> Option<String> {
        let Ok(url) = self.lambda.get_function_url_config().function_name(function).send().await else {
            return Some(format!("{function} has no function URL"));
        };
        let params = Params::from([
            ("FunctionName".to_string(), vec![url.function_arn().to_string()]),
            ("FunctionUrlAuthType".to_string(), vec![url.auth_type().as_str().to_string()]),
        ]);
        let policy = self.lambda.get_policy().function_name(function).send().await.ok();
        let public: Vec<Value> = document_statements(policy.as_ref().and_then(|p| p.policy()).unwrap_or("{}"))
            .into_iter()
            .filter(|s| s["Principal"] == "*" || s["Principal"]["AWS"] == "*")
            .collect();
        let checks = match authorization::checks("lambda:InvokeFunctionUrl", &params, &self.place) {
            Ok(checks) => checks,
            Err(unresolved) => return Some(unresolved.to_string()),
        };
        let (Check { action, resource, context }, unjudged) = first_denied(&public, checks)?;
        let because = unjudged.map_or("no resource-based policy allows it".to_string(), |what| {
            format!("the local cloud cannot judge the policy: {what}")
        });
        let message = format!(
            "anonymous is not authorized to perform: {action} on resource: {resource} (context {context:?}) because {because}"
        );
        self.denials.lock().unwrap().push(message.clone());
        Some(message)
    }

    /// What AWS resolves before it authorizes: a mount target's file system and network
    /// interface, a stack's ARN from its name.
    async fn look_up(&self, action: &str, params: &mut Params) {
        let first = |params: &Params, name: &str| params.get(name).and_then(|v| v.first()).cloned();
        match action {
            "elasticfilesystem:DeleteMountTarget" | "elasticfilesystem:DescribeMountTargets" => {
                let Some(id) = first(params, "MountTargetId") else { return };
                let found = self.efs.describe_mount_targets().mount_target_id(&id).send().await;
                if let Some(target) = found.ok().and_then(|f| f.mount_targets().first().cloned()) {
                    params.insert("FileSystemId".into(), vec![target.file_system_id().to_string()]);
                    if let Some(interface) = target.network_interface_id() {
                        params.insert("NetworkInterfaceId".into(), vec![interface.to_string()]);
                    }
                }
            }
            "cloudformation:DescribeStacks" => {
                let Some(name) = first(params, "StackName").filter(|n| !n.starts_with("arn:")) else { return };
                let found = self.cloudformation.describe_stacks().stack_name(&name).send().await;
                if let Some(id) =
                    found.ok().and_then(|f| f.stacks().first().and_then(|s| s.stack_id().map(String::from)))
                {
                    params.insert("StackName".into(), vec![id]);
                }
            }
            _ => {}
        }
    }

    async fn statements_of(&self, principal: &Principal) -> Vec<Value> {
        let key = match principal {
            Principal::Role { arn, .. } | Principal::User { arn, .. } => arn.clone(),
        };
        if let Some(cached) = self.statements.lock().unwrap().get(&key) {
            return cached.clone();
        }
        let mut documents = Vec::new();
        let mut attached = Vec::new();
        match principal {
            Principal::Role { arn, .. } => {
                let role = pipeline::arn::name_of(arn);
                if let Ok(names) = self.iam.list_role_policies().role_name(role).send().await {
                    for name in names.policy_names() {
                        if let Ok(p) = self.iam.get_role_policy().role_name(role).policy_name(name).send().await {
                            documents.push(p.policy_document().to_string());
                        }
                    }
                }
                if let Ok(list) = self.iam.list_attached_role_policies().role_name(role).send().await {
                    attached.extend(list.attached_policies().iter().filter_map(|p| p.policy_arn().map(String::from)));
                }
            }
            Principal::User { name, .. } => {
                if let Ok(names) = self.iam.list_user_policies().user_name(name).send().await {
                    for policy in names.policy_names() {
                        if let Ok(p) = self.iam.get_user_policy().user_name(name).policy_name(policy).send().await {
                            documents.push(p.policy_document().to_string());
                        }
                    }
                }
                if let Ok(list) = self.iam.list_attached_user_policies().user_name(name).send().await {
                    attached.extend(list.attached_policies().iter().filter_map(|p| p.policy_arn().map(String::from)));
                }
            }
        }
        for arn in attached {
            let Ok(policy) = self.iam.get_policy().policy_arn(&arn).send().await else { continue };
            let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else { continue };
            if let Ok(v) = self.iam.get_policy_version().policy_arn(&arn).version_id(version).send().await {
                documents.extend(v.policy_version().and_then(|v| v.document()).map(String::from));
            }
        }
        let statements: Vec<Value> = documents.iter().flat_map(|d| document_statements(d)).collect();
        self.statements.lock().unwrap().insert(key, statements.clone());
        statements
    }
}

/// A policy document's statements (IAM returns documents URL-encoded; moto sometimes does not).
fn document_statements(document: &str) -> Vec<Value> {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy().to_string();
    let parsed: Value = serde_json::from_str(document).or_else(|_| serde_json::from_str(&decoded)).unwrap_or_default();
    statements(&parsed)
}

/// The first check `statements` do not allow, with what kept the evaluator from judging it when
/// that is why (an operator or statement key it does not know: denied, never skipped).
fn first_denied(statements: &[Value], checks: Vec<Check>) -> Option<(Check, Option<String>)> {
    checks.into_iter().find_map(|c| match allows(statements, &c.action, &c.resource, &c.context) {
        Ok(true) => None,
        Ok(false) => Some((c, None)),
        Err(unjudged) => Some((c, Some(unjudged))),
    })
}

/// The IAM action a request asks for and its parameters, from its protocol: JSON (`X-Amz-Target`
/// and a JSON body), query (a form with `Action`), or REST (method and path) for the REST calls
/// sigship's principals make (Lambda, EFS, S3).
pub fn action_and_params(request: &Request<'_>) -> Option<(String, Params)> {
    let prefix = authorization::action_prefix(request.service);
    if let Some(target) = request.target {
        let operation = target.rsplit('.').next().unwrap_or(target);
        let body: Value = serde_json::from_slice(request.body).unwrap_or_default();
        return Some((format!("{prefix}:{operation}"), json_params(&body)));
    }
    let form = if request.body.is_empty() { request.query.as_bytes() } else { request.body };
    let mut fields = pairs(std::str::from_utf8(form).unwrap_or_default());
    if let Some(operation) = fields.remove("Action").and_then(|v| v.into_iter().next()) {
        fields.remove("Version");
        return Some((format!("{prefix}:{operation}"), fields));
    }
    let query = pairs(request.query);
    let segments: Vec<String> = request
        .path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().to_string())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let with = |mut params: Params, pairs: &[(&str, &str)]| {
        for (k, v) in pairs {
            params.insert(k.to_string(), vec![v.to_string()]);
        }
        params
    };
    let (operation, params) = match (request.service, request.method, segments.as_slice()) {
        ("lambda", "POST", ["2015-03-31", "functions", function, "invocations"]) => {
            ("InvokeFunction", with(query, &[("FunctionName", function)]))
        }
        ("lambda", "GET", ["2015-03-31", "functions", function, "configuration"]) => {
            ("GetFunctionConfiguration", with(query, &[("FunctionName", function)]))
        }
        ("elasticfilesystem", "GET", ["2015-02-01", "file-systems"]) => ("DescribeFileSystems", query),
        ("elasticfilesystem", "GET", ["2015-02-01", "access-points"]) => ("DescribeAccessPoints", query),
        ("elasticfilesystem", "GET", ["2015-02-01", "mount-targets"]) => ("DescribeMountTargets", query),
        ("elasticfilesystem", "DELETE", ["2015-02-01", "mount-targets", id]) => {
            ("DeleteMountTarget", with(query, &[("MountTargetId", id)]))
        }
        ("elasticfilesystem", "DELETE", ["2015-02-01", "file-systems", id]) => {
            ("DeleteFileSystem", with(query, &[("FileSystemId", id)]))
        }
        ("elasticfilesystem", "DELETE", ["2015-02-01", "access-points", id]) => {
            ("DeleteAccessPoint", with(query, &[("AccessPointId", id)]))
        }
        ("s3", "GET", [bucket] | [bucket, ""]) if query.contains_key("list-type") => {
            ("ListBucket", with(query, &[("bucket", bucket)]))
        }
        ("s3", "GET" | "HEAD", [bucket, key @ ..]) if !key.is_empty() => {
            ("GetObject", with(query, &[("bucket", bucket), ("key", &key.join("/"))]))
        }
        _ => return None,
    };
    Some((format!("{prefix}:{operation}"), params))
}

/// A JSON request's top-level parameters: strings and lists of strings as they are; any other
/// value present, as an empty string.
fn json_params(body: &Value) -> Params {
    let mut params = Params::new();
    for (name, value) in body.as_object().into_iter().flatten() {
        let values = match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().map(|i| i.as_str().unwrap_or_default().to_string()).collect(),
            Value::Null => continue,
            _ => vec![String::new()],
        };
        if !values.is_empty() {
            params.insert(name.clone(), values);
        }
    }
    params
}

/// A form's parameters (see [`crate::http::form`]).
fn pairs(text: &str) -> Params {
    crate::http::form(text.as_bytes()).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        service: &'a str,
        method: &'a str,
        path: &'a str,
        query: &'a str,
        target: Option<&'a str>,
        body: &'a [u8],
    ) -> Request<'a> {
        Request { service, method, path, query, target, body }
    }

    #[test]
    fn each_protocol_gives_the_action_and_the_parameters_the_model_reads() {
        let json = br#"{"cluster":"sigship","serviceName":"btcd","desiredStatus":"RUNNING"}"#;
        let (action, params) = action_and_params(&request(
            "ecs",
            "POST",
            "/",
            "",
            Some("AmazonEC2ContainerServiceV20141113.ListTasks"),
            json,
        ))
        .unwrap();
        assert_eq!(action, "ecs:ListTasks");
        assert_eq!(params["cluster"], ["sigship"]);
        let (action, params) = action_and_params(&request(
            "cloudformation",
            "POST",
            "/",
            "",
            None,
            b"Action=DescribeStacks&Version=2010-05-15&StackName=sigship",
        ))
        .unwrap();
        assert_eq!((action.as_str(), params["StackName"][0].as_str()), ("cloudformation:DescribeStacks", "sigship"));
        let (action, params) = action_and_params(&request(
            "elasticfilesystem",
            "DELETE",
            "/2015-02-01/mount-targets/fsmt-1",
            "",
            None,
            b"",
        ))
        .unwrap();
        assert_eq!(
            (action.as_str(), params["MountTargetId"][0].as_str()),
            ("elasticfilesystem:DeleteMountTarget", "fsmt-1")
        );
        let (action, params) =
            action_and_params(&request("s3", "GET", "/bucket/p/trust-root/policy.toml", "", None, b"")).unwrap();
        assert_eq!((action.as_str(), params["key"][0].as_str()), ("s3:GetObject", "p/trust-root/policy.toml"));
        let (action, params) =
            action_and_params(&request("s3", "GET", "/bucket", "list-type=2&prefix=p%2Ftrust-root%2F", None, b""))
                .unwrap();
        assert_eq!((action.as_str(), params["prefix"][0].as_str()), ("s3:ListBucket", "p/trust-root/"));
        let arn = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Asigship-deploy/invocations";
        let (action, params) = action_and_params(&request("lambda", "POST", arn, "", None, b"{}")).unwrap();
        assert_eq!(action, "lambda:InvokeFunction");
        assert_eq!(params["FunctionName"], ["arn:aws:lambda:us-east-1:123456789012:function:sigship-deploy"]);
        assert!(action_and_params(&request("s3", "PUT", "/bucket/key", "", None, b"")).is_none());
    }

    #[test]
    fn a_role_session_is_named_as_aws_names_it() {
        let role = Principal::Role {
            arn: "arn:aws:iam::123456789012:role/sigship-DestroyRole-X".into(),
            session: "sigship-destroy".into(),
        };
        assert_eq!(role.caller(), "arn:aws:sts::123456789012:assumed-role/sigship-DestroyRole-X/sigship-destroy");
    }
}
