//! Synthetic tests.
