//! The router listens where moto's Step Functions interpreter (and every function's SDK) sends
//! AWS calls. Lambda `Invoke` goes to the runtime host; everything else passes through to moto,
//! and what moto only records is then done for real: a StartBuild compiles (see
//! [`crate::codebuild`]), a service's tasks run (see [`crate::fargate`]) — unless a test injected
//! a fault (see [`crate::faults`]), which the router applies here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::authorizer::{self, Authorizer, Principal};
use crate::codebuild::CodeBuild;
use crate::fargate::Fargate;
use crate::faults::{self, Faults, Kind};
use crate::http::{access_denied, dropped, reply, signer_of, Reply};
use crate::runtime::{Function, FunctionDefinition, Outcome};
use crate::s3_versioning::VersioningPropagation;
use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlRequestContext, LambdaFunctionUrlRequestContextHttpDescription,
    LambdaFunctionUrlResponse,
};

pub struct Router {
    pub moto_port: u16,
    pub functions: HashMap<String, Arc<Function>>,
    pub lambda: aws_sdk_lambda::Client,
    /// The local CodeBuild, once the cloud has a stack and a source repository to build from.
    pub codebuild: OnceLock<Arc<CodeBuild>>,
    /// The local Fargate: the services' tasks.
    pub fargate: Arc<Fargate>,
    client: Client<HttpConnector, Full<Bytes>>,
    pub invocations: Mutex<Vec<(String, bool)>>,
    /// Each function's temporary credentials of its role (see `Services::assume_function_roles`).
    pub credentials: Mutex<HashMap<String, aws_credential_types::Credentials>>,
    /// Who registered each task definition revision (its ARN → the caller's ARN).
    pub registrars: Mutex<HashMap<String, String>>,
    pub faults: Arc<Faults>,
    /// Judges the stack's principals' requests by resource (see [`crate::authorizer`]).
    pub authorizer: Authorizer,
    /// A new bucket's versioning takes a while to take (see [`crate::s3_versioning`]).
    pub s3_versioning: VersioningPropagation,
    /// The registry behind ECR (`http://127.0.0.1:<port>`, see [`crate::registry`]).
    pub registry: OnceLock<String>,
}

impl Router {
    pub fn new(
        moto_port: u16,
        functions: HashMap<String, Arc<Function>>,
        sdk: &aws_config::SdkConfig,
        fargate: Arc<Fargate>,
        authorizer: Authorizer,
    ) -> Self {
        Router {
            authorizer,
            lambda: aws_sdk_lambda::Client::new(sdk),
            faults: Arc::new(Faults::default()),
            moto_port,
            functions,
            codebuild: OnceLock::new(),
            fargate,
            client: Client::builder(TokioExecutor::new()).build_http(),
            invocations: Mutex::new(Vec::new()),
            credentials: Mutex::new(HashMap::new()),
            registrars: Mutex::new(HashMap::new()),
            s3_versioning: VersioningPropagation::new(std::time::Duration::ZERO),
            registry: OnceLock::new(),
        }
    }

    async fn forward(&self, req: Request<Bytes>) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        parts.uri = format!("http://127.0.0.1:{}{path}", self.moto_port).parse().map_err(|e| format!("{e}"))?;
        let response =
            self.client.request(Request::from_parts(parts, Full::new(body))).await.map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    pub async fn definition(&self, name: &str) -> FunctionDefinition {
        let config = self.lambda.get_function_configuration().function_name(name).send().await.unwrap_or_else(|e| {
            panic!(
                "function {name} is not defined in the local cloud: {}",
                aws_sdk_lambda::error::DisplayErrorContext(e)
            )
        });
        let credentials = self.credentials.lock().unwrap().get(name).cloned();
        let mut environment: Vec<(String, String)> = config
            .environment()
            .and_then(|e| e.variables())
            .map(|vars| vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        // As Lambda does: its logging controls (JSON format carries an application log level)…
        if let Some(logging) = config.logging_config() {
            let format = logging.log_format().map(|f| f.as_str().to_string());
            let level = logging.application_log_level().map(|l| l.as_str().to_string());
            if let Some(format) = format {
                let json = format.eq_ignore_ascii_case("json");
                environment.push(("AWS_LAMBDA_LOG_FORMAT".into(), format));
                if json {
                    environment.push(("AWS_LAMBDA_LOG_LEVEL".into(), level.unwrap_or_else(|| "INFO".into())));
                }
            }
        }
        // …and the role's temporary credentials in the standard variables.
        environment.extend(credentials.iter().flat_map(crate::iam::env_of).map(|(k, v)| (k.to_string(), v)));
        FunctionDefinition {
            arn: config.function_arn().unwrap_or_default().to_string(),
            environment,
            credentials,
            timeout: std::time::Duration::from_secs(config.timeout().unwrap_or(3) as u64),
            memory_mb: config.memory_size().unwrap_or(128),
        }
    }
}

/// `/2015-03-31/functions/{name or ARN}/invocations` → the function's name.
fn invoked_function(path: &str) -> Option<String> {
    let encoded = path.strip_prefix("/2015-03-31/functions/")?.strip_suffix("/invocations")?;
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?.to_string();
    // arn:aws:lambda:region:account:function:name[:qualifier]
    Some(match decoded.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", _, _, "function", name, ..] => name.to_string(),
        _ => decoded,
    })
}

/// `/lambda-url/<function>/<path>`: the function's URL. AWS hands a Function URL request to the
/// function as a `LambdaFunctionUrlRequest` (payload 2.0) and turns its answer into the HTTP
/// response; this does the same for the hosted binaries.
async fn function_url(router: &Router, name: &str, req: Request<Bytes>) -> Reply {
    let Some(function) = router.functions.get(name).cloned() else {
        return reply(StatusCode::NOT_FOUND, format!("no function URL for {name}"));
    };
    if router.authorizer.enforcing() {
        if let Some(message) = router.authorizer.judge_function_url(name).await {
            eprintln!("local cloud: denied: {message}");
            // What a function URL answers a request its resource policy does not allow.
            return reply(StatusCode::FORBIDDEN, r#"{"Message":"Forbidden"}"#);
        }
    }
    let (parts, body) = req.into_parts();
    let (body, encoded) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64_encode(&body), true),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let mut http = LambdaFunctionUrlRequestContextHttpDescription::default();
    http.method = Some(parts.method.as_str().to_string());
    http.path = Some(parts.uri.path().to_string());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("127.0.0.1".into());
    http.user_agent = parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).map(String::from);
    let mut context = LambdaFunctionUrlRequestContext::default();
    context.account_id = Some("anonymous".into());
    context.apiid = Some(name.to_string());
    context.domain_name = Some(format!("{name}.lambda-url.local"));
    context.domain_prefix = Some(name.to_string());
    context.request_id = Some(format!("{:x}", now.as_nanos()));
    context.time_epoch = now.as_millis() as i64;
    context.http = http;
    let mut event = LambdaFunctionUrlRequest::default();
    event.version = Some("2.0".into());
    event.raw_path = Some(parts.uri.path().to_string());
    event.raw_query_string = Some(parts.uri.query().unwrap_or_default().to_string());
    event.query_string_parameters = crate::http::form(parts.uri.query().unwrap_or_default().as_bytes())
        .into_iter()
        .map(|(k, mut v)| (k, v.remove(0)))
        .collect();
    event.headers = parts.headers;
    event.request_context = context;
    event.body = Some(body);
    event.is_base64_encoded = encoded;
    let event = serde_json::to_vec(&event).expect("an event serialises");
    let outcome = function.invoke(Bytes::from(event), async || router.definition(name).await).await;
    router.invocations.lock().unwrap().push((name.to_string(), matches!(outcome, Outcome::Error(_))));
    let Outcome::Response(answer) = outcome else {
        return reply(StatusCode::BAD_GATEWAY, "the function failed");
    };
    let Ok(answer) = serde_json::from_slice::<LambdaFunctionUrlResponse>(&answer) else {
        return reply(StatusCode::BAD_GATEWAY, "the function's answer is not a function URL response");
    };
    let status =
        u16::try_from(answer.status_code).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let mut response = reply(status, answer.body.unwrap_or_default());
    response.headers_mut().extend(answer.headers);
    response
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub async fn route(router: Arc<Router>, req: Request<Bytes>) -> Reply {
    if let Some(name) = req.uri().path().strip_prefix("/lambda-url/").and_then(|p| p.split('/').next()) {
        let name = name.to_string();
        return function_url(&router, &name, req).await;
    }
    if let Some(denied) = authorize(&router, &req).await {
        return denied;
    }
    if let Some(name) = invoked_function(req.uri().path()) {
        if let Some(function) = router.functions.get(&name).cloned() {
            let fault = router.faults.for_function(&name);
            let outcome =
                function.invoke_meeting(req.into_body(), async || router.definition(&name).await, fault).await;
            let failed = matches!(outcome, Outcome::Error(_));
            router.invocations.lock().unwrap().push((name, failed));
            let (body, function_error) = match outcome {
                Outcome::Response(body) => (body, None),
                Outcome::Error(body) => (body, Some("Unhandled")),
            };
            let mut response = reply(StatusCode::OK, body);
            response.headers_mut().insert("x-amz-executed-version", "$LATEST".parse().unwrap());
            if let Some(kind) = function_error {
                response.headers_mut().insert("x-amz-function-error", kind.parse().unwrap());
            }
            return response;
        }
    }
    let call = faults::call_of(
        req.headers(),
        req.method().as_str(),
        req.uri().path_and_query().map_or("/", |p| p.as_str()),
        req.body(),
    );
    let (service, operation) = call.unwrap_or_default();
    match router.faults.for_call(&service, &operation) {
        Some(Kind::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(Kind::Drop) => return dropped(),
        Some(kind) => {
            let (status, content_type, body) = faults::error_response(&service, &kind);
            let mut response = reply(StatusCode::from_u16(status).unwrap(), body);
            response.headers_mut().insert("content-type", content_type.parse().unwrap());
            return response;
        }
        None => {}
    }
    let (method, path, query) = (
        req.method().as_str().to_string(),
        req.uri().path().to_string(),
        req.uri().query().unwrap_or_default().to_string(),
    );
    if service == "s3" {
        if let Some(not_yet) = router.s3_versioning.before(&method, &path, &query) {
            return not_yet;
        }
    }
    let request_body = req.body().clone();
    // Who signed it (the administrator is no registered principal): what CodeBuild and ECS record.
    let signer = signer_of(req.headers()).and_then(|(key, _)| router.authorizer.principal(key));
    let signer = signer.unwrap_or_else(|| Principal::User {
        name: "localcloud".into(),
        arn: format!("arn:aws:iam::{}:user/localcloud", crate::ACCOUNT),
    });
    match router.forward(req).await {
        Ok((status, headers, body)) => {
            // A stack created, changed or deleted may have changed its roles' policies.
            let writes = ["Create", "Update", "Delete", "Execute", "Put", "Attach", "Detach"];
            if matches!(service.as_str(), "cloudformation" | "iam") && writes.iter().any(|w| operation.starts_with(w)) {
                router.authorizer.forget_policies();
            }
            let body = after_moto(&router, (&service, &operation), &signer, status, &request_body, body);
            let mut response = reply(status, body);
            *response.headers_mut() = headers;
            response.headers_mut().remove("content-length");
            if service == "s3" {
                router.s3_versioning.after(&method, &path, &query, status, response.headers_mut());
            }
            response
        }
        Err(e) => reply(StatusCode::BAD_GATEWAY, format!("local cloud router: moto unreachable: {e}")),
    }
}

/// AccessDenied, in the service's protocol, when the request's principal may not make it: a
/// stack's principal judged by resource (see [`crate::authorizer`]), or Step Functions invoking a
/// function without its state machine's role allowing it. Requests of anyone else go on to moto,
/// which judges their actions.
async fn authorize(router: &Router, req: &Request<Bytes>) -> Option<Reply> {
    if !router.authorizer.enforcing() {
        return None;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (access_key, service) = signer_of(req.headers())?;
    let principal = if access_key == authorizer::INTERPRETER_KEY {
        match header(authorizer::EXECUTION_ROLE_HEADER) {
            Some(role) => Principal::Role { arn: role.to_string(), session: "states".into() },
            None => return Some(access_denied(service, "Step Functions called without its role")),
        }
    } else {
        router.authorizer.principal(access_key)?
    };
    let request = authorizer::Request {
        service,
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query().unwrap_or_default(),
        target: header("x-amz-target"),
        body: req.body(),
    };
    let message = router.authorizer.judge(&principal, &request).await?;
    eprintln!("local cloud: denied: {message}");
    Some(access_denied(service, &message))
}

/// What the local cloud does once moto answered: the real compile on StartBuild and its status
/// on BatchGetBuilds; the services' tasks on the ECS calls that change or read them.
fn after_moto(
    router: &Router,
    (service, operation): (&str, &str),
    signer: &Principal,
    status: StatusCode,
    request: &Bytes,
    body: Bytes,
) -> Bytes {
    if !status.is_success() {
        return body;
    }
    match (service, operation) {
        ("codebuild", "StartBuild") => {
            if let Some(codebuild) = router.codebuild.get() {
                let failure = router.faults.failing_builds.lock().unwrap().pop();
                let tampered = router.faults.take_tampered_build();
                return codebuild.start(request, body, &signer.initiator(), failure, tampered);
            }
            body
        }
        ("codebuild", "BatchGetBuilds") => match router.codebuild.get() {
            Some(codebuild) => codebuild.report(body),
            None => body,
        },
        ("ecs", "CreateService" | "UpdateService" | "DeleteService") => {
            router.fargate.service_changed(operation, request);
            body
        }
        ("ecs", "DescribeServices") => router.fargate.describe_services(body),
        // moto records no registeredBy: the caller that registered each revision, as ECS does.
        ("ecs", "RegisterTaskDefinition") => {
            let mut answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if let Some(arn) = answer["taskDefinition"]["taskDefinitionArn"].as_str() {
                router.registrars.lock().unwrap().insert(arn.to_string(), signer.caller());
            }
            answer["taskDefinition"]["registeredBy"] = signer.caller().into();
            Bytes::from(answer.to_string())
        }
        // moto lists revisions oldest first whatever `sort` asks (AWS: ASC unless DESC).
        ("ecs", "ListTaskDefinitions") => {
            let asked: serde_json::Value = serde_json::from_slice(request).unwrap_or_default();
            let mut answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if let Some(arns) = answer["taskDefinitionArns"].as_array_mut() {
                let revision = |arn: &serde_json::Value| {
                    let name = arn.as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
                    let (family, number) = name.rsplit_once(':').unwrap_or((&name, "0"));
                    (family.to_string(), number.parse::<u64>().unwrap_or(0))
                };
                arns.sort_by_key(revision);
                if asked["sort"] == "DESC" {
                    arns.reverse();
                }
            }
            Bytes::from(answer.to_string())
        }
        ("ecs", "DescribeTaskDefinition") => {
            let mut answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let arn = answer["taskDefinition"]["taskDefinitionArn"].as_str().unwrap_or_default().to_string();
            if let Some(caller) = router.registrars.lock().unwrap().get(&arn) {
                answer["taskDefinition"]["registeredBy"] = caller.clone().into();
            }
            Bytes::from(answer.to_string())
        }
        ("states", "ListExecutions") => router.faults.lagging_listing(body),
        // moto names AWS's registry host, which serves nothing here: the account's registry is
        // the one on loopback (see [`crate::registry`]).
        ("ecr", "GetAuthorizationToken") => match router.registry.get() {
            Some(endpoint) => {
                let mut answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                for data in answer["authorizationData"].as_array_mut().into_iter().flatten() {
                    data["proxyEndpoint"] = endpoint.clone().into();
                }
                Bytes::from(answer.to_string())
            }
            None => body,
        },
        ("ecs", "ListTasks") => router.fargate.list_tasks(request, body),
        ("ecs", "DescribeTasks") => router.fargate.describe_tasks(request, body),
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::invoked_function;

    #[test]
    fn names_and_arns_resolve_to_the_function() {
        assert_eq!(invoked_function("/2015-03-31/functions/verify/invocations").as_deref(), Some("verify"));
        let arn = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Adeploy/invocations";
        assert_eq!(invoked_function(arn).as_deref(), Some("deploy"));
        assert_eq!(invoked_function("/2015-03-31/functions/deploy/configuration"), None);
    }
}
