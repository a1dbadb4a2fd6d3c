//! Integration tests of the simulator: queueing theory, invariants of every mechanism, determinism.

mod determinism;
mod mmc;
mod properties;
