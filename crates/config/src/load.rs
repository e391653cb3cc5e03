//! Loading the file: parse errors with file, line and column; unknown keys
//! (errors for `config check`, warnings elsewhere); value checks serde
//! cannot express.

use crate::keys;
use crate::model::Config;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the file lives on a real system.
pub const DEFAULT_PATH: &str = "/etc/panicdump/config.toml";

/// A key the model does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Dotted key (`kdump.dumplevel`).
    pub key: String,
    /// 1-based line, when found.
    pub line: Option<usize>,
    /// A known key it probably meant.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        write!(f, "unknown key `{}`", self.key)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or a value of the wrong type (the message names line and key).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message with line, column and the offending text.
        message: String,
    },
    /// Unknown keys (strict loading only).
    #[error("{path}: {}", join(.keys))]
    Unknown {
        /// The file.
        path: PathBuf,
        /// The keys.
        keys: Vec<UnknownKey>,
    },
    /// Values that parse but make no sense.
    #[error("{path}: {}", .problems.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// One message per problem, naming the key.
        problems: Vec<String>,
    },
}

fn join(keys: &[UnknownKey]) -> String {
    keys.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A loaded configuration and what was ignored.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The effective configuration (defaults for absent keys).
    pub config: Config,
    /// The file it came from; `None` when the file did not exist.
    pub path: Option<PathBuf>,
    /// Keys that were ignored.
    pub unknown: Vec<UnknownKey>,
}

impl Loaded {
    /// One warning line per ignored key, naming the file.
    pub fn warnings(&self) -> Vec<String> {
        let file = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        self.unknown
            .iter()
            .map(|k| format!("{file}: {k}; ignored"))
            .collect()
    }
}

/// Parse `text` (read from `path`, named in errors). Unknown keys are
/// returned in [`Loaded::unknown`], not errors.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.into(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.into(),
            problems,
        });
    }
    Ok(Loaded {
        config,
        path: Some(path.into()),
        unknown: unknown_keys(&table, text),
    })
}

/// Load `path`; a missing file means all defaults. Unknown keys are kept
/// as warnings.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Loaded::default()),
        Err(source) => Err(ConfigError::Read {
            path: path.into(),
            source,
        }),
    }
}

/// Load `path` for `config check`: the file must exist and unknown keys are errors.
pub fn load_strict(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    let loaded = parse(&text, path)?;
    if !loaded.unknown.is_empty() {
        return Err(ConfigError::Unknown {
            path: path.into(),
            keys: loaded.unknown,
        });
    }
    Ok(loaded)
}

fn is_section(name: &str) -> bool {
    keys::SECTIONS
        .iter()
        .any(|(s, _)| !s.is_empty() && *s == name)
}

fn unknown_keys(table: &toml::Table, text: &str) -> Vec<UnknownKey> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(sub) if is_section(k) => {
                for sk in sub.keys() {
                    if keys::find(k, sk).is_none() {
                        out.push(unknown(k, sk, text));
                    }
                }
            }
            _ if keys::find("", k).is_some() => {}
            _ => out.push(unknown("", k, text)),
        }
    }
    out
}

fn unknown(section: &str, key: &str, text: &str) -> UnknownKey {
    let dotted = if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    };
    let suggestion = keys::KEYS
        .iter()
        .filter(|d| d.section == section || section.is_empty())
        .map(|d| {
            (
                similarity(&d.key.replace('_', ""), &key.replace(['_', '-'], "")),
                d,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, d)| {
            if d.section.is_empty() {
                d.key.to_string()
            } else {
                format!("{}.{}", d.section, d.key)
            }
        });
    UnknownKey {
        key: dotted,
        line: find_line(text, section, key),
        suggestion,
    }
}

/// Share of common bigrams (Dice coefficient), enough to catch typos.
fn similarity(a: &str, b: &str) -> f64 {
    let grams = |s: &str| -> Vec<(char, char)> {
        let c: Vec<char> = s.to_lowercase().chars().collect();
        c.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let (ga, mut gb) = (grams(a), grams(b));
    if ga.is_empty() || gb.is_empty() {
        return if a.eq_ignore_ascii_case(b) { 1.0 } else { 0.0 };
    }
    let total = ga.len() + gb.len();
    let mut common = 0;
    for g in ga {
        if let Some(i) = gb.iter().position(|x| *x == g) {
            gb.swap_remove(i);
            common += 1;
        }
    }
    2.0 * common as f64 / total as f64
}

/// The line defining `key` in `[section]`, for messages (plain `key =` and
/// `[section]` headers; dotted or inline forms are not located).
fn find_line(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            current = h
                .trim_end_matches(|c: char| c != ']')
                .trim_end_matches(']')
                .trim()
                .to_string();
            continue;
        }
        if current == section {
            let name = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if name == key && t.contains('=') {
                return Some(i + 1);
            }
        }
    }
    None
}

impl Config {
    /// Value problems serde's types cannot express, one message per key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.kdump.dump_level > 31 {
            p.push(format!(
                "kdump.dump_level = {}: must be 0-31",
                self.kdump.dump_level
            ));
        }
        if let Some(c) = &self.kdump.crashkernel {
            let ok = !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ":-,@.".contains(ch));
            if !ok {
                p.push(format!(
                    "kdump.crashkernel = {c:?}: expected a size like \"256M\" or ranges like \"1G-4G:192M,4G-:256M\" (without `crashkernel=`)"
                ));
            }
        }
        if let Some(t) = &self.kdump.target {
            if !(t.starts_with("UUID=") || t.starts_with('/')) {
                p.push(format!(
                    "kdump.target = {t:?}: expected UUID=<uuid>, /dev/<device> or an absolute directory"
                ));
            }
        }
        if self.kdump.subdir.split('/').any(|c| c == "..") {
            p.push(format!(
                "kdump.subdir = {:?}: must stay inside the target",
                self.kdump.subdir
            ));
        }
        if self.pstore.ramoops_size.0 < 16 << 10 {
            p.push(format!(
                "pstore.ramoops_size = {}: at least 16K (two records and a console)",
                self.pstore.ramoops_size
            ));
        }
        if let Some(a) = self.pstore.ramoops_address {
            if a.0 % 4096 != 0 {
                p.push(format!(
                    "pstore.ramoops_address = {a}: must be page aligned (a multiple of 0x1000)"
                ));
            }
        }
        if self.submit.token.is_some() && self.submit.token_file.is_some() {
            p.push("submit.token and submit.token_file: set one, not both".into());
        }
        if let Some(u) = &self.submit.url {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                p.push(format!(
                    "submit.url = {u:?}: expected an http:// or https:// URL"
                ));
            }
        }
        if self.submit.auto && !self.submit.consent {
            p.push("submit.auto = true needs submit.consent = true".into());
        }
        p
    }

    /// The file's TOML text for this configuration, every key included
    /// (unset optional keys as comments), for `config show`.
    pub fn to_toml(&self) -> String {
        // Serializing a struct cannot fail: every field is a plain value.
        let table = toml::Table::try_from(self).unwrap_or_default();
        let mut out = String::new();
        for (section, _) in keys::SECTIONS {
            let values = if section.is_empty() {
                Some(&table)
            } else {
                out.push_str(&format!("\n[{section}]\n"));
                table.get(*section).and_then(|v| v.as_table())
            };
            for d in keys::KEYS.iter().filter(|d| d.section == *section) {
                match values.and_then(|t| t.get(d.key)) {
                    Some(v) => out.push_str(&format!("{} = {v}\n", d.key)),
                    None => out.push_str(&format!("# {} is unset\n", d.key)),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_suggestions() {
        let text = "mode = \"both\"\n[kdump]\ndump_levle = 3\n[pstore]\nsize = 1\n";
        let l = parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(l.unknown.len(), 2);
        assert_eq!(l.unknown[0].key, "kdump.dump_levle");
        assert_eq!(l.unknown[0].line, Some(3));
        assert_eq!(l.unknown[0].suggestion.as_deref(), Some("kdump.dump_level"));
        assert_eq!(l.unknown[1].line, Some(5));
    }
}
