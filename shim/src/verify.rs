//! Verify mode.
