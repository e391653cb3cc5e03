//! addrxlat (being written).
