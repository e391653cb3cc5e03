//! Unified diffs of what setup (or undo) would change, for `--dry-run`.

use crate::plan::Content;

fn text(c: &Option<Content>) -> String {
    match c {
        None => String::new(),
        Some(Content::File { bytes, .. }) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Content::Symlink(t)) => format!("-> {t}\n"),
    }
}

/// A unified diff of `path` going from `old` to `new` (`None`: absent);
/// empty when nothing changes.
pub fn unified(path: &str, old: &Option<Content>, new: &Option<Content>) -> String {
    let (a, b) = (text(old), text(new));
    let mode_of = |c: &Option<Content>| match c {
        Some(Content::File { mode, .. }) => Some(*mode),
        _ => None,
    };
    if a == b {
        return match (mode_of(old), mode_of(new)) {
            (Some(x), Some(y)) if x != y => format!("mode {path}: {x:o} -> {y:o}\n"),
            _ => String::new(),
        };
    }
    let from = if old.is_some() {
        format!("a{path}")
    } else {
        "/dev/null".into()
    };
    let to = if new.is_some() {
        format!("b{path}")
    } else {
        "/dev/null".into()
    };
    let d = similar::TextDiff::from_lines(&a, &b);
    let mut out = d
        .unified_diff()
        .context_radius(3)
        .header(&from, &to)
        .to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}
