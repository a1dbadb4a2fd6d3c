#![doc = include_str!("../README.md")]

pub mod eip712;
mod types;

pub use types::{AskState, ParseError, Preference, SkipReason};
