//! Structured journal entries over journald's native protocol.
//!
//! journald reads one datagram per entry on `/run/systemd/journal/socket`.
//! Each field is `NAME=value\n`; a value containing a newline is sent as
//! `NAME\n`, its length as a little-endian u64, the bytes, then `\n`, so
//! multi-line values (a crash title with a continuation, a path with odd
//! bytes) arrive intact. Entries are small (a few hundred bytes), far below
//! the datagram limit, so the memfd path for huge entries is not needed.

use crate::NotifyError;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// journald's native protocol socket.
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// `MESSAGE_ID` of "panicdump collected a kernel crash". Generated once
/// (random 128-bit id) and never changed, so `journalctl
/// MESSAGE_ID=ba3cdb4bedca46ed84b3c1157985e155` finds every announcement on
/// every machine and version.
pub const MESSAGE_ID: &str = "ba3cdb4bedca46ed84b3c1157985e155";

/// syslog priority `err`: a kernel crash is an error of the system.
pub const PRIORITY_ERR: u8 = 3;

/// One journal entry: ordered `(NAME, value)` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    fields: Vec<(String, Vec<u8>)>,
}

/// Whether `name` is a valid journal field name for a client to send.
pub fn valid_field_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && !b[0].is_ascii_digit()
        && b[0] != b'_'
        && b.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

impl Entry {
    /// An empty entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a field; an invalid name is an error (journald would drop it).
    pub fn field(mut self, name: &str, value: impl AsRef<[u8]>) -> Result<Self, NotifyError> {
        if !valid_field_name(name) {
            return Err(NotifyError::FieldName(name.to_string()));
        }
        self.fields
            .push((name.to_string(), value.as_ref().to_vec()));
        Ok(self)
    }

    /// The fields in order.
    pub fn fields(&self) -> &[(String, Vec<u8>)] {
        &self.fields
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The datagram journald expects.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.fields {
            out.extend_from_slice(name.as_bytes());
            if value.contains(&b'\n') {
                out.push(b'\n');
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                out.extend_from_slice(value);
            } else {
                out.push(b'=');
                out.extend_from_slice(value);
            }
            out.push(b'\n');
        }
        out
    }

    /// Send the entry to the journal socket at `socket`.
    pub fn send_to(&self, socket: &Path) -> Result<(), NotifyError> {
        if !socket.exists() {
            return Err(NotifyError::NoJournal(socket.to_path_buf()));
        }
        let err = |source| NotifyError::JournalSend {
            path: socket.to_path_buf(),
            source,
        };
        let sock = UnixDatagram::unbound().map_err(err)?;
        sock.send_to(&self.encode(), socket).map_err(err)?;
        Ok(())
    }

    /// Send to the journal at `socket`, or print a one-line `MESSAGE` to
    /// stderr when there is no journal (a container, a rescue shell, the
    /// crash kernel). Returns whether the journal took it.
    pub fn send_or_stderr(&self, socket: &Path) -> bool {
        match self.send_to(socket) {
            Ok(()) => true,
            Err(e) => {
                let msg = self
                    .get("MESSAGE")
                    .map(|m| String::from_utf8_lossy(m).replace('\n', " "))
                    .unwrap_or_default();
                let _ = writeln!(std::io::stderr(), "panicdump: {msg} (journal: {e})");
                false
            }
        }
    }
}

/// Decode a datagram in journald's native format (the inverse of
/// [`Entry::encode`]); `None` when it is malformed. Used by tests and by
/// anyone checking what was sent.
pub fn decode(mut data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let nl = data.iter().position(|&c| c == b'\n')?;
        let line = &data[..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            let name = std::str::from_utf8(&line[..eq]).ok()?.to_string();
            fields.push((name, line[eq + 1..].to_vec()));
            data = &data[nl + 1..];
        } else {
            let name = std::str::from_utf8(line).ok()?.to_string();
            let rest = &data[nl + 1..];
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
            let len = usize::try_from(len).ok()?;
            let value = rest.get(8..8usize.checked_add(len)?)?;
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            fields.push((name, value.to_vec()));
            data = &rest[8 + len + 1..];
        }
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_journald_rules() {
        assert!(valid_field_name("PANICDUMP_TITLE"));
        assert!(valid_field_name("MESSAGE_ID"));
        assert!(!valid_field_name("_PID"), "trusted fields are journald's");
        assert!(!valid_field_name("1ABC"));
        assert!(!valid_field_name("lower"));
        assert!(!valid_field_name(""));
        assert!(!valid_field_name(&"A".repeat(65)));
        assert!(Entry::new().field("bad name", "x").is_err());
    }

    #[test]
    fn multi_line_values_use_the_length_prefixed_form() {
        let e = Entry::new()
            .field("MESSAGE", "one line")
            .unwrap()
            .field("PANICDUMP_TITLE", "a\nb")
            .unwrap();
        let d = e.encode();
        let mut want = b"MESSAGE=one line\nPANICDUMP_TITLE\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"a\nb\n");
        assert_eq!(d, want);
        assert_eq!(decode(&d).unwrap(), e.fields().to_vec());
    }

    #[test]
    fn decode_rejects_truncated_binary_fields() {
        let mut d = b"X\n".to_vec();
        d.extend_from_slice(&100u64.to_le_bytes());
        d.extend_from_slice(b"short\n");
        assert_eq!(decode(&d), None);
        assert_eq!(decode(b"NO_NEWLINE=x"), None);
        let mut huge = b"X\n".to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode(&huge), None);
    }

    #[test]
    fn no_socket_is_a_clear_error() {
        let e = Entry::new().field("MESSAGE", "m").unwrap();
        let err = e
            .send_to(Path::new("/nonexistent/journal/socket"))
            .unwrap_err();
        assert!(matches!(err, NotifyError::NoJournal(_)), "{err}");
        assert!(!e.send_or_stderr(Path::new("/nonexistent/journal/socket")));
    }
}
