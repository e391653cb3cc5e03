//! kmsg (being written).
