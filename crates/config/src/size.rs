//! Byte sizes written as `1M`, `512K`, `2G` or a plain number of bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A size in bytes; in the file an integer or a string with a K/M/G/T suffix
/// (powers of 1024), or a `0x` hexadecimal number (addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Size(pub u64);

impl Size {
    /// Parse `1M`, `0x3f000000`, `4096`.
    pub fn parse(s: &str) -> Option<Size> {
        let s = s.trim();
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            return u64::from_str_radix(hex, 16).ok().map(Size);
        }
        let (num, shift) = match s.char_indices().last()? {
            (i, 'K' | 'k') => (&s[..i], 10),
            (i, 'M' | 'm') => (&s[..i], 20),
            (i, 'G' | 'g') => (&s[..i], 30),
            (i, 'T' | 't') => (&s[..i], 40),
            _ => (s, 0),
        };
        let n: u64 = num.parse().ok()?;
        n.checked_mul(1u64 << shift).map(Size)
    }
}

impl fmt::Display for Size {
    /// The shortest exact form: `1M`, `24M`, `2G`, `1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, suffix) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
            if n != 0 && n % (1u64 << shift) == 0 {
                return write!(f, "{}{suffix}", n >> shift);
            }
        }
        write!(f, "{n}")
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1M, 512K, 2G, 0x3f000000 or a number of bytes")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Size, E> {
                Size::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "{v:?} is not a size (examples: 1M, 512K, 2G, 0x3f000000)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!(Size::parse("1M"), Some(Size(1 << 20)));
        assert_eq!(Size::parse("0x3f000000"), Some(Size(0x3f00_0000)));
        assert_eq!(Size::parse("4096"), Some(Size(4096)));
        assert_eq!(Size::parse("x"), None);
        assert_eq!(Size::parse("99999999999T"), None);
        assert_eq!(Size(24 << 20).to_string(), "24M");
        assert_eq!(Size(1000).to_string(), "1000");
        assert_eq!(Size(0).to_string(), "0");
    }
}
