//! One deployment at a time. Every execution starts in the queue and goes on only when no running
//! execution of the state machine started before it; otherwise it waits and asks again, within a
//! bound. Start order decides (ties broken by ARN), so exactly one of two concurrent executions
//! goes, and the watch's oldest-first starts deploy oldest first. The list of running executions
//! is the lock: no table, nothing to clean up when an execution dies.

use serde::{Deserialize, Serialize};

use crate::arn::Arn;
use crate::config::{Env, Polling};
use crate::error::{Error, Result};
use crate::execution::Executions;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueRequest {
    /// `$$.Execution.Id`
    pub execution: String,
    /// `$$.Execution.StartTime`, RFC 3339; used if the execution is not listed yet.
    pub started_at: String,
    /// The previous answer, on a second or later ask.
    #[serde(default)]
    pub previous: Option<Turn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub go: bool,
    /// Running executions that started earlier, oldest first.
    pub ahead: Vec<String>,
    pub attempt: u32,
    pub wait_seconds: u32,
}

pub struct QueueConfig {
    pub polling: Polling,
}

impl QueueConfig {
    /// 30 s between asks, 240 asks: an execution waits at most two hours for its turn.
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(QueueConfig { polling: Polling::from_env(env, "SIGSHIP_QUEUE", 30, 240)? })
    }
}

/// `arn:…:execution:<state machine>:<execution>` → `arn:…:stateMachine:<state machine>`.
/// The ARN of `state_machine_arn`'s execution called `name` (the reverse of [`state_machine_of`]).
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Result<String> {
    match Arn::parse(state_machine_arn).filter(|arn| arn.service == "states") {
        Some(arn) if matches!(arn.resource_parts()[..], ["stateMachine", _]) => {
            Ok(arn.with_resource(&format!("execution:{}:{name}", arn.resource_parts()[1])))
        }
        _ => Err(Error::InvalidInput(format!("{state_machine_arn:?} is not a state machine ARN"))),
    }
}

pub fn state_machine_of(execution_arn: &str) -> Result<String> {
    match Arn::parse(execution_arn).filter(|arn| arn.service == "states") {
        Some(arn) if matches!(arn.resource_parts()[..], ["execution", _, _]) => {
            Ok(arn.with_resource(&format!("stateMachine:{}", arn.resource_parts()[1])))
        }
        _ => Err(Error::InvalidInput(format!("{execution_arn:?} is not an execution ARN"))),
    }
}

pub async fn take_turn(request: QueueRequest, config: &QueueConfig, executions: &impl Executions) -> Result<Turn> {
    let attempt = request.previous.as_ref().map_or(0, |p| p.attempt) + 1;
    let running = executions.running().await?;
    let mine = match running.iter().find(|r| r.arn == request.execution) {
        Some(listed) => listed.started_ms,
        // Not listed yet (eventual consistency): its own start time, else now — it has just started.
        None => start_millis(&request.started_at),
    };
    let mut ahead: Vec<(i64, &String)> = running
        .iter()
        .filter(|r| r.arn != request.execution && (r.started_ms, &r.arn) < (mine, &request.execution))
        .map(|r| (r.started_ms, &r.arn))
        .collect();
    ahead.sort();
    let ahead: Vec<String> = ahead.into_iter().map(|(_, arn)| arn.clone()).collect();
    if !ahead.is_empty() && attempt > config.polling.max_attempts {
        return Err(Error::QueueTimedOut {
            waited_seconds: u64::from(config.polling.interval_seconds) * u64::from(config.polling.max_attempts),
            ahead,
        });
    }
    Ok(Turn { go: ahead.is_empty(), ahead, attempt, wait_seconds: config.polling.interval_seconds })
}

/// `$$.Execution.StartTime` (RFC 3339, `Z` or `+00:00`) in milliseconds since the epoch.
fn start_millis(started_at: &str) -> i64 {
    let utc = started_at.trim_end_matches('Z').trim_end_matches("+00:00");
    let at = humantime::parse_rfc3339_weak(utc).unwrap_or_else(|e| {
        tracing::warn!(started_at, error = %e, "unreadable start time; taking now");
        std::time::SystemTime::now()
    });
    at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeExecutions;

    fn request(execution: &str, previous: Option<Turn>) -> QueueRequest {
        QueueRequest { execution: execution.into(), started_at: "2026-11-28T10:00:00.000Z".into(), previous }
    }

    fn config() -> QueueConfig {
        QueueConfig { polling: Polling { interval_seconds: 30, max_attempts: 3 } }
    }

    #[tokio::test]
    async fn the_earliest_running_execution_goes_the_others_wait_behind_it() {
        let executions = FakeExecutions::running(&[("arn:b", 2_000), ("arn:a", 1_000), ("arn:c", 2_000)]);
        let first = take_turn(request("arn:a", None), &config(), &executions).await.unwrap();
        assert!(first.go && first.ahead.is_empty());
        let second = take_turn(request("arn:b", None), &config(), &executions).await.unwrap();
        assert_eq!((second.go, second.ahead.clone(), second.attempt), (false, vec!["arn:a".to_string()], 1));
        // Same start time: the ARN breaks the tie, so b and c never both go.
        let third = take_turn(request("arn:c", None), &config(), &executions).await.unwrap();
        assert_eq!(third.ahead, ["arn:a", "arn:b"]);
    }

    #[test]
    fn the_state_machine_comes_from_the_execution_arn() {
        let machine = state_machine_of("arn:aws:states:us-east-1:123456789012:execution:sigship:tag-v1-0123").unwrap();
        assert_eq!(machine, "arn:aws:states:us-east-1:123456789012:stateMachine:sigship");
        assert_eq!(state_machine_of("sigship").unwrap_err().name(), "InvalidInput");
        let execution = execution_arn(&machine, "tag-v1-0123").unwrap();
        assert_eq!(execution, "arn:aws:states:us-east-1:123456789012:execution:sigship:tag-v1-0123");
        assert_eq!(state_machine_of(&execution).unwrap(), machine, "one is the other's reverse");
        assert_eq!(execution_arn("sigship", "x").unwrap_err().name(), "InvalidInput");
    }

    #[tokio::test]
    async fn waiting_is_bounded() {
        let executions = FakeExecutions::running(&[("arn:a", 1_000), ("arn:b", 2_000)]);
        let mut turn = take_turn(request("arn:b", None), &config(), &executions).await.unwrap();
        for attempt in 2..=3 {
            turn = take_turn(request("arn:b", Some(turn)), &config(), &executions).await.unwrap();
            assert_eq!(turn.attempt, attempt);
        }
        let err = take_turn(request("arn:b", Some(turn)), &config(), &executions).await.unwrap_err();
        assert_eq!(err.name(), "QueueTimedOut");
        assert!(err.to_string().contains("arn:a"), "{err}");
    }

    #[tokio::test]
    async fn an_execution_not_listed_yet_uses_its_own_start_time() {
        // 2026-11-28T10:00:00Z is 1795860000000 ms: later than a, earlier than z.
        let executions = FakeExecutions::running(&[("arn:a", 1_000), ("arn:z", 1_900_000_000_000)]);
        let turn = take_turn(request("arn:new", None), &config(), &executions).await.unwrap();
        assert_eq!(turn.ahead, ["arn:a"]);
    }
}
