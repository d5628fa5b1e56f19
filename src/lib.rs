//! hoist: provision GPU/TPU Kubernetes clusters and their MLOps stack from a blueprint.
//!
//! The library holds the engine (plan, apply, refresh, drift, recovery) and the pieces of
//! the command line that are worth testing on their own; `main.rs` only wires them up.

pub mod cli;
pub mod commands;
pub mod engine;
pub mod markdown;
pub mod ops;
pub mod printer;
pub mod resolve;
