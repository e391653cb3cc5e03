//! pstore (being written).
