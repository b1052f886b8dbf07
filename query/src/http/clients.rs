//! Client certificates and the roles they map to. A mutual-TLS connection's certificate, checked
//! against the client CA during the handshake, is read here for its subject; a `ClientRule`
//! (`[[serve.clients]]`) names a subject, whole or by its common name, and the role its holder
//! reads with. The gate (`access`) looks a request's certificate up among the rules as it looks
//! a bearer token up among the tokens: one authorization path for both.
//!
//! A subject is compared as a set of attributes, not as a string: `CN=siem-bot,O=Example` and
//! `O=Example,CN=siem-bot` are one subject, so neither OpenSSL's order (the certificate's) nor
//! RFC 4514's (reversed) can be written wrong. Values are compared exactly.

use super::access::Role;
use idledger_proto::printable::{is_hazard, printable};
use std::fmt;
use std::sync::Arc;
use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Any, Decode as _, Tag, Tagged as _};
use x509_cert::ext::pkix::name::DirectoryString;

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The attribute types a rule may name, by the short names OpenSSL prints (case does not
/// matter); any other type is written as its dotted OID.
const ATTRIBUTES: &[(&str, ObjectIdentifier)] = &[
    ("CN", CN),
    ("SERIALNUMBER", ObjectIdentifier::new_unwrap("2.5.4.5")),
    ("C", ObjectIdentifier::new_unwrap("2.5.4.6")),
    ("L", ObjectIdentifier::new_unwrap("2.5.4.7")),
    ("ST", ObjectIdentifier::new_unwrap("2.5.4.8")),
    ("STREET", ObjectIdentifier::new_unwrap("2.5.4.9")),
    ("O", ObjectIdentifier::new_unwrap("2.5.4.10")),
    ("OU", ObjectIdentifier::new_unwrap("2.5.4.11")),
    (
        "UID",
        ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1"),
    ),
    (
        "DC",
        ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.25"),
    ),
    (
        "EMAILADDRESS",
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1"),
    ),
];

/// Why a subject (a rule's, or a certificate's) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("the subject is empty; write it as TYPE=value pairs, e.g. CN=siem-bot,O=Example")]
    Empty,
    #[error("`{0}` is not TYPE=value")]
    NotAPair(String),
    #[error(
        "`{0}` is not an attribute type this knows: use CN, O, OU, C, L, ST, STREET, DC, UID, SERIALNUMBER, EMAILADDRESS, or a dotted OID such as 2.5.4.97"
    )]
    UnknownType(String),
    #[error("`{0}` has no value")]
    EmptyValue(String),
    #[error("`{0}` is given twice")]
    Repeated(String),
    #[error("the subject ends with a lone backslash")]
    DanglingEscape,
    #[error("the common name is empty or holds control characters")]
    BadCommonName,
    #[error("the certificate cannot be read as X.509: {0}")]
    Certificate(String),
}

/// The short name of an attribute type, or its dotted OID.
fn type_name(oid: &ObjectIdentifier) -> String {
    ATTRIBUTES
        .iter()
        .find(|(_, o)| o == oid)
        .map_or_else(|| oid.to_string(), |(n, _)| (*n).to_owned())
}

/// An attribute type as a rule writes it: a short name (any case) or a dotted OID.
fn type_of(name: &str) -> Result<ObjectIdentifier, SubjectError> {
    let upper = name.to_ascii_uppercase();
    if let Some((_, oid)) = ATTRIBUTES.iter().find(|(n, _)| *n == upper) {
        return Ok(*oid);
    }
    let dotted = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    dotted
        .then(|| ObjectIdentifier::new(name).ok())
        .flatten()
        .ok_or_else(|| SubjectError::UnknownType(name.to_owned()))
}

/// An attribute value as text, if it is one of the string types subjects use.
fn value_text(any: &Any) -> Option<String> {
    match any.tag() {
        Tag::Ia5String => Ia5StringRef::try_from(any).ok().map(|s| s.to_string()),
        Tag::Utf8String => Utf8StringRef::try_from(any).ok().map(|s| s.to_string()),
        Tag::PrintableString => PrintableStringRef::try_from(any)
            .ok()
            .map(|s| s.to_string()),
        _ => DirectoryString::try_from(any).ok().map(String::from),
    }
}

/// A value as a subject is written: `,` and `\` escaped with a backslash, and characters that
/// could change how a printed line reads written as `\u{XXXX}` (as `printable` writes them).
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if is_hazard(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            if matches!(c, ',' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// A client certificate's subject, as read from a certificate the client CA vouched for: each
/// attribute's type and its value as text (`None` for a value of another type, which no rule
/// matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSubject {
    attributes: Vec<(ObjectIdentifier, Option<String>)>,
}

impl CertSubject {
    /// The subject of a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertSubject, SubjectError> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| SubjectError::Certificate(e.to_string()))?;
        Ok(CertSubject {
            attributes: cert
                .tbs_certificate()
                .subject()
                .iter()
                .map(|a| (a.oid, value_text(&a.value)))
                .collect(),
        })
    }

    /// Its values of one type.
    fn values(&self, oid: ObjectIdentifier) -> impl Iterator<Item = Option<&str>> {
        self.attributes
            .iter()
            .filter(move |(o, _)| *o == oid)
            .map(|(_, v)| v.as_deref())
    }
}

/// Written in the certificate's order, as `openssl x509 -subject` writes it but without spaces:
/// `CN=siem-bot,O=Example`.
impl fmt::Display for CertSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (oid, value)) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let value = value
                .as_deref()
                .map_or_else(|| "#(not text)".into(), escaped);
            write!(f, "{}={value}", type_name(oid))?;
        }
        Ok(())
    }
}

/// A subject as a rule names it: every attribute, in any order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectPattern {
    /// Sorted, so that two patterns of one subject are equal.
    attributes: Vec<(ObjectIdentifier, String)>,
}

impl SubjectPattern {
    /// Parses `TYPE=value` pairs separated by commas. Spaces around types and values are
    /// dropped; `\` makes the next character part of the value (`\,` a comma, `\\` a
    /// backslash, `\ ` a kept space).
    pub fn parse(text: &str) -> Result<SubjectPattern, SubjectError> {
        let mut attributes = Vec::new();
        for part in split_unescaped(text)? {
            let (name, value) = part.pair()?;
            let oid = type_of(&name)?;
            let attribute = (oid, value);
            if attributes.contains(&attribute) {
                return Err(SubjectError::Repeated(format!(
                    "{}={}",
                    type_name(&oid),
                    attribute.1
                )));
            }
            attributes.push(attribute);
        }
        if attributes.is_empty() {
            return Err(SubjectError::Empty);
        }
        attributes.sort();
        Ok(SubjectPattern { attributes })
    }

    fn common_names(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter(|(o, _)| *o == CN)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for SubjectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (oid, value)) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}={}", type_name(oid), escaped(value))?;
        }
        Ok(())
    }
}

/// One comma-separated part of a written subject, each character with whether it was escaped.
struct Part(Vec<(char, bool)>);

impl Part {
    /// The part's type and value, split at its first unescaped `=` and trimmed of unescaped
    /// spaces.
    fn pair(&self) -> Result<(String, String), SubjectError> {
        let whole = || self.0.iter().map(|(c, _)| c).collect::<String>();
        let Some(at) = self.0.iter().position(|&(c, esc)| c == '=' && !esc) else {
            return Err(SubjectError::NotAPair(whole().trim().to_owned()));
        };
        let trim = |chars: &[(char, bool)]| -> String {
            let start = chars.iter().position(|&(c, e)| e || !c.is_whitespace());
            let end = chars.iter().rposition(|&(c, e)| e || !c.is_whitespace());
            match (start, end) {
                (Some(s), Some(e)) => chars[s..=e].iter().map(|(c, _)| c).collect(),
                _ => String::new(),
            }
        };
        let (name, value) = (trim(&self.0[..at]), trim(&self.0[at + 1..]));
        if name.is_empty() {
            return Err(SubjectError::NotAPair(whole().trim().to_owned()));
        }
        if value.is_empty() {
            return Err(SubjectError::EmptyValue(name));
        }
        Ok((name, value))
    }
}

/// The parts of a written subject between unescaped commas; a blank text has none.
fn split_unescaped(text: &str) -> Result<Vec<Part>, SubjectError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut parts = vec![Part(Vec::new())];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let last = parts.last_mut().expect("parts starts with one part");
        match c {
            '\\' => last
                .0
                .push((chars.next().ok_or(SubjectError::DanglingEscape)?, true)),
            ',' => parts.push(Part(Vec::new())),
            _ => last.0.push((c, false)),
        }
    }
    Ok(parts)
}

/// What certificates a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectMatch {
    /// Exactly these attributes, no more and no fewer.
    Subject(SubjectPattern),
    /// A subject with exactly one common name, this one (whatever else it holds).
    CommonName(String),
}

impl SubjectMatch {
    /// A common-name match, refusing an empty name or one with control characters.
    pub fn common_name(name: &str) -> Result<SubjectMatch, SubjectError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(SubjectError::BadCommonName);
        }
        Ok(SubjectMatch::CommonName(name.to_owned()))
    }

    pub fn matches(&self, subject: &CertSubject) -> bool {
        match self {
            SubjectMatch::Subject(pattern) => {
                let mut got = Vec::with_capacity(subject.attributes.len());
                for (oid, value) in &subject.attributes {
                    let Some(value) = value else { return false };
                    got.push((*oid, value.clone()));
                }
                got.sort();
                got == pattern.attributes
            }
            SubjectMatch::CommonName(name) => {
                let mut names = subject.values(CN);
                matches!((names.next(), names.next()), (Some(Some(n)), None) if n == name)
            }
        }
    }

    /// Whether one certificate could match both rules (so which one applies would be unclear).
    pub fn overlaps(&self, other: &SubjectMatch) -> bool {
        match (self, other) {
            (SubjectMatch::Subject(a), SubjectMatch::Subject(b)) => a == b,
            (SubjectMatch::CommonName(a), SubjectMatch::CommonName(b)) => a == b,
            (SubjectMatch::Subject(p), SubjectMatch::CommonName(n))
            | (SubjectMatch::CommonName(n), SubjectMatch::Subject(p)) => {
                let mut names = p.common_names();
                matches!((names.next(), names.next()), (Some(only), None) if only == n)
            }
        }
    }
}

impl fmt::Display for SubjectMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectMatch::Subject(p) => write!(f, "subject {p}"),
            SubjectMatch::CommonName(n) => write!(f, "common name {}", printable(n)),
        }
    }
}

/// Certificates a rule matches, who holds them (named in access records) and their role.
#[derive(Clone, Debug)]
pub struct ClientRule {
    pub name: String,
    pub matcher: SubjectMatch,
    pub role: Role,
}

/// The client certificate a mutual-TLS connection presented: a request extension the server
/// adds to every request on that connection.
#[derive(Clone, Debug)]
pub(crate) struct PeerCertificate(pub Arc<CertSubject>);

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1
    /// -subj "/CN=siem-bot/O=Example, Inc./OU=SOC/emailAddress=soc@example.com"`: UTF8Strings,
    /// a comma in a value and an IA5String (the e-mail address).
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIICBzCCAa2gAwIBAgIUKFnJCXnkjYJQoAKP/qmb4GLug9IwCgYIKoZIzj0EAwIw
WTERMA8GA1UEAwwIc2llbS1ib3QxFjAUBgNVBAoMDUV4YW1wbGUsIEluYy4xDDAK
BgNVBAsMA1NPQzEeMBwGCSqGSIb3DQEJARYPc29jQGV4YW1wbGUuY29tMB4XDTI2
MTIwNzEwNDEwNFoXDTI2MTIwODEwNDEwNFowWTERMA8GA1UEAwwIc2llbS1ib3Qx
FjAUBgNVBAoMDUV4YW1wbGUsIEluYy4xDDAKBgNVBAsMA1NPQzEeMBwGCSqGSIb3
DQEJARYPc29jQGV4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
YrtODiwaCUAHUOVjYSgUWOjkqcMwNZbgdD+8jlTJ2At1d89yXlr1Vzfh3ew2v9fm
Eo22CZRI0i9A+xqtYBjDF6NTMFEwHQYDVR0OBBYEFEybM7pkzSlEEKe13ukg+hUp
8V7qMB8GA1UdIwQYMBaAFEybM7pkzSlEEKe13ukg+hUp8V7qMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgezwQyEtIRKCGA5IyDJpQ+53mBZmUhXDE
UKi794nE2MMCIQD6YFUipvbZDvLgOtYQgB+gr1OLlQsX2i0cQvgv/5hpmg==
-----END CERTIFICATE-----";

    fn subject(attributes: &[(&str, &str)]) -> CertSubject {
        CertSubject {
            attributes: attributes
                .iter()
                .map(|(t, v)| (type_of(t).expect("a known type"), Some((*v).to_owned())))
                .collect(),
        }
    }

    fn pattern(text: &str) -> SubjectMatch {
        SubjectMatch::Subject(SubjectPattern::parse(text).expect("a valid pattern"))
    }

    #[test]
    fn written_subjects_parse_to_their_attributes_or_say_what_is_wrong() {
        let cases: &[(&str, Result<&str, SubjectError>)] = &[
            ("CN=siem-bot,O=Example", Ok("CN=siem-bot,O=Example")),
            ("O=Example,CN=siem-bot", Ok("CN=siem-bot,O=Example")),
            (" cn = siem-bot , o = Example ", Ok("CN=siem-bot,O=Example")),
            (r"CN=a\,b,O=x\\y", Ok(r"CN=a\,b,O=x\\y")),
            (r"CN=\ padded\ ", Ok("CN= padded ")),
            ("OU=a,OU=b,CN=c", Ok("CN=c,OU=a,OU=b")),
            ("2.5.4.97=VATDE-123", Ok("2.5.4.97=VATDE-123")),
            ("emailAddress=a@b", Ok("EMAILADDRESS=a@b")),
            ("", Err(SubjectError::Empty)),
            ("   ", Err(SubjectError::Empty)),
            ("CN", Err(SubjectError::NotAPair("CN".into()))),
            ("CN=a,", Err(SubjectError::NotAPair(String::new()))),
            ("=a", Err(SubjectError::NotAPair("=a".into()))),
            ("CN=", Err(SubjectError::EmptyValue("CN".into()))),
            ("XX=a", Err(SubjectError::UnknownType("XX".into()))),
            ("1.2.x=a", Err(SubjectError::UnknownType("1.2.x".into()))),
            ("CN=a,cn=a", Err(SubjectError::Repeated("CN=a".into()))),
            (r"CN=a\", Err(SubjectError::DanglingEscape)),
        ];
        for (text, want) in cases {
            let got = SubjectPattern::parse(text).map(|p| p.to_string());
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                want.clone(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_subject_rule_matches_exactly_its_attributes_in_any_order() {
        let rule = pattern("CN=siem-bot,O=Example");
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("CN", "siem-bot"), ("O", "Example")], true),
            (&[("O", "Example"), ("CN", "siem-bot")], true),
            (&[("CN", "siem-bot")], false),
            (
                &[("CN", "siem-bot"), ("O", "Example"), ("OU", "SOC")],
                false,
            ),
            (&[("CN", "siem-bot"), ("O", "example")], false),
            (
                &[("CN", "siem-bot"), ("O", "Example"), ("O", "Example")],
                false,
            ),
            (&[("CN", "siem-bot "), ("O", "Example")], false),
        ];
        for (attributes, want) in cases {
            assert_eq!(rule.matches(&subject(attributes)), *want, "{attributes:?}");
        }
        let not_text = CertSubject {
            attributes: vec![(CN, None)],
        };
        assert!(!pattern("CN=x").matches(&not_text));
        assert!(!SubjectMatch::CommonName("x".into()).matches(&not_text));
    }

    #[test]
    fn a_common_name_rule_needs_exactly_one_common_name_equal_to_its_own() {
        let rule = SubjectMatch::common_name("siem-bot").expect("a valid name");
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("CN", "siem-bot")], true),
            (&[("O", "Example"), ("CN", "siem-bot"), ("OU", "SOC")], true),
            (&[("CN", "Siem-Bot")], false),
            (&[("CN", "siem-bot"), ("CN", "other")], false),
            (&[("O", "siem-bot")], false),
            (&[], false),
        ];
        for (attributes, want) in cases {
            assert_eq!(rule.matches(&subject(attributes)), *want, "{attributes:?}");
        }
        for bad in ["", "a\nb", "tab\t"] {
            assert_eq!(
                SubjectMatch::common_name(bad),
                Err(SubjectError::BadCommonName)
            );
        }
    }

    #[test]
    fn rules_one_certificate_could_match_both_of_overlap() {
        let cn = |n: &str| SubjectMatch::CommonName(n.to_owned());
        let cases: &[(SubjectMatch, SubjectMatch, bool)] = &[
            (pattern("CN=a,O=x"), pattern("O=x,CN=a"), true),
            (pattern("CN=a,O=x"), pattern("CN=a,O=y"), false),
            (cn("a"), cn("a"), true),
            (cn("a"), cn("b"), false),
            (pattern("CN=a,O=x"), cn("a"), true),
            (cn("a"), pattern("CN=a,O=x"), true),
            (pattern("CN=b,O=x"), cn("a"), false),
            (pattern("O=x"), cn("a"), false),
            // A subject with two common names matches no common-name rule.
            (pattern("CN=a,CN=b"), cn("a"), false),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.overlaps(b), *want, "{a} / {b}");
        }
    }

    #[test]
    fn a_certificate_subject_is_read_in_its_order_with_every_value() {
        let der = pem_body(CERT);
        let got = CertSubject::from_der(&der).expect("a certificate");
        assert_eq!(
            got.to_string(),
            r"CN=siem-bot,O=Example\, Inc.,OU=SOC,EMAILADDRESS=soc@example.com"
        );
        assert!(
            pattern(r"emailAddress=soc@example.com,OU=SOC,O=Example\, Inc.,CN=siem-bot")
                .matches(&got)
        );
        assert!(SubjectMatch::CommonName("siem-bot".into()).matches(&got));
        assert!(matches!(
            CertSubject::from_der(b"not a certificate"),
            Err(SubjectError::Certificate(_))
        ));
    }

    #[test]
    fn printed_subjects_cannot_forge_a_line() {
        let s = subject(&[("CN", "a\nforged=line"), ("O", "x,y")]);
        assert_eq!(s.to_string(), r"CN=a\u{000A}forged=line,O=x\,y");
    }

    fn pem_body(pem: &str) -> Vec<u8> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("a PEM certificate")
            .to_vec()
    }
}
