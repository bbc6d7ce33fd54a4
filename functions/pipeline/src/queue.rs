//! One deployment at a time. Every execution starts in the queue and goes on only when it sees
//! itself among the running executions and none that started before it; otherwise it waits and
//! asks again, within a bound. Start order decides (ties broken by ARN), so exactly one of two
//! concurrent executions goes, and the watch's oldest-first starts deploy oldest first. The list
//! of running executions is the lock: no table, nothing to clean up when an execution dies. AWS
//! calls ListExecutions eventually consistent: an execution missing from it may have a twin
//! missing too, so one that does not see itself yet waits (briefly) rather than go.

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
    /// Whether ListExecutions showed this execution (until it does, it does not go).
    #[serde(default = "listed_by_default")]
    pub listed: bool,
}

fn listed_by_default() -> bool {
    true
}

/// How long an execution that does not see itself listed waits before it asks again: listings
/// lag by a second or so, not by the queue's interval.
pub const LISTING_WAIT_SECONDS: u32 = 2;

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
    let listed = running.iter().find(|r| r.arn == request.execution);
    // Not listed yet (eventual consistency): its own start time orders what it can see.
    let mine = listed.map_or_else(|| start_millis(&request.started_at), |listed| listed.started_ms);
    let mut ahead: Vec<(i64, &String)> = running
        .iter()
        .filter(|r| r.arn != request.execution && (r.started_ms, &r.arn) < (mine, &request.execution))
        .map(|r| (r.started_ms, &r.arn))
        .collect();
    ahead.sort();
    let mut ahead: Vec<String> = ahead.into_iter().map(|(_, arn)| arn.clone()).collect();
    let go = listed.is_some() && ahead.is_empty();
    if !go && attempt > config.polling.max_attempts {
        if listed.is_none() {
            ahead.push(format!("{} itself (ListExecutions never showed it)", request.execution));
        }
        return Err(Error::QueueTimedOut {
            waited_seconds: u64::from(config.polling.interval_seconds) * u64::from(config.polling.max_attempts),
            ahead,
        });
    }
    let wait_seconds = match listed {
        Some(_) => config.polling.interval_seconds,
        None => LISTING_WAIT_SECONDS.min(config.polling.interval_seconds),
    };
    Ok(Turn { go, ahead, attempt, wait_seconds, listed: listed.is_some() })
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
    async fn an_execution_not_listed_yet_orders_by_its_own_start_time_and_does_not_go() {
        // 2026-11-28T10:00:00Z is 1795860000000 ms: later than a, earlier than z.
        let executions = FakeExecutions::running(&[("arn:a", 1_000), ("arn:z", 1_900_000_000_000)]);
        let turn = take_turn(request("arn:new", None), &config(), &executions).await.unwrap();
        assert_eq!(turn.ahead, ["arn:a"]);
        assert!(!turn.go && !turn.listed && turn.wait_seconds == LISTING_WAIT_SECONDS);
    }

    /// Two executions started in the same instant, and a listing that lags: neither sees the
    /// other, nor itself. Going on "nothing ahead" would run both; neither goes until the
    /// listing shows them, and then exactly one does.
    #[tokio::test]
    async fn twins_behind_a_lagging_listing_never_both_go() {
        let lagging = FakeExecutions::running(&[]);
        for twin in ["arn:a", "arn:b"] {
            let turn = take_turn(request(twin, None), &config(), &lagging).await.unwrap();
            assert!(!turn.go && turn.ahead.is_empty(), "{twin}: {turn:?}");
        }
        let caught_up = FakeExecutions::running(&[("arn:a", 5_000), ("arn:b", 5_000)]);
        let a = take_turn(request("arn:a", None), &config(), &caught_up).await.unwrap();
        let b = take_turn(request("arn:b", None), &config(), &caught_up).await.unwrap();
        assert_eq!((a.go, b.go), (true, false));
        // A listing that never shows it ends bounded, saying so.
        let mut turn = take_turn(request("arn:c", None), &config(), &lagging).await.unwrap();
        for _ in 2..=3 {
            turn = take_turn(request("arn:c", Some(turn)), &config(), &lagging).await.unwrap();
        }
        let err = take_turn(request("arn:c", Some(turn)), &config(), &lagging).await.unwrap_err();
        assert!(err.to_string().contains("ListExecutions never showed it"), "{err}");
    }
}
