//! Finding the parameters in a drm_panic URL.
//!
//! The kernel builds the URL with
//! `CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL "?a=<machine>&v=<release>&z=<digits>"`
//! (`zl=` before Linux 6.14), appending its `?a=` to whatever prefix the
//! distribution configured. Some prefixes end in `#` (Arch Linux uses
//! `https://panic.archlinux.org/panic_report#`), so the parameters may sit
//! in the fragment, after `#?`. The prefix may even carry its own `?`, so
//! the parameters are taken from the last `?a=` when there is one.

use crate::{Error, Scheme};

/// The parameters of one drm_panic URL, borrowed from it.
#[derive(Debug, Default)]
pub(crate) struct Params<'a> {
    pub prefix: Option<&'a str>,
    pub arch: Option<String>,
    pub version: Option<String>,
    pub distribution: Option<String>,
    pub data: Option<(Scheme, &'a str)>,
}

/// Splits `input` into the part before the parameters (if any) and the
/// parameter string.
fn split_query(input: &str) -> (Option<&str>, &str) {
    if let Some(at) = input.rfind("?a=") {
        return (Some(&input[..at]), &input[at + 1..]);
    }
    // A bare query string, as a web server hands it over.
    let bare = input.strip_prefix('?').unwrap_or(input);
    if ["a=", "v=", "z=", "zl=", "d="]
        .iter()
        .any(|k| bare.starts_with(k))
    {
        return (None, bare);
    }
    if let Some(at) = input.rfind('?') {
        return (Some(&input[..at]), &input[at + 1..]);
    }
    if let Some(at) = input.find('#') {
        return (Some(&input[..at]), &input[at + 1..]);
    }
    (None, input)
}

/// Decodes `%XX` escapes; anything that is not a valid escape is kept as
/// it is (the kernel never escapes, a browser or scanner app might).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Both characters must be hex digits (from_str_radix alone
            // would also take a sign).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the drm_panic parameters out of a full URL or a query string.
pub(crate) fn parse(input: &str) -> Result<Params<'_>, Error> {
    let input = input.trim();
    let (prefix, query) = split_query(input);
    let mut params = Params {
        prefix: prefix.filter(|p| !p.is_empty()),
        ..Params::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "a" => &mut params.arch,
            "v" => &mut params.version,
            "d" => &mut params.distribution,
            "z" | "zl" => {
                let scheme = if key == "z" {
                    Scheme::Fido
                } else {
                    Scheme::Legacy
                };
                if params.data.is_some() {
                    return Err(Error::DuplicateParameter {
                        name: key.to_owned(),
                    });
                }
                params.data = Some((scheme, value));
                continue;
            }
            // Unknown parameters (a distribution's own) are not ours.
            _ => continue,
        };
        if slot.is_some() {
            return Err(Error::DuplicateParameter {
                name: key.to_owned(),
            });
        }
        *slot = Some(percent_decode(value));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_forms() {
        let cases = [
            (
                "https://x.org/r?a=x86_64&v=6.14.0&z=042",
                Some("https://x.org/r"),
            ),
            (
                "https://x.org/r#?a=x86_64&v=6.14.0&z=042",
                Some("https://x.org/r#"),
            ),
            (
                "https://x.org/r?src=qr?a=x86_64&v=6.14.0&z=042",
                Some("https://x.org/r?src=qr"),
            ),
            ("a=x86_64&v=6.14.0&z=042", None),
            ("?a=x86_64&v=6.14.0&z=042", None),
            (
                "  https://x.org/r?a=x86_64&v=6.14.0&z=042\n",
                Some("https://x.org/r"),
            ),
        ];
        for (url, prefix) in cases {
            let p = parse(url).unwrap();
            assert_eq!(p.prefix, prefix, "{url}");
            assert_eq!(p.arch.as_deref(), Some("x86_64"), "{url}");
            assert_eq!(p.version.as_deref(), Some("6.14.0"), "{url}");
            assert_eq!(p.data, Some((Scheme::Fido, "042")), "{url}");
        }
    }

    #[test]
    fn legacy_and_order_free() {
        let p = parse("zl=200&v=6.12.1-arch1-1&a=aarch64").unwrap();
        assert_eq!(p.data, Some((Scheme::Legacy, "200")));
        assert_eq!(p.arch.as_deref(), Some("aarch64"));
        assert_eq!(p.version.as_deref(), Some("6.12.1-arch1-1"));
    }

    #[test]
    fn duplicates_are_errors() {
        assert!(matches!(
            parse("a=x&z=042&zl=200"),
            Err(Error::DuplicateParameter { name }) if name == "zl"
        ));
        assert!(matches!(
            parse("a=x&a=y&z=042"),
            Err(Error::DuplicateParameter { name }) if name == "a"
        ));
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(percent_decode("6.14.0%2Bdebug"), "6.14.0+debug");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%+1x"), "%+1x");
        assert_eq!(percent_decode("6.14.0+"), "6.14.0+");
    }
}
