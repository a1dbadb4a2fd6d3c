//! The [`Prover`](crate::Prover) implementations: built-in Groth16 circuits proven in-process, an external
//! command per proof, and a prover gateway over HTTP.

pub mod circom;
pub mod command;
pub mod groth16;
pub mod webhook;
