//! Integration tests of `kalypso-provers`.

mod fixture;
