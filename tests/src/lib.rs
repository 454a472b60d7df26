//! Shared helpers for the integration tests: locating the built library, compiling C probes,
//! running programs with and without the library.
//!
//! `common` holds the interposition-layer helpers; `diff` the differential harness helpers.

pub mod common;
pub mod diff;
