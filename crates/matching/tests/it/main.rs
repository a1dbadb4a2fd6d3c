//! Integration tests of `kalypso-matching` through its public API: a brute-force reference model and property
//! tests comparing the book against it.

mod model;
mod props;
