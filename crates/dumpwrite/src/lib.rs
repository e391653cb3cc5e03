//! dumpwrite (being written).
