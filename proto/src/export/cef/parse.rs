//! A strict reader of CEF lines (untrusted input: a SIEM extract): the header's seven fields
//! and the extension's `key=value` pairs, unescaped. Every malformed line is an error saying
//! where, never a panic: an unknown escape, a header with fewer than seven fields, a control
//! character in the header, a key that is not letters and digits, a key given twice, or a raw
//! `=` inside a value.

use std::collections::BTreeMap;

/// One CEF line, unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CefLine {
    /// The CEF version after `CEF:`.
    pub version: String,
    pub vendor: String,
    pub product: String,
    pub device_version: String,
    /// Device Event Class ID.
    pub class_id: String,
    pub name: String,
    pub severity: String,
    pub extension: BTreeMap<String, String>,
}

impl CefLine {
    /// The extension value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extension.get(key).map(String::as_str)
    }
}

/// Why a line is not a CEF line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CefError {
    #[error("expected a line starting `CEF:`")]
    NotCef,
    #[error(
        "the header has {found} of its 7 fields (version, vendor, product, device version, class id, name, severity), each ended by `|`"
    )]
    MissingHeaderFields { found: usize },
    #[error("unknown escape `\\{found}` at byte {at} of the {part} (expected {expected})")]
    BadEscape {
        part: &'static str,
        at: usize,
        found: char,
        expected: &'static str,
    },
    #[error("a lone backslash ends the {part}")]
    TrailingBackslash { part: &'static str },
    #[error("control character U+{code:04X} at byte {at} of the {part}")]
    ControlCharacter {
        part: &'static str,
        at: usize,
        code: u32,
    },
    #[error("the extension does not start with `key=`")]
    NoKey,
    #[error("extension key `{key}` at byte {at} is not letters, digits and `_`")]
    BadKey { key: String, at: usize },
    #[error("an unescaped `=` in the value of `{key}` at byte {at} (a value writes `=` as `\\=`)")]
    RawEquals { key: String, at: usize },
    #[error("extension key `{key}` appears twice")]
    DuplicateKey { key: String },
}

const HEADER: &str = "header";
const EXTENSION: &str = "extension";

/// Reads one line (without its newline).
pub fn parse_cef(line: &str) -> Result<CefLine, CefError> {
    let rest = line.strip_prefix("CEF:").ok_or(CefError::NotCef)?;
    let offset = line.len() - rest.len();
    let (fields, extension_at) = header_fields(rest, offset)?;
    let extension = parse_extension(&rest[extension_at..], offset + extension_at)?;
    let [
        version,
        vendor,
        product,
        device_version,
        class_id,
        name,
        severity,
    ] = fields;
    Ok(CefLine {
        version,
        vendor,
        product,
        device_version,
        class_id,
        name,
        severity,
        extension,
    })
}

/// The seven header fields, unescaped, and where the extension starts in `rest`.
fn header_fields(rest: &str, offset: usize) -> Result<([String; 7], usize), CefError> {
    let bytes = rest.as_bytes();
    let mut fields: [String; 7] = Default::default();
    let mut found = 0;
    let mut current = Vec::new();
    let mut i = 0;
    while found < 7 {
        let Some(&b) = bytes.get(i) else {
            return Err(CefError::MissingHeaderFields { found });
        };
        match b {
            b'\\' => match bytes.get(i + 1) {
                Some(&e @ (b'\\' | b'|')) => {
                    current.push(e);
                    i += 2;
                    continue;
                }
                Some(_) => {
                    return Err(CefError::BadEscape {
                        part: HEADER,
                        at: offset + i,
                        found: char_at(rest, i + 1),
                        expected: "`\\\\` or `\\|`",
                    });
                }
                None => return Err(CefError::TrailingBackslash { part: HEADER }),
            },
            b'|' => {
                fields[found] = into_text(std::mem::take(&mut current));
                found += 1;
            }
            b if b < 0x20 || b == 0x7f => {
                return Err(CefError::ControlCharacter {
                    part: HEADER,
                    at: offset + i,
                    code: u32::from(b),
                });
            }
            b => current.push(b),
        }
        i += 1;
    }
    Ok((fields, i))
}

/// The `key=value` pairs of an extension, unescaped.
fn parse_extension(text: &str, offset: usize) -> Result<BTreeMap<String, String>, CefError> {
    let bytes = text.as_bytes();
    let mut pairs = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(pairs);
    }
    let equals = unescaped_equals(text, offset)?;
    let Some(&first) = equals.first() else {
        return Err(CefError::NoKey);
    };
    // Each key starts at the extension's start (the first) or after the last space before
    // its `=` (the others); its value runs to the space before the next key.
    let mut keys: Vec<(usize, usize)> = vec![(0, first)];
    for pair in equals.windows(2) {
        let (previous, eq) = (pair[0], pair[1]);
        let Some(space) = bytes[previous + 1..eq].iter().rposition(|&b| b == b' ') else {
            let key = &text[keys.last().map_or(0, |k| k.0)..previous];
            return Err(CefError::RawEquals {
                key: key.to_owned(),
                at: offset + eq,
            });
        };
        keys.push((previous + 1 + space + 1, eq));
    }
    for (n, &(start, eq)) in keys.iter().enumerate() {
        let key = &text[start..eq];
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(CefError::BadKey {
                key: key.to_owned(),
                at: offset + start,
            });
        }
        let end = keys.get(n + 1).map_or(bytes.len(), |next| next.0 - 1);
        let value = unescape_value(&bytes[eq + 1..end]);
        if pairs.insert(key.to_owned(), value).is_some() {
            return Err(CefError::DuplicateKey {
                key: key.to_owned(),
            });
        }
    }
    Ok(pairs)
}

/// Where the unescaped `=` of an extension are, checking every escape on the way.
fn unescaped_equals(text: &str, offset: usize) -> Result<Vec<usize>, CefError> {
    let bytes = text.as_bytes();
    let mut equals = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => match bytes.get(i + 1) {
                Some(b'\\' | b'=' | b'n' | b'r') => i += 1,
                Some(_) => {
                    return Err(CefError::BadEscape {
                        part: EXTENSION,
                        at: offset + i,
                        found: char_at(text, i + 1),
                        expected: "`\\\\`, `\\=`, `\\n` or `\\r`",
                    });
                }
                None => return Err(CefError::TrailingBackslash { part: EXTENSION }),
            },
            b'=' => equals.push(i),
            b'\r' | b'\n' => {
                return Err(CefError::ControlCharacter {
                    part: EXTENSION,
                    at: offset + i,
                    code: u32::from(b),
                });
            }
            _ => {}
        }
        i += 1;
    }
    Ok(equals)
}

/// A value with its escapes (already checked) replaced.
fn unescape_value(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut escaped = false;
    for &b in bytes {
        if escaped {
            out.push(match b {
                b'n' => b'\n',
                b'r' => b'\r',
                other => other,
            });
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else {
            out.push(b);
        }
    }
    into_text(out)
}

/// Bytes cut from a `str` at ASCII delimiters, with ASCII escapes removed: still UTF-8.
fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The character that starts at byte `at` of `text` (`at` follows an ASCII backslash, so it is
/// a character boundary).
fn char_at(text: &str, at: usize) -> char {
    text.get(at..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or('\u{FFFD}')
}
