//! sigship's pipeline: everything its Lambdas do, organised by domain.
//! The functions' `main.rs` files only build clients and hand a handler to [`lambda::serve`].

// The traits are used with generics inside this workspace, never as `dyn` objects.
#![allow(async_fn_in_trait)]

pub mod aws;
pub mod build;
pub mod config;
pub mod deployment;
pub mod error;
pub mod execution;
pub mod lambda;
pub mod node;
pub mod queue;
pub mod sizing;
pub mod task_definition;
pub mod teardown;
pub mod trigger;
pub mod verify;

#[cfg(test)]
mod testing;

pub use error::{Error, Result};

/// The tag on everything sigship creates outside the stack (service, task definitions, images,
/// chain data) and on the stack's own resources: destroy touches nothing without it.
pub const MANAGED_TAG: &str = "sigship:managed";

/// Every function package (and binary); the stack deploys each as `<stack>-<name>`.
pub const FUNCTIONS: [&str; 9] =
    ["verify", "trigger-build", "register-task", "deploy", "destroy", "queue", "tag-push", "tag-watch", "node-metrics"];
