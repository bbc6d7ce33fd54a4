//! Function configuration, read once per execution environment from environment variables (and
//! the clock).
//! Every variable is named `SIGSHIP_*`; a missing or unparsable one is a `Configuration` error
//! naming the variable, so a misconfigured stack fails on its first invocation with a clear message.

use std::collections::HashMap;
use std::str::FromStr;

use crate::error::{Error, Result};

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where configuration values come from: the process environment, or a map in tests.
pub struct Env {
    lookup: Lookup,
}

impl Env {
    pub fn process() -> Self {
        Env { lookup: Box::new(|name| std::env::var(name).ok().filter(|v| !v.is_empty())) }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let map: HashMap<String, String> = pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env { lookup: Box::new(move |name| map.get(name).cloned()) }
    }

    pub fn required(&self, name: &str) -> Result<String> {
        (self.lookup)(name).ok_or_else(|| Error::config(format!("{name} is not set")))
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    pub fn parsed_or<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match (self.lookup)(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e| Error::config(format!("{name}={raw:?} is not valid: {e}"))),
        }
    }

    /// A comma-separated list; empty entries are dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        (self.lookup)(name)
            .map(|raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }
}

/// How often and how long the state machine's wait loops poll, returned to it in each result so
/// the ASL stays free of numbers that belong to the deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polling {
    pub interval_seconds: u32,
    pub max_attempts: u32,
}

impl Polling {
    pub fn from_env(env: &Env, prefix: &str, interval: u32, max_attempts: u32) -> Result<Self> {
        Ok(Polling {
            interval_seconds: env.parsed_or(&format!("{prefix}_POLL_SECONDS"), interval)?,
            max_attempts: env.parsed_or(&format!("{prefix}_MAX_POLLS"), max_attempts)?,
        })
    }
}

/// `a, b, c`: the names an enum's values go by (its strum and serde names), for an error that
/// lists what is accepted.
pub fn names<T: strum::VariantArray + Copy + Into<&'static str>>() -> String {
    T::VARIANTS.iter().map(|v| (*v).into()).collect::<Vec<&str>>().join(", ")
}

/// The variable the template passes a parameter in: `SyncTaskCpu` → `SIGSHIP_SYNC_TASK_CPU`.
pub fn env_name(parameter: &str) -> String {
    let mut name = String::from("SIGSHIP");
    for c in parameter.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// The wall clock, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_s_variable_is_its_name_in_screaming_snake_case() {
        assert_eq!(env_name("SyncTaskCpu"), "SIGSHIP_SYNC_TASK_CPU");
        assert_eq!(env_name("Network"), "SIGSHIP_NETWORK");
    }

    #[test]
    fn missing_and_malformed_values_name_the_variable() {
        let env = Env::from_pairs([("SIGSHIP_BUILD_POLL_SECONDS", "soon")]);
        let missing = env.required("SIGSHIP_CLUSTER").unwrap_err().to_string();
        assert_eq!(missing, "configuration: SIGSHIP_CLUSTER is not set");
        let bad = Polling::from_env(&env, "SIGSHIP_BUILD", 30, 120).unwrap_err().to_string();
        assert!(bad.contains("SIGSHIP_BUILD_POLL_SECONDS=\"soon\" is not valid"), "{bad}");
    }

    #[test]
    fn lists_split_on_commas_and_drop_blanks() {
        let env = Env::from_pairs([("SIGSHIP_SUBNETS", "subnet-a, ,subnet-b")]);
        assert_eq!(env.list("SIGSHIP_SUBNETS"), ["subnet-a", "subnet-b"]);
        assert!(env.list("SIGSHIP_SECURITY_GROUPS").is_empty());
    }
}
