//! arm (being written).
