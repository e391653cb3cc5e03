//! The panicdump crash server.

pub mod dashboard;
