//! The local cloud's CloudWatch, called as botocore calls it (JSON protocol, signed): the Rust
//! SDK speaks only rpcv2Cbor to CloudWatch, which moto 5.2.5 does not serve. sigship itself never
//! calls CloudWatch's API (node-metrics publishes embedded metrics in its log); tests read the
//! metrics and the alarm states of the simulated CloudWatch (cloudwatch.py) through this.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use http_body_util::{BodyExt, Full};

pub struct CloudWatch {
    endpoint: String,
    sdk: aws_config::SdkConfig,
}

impl CloudWatch {
    pub fn new(endpoint: &str, sdk: &aws_config::SdkConfig) -> Self {
        CloudWatch { endpoint: endpoint.to_string(), sdk: sdk.clone() }
    }

    /// One CloudWatch operation (`DescribeAlarms`, …) with its JSON input; its JSON output or the error body.
    pub async fn call(&self, operation: &str, input: serde_json::Value) -> Result<serde_json::Value, String> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let credentials = self.sdk.credentials_provider().expect("credentials").provide_credentials().await;
        let identity: aws_smithy_runtime_api::client::identity::Identity =
            credentials.map_err(|e| e.to_string())?.into();
        let body = input.to_string();
        let url = format!("{}/", self.endpoint);
        let target = format!("GraniteServiceVersion20100801.{operation}");
        let headers = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target.as_str())];
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(crate::REGION)
            .name("monitoring")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable =
            SignableRequest::new("POST", &url, headers.iter().copied(), SignableBody::Bytes(body.as_bytes()))
                .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        let mut request = hyper::Request::post(&url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request.body(Full::new(bytes::Bytes::from(body))).map_err(|e| e.to_string())?;
        instructions.apply_to_request_http1x(&mut request);
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let text = String::from_utf8_lossy(&body).to_string();
        if !status.is_success() {
            return Err(format!("CloudWatch {operation}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("CloudWatch {operation}: {e}: {text}"))
    }

    /// `statistic` of one sigship metric of the service over the last `window`.
    pub async fn statistic(
        &self,
        metric: &str,
        service: (&str, &str),
        statistic: &str,
        window: Duration,
    ) -> Option<f64> {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        let input = serde_json::json!({
            "Namespace": pipeline::node::NAMESPACE,
            "MetricName": metric,
            "Dimensions": dimensions(service),
            "StartTime": now - window.as_secs(),
            "EndTime": now + 60,
            "Period": window.as_secs() + 60,
            "Statistics": [statistic],
        });
        let answer = self.call("GetMetricStatistics", input).await.expect("GetMetricStatistics");
        answer["Datapoints"].as_array()?.iter().filter_map(|d| d[statistic].as_f64()).next()
    }

    /// Waits (at most `within`) until `count` samples of the metric arrived over the last
    /// `window`: a function's log lines reach CloudWatch Logs, and so its embedded metrics
    /// CloudWatch, shortly after the invocation returns, as in AWS.
    pub async fn wait_for_samples(&self, metric: &str, service: (&str, &str), count: usize, window: Duration) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.statistic(metric, service, "SampleCount", window).await.unwrap_or_default() as usize;
            if seen >= count || std::time::Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Puts one datapoint (now) of each sigship metric of the service, as node-metrics' embedded metrics would.
    pub async fn put_metrics(&self, service: (&str, &str), metrics: &[(&str, f64)]) {
        let data: Vec<_> = metrics
            .iter()
            .map(|(name, value)| {
                serde_json::json!({"MetricName": name, "Value": value, "Unit": "Count", "Dimensions": dimensions(service)})
            })
            .collect();
        let input = serde_json::json!({"Namespace": pipeline::node::NAMESPACE, "MetricData": data});
        self.call("PutMetricData", input).await.expect("PutMetricData");
    }

    /// Every alarm's state, by name.
    pub async fn alarm_states(&self) -> HashMap<String, String> {
        let answer = self.call("DescribeAlarms", serde_json::json!({})).await.expect("DescribeAlarms");
        answer["MetricAlarms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["AlarmName"].as_str().unwrap_or_default().to_string(),
                    a["StateValue"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Waits (at most `within`) for the simulated evaluation to put `alarm` in `state`; the last state seen.
    pub async fn wait_for_state(&self, alarm: &str, state: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let seen = self.alarm_states().await.get(alarm).cloned().unwrap_or_else(|| "no such alarm".into());
            if seen == state || std::time::Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn dimensions((cluster, service): (&str, &str)) -> serde_json::Value {
    serde_json::json!([
        {"Name": pipeline::node::CLUSTER_DIMENSION, "Value": cluster},
        {"Name": pipeline::node::SERVICE_DIMENSION, "Value": service},
    ])
}
