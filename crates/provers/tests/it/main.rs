//! Integration tests of `kalypso-provers`: real proofs of both circuits verified natively and by the
//! `Groth16Verifier` contract on anvil, key files, the circom backend on the committed circom fixtures, the
//! command backend with real shell commands, and the webhook client against the reference gateway on a
//! loopback port.

mod adapter;
mod circom;
mod command;
mod fixture;
mod gnark;
mod groth16;
mod keys;
mod onchain;
mod openapi;
mod webhook;
