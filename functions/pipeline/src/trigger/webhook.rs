//! The tag-push webhook behind a Lambda Function URL: GitHub `push` (refs/tags/*) and `create`
//! (ref_type tag) events, GitLab tag push hooks. Authenticated first — GitHub's
//! `X-Hub-Signature-256` HMAC or GitLab's `X-Gitlab-Token`, both compared in constant time —
//! then parsed; the tag's object id comes from the configured repository, never from the payload,
//! so pushes to forks and replays of old payloads start nothing.

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{start_for_tag, ReleaseCheck, Target};
use crate::error::Result;
use crate::execution::{Executions, Started};
use crate::verify::{RemoteTag, RemoteTags, TagPolicy};

/// What the Function URL answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Reply {
    fn new(status: u16, body: serde_json::Value) -> Self {
        Reply { status, body }
    }
}

/// A delivery as the function sees it: lower-case header names, the raw body, and the id of the
/// invocation handling it (unique even for a forge's redelivery, which repeats its delivery id).
pub struct Delivery<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub invocation: &'a str,
}

impl Delivery<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, PartialEq)]
enum Forge {
    GitHub,
    GitLab,
}

#[derive(Debug, PartialEq)]
enum Event {
    Tag(String),
    Ignored(String),
}

/// Handles one delivery: 401 unless authentic, 400 if malformed, 422 for a release tag that
/// fails verification (checked before anything is queued: an unsigned tag starts nothing),
/// 429 when the triggers' bound of running executions is reached, 2xx otherwise ("ignored" for
/// events that are not a new release tag, "duplicate" when the execution exists already,
/// "deferred" while the node syncs: the watch starts it once the node is current).
pub async fn handle(
    delivery: &Delivery<'_>,
    secret: &str,
    policy: &TagPolicy,
    remote: &impl RemoteTags,
    release: &impl ReleaseCheck,
    target: &Target<impl Executions, impl crate::node::SyncGate>,
) -> Reply {
    let forge = match authenticate(delivery, secret) {
        Ok(forge) => forge,
        Err(reason) => return Reply::new(401, json!({"error": "Unauthorized", "message": reason})),
    };
    let tag = match parse(&forge, delivery) {
        Ok(Event::Tag(tag)) => tag,
        Ok(Event::Ignored(reason)) => return Reply::new(200, json!({"ignored": reason})),
        Err(reason) => return Reply::new(400, json!({"error": "MalformedDelivery", "message": reason})),
    };
    if let Err(err) = policy.check(&tag) {
        return Reply::new(200, json!({"ignored": format!("{tag}: {err}")}));
    }
    let object_id = match remote.tag_object(&tag).await {
        Ok(Some(id)) => id,
        Ok(None) => return Reply::new(200, json!({"ignored": format!("{tag} is not a tag of {}", remote.url())})),
        Err(err) => return server_error(&err),
    };
    match release.check(&RemoteTag { name: tag.clone(), object_id: object_id.clone() }).await {
        Ok(()) => {}
        // Unsigned, or older than the newest deployed (a replay): refused before anything queues.
        Err(refused) if refused.is_verdict() || matches!(refused, crate::Error::Downgrade { .. }) => {
            // The why stays in the function's log: GitHub shows a delivery's answer to anyone who
            // can see the repository's webhook settings.
            tracing::warn!(tag, error_type = refused.name(), error = %refused, "release tag refused");
            return Reply::new(422, json!({"refused": tag, "error": refused.name()}));
        }
        Err(err) => return server_error(&err),
    }
    match start_for_tag(target, &tag, &object_id, &format!("webhook {}", delivery.invocation)).await {
        Ok((name, Started::New(arn))) => {
            tracing::info!(tag, execution = name, "started");
            Reply::new(202, json!({"started": name, "executionArn": arn, "tag": tag}))
        }
        Ok((name, Started::AlreadyExists)) => Reply::new(200, json!({"duplicate": name, "tag": tag})),
        Err(busy @ crate::Error::TooManyExecutions { .. }) => {
            Reply::new(429, json!({"error": busy.name(), "message": busy.to_string(), "tag": tag}))
        }
        // Accepted, for later: the watch starts it once the node is current.
        Err(waits @ crate::Error::NodeSyncing { .. }) => {
            tracing::info!(tag, "deferred: the node syncs");
            Reply::new(202, json!({"deferred": tag, "reason": waits.name(), "message": waits.to_string()}))
        }
        Err(err) => server_error(&err),
    }
}

/// The shortest webhook secret accepted: GitLab sends it verbatim as the token, so an empty or
/// short one is a guessable password for starting executions.
pub const MIN_SECRET_CHARS: usize = 32;

/// Refuses an empty or short webhook secret before any delivery is judged with it.
pub fn check_secret(secret: &str) -> Result<()> {
    let chars = secret.trim().chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(crate::Error::config(format!(
            "the webhook secret has {chars} characters, fewer than {MIN_SECRET_CHARS}: set a long random one in \
             Secrets Manager (the stack generates 40) and in the repository's webhook"
        )));
    }
    Ok(())
}

/// The Function URL side: the request as Lambda delivers it (body base64-encoded or not), the
/// reply as a JSON response.
pub async fn respond(
    request: &LambdaFunctionUrlRequest,
    secret: &str,
    policy: &TagPolicy,
    remote: &impl RemoteTags,
    release: &impl ReleaseCheck,
    target: &Target<impl Executions, impl crate::node::SyncGate>,
) -> LambdaFunctionUrlResponse {
    let raw = request.body.clone().unwrap_or_default();
    let body = if request.is_base64_encoded {
        match base64::engine::general_purpose::STANDARD.decode(raw.as_bytes()) {
            Ok(body) => body,
            Err(e) => {
                return response(&Reply::new(400, json!({"error": "MalformedDelivery", "message": e.to_string()})))
            }
        }
    } else {
        raw.into_bytes()
    };
    let headers = request
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let invocation = request.request_context.request_id.as_deref().unwrap_or_default();
    let delivery = Delivery { headers, body: &body, invocation };
    response(&handle(&delivery, secret, policy, remote, release, target).await)
}

fn response(reply: &Reply) -> LambdaFunctionUrlResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(reply.status);
    response.headers = headers;
    response.body = Some(reply.body.to_string());
    response
}

fn server_error(err: &crate::Error) -> Reply {
    tracing::error!(error_type = err.name(), error = %err, "delivery not handled");
    Reply::new(500, json!({"error": err.name()}))
}

fn authenticate(delivery: &Delivery<'_>, secret: &str) -> Result<Forge, String> {
    if let Some(signature) = delivery.header("x-hub-signature-256") {
        let hex_digest = signature.strip_prefix("sha256=").ok_or("X-Hub-Signature-256 is not sha256=<hex>")?;
        let expected = hex::decode(hex_digest).map_err(|_| "X-Hub-Signature-256 is not hex")?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
        mac.update(delivery.body);
        // verify_slice compares in constant time.
        return mac.verify_slice(&expected).map(|_| Forge::GitHub).map_err(|_| "signature does not match".into());
    }
    if let Some(token) = delivery.header("x-gitlab-token") {
        return if bool::from(token.as_bytes().ct_eq(secret.as_bytes())) {
            Ok(Forge::GitLab)
        } else {
            Err("token does not match".into())
        };
    }
    Err("no X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab) header".into())
}

#[derive(Deserialize)]
struct GitHubPush {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    deleted: bool,
}

#[derive(Deserialize)]
struct GitHubCreate {
    #[serde(rename = "ref")]
    reference: String,
    ref_type: String,
}

#[derive(Deserialize)]
struct GitLabEvent {
    object_kind: String,
}

#[derive(Deserialize)]
struct GitLabTagPush {
    #[serde(rename = "ref")]
    reference: String,
    after: String,
}

/// GitHub sends JSON as the body (Content type `application/json`) or, the web form's default,
/// as the `payload` field of a form (`application/x-www-form-urlencoded`): both are read.
fn github_payload(delivery: &Delivery<'_>) -> Result<Vec<u8>, String> {
    let form = delivery.header("content-type").is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok(delivery.body.to_vec());
    }
    let body = std::str::from_utf8(delivery.body).map_err(|_| "a form body that is not UTF-8")?;
    let field = body.split('&').find_map(|pair| pair.strip_prefix("payload=")).ok_or(
        "a form without a payload field: set the webhook's Content type to application/json in GitHub's settings",
    )?;
    percent_encoding::percent_decode_str(&field.replace('+', " "))
        .decode_utf8()
        .map(|payload| payload.into_owned().into_bytes())
        .map_err(|_| "a payload field that is not UTF-8".to_string())
}

/// What a payload that is not JSON of the expected shape gets, with the fix for the common cause.
fn unreadable(what: &str, error: serde_json::Error) -> String {
    let hint =
        if error.is_syntax() || error.is_eof() { " (is the webhook's Content type application/json?)" } else { "" };
    format!("not a {what} payload: {error}{hint}")
}

fn parse(forge: &Forge, delivery: &Delivery<'_>) -> Result<Event, String> {
    match forge {
        Forge::GitHub => match delivery.header("x-github-event").unwrap_or_default() {
            "push" => {
                let payload = github_payload(delivery)?;
                let push: GitHubPush = serde_json::from_slice(&payload).map_err(|e| unreadable("push", e))?;
                match push.reference.strip_prefix("refs/tags/") {
                    Some(_) if push.deleted => Ok(Event::Ignored(format!("{} was deleted", push.reference))),
                    Some(tag) => Ok(Event::Tag(tag.to_string())),
                    None => Ok(Event::Ignored(format!("push to {}, not a tag", push.reference))),
                }
            }
            "create" => {
                let payload = github_payload(delivery)?;
                let create: GitHubCreate = serde_json::from_slice(&payload).map_err(|e| unreadable("create", e))?;
                if create.ref_type == "tag" {
                    Ok(Event::Tag(create.reference))
                } else {
                    Ok(Event::Ignored(format!("created {} {}, not a tag", create.ref_type, create.reference)))
                }
            }
            "" => Err("no X-GitHub-Event header".into()),
            other => Ok(Event::Ignored(format!("GitHub {other} event"))),
        },
        Forge::GitLab => {
            // Merge requests, notes, pipelines…: only tag pushes start anything, and only they
            // carry a ref.
            let kind: GitLabEvent = serde_json::from_slice(delivery.body).map_err(|e| unreadable("GitLab hook", e))?;
            if kind.object_kind != "tag_push" {
                let event = delivery.header("x-gitlab-event").map_or(kind.object_kind.clone(), str::to_string);
                return Ok(Event::Ignored(format!("GitLab {event} event")));
            }
            let push: GitLabTagPush =
                serde_json::from_slice(delivery.body).map_err(|e| unreadable("GitLab tag push", e))?;
            match push.reference.strip_prefix("refs/tags/") {
                Some(_) if push.after.bytes().all(|b| b == b'0') => {
                    Ok(Event::Ignored(format!("{} was deleted", push.reference)))
                }
                Some(tag) => Ok(Event::Tag(tag.to_string())),
                None => Err(format!("tag_push for {}, not refs/tags/*", push.reference)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_short_secret_is_refused() {
        for refused in ["", "   ", &"s".repeat(MIN_SECRET_CHARS - 1)] {
            let err = check_secret(refused).unwrap_err();
            assert_eq!(err.name(), "Configuration");
            assert!(err.to_string().contains("fewer than 32"), "{err}");
        }
        assert!(check_secret(&"s".repeat(40)).is_ok());
    }

    fn github(event: &str, body: &str, secret: &str) -> (Vec<(String, String)>, Vec<u8>) {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        (
            vec![("X-GitHub-Event".into(), event.into()), ("X-Hub-Signature-256".into(), signature)],
            body.as_bytes().to_vec(),
        )
    }

    fn event(headers: Vec<(String, String)>, body: &[u8], secret: &str) -> Result<Event, String> {
        let delivery = Delivery { headers, body, invocation: "i-1" };
        let forge = authenticate(&delivery, secret)?;
        parse(&forge, &delivery)
    }

    #[test]
    fn a_form_encoded_github_delivery_is_read_and_an_unreadable_one_says_what_to_set() {
        let json = r#"{"ref":"refs/tags/v0.24.2","deleted":false}"#;
        let form =
            format!("payload={}", percent_encoding::utf8_percent_encode(json, percent_encoding::NON_ALPHANUMERIC));
        let (mut h, b) = github("push", &form, "s3cret");
        h.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        assert_eq!(event(h, &b, "s3cret"), Ok(Event::Tag("v0.24.2".into())));
        // The form without its field, and a body that is not JSON at all.
        let (mut h, b) = github("push", "other=1", "s3cret");
        h.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        assert!(event(h, &b, "s3cret").unwrap_err().contains("set the webhook's Content type to application/json"));
        let (h, b) = github("push", "ref=refs%2Ftags%2Fv0.24.2", "s3cret");
        let error = event(h, &b, "s3cret").unwrap_err();
        assert!(error.contains("is the webhook's Content type application/json?"), "{error}");
    }

    #[test]
    fn gitlab_events_other_than_tag_pushes_are_ignored() {
        for (header, body) in [
            ("Merge Request Hook", r#"{"object_kind":"merge_request","object_attributes":{"iid":1}}"#),
            ("Note Hook", r#"{"object_kind":"note"}"#),
            ("Push Hook", r#"{"object_kind":"push","ref":"refs/heads/master","after":"ab"}"#),
        ] {
            let headers =
                vec![("X-Gitlab-Token".into(), "s3cret-token".into()), ("X-Gitlab-Event".into(), header.into())];
            assert_eq!(
                event(headers, body.as_bytes(), "s3cret-token"),
                Ok(Event::Ignored(format!("GitLab {header} event"))),
                "{header}"
            );
        }
    }

    #[test]
    fn github_tag_pushes_and_tag_creations_name_the_tag() {
        let (h, b) = github("push", r#"{"ref":"refs/tags/v0.24.2","deleted":false,"after":"ab12"}"#, "s3cret");
        assert_eq!(event(h, &b, "s3cret"), Ok(Event::Tag("v0.24.2".into())));
        let (h, b) = github("create", r#"{"ref":"v0.24.2","ref_type":"tag"}"#, "s3cret");
        assert_eq!(event(h, &b, "s3cret"), Ok(Event::Tag("v0.24.2".into())));
    }

    #[test]
    fn other_events_are_ignored_not_refused() {
        for (kind, body) in [
            ("push", r#"{"ref":"refs/heads/master"}"#),
            ("push", r#"{"ref":"refs/tags/v0.24.2","deleted":true}"#),
            ("create", r#"{"ref":"feature","ref_type":"branch"}"#),
            ("ping", r#"{"zen":"Keep it logically awesome."}"#),
        ] {
            let (h, b) = github(kind, body, "k");
            assert!(matches!(event(h, &b, "k"), Ok(Event::Ignored(_))), "{kind} {body}");
        }
    }

    #[test]
    fn a_wrong_or_missing_signature_is_unauthorized() {
        let (mut headers, body) = github("push", r#"{"ref":"refs/tags/v1.0.0"}"#, "right");
        assert_eq!(event(headers.clone(), &body, "wrong"), Err("signature does not match".into()));
        headers[1].1 = "sha1=abcd".into();
        assert!(event(headers.clone(), &body, "right").is_err());
        headers.remove(1);
        assert!(event(headers, &body, "right").unwrap_err().starts_with("no X-Hub-Signature-256"));
        // A body altered after signing.
        let (headers, _) = github("push", r#"{"ref":"refs/tags/v1.0.0"}"#, "right");
        assert!(event(headers, br#"{"ref":"refs/tags/v6.6.6"}"#, "right").is_err());
    }

    #[test]
    fn gitlab_tag_push_hooks_with_the_token() {
        let body = br#"{"object_kind":"tag_push","ref":"refs/tags/v0.24.2","after":"82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"}"#;
        let headers = |token: &str| {
            vec![("X-Gitlab-Event".to_string(), "Tag Push Hook".to_string()), ("X-Gitlab-Token".into(), token.into())]
        };
        assert_eq!(event(headers("tok"), body, "tok"), Ok(Event::Tag("v0.24.2".into())));
        assert_eq!(event(headers("tok2"), body, "tok"), Err("token does not match".into()));
        let deleted = br#"{"object_kind":"tag_push","ref":"refs/tags/v0.24.2","after":"0000000000000000000000000000000000000000"}"#;
        assert!(matches!(event(headers("tok"), deleted, "tok"), Ok(Event::Ignored(_))));
    }

    #[test]
    fn an_authentic_but_malformed_body_is_a_bad_request() {
        let (h, b) = github("push", "not json", "k");
        assert!(event(h, &b, "k").unwrap_err().starts_with("not a push payload"));
        let (h, b) = github("create", r#"{"ref":"v1"}"#, "k");
        assert!(event(h, &b, "k").is_err());
    }

    #[tokio::test]
    async fn one_execution_per_tag_object_however_often_it_is_delivered() {
        use crate::testing::{FakeExecutions, FakeRemote, Verdicts};
        use crate::verify::RemoteTag;
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let remote = FakeRemote(vec![RemoteTag { name: "v0.24.2".into(), object_id: "ab".repeat(20) }]);
        let target = Target { executions: FakeExecutions::default(), node: None };
        // One GitHub delivery of `event`, signed with `secret`, handled by invocation `invocation`.
        let deliver = |invocation: &'static str, event: &'static str, body: &'static str, secret: &'static str| {
            let (policy, remote, target) = (&policy, &remote, &target);
            async move {
                let (headers, body) = github(event, body, secret);
                let delivery = Delivery { headers, body: &body, invocation };
                handle(&delivery, "s", policy, remote, &Verdicts(&[]), target).await
            }
        };

        let first = deliver("i-1", "push", r#"{"ref":"refs/tags/v0.24.2"}"#, "s").await;
        assert_eq!(first.status, 202, "{:?}", first.body);
        assert_eq!(first.body["started"], "tag-v0_24_2-abababababababab");
        // GitHub also sends `create` for the same push, and redelivers on timeouts — while the
        // execution runs, and before ListExecutions (eventually consistent) lists it: Step
        // Functions would return the running execution again for an identical input, so each
        // ask differs (its invocation) and is answered ExecutionAlreadyExists.
        let duplicate = (200, Some("tag-v0_24_2-abababababababab"));
        let again = deliver("i-2", "create", r#"{"ref":"v0.24.2","ref_type":"tag"}"#, "s").await;
        assert_eq!((again.status, again.body["duplicate"].as_str()), duplicate);
        let redelivered = deliver("i-3", "push", r#"{"ref":"refs/tags/v0.24.2"}"#, "s").await;
        assert_eq!((redelivered.status, redelivered.body["duplicate"].as_str()), duplicate);

        let forged = deliver("i-4", "push", r#"{"ref":"refs/tags/v0.24.2"}"#, "guessed").await;
        assert_eq!(forged.status, 401);
        let elsewhere = deliver("i-5", "push", r#"{"ref":"refs/tags/v9.9.9"}"#, "s").await;
        assert_eq!(elsewhere.status, 200);
        assert!(elsewhere.body["ignored"].as_str().unwrap().contains("is not a tag of"), "{:?}", elsewhere.body);
        let not_a_release = deliver("i-6", "push", r#"{"ref":"refs/tags/btcec/v2.4.0"}"#, "s").await;
        assert_eq!(not_a_release.status, 200);

        let started = target.executions.started.lock().unwrap();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].1, serde_json::json!({"tag": "v0.24.2", "requestedBy": "webhook i-1"}));
    }

    /// Verification runs before anything is queued: an unsigned tag pushed by someone without a
    /// key starts nothing, and a flood of them cannot fill the queue; nor can the webhook start
    /// more than the triggers' bound of executions.
    #[tokio::test]
    async fn an_unverified_tag_or_a_full_queue_starts_nothing() {
        use crate::testing::{FakeExecutions, FakeRemote, Verdicts};
        use crate::verify::RemoteTag;
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let remote = FakeRemote(vec![
            RemoteTag { name: "v99.0.0".into(), object_id: "cd".repeat(20) },
            RemoteTag { name: "v0.24.2".into(), object_id: "ab".repeat(20) },
        ]);
        let (headers, body) = github("push", r#"{"ref":"refs/tags/v99.0.0"}"#, "s");
        let target = Target { executions: FakeExecutions::default(), node: None };
        let junk = handle(
            &Delivery { headers, body: &body, invocation: "i-1" },
            "s",
            &policy,
            &remote,
            &Verdicts(&["v99.0.0"]),
            &target,
        )
        .await;
        assert_eq!((junk.status, junk.body["error"].as_str()), (422, Some("Unsigned")), "{:?}", junk.body);
        // GitHub shows the answer in the delivery log: the error's name only, the why in our log.
        assert_eq!(junk.body, json!({"refused": "v99.0.0", "error": "Unsigned"}));
        assert_eq!(server_error(&crate::Error::Internal("arn:aws:secret:x".into())).body, json!({"error": "Internal"}));

        // A signed release older than the newest deployed (an old tag, a replayed delivery):
        // refused at once, nothing queued or built.
        let deployed = crate::testing::FakeLedger(std::sync::Mutex::new(Some("v0.25.0".into())));
        let check = super::super::NewerThanDeployed { check: Verdicts(&[]), deployed };
        let (headers, body) = github("push", r#"{"ref":"refs/tags/v0.24.2"}"#, "s");
        let old =
            handle(&Delivery { headers, body: &body, invocation: "i-2" }, "s", &policy, &remote, &check, &target).await;
        assert_eq!(old.body, json!({"refused": "v0.24.2", "error": "Downgrade"}));
        assert_eq!(old.status, 422);
        assert!(target.executions.started.lock().unwrap().is_empty());
        assert!(target.executions.started.lock().unwrap().is_empty());

        let arns: Vec<String> = (0..super::super::MAX_RUNNING_FROM_TRIGGERS)
            .map(|i| format!("arn:aws:states:::execution:s:tag-e{i}"))
            .collect();
        let running: Vec<(&str, i64)> = arns.iter().map(|a| (a.as_str(), 0)).collect();
        let full = Target { executions: FakeExecutions::running(&running), node: None };
        let (headers, body) = github("push", r#"{"ref":"refs/tags/v0.24.2"}"#, "s");
        let busy =
            handle(&Delivery { headers, body: &body, invocation: "i-1" }, "s", &policy, &remote, &Verdicts(&[]), &full)
                .await;
        assert_eq!((busy.status, busy.body["error"].as_str()), (429, Some("TooManyExecutions")), "{:?}", busy.body);
        assert!(full.executions.started.lock().unwrap().is_empty());

        // A signed release pushed while the node syncs: accepted for later, nothing started.
        let syncing = Some(crate::node::Syncing { task_definition: "btcd:7".into(), network: "mainnet", size: None });
        let waiting = Target { executions: FakeExecutions::default(), node: syncing };
        let (headers, body) = github("push", r#"{"ref":"refs/tags/v0.24.2"}"#, "s");
        let deferred = handle(
            &Delivery { headers, body: &body, invocation: "i-2" },
            "s",
            &policy,
            &remote,
            &Verdicts(&[]),
            &waiting,
        )
        .await;
        assert_eq!(
            (deferred.status, deferred.body["deferred"].as_str()),
            (202, Some("v0.24.2")),
            "{:?}",
            deferred.body
        );
        assert_eq!(deferred.body["reason"], "NodeSyncing");
        assert!(waiting.executions.started.lock().unwrap().is_empty());
    }
}
