//! Stack frames: parsing the many ways architectures print them.

use serde::Serialize;

pub use crate::skip::{is_generic, SkipSet};

/// One call-trace frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Function name as printed (`foo.isra.0`); empty never.
    pub function: String,
    /// Offset into the function (`0x1a`), when printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Size of the function (`0x30`), when printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Module the function lives in (`[mod]`), when not built in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// False for frames printed with `?` (stack scan guesses).
    pub reliable: bool,
    /// An inlined frame from a symbolized report (`foo file.c:12 [inline]`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inline: bool,
}

impl Frame {
    /// The function name without compiler suffixes (`.isra.0`, `.cold`,
    /// `.constprop.0`, `.part.0`, `.llvm.123`): the same function across builds.
    pub fn base_name(&self) -> &str {
        base_name(&self.function)
    }
}

/// Strip compiler-generated suffixes from a symbol name.
pub fn base_name(f: &str) -> &str {
    match f.find('.') {
        Some(0) | None => f,
        Some(i) => &f[..i],
    }
}

/// Parse a symbol token `foo+0x1a/0x30` (also `foo+0x1a`, `foo`) followed by
/// an optional ` [module]`. `rest` is what follows the token on the line.
pub fn parse_symbol(tok: &str, rest: &str) -> Option<Frame> {
    let (name, off, size) = match tok.split_once('+') {
        Some((n, o)) => {
            let (o, s) = match o.split_once('/') {
                Some((o, s)) => (o, Some(s)),
                None => (o, None),
            };
            let off = parse_hex(o)?;
            let size = match s {
                Some(s) => Some(parse_hex(s)?),
                None => None,
            };
            (n, Some(off), size)
        }
        None => (tok, None, None),
    };
    if !is_ident(name) {
        return None;
    }
    let module = rest
        .trim_start()
        .strip_prefix('[')
        .and_then(|m| m.split_once(']'))
        .map(|(m, _)| m.trim())
        .filter(|m| !m.is_empty() && !m.contains(' ') && *m != "inline")
        .map(str::to_string);
    Some(Frame {
        function: name.to_string(),
        offset: off,
        size,
        module,
        reliable: true,
        inline: false,
    })
}

fn parse_hex(s: &str) -> Option<u64> {
    let h = s.strip_prefix("0x")?;
    if h.is_empty() || h.len() > 16 {
        return None;
    }
    u64::from_str_radix(h, 16).ok()
}

/// A plausible C symbol: starts with a letter or `_`, then word chars, `.`, `$`.
pub fn is_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 200
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$'))
}

/// Is this an address token such as `[<ffffffff81234567>]`, `[c000000000123456]`,
/// `ffffffff81234567`?
fn is_addr_token(t: &str) -> bool {
    let t = t
        .trim_start_matches(['[', '(', '<'])
        .trim_end_matches([']', ')', '>', ':']);
    let t = t.strip_prefix("0x").unwrap_or(t);
    t.len() >= 6 && t.len() <= 16 && t.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Parse one call-trace line (already cleaned and trimmed). Returns `None`
/// for anything that is not a frame.
pub fn parse_frame(line: &str) -> Option<Frame> {
    let mut s = line.trim();
    let mut reliable = true;
    // s390 wraps the caller frame in parentheses: `([<…>] foo+0x1/0x2)`.
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        s = inner;
    }
    // Leading `?`, address tokens and (old x86) context markers, in any
    // order: `<IRQ>  [<…>] ? foo`, `[] ? foo` (addresses hidden).
    loop {
        if let Some(r) = s.strip_prefix("? ") {
            reliable = false;
            s = r.trim_start();
            continue;
        }
        if let Some(r) = [
            "<NMI>", "<IRQ>", "<EOI>", "<EOE>", "<#MC>", "<#DF>", "<TASK>", "[]",
        ]
        .iter()
        .find_map(|m| s.strip_prefix(m))
        .filter(|r| r.starts_with(' '))
        {
            s = r.trim_start();
            continue;
        }
        let tok = s.split_whitespace().next()?;
        if is_addr_token(tok) && (tok.starts_with('[') || s.len() > tok.len()) {
            // ARM: `[<c0643c94>] (foo) from [<c0644024>] (bar+0x1c/0x30)`.
            let r = s[tok.len()..].trim_start();
            if let Some(p) = r.strip_prefix('(') {
                let mut f = paren_symbol(p)?;
                f.reliable = reliable;
                return Some(f);
            }
            s = r;
            continue;
        }
        break;
    }
    let mut words = s.splitn(2, ' ');
    let tok = words.next()?;
    let rest = words.next().unwrap_or("");
    // A line cut right after the `+` (truncated log): keep the function.
    if let Some(name) = tok
        .strip_suffix('+')
        .filter(|n| rest.is_empty() && is_ident(n))
    {
        let mut f = parse_symbol(name, "")?;
        f.reliable = reliable;
        return Some(f);
    }
    if tok.contains('+') {
        let mut f = parse_symbol(tok, rest)?;
        // powerpc marks guesses with a trailing "(unreliable)".
        if rest.contains("(unreliable)") {
            reliable = false;
        }
        f.reliable = reliable;
        return Some(f);
    }
    // ARM since v5.x: `unwind_backtrace from show_stack+0x10/0x14`: the
    // first name is this frame's function.
    if rest.starts_with("from ") && rest.contains("+0x") && is_ident(tok) {
        let mut f = parse_symbol(tok, "")?;
        f.reliable = reliable;
        return Some(f);
    }
    // decode_stacktrace.sh output: `dump_stack_lvl (lib/dump_stack.c:107)`.
    if rest.starts_with('(') && rest.contains(':') && is_ident(tok) && !tok.ends_with(':') {
        let mut f = parse_symbol(tok, "")?;
        f.reliable = reliable;
        return Some(f);
    }
    // Symbolized inline frame: `inode_lock include/linux/fs.h:758 [inline]`.
    if rest.ends_with("[inline]") && is_ident(tok) {
        let mut f = parse_symbol(tok, "")?;
        f.inline = true;
        f.reliable = reliable;
        return Some(f);
    }
    None
}

/// `sym+0x1/0x2 [mod]) from …` → the symbol inside ARM's parentheses.
fn paren_symbol(p: &str) -> Option<Frame> {
    let inner = &p[..p.find(')')?];
    let mut words = inner.splitn(2, ' ');
    let tok = words.next()?;
    parse_symbol(tok, words.next().unwrap_or(""))
}

/// The caller named at the end of an ARM frame line,
/// `[<c0>] (foo) from [<c1>] (bar+0x1c/0x30 [mod])` → `bar`: the last line
/// of a cut trace names one more function than its frames.
pub fn arm_caller(line: &str) -> Option<Frame> {
    let i = line.rfind(" from ")?;
    let rest = line[i + 6..].trim_start();
    let rest = rest
        .split_once("] (")
        .map_or(rest.strip_prefix('(').unwrap_or(rest), |(_, r)| r);
    paren_symbol(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_forms() {
        let f = parse_frame("? tcp_v4_send_reset+0x1d7/0xa90 [mptcp]").unwrap();
        assert_eq!(f.function, "tcp_v4_send_reset");
        assert_eq!(f.offset, Some(0x1d7));
        assert_eq!(f.size, Some(0xa90));
        assert_eq!(f.module.as_deref(), Some("mptcp"));
        assert!(!f.reliable);
        let f = parse_frame("[<ffffffff81234567>] ? foo.isra.0+0x1/0x2").unwrap();
        assert_eq!(f.base_name(), "foo");
        assert!(!f.reliable);
        let f = parse_frame("[<c0643c94>] (seq_vprintf) from [<c0644024>] (seq_printf+0x3c/0x5c)")
            .unwrap();
        assert_eq!(f.function, "seq_vprintf");
        let f = parse_frame("[c0000000fe0fbb40] [c000000000123456] foo+0x1c/0x30 (unreliable)")
            .unwrap();
        assert!(!f.reliable);
        let f =
            parse_frame("warn_slowpath_fmt from smp_call_function_many_cond+0x3c4/0x3c8").unwrap();
        assert_eq!(f.function, "warn_slowpath_fmt");
        let f = parse_frame("dump_stack_lvl (lib/dump_stack.c:107 (discriminator 1))").unwrap();
        assert_eq!(f.function, "dump_stack_lvl");
        assert!(parse_frame("Booting from ROM").is_none());
        let f = parse_frame("<NMI>  [<ffffffff816319e6>] dump_stack+0x19/0x1b").unwrap();
        assert_eq!(f.function, "dump_stack");
        let f = parse_frame("<#MC>  [] ? panic+0xd6/0x1d0").unwrap();
        assert!(!f.reliable);
        let f = parse_frame("inode_lock include/linux/fs.h:758 [inline]").unwrap();
        assert!(f.inline);
        let f = parse_frame("([<0000000000123456>] bar+0x1c/0x30)").unwrap();
        assert_eq!(f.function, "bar");
        let f = parse_frame("do_truncate+0x12/0x30 fs/open.c:66").unwrap();
        assert_eq!(f.function, "do_truncate");
        assert_eq!(f.module, None);
        assert!(parse_frame("Modules linked in: a b c").is_none());
        assert!(parse_frame("RAX: 0000000000000000 RBX: ffff").is_none());
        assert!(parse_frame("</TASK>").is_none());
        assert!(parse_frame("").is_none());
    }

    #[test]
    fn generic() {
        assert!(is_generic("dump_stack_lvl", SkipSet::Generic));
        assert!(is_generic("_raw_spin_lock_irqsave", SkipSet::Generic));
        assert!(!is_generic("ext4_fill_super", SkipSet::Generic));
        assert!(is_generic("schedule", SkipSet::Wait));
        assert!(!is_generic("schedule", SkipSet::Generic));
    }
}
