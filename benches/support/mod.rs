//! Code the benchmarks share. Each benchmark uses part of it.
#![allow(dead_code)]

pub mod cli;
pub mod memory;
pub mod served;
pub mod tenant;
