//! What register-task reads from the stack: the task's sizes, roles, volume, log group, network
//! and btcd's extra arguments, and the health check's timing.

use crate::config::Env;
use crate::error::{Error, Result};
use crate::sizing::NodeSizes;

/// The container health check's timing (seconds); the deploy wait is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheckTiming {
    pub interval: u32,
    pub timeout: u32,
    pub retries: u32,
    /// The longest ECS allows: btcd opens its database before RPC answers.
    pub start_period: u32,
}

pub const HEALTH_CHECK: HealthCheckTiming =
    HealthCheckTiming { interval: 30, timeout: 10, retries: 3, start_period: 300 };

impl HealthCheckTiming {
    /// HEALTH_CHECK with the interval of SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS: 5 (ECS's least)
    /// to 30. Never longer than HEALTH_CHECK's, which the deploy wait is derived from.
    pub fn from_env(env: &Env) -> Result<Self> {
        let interval: u32 = env.parsed_or("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS", HEALTH_CHECK.interval)?;
        if !(5..=HEALTH_CHECK.interval).contains(&interval) {
            return Err(Error::config(format!(
                "SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS={interval} is not valid: 5 to {} seconds",
                HEALTH_CHECK.interval
            )));
        }
        Ok(HealthCheckTiming { interval, ..HEALTH_CHECK })
    }
}

pub struct TaskConfig {
    pub family: String,
    /// register-task's role (name): only revisions it registered are reused.
    pub registrar_role: String,
    /// The running service, whose profile a release keeps.
    pub cluster: String,
    pub service: String,
    /// The network and its two sizes: the sizing table's, or the stack's TaskCpu/TaskMemory and
    /// SyncTaskCpu/SyncTaskMemory (a chosen sync task gets the largest cache whose final flush fits).
    pub sizes: NodeSizes,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub log_group: String,
    pub region: String,
    pub file_system_id: String,
    pub access_point_id: String,
    pub extra_args: Vec<String>,
    pub health_check_timing: HealthCheckTiming,
    /// Secrets Manager secret with `username` and `password` keys for btcd's RPC.
    pub rpc_secret_arn: String,
}

impl TaskConfig {
    /// The task's size is the sizing table's steady size for the network
    /// ([`crate::sizing`]) unless SIGSHIP_TASK_CPU and SIGSHIP_TASK_MEMORY name another valid
    /// Fargate pair (empty: the table's).
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(TaskConfig {
            family: env.required("SIGSHIP_TASK_FAMILY")?,
            registrar_role: env.required("SIGSHIP_TASK_REGISTRAR_ROLE")?,
            cluster: env.required("SIGSHIP_CLUSTER")?,
            service: env.optional("SIGSHIP_SERVICE").unwrap_or_else(|| "btcd".into()),
            sizes: crate::sizing::NodeSizes::from_env(env)?,
            execution_role_arn: env.required("SIGSHIP_EXECUTION_ROLE_ARN")?,
            task_role_arn: env.required("SIGSHIP_TASK_ROLE_ARN")?,
            log_group: env.required("SIGSHIP_LOG_GROUP")?,
            region: env.required("AWS_REGION")?,
            file_system_id: env.required("SIGSHIP_FILE_SYSTEM_ID")?,
            access_point_id: env.required("SIGSHIP_ACCESS_POINT_ID")?,
            extra_args: env
                .optional("SIGSHIP_BTCD_ARGS")
                .map(|a| a.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            health_check_timing: HealthCheckTiming::from_env(env)?,
            rpc_secret_arn: env.required("SIGSHIP_RPC_SECRET_ARN")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{task_spec, Profile, UTXO_CACHE_FLAG};
    use super::*;
    use crate::network::Network;
    use crate::testing::release;

    #[test]
    fn the_task_is_sized_from_the_sizing_table_unless_the_stack_names_a_valid_fargate_size() {
        let env = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("SIGSHIP_EXECUTION_ROLE_ARN", "e"),
                ("SIGSHIP_TASK_ROLE_ARN", "t"),
                ("SIGSHIP_LOG_GROUP", "/l"),
                ("AWS_REGION", "us-east-1"),
                ("SIGSHIP_FILE_SYSTEM_ID", "fs-1"),
                ("SIGSHIP_ACCESS_POINT_ID", "fsap-1"),
                ("SIGSHIP_RPC_SECRET_ARN", "s"),
                ("SIGSHIP_CLUSTER", "sigship"),
                ("SIGSHIP_TASK_FAMILY", "sigship-btcd"),
                ("SIGSHIP_TASK_REGISTRAR_ROLE", "sigship-RegisterTaskRole-X"),
            ];
            all.extend_from_slice(pairs);
            TaskConfig::from_env(&Env::from_pairs(all))
        };
        for network in Network::ALL {
            let table = crate::sizing::for_network(*network).steady;
            let config =
                env(&[("SIGSHIP_NETWORK", network.name()), ("SIGSHIP_TASK_CPU", ""), ("SIGSHIP_TASK_MEMORY", "")])
                    .unwrap();
            assert_eq!(config.sizes.steady, table);
            let spec = task_spec(
                &env(&[("SIGSHIP_NETWORK", network.name())]).unwrap(),
                Profile::Steady,
                "i".into(),
                &release(),
            );
            assert!(
                spec.command.contains(&format!("--utxocachemaxsize={}", table.utxo_cache_mib)),
                "{:?}",
                spec.command
            );
        }
        let chosen = env(&[("SIGSHIP_TASK_CPU", "2048"), ("SIGSHIP_TASK_MEMORY", "8192")]).unwrap();
        assert_eq!((chosen.sizes.steady.cpu, chosen.sizes.steady.memory_mib), (2048, 8192));
        let Err(refused) = env(&[("SIGSHIP_TASK_CPU", "1024"), ("SIGSHIP_TASK_MEMORY", "16384")]) else {
            panic!("1 vCPU with 16 GB is not a Fargate size")
        };
        assert!(refused.to_string().contains("TaskCpu 1024 with TaskMemory 16384 is not a Fargate size"), "{refused}");
        // A smaller sync task than the table's (an account's Fargate quota): its cache is the
        // largest whose final flush fits, so it fills and flushes during the sync.
        let mainnet =
            [("SIGSHIP_NETWORK", "mainnet"), ("SIGSHIP_SYNC_TASK_CPU", "4096"), ("SIGSHIP_SYNC_TASK_MEMORY", "30720")];
        let smaller = env(&mainnet).unwrap().sizes.sync;
        let table = crate::sizing::for_network(Network::Mainnet);
        assert_eq!((smaller.cpu, smaller.memory_mib), (4096, 30720));
        assert!(smaller.utxo_cache_mib < table.sync.utxo_cache_mib && smaller.utxo_cache_mib > 8192, "{smaller}");
        assert!(
            crate::sizing::peak_heap_mib(f64::from(smaller.utxo_cache_mib), table)
                <= crate::sizing::heap_budget_mib(30720)
        );
        let Err(refused) = env(&[("SIGSHIP_SYNC_TASK_CPU", "4096"), ("SIGSHIP_SYNC_TASK_MEMORY", "lots")]) else {
            panic!("not a number")
        };
        assert!(refused.to_string().contains("SyncTaskMemory=\"lots\" is not a number"), "{refused}");
        // BtcdArgs' own cache size wins over the table's.
        let own = env(&[("SIGSHIP_BTCD_ARGS", "--utxocachemaxsize=64")]).unwrap();
        let spec = task_spec(&own, Profile::Steady, "i".into(), &release());
        assert_eq!(spec.command.iter().filter(|a| a.starts_with(UTXO_CACHE_FLAG)).count(), 1, "{:?}", spec.command);
    }

    #[test]
    fn the_health_check_interval_is_ecs_s_least_to_the_default() {
        let timing =
            |raw: &str| HealthCheckTiming::from_env(&Env::from_pairs([("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS", raw)]));
        assert_eq!(timing("5").unwrap(), HealthCheckTiming { interval: 5, ..HEALTH_CHECK });
        assert_eq!(HealthCheckTiming::from_env(&Env::from_pairs([])).unwrap(), HEALTH_CHECK);
        for bad in ["4", "31", "soon"] {
            assert!(timing(bad).unwrap_err().to_string().contains("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS"), "{bad}");
        }
    }
}
