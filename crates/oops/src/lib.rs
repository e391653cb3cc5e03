//! oops (being written).
