//! Benchmarks of the matching core (written next).

fn main() {}
