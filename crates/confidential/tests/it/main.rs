//! Integration tests of the envelope and the Nitro attestation verifier.

mod envelope;
mod fuzz;
mod nitro;
