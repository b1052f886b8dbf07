//! The quarantine-reason rows: malformed SETs, each with the record pointer, the field and the
//! words the refusal must name.

use super::{CAEP, RISC, escape};

/// A SET with one event of `event_uri` whose body is `body`, claims merged from `extra`.
fn set(event_uri: &str, body: &str, extra: &str) -> String {
    format!(
        r#"{{"iss":"https://idp.test/","jti":"j-1","iat":1767225600,{extra}"events":{{"{event_uri}":{body}}}}}"#
    )
}

/// One row per quarantine reason: (input, record pointer, field, words the message holds).
pub(super) fn quarantine_rows() -> Vec<(String, String, String, &'static str)> {
    let cc = format!("{CAEP}credential-change");
    let cc_ptr = format!("/events/{}", escape(&cc));
    let dc = format!("{CAEP}device-compliance-change");
    let dc_ptr = format!("/events/{}", escape(&dc));
    let tc = format!("{CAEP}token-claims-change");
    let al = format!("{CAEP}assurance-level-change");
    let cp = format!("{RISC}credential-compromise");
    let dis = format!("{RISC}account-disabled");
    let dis_ptr = format!("/events/{}", escape(&dis));
    let email = r#""sub_id":{"format":"email","email":"a@b.test"},"#;
    vec![
        (
            r#"{"jti":"j","iat":1,"events":{}}"#.into(),
            "".into(),
            "/iss".into(),
            "required",
        ),
        (
            r#"{"iss":"","jti":"j","iat":1,"events":{}}"#.into(),
            "".into(),
            "/iss".into(),
            "empty",
        ),
        (
            r#"{"iss":"i","iat":1,"events":{}}"#.into(),
            "".into(),
            "/jti".into(),
            "required",
        ),
        (
            r#"{"iss":"i","jti":7,"iat":1,"events":{}}"#.into(),
            "".into(),
            "/jti".into(),
            "expected a string, found a number",
        ),
        (
            r#"{"iss":"i","jti":"j","events":{}}"#.into(),
            "".into(),
            "/iat".into(),
            "required",
        ),
        (
            r#"{"iss":"i","jti":"j","iat":"x","events":{}}"#.into(),
            "".into(),
            "/iat".into(),
            "a number",
        ),
        (
            r#"{"iss":"i","jti":"j","iat":1e300,"events":{}}"#.into(),
            "".into(),
            "/iat".into(),
            "outside the time range",
        ),
        (
            r#"{"iss":"i","jti":"j","iat":1,"toe":true,"events":{}}"#.into(),
            "".into(),
            "/toe".into(),
            "a number",
        ),
        (
            r#"{"iss":"i","jti":"j","iat":1}"#.into(),
            "".into(),
            "/events".into(),
            "required",
        ),
        (
            r#"{"iss":"i","jti":"j","iat":1,"events":[]}"#.into(),
            "".into(),
            "/events".into(),
            "found an array",
        ),
        (
            r#"{"iss":"i","jti":"j","iat":1,"events":{}}"#.into(),
            "".into(),
            "/events".into(),
            "at least one event",
        ),
        (
            set(&dis, "{}", ""),
            dis_ptr.clone(),
            "/sub_id".into(),
            "required",
        ),
        (
            set(&dis, "[]", email),
            dis_ptr.clone(),
            dis_ptr.clone(),
            "expected an object",
        ),
        (
            set(&dis, "{}", r#""sub_id":{"format":"x500"},"#),
            dis_ptr.clone(),
            "/sub_id/format".into(),
            "unknown subject identifier format `x500`",
        ),
        (
            set(&dis, "{}", r#""sub_id":{"email":"a@b"},"#),
            dis_ptr.clone(),
            "/sub_id/format".into(),
            "required",
        ),
        (
            set(&dis, "{}", r#""sub_id":{"format":"email"},"#),
            dis_ptr.clone(),
            "/sub_id/email".into(),
            "required",
        ),
        (
            set(
                &dis,
                "{}",
                r#""sub_id":{"format":"iss_sub","iss":"i","sub":""},"#,
            ),
            dis_ptr.clone(),
            "/sub_id/sub".into(),
            "empty",
        ),
        (
            set(&dis, "{}", r#""sub_id":"a@b","#),
            dis_ptr.clone(),
            "/sub_id".into(),
            "expected an object",
        ),
        (
            set(
                &dis,
                "{}",
                r#""sub_id":{"format":"complex","user":{"format":"complex"}},"#,
            ),
            dis_ptr.clone(),
            "/sub_id/user/format".into(),
            "cannot nest",
        ),
        (
            set(
                &dis,
                "{}",
                r#""sub_id":{"format":"aliases","identifiers":[]},"#,
            ),
            dis_ptr.clone(),
            "/sub_id/identifiers".into(),
            "at least one",
        ),
        (
            set(&dis, r#"{"subject":{"format":"opaque"}}"#, email),
            dis_ptr.clone(),
            format!("{dis_ptr}/subject/id"),
            "required",
        ),
        (
            set(&dis, r#"{"reason":5}"#, email),
            dis_ptr.clone(),
            format!("{dis_ptr}/reason"),
            "expected a string",
        ),
        (
            set(&dis, r#"{"event_timestamp":"soon"}"#, email),
            dis_ptr.clone(),
            format!("{dis_ptr}/event_timestamp"),
            "a number",
        ),
        (
            set(&cc, r#"{"change_type":"create"}"#, email),
            cc_ptr.clone(),
            format!("{cc_ptr}/credential_type"),
            "required",
        ),
        (
            set(&cc, r#"{"credential_type":"pin"}"#, email),
            cc_ptr.clone(),
            format!("{cc_ptr}/change_type"),
            "required",
        ),
        (
            set(
                &cc,
                r#"{"credential_type":"pin","change_type":"rename"}"#,
                email,
            ),
            cc_ptr.clone(),
            format!("{cc_ptr}/change_type"),
            "expected create, revoke, update or delete, found `rename`",
        ),
        (
            set(
                &dc,
                r#"{"previous_status":"compliant","current_status":"unknown"}"#,
                email,
            ),
            dc_ptr.clone(),
            format!("{dc_ptr}/current_status"),
            "expected compliant or not-compliant",
        ),
        (
            set(&dc, r#"{"current_status":"compliant"}"#, email),
            dc_ptr.clone(),
            format!("{dc_ptr}/previous_status"),
            "required",
        ),
        (
            set(&tc, "{}", email),
            format!("/events/{}", escape(&tc)),
            format!("/events/{}/claims", escape(&tc)),
            "required",
        ),
        (
            set(&tc, r#"{"claims":{}}"#, email),
            format!("/events/{}", escape(&tc)),
            format!("/events/{}/claims", escape(&tc)),
            "found an empty object",
        ),
        (
            set(&al, r#"{"current_level":"x"}"#, email),
            format!("/events/{}", escape(&al)),
            format!("/events/{}/namespace", escape(&al)),
            "required",
        ),
        (
            set(&al, r#"{"namespace":"NIST-AAL"}"#, email),
            format!("/events/{}", escape(&al)),
            format!("/events/{}/current_level", escape(&al)),
            "required",
        ),
        (
            set(&cp, "{}", email),
            format!("/events/{}", escape(&cp)),
            format!("/events/{}/credential_type", escape(&cp)),
            "required",
        ),
    ]
}
