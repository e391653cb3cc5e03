//! The hashed machine id sent as `X-Panicdump-Machine`: the server counts
//! distinct machines by it and never sees the raw id.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Domain separation prefix, so the hash is useless outside panicdump.
pub const PREFIX: &[u8] = b"panicdump-machine:";

/// SHA-256 (lowercase hex) of [`PREFIX`] followed by the machine id with
/// surrounding whitespace (the file's trailing newline) removed.
pub fn hash_machine_id(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(PREFIX);
    h.update(id.trim().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Read `path` (normally `/etc/machine-id`) and hash it.
pub fn machine_hash(path: &Path) -> Result<String> {
    let bad = |reason: String| Error::MachineId {
        path: path.to_path_buf(),
        reason,
    };
    let raw = std::fs::read(path).map_err(|e| {
        bad(format!(
            "{e} (set `machine_id_path` in the [submit] section to a file with a stable id)"
        ))
    })?;
    let text = std::str::from_utf8(&raw).map_err(|_| bad("not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(bad("empty".into()));
    }
    Ok(hash_machine_id(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_prefixed_sha256_of_trimmed_id() {
        // printf 'panicdump-machine:0123456789abcdef0123456789abcdef' | sha256sum
        let want = "b94e918ef6a09163d635f94b3fcfb0c6e548b6fd5d122580c1f2252a7d3bb67a";
        assert_eq!(hash_machine_id("0123456789abcdef0123456789abcdef\n"), want);
        assert_eq!(want.len(), 64);
        assert_ne!(hash_machine_id("a"), hash_machine_id("b"));
    }

    #[test]
    fn missing_and_empty_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("submit-machine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("machine-id");
        assert!(machine_hash(&f).is_err());
        std::fs::write(&f, "\n").unwrap();
        assert!(machine_hash(&f).unwrap_err().to_string().contains("empty"));
        std::fs::write(&f, "abc\n").unwrap();
        assert_eq!(machine_hash(&f).unwrap(), hash_machine_id("abc"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
