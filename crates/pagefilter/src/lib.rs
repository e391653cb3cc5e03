//! pagefilter (being written).
