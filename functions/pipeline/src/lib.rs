//! sigship's pipeline: everything its Lambdas do, organised by domain.
//! The functions' `main.rs` files only build clients and hand a handler to [`lambda::serve`].

// The traits are used with generics inside this workspace, never as `dyn` objects.
#![allow(async_fn_in_trait)]

// Layers, bottom up; a module imports only from its own layer or below (`cargo xtask test`
// checks it: see LAYERS in xtask/src/layers.rs).
// foundation
pub mod arn;
pub mod config;
pub mod error;
// vocabulary: plain facts, no AWS, no I/O (a trait may name what AWS answers)
pub mod network;
pub mod quota;
pub mod release;
pub mod sizing;
// verification and executions
pub mod execution;
pub mod verify;
// the build, and what runs
pub mod build;
pub mod running;
// the task definition
pub mod task_definition;
// deployment and the node's operation
pub mod deployment;
pub mod node;
pub mod queue;
// what starts and ends it
pub mod teardown;
pub mod trigger;
// adapters and glue
pub mod aws;
pub mod lambda;

#[cfg(test)]
mod testing;

pub use error::{Error, Result};

/// The tag on everything sigship creates outside the stack (service, task definitions, images,
/// chain data) and on the stack's own resources: destroy touches nothing without it.
pub const MANAGED_TAG: &str = "sigship:managed";

/// Every function package (and binary); the stack deploys each as `<stack>-<name>`.
pub const FUNCTIONS: [&str; 9] =
    ["verify", "trigger-build", "register-task", "deploy", "destroy", "queue", "tag-push", "tag-watch", "node-metrics"];
