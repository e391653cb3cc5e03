//! VMCOREINFO lookups whose errors name the missing key.

use crate::KmsgError;
use dumpfile::VmcoreInfo;

/// Key lookups on behalf of one ring reader.
pub(crate) struct Keys<'a> {
    pub(crate) info: &'a VmcoreInfo,
    /// The ring kind, for error messages.
    pub(crate) ring: &'static str,
}

impl Keys<'_> {
    fn missing(&self, family: &str, name: &str) -> KmsgError {
        KmsgError::MissingKey {
            key: format!("{family}({name})"),
            ring: self.ring,
        }
    }

    /// `SYMBOL(name)`, required.
    pub(crate) fn symbol(&self, name: &str) -> Result<u64, KmsgError> {
        self.info
            .symbol(name)
            .ok_or_else(|| self.missing("SYMBOL", name))
    }

    /// `SIZE(name)`, required.
    pub(crate) fn size(&self, name: &str) -> Result<u64, KmsgError> {
        self.info
            .size(name)
            .ok_or_else(|| self.missing("SIZE", name))
    }

    /// `OFFSET(name)`, required.
    pub(crate) fn offset(&self, name: &str) -> Result<u64, KmsgError> {
        self.info
            .offset(name)
            .ok_or_else(|| self.missing("OFFSET", name))
    }

    /// The first `SIZE()` found among historic names; the error names the
    /// current one (the first).
    pub(crate) fn size_any(&self, names: &[&str]) -> Result<u64, KmsgError> {
        names
            .iter()
            .find_map(|n| self.info.size(n))
            .ok_or_else(|| self.missing("SIZE", names[0]))
    }

    /// The first `OFFSET()` found among historic names.
    pub(crate) fn offset_any(&self, names: &[&str]) -> Result<u64, KmsgError> {
        names
            .iter()
            .find_map(|n| self.info.offset(n))
            .ok_or_else(|| self.missing("OFFSET", names[0]))
    }
}

/// Little-endian field extraction from a structure copied into a buffer.
/// Offsets are validated against the structure size up front, so these
/// only return `None` for a short buffer.
pub(crate) fn le_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// See [`le_u64`].
pub(crate) fn le_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// See [`le_u64`].
pub(crate) fn le_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
