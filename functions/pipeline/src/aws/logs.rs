use aws_sdk_cloudwatchlogs::types::OrderBy;

use crate::error::{Error, Result};
use crate::node::{LogEvent, LogEvents};

/// The daemon's log group in CloudWatch Logs.
pub struct Logs {
    client: aws_sdk_cloudwatchlogs::Client,
}

impl Logs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Logs { client: aws_sdk_cloudwatchlogs::Client::new(config) }
    }
}

impl LogEvents for Logs {
    async fn matching(&self, log_group: &str, filter: &str, start_ms: i64, end_ms: i64) -> Result<Vec<LogEvent>> {
        let mut events = Vec::new();
        let mut pages = self
            .client
            .filter_log_events()
            .log_group_name(log_group)
            .filter_pattern(filter)
            .start_time(start_ms)
            .end_time(end_ms)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("logs:FilterLogEvents", e))?;
            events.extend(page.events().iter().map(|e| LogEvent {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
            }));
        }
        Ok(events)
    }

    async fn last_event_ms(&self, log_group: &str) -> Result<Option<i64>> {
        let streams = self
            .client
            .describe_log_streams()
            .log_group_name(log_group)
            .order_by(OrderBy::LastEventTime)
            .descending(true)
            .limit(1)
            .send()
            .await
            .map_err(|e| Error::aws("logs:DescribeLogStreams", e))?;
        Ok(streams.log_streams().first().and_then(|s| s.last_event_timestamp()))
    }
}
