//! For request-level tests of AWS adapters: an SDK configuration whose client answers from canned
//! AWS responses and keeps the requests the SDK made for the test to read.

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;

/// An SDK configuration whose every call is answered, in order, by `answers` (status, body).
pub fn sdk(answers: &[(u16, &str)]) -> (aws_config::SdkConfig, StaticReplayClient) {
    let events = answers
        .iter()
        .map(|(status, body)| {
            let request = http::Request::builder().uri("https://aws.local/").body(SdkBody::empty()).unwrap();
            let response = http::Response::builder().status(*status).body(SdkBody::from(body.to_string())).unwrap();
            ReplayEvent::new(request, response)
        })
        .collect();
    let client = StaticReplayClient::new(events);
    let credentials = aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "replay");
    let config = aws_config::SdkConfig::builder()
        .http_client(client.clone())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .behavior_version(aws_config::BehaviorVersion::latest())
        // The SDK's own retries as in production (three attempts), without their waits.
        .retry_config(
            aws_config::retry::RetryConfig::standard().with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .build();
    (config, client)
}

/// The JSON bodies of the requests made, in order.
pub fn bodies(client: &StaticReplayClient) -> Vec<serde_json::Value> {
    client
        .actual_requests()
        .map(|r| serde_json::from_slice(r.body().bytes().unwrap_or_default()).unwrap_or(serde_json::Value::Null))
        .collect()
}

/// The `X-Amz-Target` of each request made (the JSON protocol's operation).
pub fn targets(client: &StaticReplayClient) -> Vec<String> {
    client.actual_requests().map(|r| r.headers().get("x-amz-target").unwrap_or_default().to_string()).collect()
}

/// `METHOD /path` of each request made (the REST protocols' operation), without the query.
pub fn paths(client: &StaticReplayClient) -> Vec<String> {
    client
        .actual_requests()
        .map(|r| {
            let uri = r.uri().to_string();
            let path = uri.split("://").nth(1).and_then(|rest| rest.find('/').map(|i| &rest[i..])).unwrap_or("/");
            format!("{} {}", r.method(), path.split('?').next().unwrap_or(path))
        })
        .collect()
}
