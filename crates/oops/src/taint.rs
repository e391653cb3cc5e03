//! Kernel taint flags (kernel/panic.c `taint_flags`).

use serde::Serialize;

/// The taint state printed on a report's CPU line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    /// The letters as printed, spaces removed (`GW OE` → `GWOE`); empty when
    /// `Not tainted`.
    pub letters: String,
    /// Each set flag decoded.
    pub flags: Vec<TaintFlag>,
}

/// One decoded taint flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaintFlag {
    /// The letter printed for it.
    pub letter: char,
    /// The bit number in `/proc/sys/kernel/tainted`.
    pub bit: u8,
    /// The kernel's name for it (`TAINT_WARN` → `WARN`).
    pub name: &'static str,
}

/// (letter, bit, name); `G` is the "clear" letter of bit 0 and is not a flag.
const TABLE: &[(char, u8, &str)] = &[
    ('P', 0, "PROPRIETARY_MODULE"),
    ('F', 1, "FORCED_MODULE"),
    ('S', 2, "CPU_OUT_OF_SPEC"),
    ('R', 3, "FORCED_RMMOD"),
    ('M', 4, "MACHINE_CHECK"),
    ('B', 5, "BAD_PAGE"),
    ('U', 6, "USER"),
    ('D', 7, "DIE"),
    ('A', 8, "OVERRIDDEN_ACPI_TABLE"),
    ('W', 9, "WARN"),
    ('C', 10, "CRAP"),
    ('I', 11, "FIRMWARE_WORKAROUND"),
    ('O', 12, "OOT_MODULE"),
    ('E', 13, "UNSIGNED_MODULE"),
    ('L', 14, "SOFTLOCKUP"),
    ('K', 15, "LIVEPATCH"),
    ('X', 16, "AUX"),
    ('T', 17, "RANDSTRUCT"),
    ('N', 18, "TEST"),
    ('J', 19, "FWCTL"),
];

impl Taint {
    /// Decode the letters of a `Tainted:` field (spaces for unset flags are
    /// fine; unknown letters are kept in `letters` but not decoded).
    pub fn decode(field: &str) -> Taint {
        let letters: String = field.chars().filter(|c| c.is_ascii_uppercase()).collect();
        let flags = letters
            .chars()
            .filter_map(|c| {
                TABLE
                    .iter()
                    .find(|(l, _, _)| *l == c)
                    .map(|&(letter, bit, name)| TaintFlag { letter, bit, name })
            })
            .collect();
        Taint { letters, flags }
    }

    /// `Not tainted`.
    pub fn none() -> Taint {
        Taint {
            letters: String::new(),
            flags: Vec::new(),
        }
    }
}

/// Fields of a `CPU: 0 PID: 1 Comm: x Tainted: G W 6.1.0 #1` line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CpuLine {
    /// CPU number.
    pub cpu: Option<u32>,
    /// PID.
    pub pid: Option<u32>,
    /// Command name.
    pub comm: Option<String>,
    /// Taint state.
    pub taint: Option<Taint>,
    /// Kernel release.
    pub release: Option<String>,
}

fn num(t: &str) -> Option<u32> {
    t.trim_end_matches(',').parse::<u32>().ok()
}

/// Parse the `dump_stack_print_info` line; `None` if `s` is not one.
pub fn parse_cpu_line(s: &str) -> Option<CpuLine> {
    let rest = s.strip_prefix("CPU: ")?;
    let mut out = CpuLine {
        cpu: num(rest.split_whitespace().next()?),
        ..CpuLine::default()
    };
    if let Some(i) = rest.find("PID: ") {
        out.pid = rest[i + 5..].split_whitespace().next().and_then(num);
    }
    let (comm_part, after) = if let Some(i) = rest.find(" Not tainted") {
        out.taint = Some(Taint::none());
        (&rest[..i], &rest[i + " Not tainted".len()..])
    } else if let Some(i) = rest.find(" Tainted: ") {
        let after = &rest[i + " Tainted: ".len()..];
        // Flags are single letters or runs of letters separated by spaces;
        // the release is the first token starting with a digit.
        let end = after
            .char_indices()
            .find(|&(j, c)| c.is_ascii_digit() && (j == 0 || after[..j].ends_with(' ')))
            .map_or(after.len(), |(j, _)| j);
        out.taint = Some(Taint::decode(&after[..end]));
        (&rest[..i], &after[end..])
    } else {
        (rest, "")
    };
    if let Some(i) = comm_part.find("Comm: ") {
        out.comm = Some(comm_part[i + 6..].trim().to_string());
    }
    out.release = after
        .split_whitespace()
        .next()
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lines() {
        let c = parse_cpu_line(
            "CPU: 2 PID: 3166 Comm: tokio-runtime-w Tainted: P           O      5.4.181+ #1",
        )
        .unwrap();
        assert_eq!(c.cpu, Some(2));
        assert_eq!(c.pid, Some(3166));
        assert_eq!(c.comm.as_deref(), Some("tokio-runtime-w"));
        assert_eq!(c.taint.as_ref().unwrap().letters, "PO");
        assert_eq!(c.release.as_deref(), Some("5.4.181+"));
        let c = parse_cpu_line(
            "CPU: 0 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.12.0-rc1 #1 PREEMPT(voluntary)",
        )
        .unwrap();
        assert_eq!(c.taint.unwrap().letters, "");
        assert_eq!(c.release.as_deref(), Some("6.12.0-rc1"));
        let t = Taint::decode("G        W  OE");
        assert_eq!(
            t.flags.iter().map(|f| f.name).collect::<Vec<_>>(),
            ["WARN", "OOT_MODULE", "UNSIGNED_MODULE"]
        );
    }
}
