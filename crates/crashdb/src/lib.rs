//! crashdb (being written).
