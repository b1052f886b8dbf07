//! Request parameters: what each route takes (one `Param` list per route, from which both the
//! server's checks and the OpenAPI document are made, so the two cannot disagree) and the
//! checks themselves. A request is refused with a 400 when it names a parameter its route does
//! not take, gives one twice (unless it is repeatable, and then more than `MAX_REPEATS` times),
//! leaves out a required one, or gives a value outside its kind.

use super::limits::{MAX_REPEATS, TEXT_MAX_CHARS};
use crate::reports::ReportName;
use axum::http::StatusCode;
use idledger_proto::Timestamp;
use idledger_proto::decode::MAX_ID_CHARS;
use idledger_proto::event::EventType;
use idledger_proto::export::RecordFormat;

/// Where a parameter is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
}

/// What a parameter's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `true` or `false`.
    Flag,
    /// An RFC 3339 date-time (`T` or `t` between date and time, no leap second) in the years
    /// `FIRST_YEAR` to `LAST_YEAR`: every such time is a `Timestamp`.
    Time,
    /// A decimal integer without sign or leading zeros, within the bounds.
    Integer { min: u64, max: u64 },
    /// Text of 1 to `TEXT_MAX_CHARS` characters.
    Text,
    /// The name of a report (`ReportName`); any other name is a 404, as an unknown path is.
    Report,
    /// A page cursor: a decimal number of at most 19 digits, as a page's `next_cursor` gives.
    Cursor,
    /// A tlog-tiles tile's `N[.p/W]` (`tiles::TILE_PATTERN`); an index past every tree is a 404.
    Tile,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// An event type's name (`EventType`).
    EventType,
    /// An identifier as events hold them (a subject's id, a source): 1 to `MAX_ID_CHARS`
    /// characters.
    Identifier,
    /// An export stream's record format (`RecordFormat`: native, ocsf or cef).
    ExportFormat,
}

/// The first year a time parameter may name (1677 does not fit a `Timestamp` whole).
pub(crate) const FIRST_YEAR: u32 = 1678;
/// The last year a time parameter may name (2262 does not fit whole).
pub(crate) const LAST_YEAR: u32 = 2261;

/// The pattern of a time parameter beyond its `date-time` format: the years allowed, the
/// separator and no leap second. Kept beside `check_time`, which refuses the same.
pub(crate) const TIME_PATTERN: &str = "^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-5][0-9]";

/// The pattern of a cursor, kept beside `check_cursor`.
pub(crate) const CURSOR_PATTERN: &str = "^(0|[1-9][0-9]{0,18})$";

/// One parameter of a route.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub at: In,
    pub required: bool,
    pub kind: Kind,
    pub description: &'static str,
    /// A value to show in the document (as the demo ledger would answer it).
    pub example: Option<&'static str>,
    /// May be given more than once (up to `MAX_REPEATS` times): each value is one of a list.
    pub repeatable: bool,
}

impl Param {
    pub(crate) const fn example(self, example: &'static str) -> Param {
        Param {
            example: Some(example),
            ..self
        }
    }

    pub(crate) const fn repeatable(self) -> Param {
        Param {
            repeatable: true,
            ..self
        }
    }
}

/// A checked value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Flag(bool),
    Time(Timestamp),
    Integer(u64),
    Text(String),
    Report(ReportName),
    /// A repeatable parameter's values, in the order given.
    List(Vec<Value>),
}

/// A request's parameters, each checked against its route's list.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Args(Vec<(&'static str, Value)>);

impl Args {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    /// A flag's value; `false` when absent.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Flag(true)))
    }
    pub fn time(&self, name: &str) -> Option<Timestamp> {
        match self.get(name) {
            Some(Value::Time(t)) => Some(*t),
            _ => None,
        }
    }
    /// An integer's or a cursor's value.
    pub fn integer(&self, name: &str) -> Option<u64> {
        match self.get(name) {
            Some(Value::Integer(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }
    pub fn report(&self, name: &str) -> Option<ReportName> {
        match self.get(name) {
            Some(Value::Report(r)) => Some(*r),
            _ => None,
        }
    }
    /// A flag's value when given: `None` when absent.
    pub fn flag_given(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some(Value::Flag(f)) => Some(*f),
            _ => None,
        }
    }
    /// A repeatable text parameter's values (empty when absent).
    pub fn texts(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(Value::List(values)) => values
                .iter()
                .filter_map(|v| match v {
                    Value::Text(t) => Some(t.clone()),
                    _ => None,
                })
                .collect(),
            Some(Value::Text(t)) => vec![t.clone()],
            _ => Vec::new(),
        }
    }
}

/// Why a request's parameters were refused, and with which status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn bad(message: String) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

/// Checks a request's path and query parameters against its route's list.
pub(crate) fn check(
    spec: &[Param],
    path: &[(String, String)],
    query: &[(String, String)],
) -> Result<Args, Refusal> {
    for (i, (name, _)) in query.iter().enumerate() {
        if !spec.iter().any(|p| p.at == In::Query && p.name == name) {
            let takes: Vec<&str> = spec
                .iter()
                .filter(|p| p.at == In::Query)
                .map(|p| p.name)
                .collect();
            let takes = if takes.is_empty() {
                "no query parameters".to_owned()
            } else {
                takes.join(", ")
            };
            return Err(bad(format!(
                "unknown parameter `{name}`; this route takes {takes}"
            )));
        }
        let repeatable = spec.iter().any(|p| p.name == name && p.repeatable);
        if !repeatable && query[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(bad(format!("`{name}` is given twice; give it once")));
        }
    }
    let mut args = Vec::new();
    for p in spec {
        if p.repeatable && p.at == In::Query {
            let given: Vec<&String> = query
                .iter()
                .filter(|(n, _)| n == p.name)
                .map(|(_, v)| v)
                .collect();
            if given.len() > MAX_REPEATS {
                return Err(bad(format!(
                    "`{}` is given {} times; give it at most {MAX_REPEATS} times",
                    p.name,
                    given.len()
                )));
            }
            if given.is_empty() {
                if p.required {
                    return Err(bad(format!("`{}` is required", p.name)));
                }
                continue;
            }
            let values = given
                .into_iter()
                .map(|raw| value(p, raw))
                .collect::<Result<Vec<Value>, Refusal>>()?;
            args.push((p.name, Value::List(values)));
            continue;
        }
        let given = match p.at {
            In::Path => path.iter().find(|(n, _)| n == p.name),
            In::Query => query.iter().find(|(n, _)| n == p.name),
        };
        match given {
            Some((_, raw)) => args.push((p.name, value(p, raw)?)),
            None if p.required => return Err(bad(format!("`{}` is required", p.name))),
            None => {}
        }
    }
    Ok(Args(args))
}

fn value(p: &Param, raw: &str) -> Result<Value, Refusal> {
    let name = p.name;
    match p.kind {
        Kind::Flag => match raw {
            "true" => Ok(Value::Flag(true)),
            "false" => Ok(Value::Flag(false)),
            _ => Err(bad(format!(
                "`{name}` must be true or false, found `{raw}`"
            ))),
        },
        Kind::Time => check_time(raw).map(Value::Time).ok_or_else(|| {
            bad(format!(
                "`{name}` must be an RFC 3339 time in the years {FIRST_YEAR} to {LAST_YEAR}, like 2026-01-31T09:30:00Z, found `{raw}`"
            ))
        }),
        Kind::Integer { min, max } => decimal(raw)
            .filter(|n| (min..=max).contains(n))
            .map(Value::Integer)
            .ok_or_else(|| {
                bad(format!(
                    "`{name}` must be an integer between {min} and {max}, found `{raw}`"
                ))
            }),
        Kind::Text => {
            let chars = raw.chars().count();
            if (1..=TEXT_MAX_CHARS).contains(&chars) {
                Ok(Value::Text(raw.to_owned()))
            } else {
                Err(bad(format!(
                    "`{name}` must be 1 to {TEXT_MAX_CHARS} characters, found {chars}"
                )))
            }
        }
        Kind::Report => ReportName::parse(raw).map(Value::Report).ok_or_else(|| {
            let names: Vec<&str> = ReportName::ALL.iter().map(|r| r.as_str()).collect();
            Refusal {
                status: StatusCode::NOT_FOUND,
                message: format!("no report `{raw}`; reports are {}", names.join(", ")),
            }
        }),
        Kind::Cursor => check_cursor(raw).map(Value::Integer).ok_or_else(|| {
            bad(format!(
                "`{name}` must be a cursor a page gave as `next_cursor` (up to 19 digits), found `{raw}`"
            ))
        }),
        // The handler takes the tile from the raw path; this refuses what is not one early,
        // with the parser's own words.
        Kind::Tile => match idledger_proto::tiles::parse_tile_suffix(raw) {
            Ok(_) => Ok(Value::Text(raw.to_owned())),
            Err(e) => Err(Refusal {
                status: super::tiles::path_error_status(&e),
                message: format!("`{name}`: {e}"),
            }),
        },
        Kind::EventType => match EventType::parse(raw) {
            Some(_) => Ok(Value::Text(raw.to_owned())),
            None => {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                Err(bad(format!(
                    "`{name}` must be an event type ({}), found `{raw}`",
                    names.join(", ")
                )))
            }
        },
        Kind::ExportFormat => match raw.parse::<RecordFormat>() {
            Ok(_) => Ok(Value::Text(raw.to_owned())),
            Err(e) => Err(bad(format!("`{name}`: {e}"))),
        },
        Kind::Identifier => {
            let chars = raw.chars().count();
            if (1..=MAX_ID_CHARS).contains(&chars) {
                Ok(Value::Text(raw.to_owned()))
            } else {
                Err(bad(format!(
                    "`{name}` must be 1 to {MAX_ID_CHARS} characters (the longest an id is), found {chars}"
                )))
            }
        }
        Kind::OneOf(words) => {
            if words.contains(&raw) {
                Ok(Value::Text(raw.to_owned()))
            } else {
                Err(bad(format!(
                    "`{name}` must be one of {}, found `{raw}`",
                    words.join(", ")
                )))
            }
        }
    }
}

/// A decimal integer as `Kind::Integer` takes it: digits only, no leading zero.
pub(crate) fn decimal(raw: &str) -> Option<u64> {
    let canonical = raw == "0"
        || (raw.bytes().all(|b| b.is_ascii_digit()) && !raw.is_empty() && !raw.starts_with('0'));
    if canonical { raw.parse().ok() } else { None }
}

/// `CURSOR_PATTERN`, checked.
fn check_cursor(raw: &str) -> Option<u64> {
    if raw.len() > 19 {
        return None;
    }
    decimal(raw)
}

/// A time as `Kind::Time` takes it: what `Timestamp::parse_rfc3339` takes, less a space as the
/// separator and the years outside `FIRST_YEAR..=LAST_YEAR`. These are the `date-time` format
/// and `TIME_PATTERN` together: the parser already refuses leap seconds.
pub(crate) fn check_time(raw: &str) -> Option<Timestamp> {
    let b = raw.as_bytes();
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return None;
    }
    let digits = b.get(..4)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = digits
        .iter()
        .fold(0u32, |y, d| y * 10 + u32::from(d - b'0'));
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return None;
    }
    Timestamp::parse_rfc3339(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[Param] = &[
        Param {
            name: "id",
            at: In::Path,
            required: true,
            kind: Kind::Text,
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "proofs",
            at: In::Query,
            required: false,
            kind: Kind::Flag,
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "now",
            at: In::Query,
            required: false,
            kind: Kind::Time,
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "days",
            at: In::Query,
            required: false,
            kind: Kind::Integer {
                min: 1,
                max: 36_500,
            },
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "cursor",
            at: In::Query,
            required: false,
            kind: Kind::Cursor,
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "name",
            at: In::Query,
            required: false,
            kind: Kind::Report,
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "type",
            at: In::Query,
            required: false,
            kind: Kind::Text,
            description: "",
            example: None,
            repeatable: true,
        },
        Param {
            name: "kind",
            at: In::Query,
            required: false,
            kind: Kind::OneOf(&["human", "non-human"]),
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "etype",
            at: In::Query,
            required: false,
            kind: Kind::EventType,
            description: "",
            example: None,
            repeatable: false,
        },
        Param {
            name: "sid",
            at: In::Query,
            required: false,
            kind: Kind::Identifier,
            description: "",
            example: None,
            repeatable: false,
        },
    ];

    /// Checks `query` (as `name=value&…`, not encoded) for the route above with `id=g`.
    fn check_query(query: &str) -> Result<Args, (u16, String)> {
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (p.to_owned(), String::new()),
            })
            .collect();
        check(SPEC, &[("id".to_owned(), "g".to_owned())], &pairs)
            .map_err(|r| (r.status.as_u16(), r.message))
    }

    #[test]
    fn values_are_taken_as_their_kind_says() {
        let at = |t: &str| Value::Time(Timestamp::parse_rfc3339(t).expect("time"));
        // (query, the values taken besides the path's `id`)
        let cases: Vec<(&str, Vec<(&str, Value)>)> = vec![
            ("", vec![]),
            (
                "proofs=true&days=36500&cursor=0",
                vec![
                    ("proofs", Value::Flag(true)),
                    ("days", Value::Integer(36_500)),
                    ("cursor", Value::Integer(0)),
                ],
            ),
            ("days=1", vec![("days", Value::Integer(1))]),
            // Cursors: up to 19 digits.
            (
                "cursor=9999999999999999999",
                vec![("cursor", Value::Integer(9_999_999_999_999_999_999))],
            ),
            // Times: the years a Timestamp holds whole, `T` or `t`.
            (
                "now=1678-01-01T00:00:00+23:59",
                vec![("now", at("1678-01-01T00:00:00+23:59"))],
            ),
            (
                "now=2261-12-31t23:59:59.999999999-23:59",
                vec![("now", at("2261-12-31T23:59:59.999999999-23:59"))],
            ),
            (
                "name=drift",
                vec![("name", Value::Report(ReportName::Drift))],
            ),
            // A repeatable parameter: every value, in order.
            (
                "type=a&type=b",
                vec![(
                    "type",
                    Value::List(vec![Value::Text("a".into()), Value::Text("b".into())]),
                )],
            ),
            (
                "type=a",
                vec![("type", Value::List(vec![Value::Text("a".into())]))],
            ),
            (
                "etype=access.granted",
                vec![("etype", Value::Text("access.granted".into()))],
            ),
            ("sid=svc-1", vec![("sid", Value::Text("svc-1".into()))]),
            (
                "kind=non-human",
                vec![("kind", Value::Text("non-human".into()))],
            ),
        ];
        for (query, values) in cases {
            let mut want = vec![("id", Value::Text("g".to_owned()))];
            want.extend(values);
            assert_eq!(check_query(query), Ok(Args(want)), "{query}");
        }
    }

    #[test]
    fn values_outside_their_kind_are_refused_saying_why() {
        const YEARS: &str = "in the years 1678 to 2261";
        const DAYS: &str = "between 1 and 36500";
        // (query, the status, what the refusal says)
        let cases: &[(&str, u16, &str)] = &[
            ("proofs=yes", 400, "`proofs` must be true or false"),
            ("proofs=", 400, "`proofs` must be true or false"),
            ("colour=red", 400, "unknown parameter `colour`"),
            ("proofs=true&proofs=true", 400, "`proofs` is given twice"),
            // Integers: canonical decimal within the bounds, nothing else.
            ("days=0", 400, "between 1 and 36500, found `0`"),
            ("days=36501", 400, DAYS),
            ("days=33554432", 400, DAYS),
            ("days=18446744073709551615", 400, DAYS),
            ("days=18446744073709551616", 400, DAYS),
            ("days=-1", 400, DAYS),
            ("days=+5", 400, DAYS),
            ("days=05", 400, DAYS),
            ("days=5.0", 400, DAYS),
            ("days=", 400, DAYS),
            // Cursors: more than 19 digits, or a leading zero.
            ("cursor=10000000000000000000", 400, "`cursor` must be"),
            ("cursor=01", 400, "`cursor` must be"),
            // Times: outside the years, a space as separator, a leap second, no such day, no
            // offset, not a time.
            ("now=1677-12-31T00:00:00Z", 400, YEARS),
            ("now=2262-01-01T00:00:00Z", 400, YEARS),
            ("now=0001-01-01T00:00:00Z", 400, YEARS),
            ("now=2026-01-01 00:00:00Z", 400, YEARS),
            ("now=2026-12-31T23:59:60Z", 400, YEARS),
            ("now=2026-02-29T00:00:00Z", 400, YEARS),
            ("now=2026-01-01T00:00:00", 400, YEARS),
            ("now=yesterday", 400, YEARS),
            ("now=+026-01-01T00:00:00Z", 400, YEARS),
            // Report names: an unknown one is not found.
            ("name=nope", 404, "no report `nope`; reports are lead-time"),
            // A repeatable parameter still checks each value; a choice takes only its words.
            (
                "type=a&type=",
                400,
                "`type` must be 1 to 1024 characters, found 0",
            ),
            (
                "etype=access.gran",
                400,
                "`etype` must be an event type (identity.created, ",
            ),
            (
                "sid=",
                400,
                "`sid` must be 1 to 256 characters (the longest an id is), found 0",
            ),
            (
                "kind=robot",
                400,
                "`kind` must be one of human, non-human, found `robot`",
            ),
            ("kind=human&kind=human", 400, "`kind` is given twice"),
        ];
        for &(query, want_status, says) in cases {
            match check_query(query) {
                Err((status, message)) => {
                    assert_eq!(status, want_status, "{query}: {message}");
                    assert!(message.contains(says), "{query}: {message}");
                }
                Ok(args) => {
                    panic!("{query}: taken as {args:?}, want a {want_status} saying {says}")
                }
            }
        }
    }

    #[test]
    fn an_identifier_is_at_most_the_longest_an_event_id_may_be() {
        let longest = "é".repeat(MAX_ID_CHARS);
        assert!(check_query(&format!("sid={longest}")).is_ok());
        let refused = check_query(&format!("sid={longest}x")).expect_err("refused");
        assert_eq!(
            refused,
            (
                400,
                format!(
                    "`sid` must be 1 to {MAX_ID_CHARS} characters (the longest an id is), found {}",
                    MAX_ID_CHARS + 1
                )
            )
        );
    }

    #[test]
    fn a_repeatable_parameter_is_taken_up_to_the_most_repeats() {
        let most = ["type=t"; MAX_REPEATS].join("&");
        let taken = check_query(&most).expect("taken");
        assert_eq!(taken.texts("type"), vec!["t".to_owned(); MAX_REPEATS]);
        let refused = check_query(&format!("{most}&type=t")).expect_err("refused");
        assert_eq!(
            refused,
            (
                400,
                format!(
                    "`type` is given {} times; give it at most {MAX_REPEATS} times",
                    MAX_REPEATS + 1
                )
            )
        );
    }

    #[test]
    fn text_is_one_to_the_most_characters_and_required_ones_must_be_given() {
        let long = "é".repeat(TEXT_MAX_CHARS);
        let path = |id: &str| vec![("id".to_owned(), id.to_owned())];
        assert!(check(SPEC, &path(&long), &[]).is_ok());
        let longer = format!("{long}x");
        for id in ["", longer.as_str()] {
            let refused = check(SPEC, &path(id), &[]).expect_err("refused");
            assert!(
                refused.message.contains("must be 1 to 1024 characters"),
                "{}",
                refused.message
            );
        }
        let refused = check(SPEC, &[], &[]).expect_err("refused");
        assert_eq!(refused.message, "`id` is required");
    }
}
