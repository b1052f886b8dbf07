//! Every quarantine reason with the field it names, and messages that are not OCSF at all.

use super::*;

/// A record that claims OCSF but cannot be read: the fixture, patched, the record's pointer in
/// the message, the field named and a part of the message.
struct Quarantine {
    name: &'static str,
    fixture: &'static Fixture,
    patch: &'static [(&'static str, &'static str)],
    field: &'static str,
    message: &'static str,
}

const QUARANTINES: &[Quarantine] = &[
    Quarantine {
        name: "no metadata.version",
        fixture: &AC_CREATE,
        patch: &[("/metadata/version", REMOVE)],
        field: "/metadata/version",
        message: "required, absent or null",
    },
    Quarantine {
        name: "a version 2 record",
        fixture: &AC_CREATE,
        patch: &[("/metadata/version", r#""2.0.0""#)],
        field: "/metadata/version",
        message: "expected an OCSF 1.x version (1.0 to 1.9), found `2.0.0`",
    },
    Quarantine {
        name: "no class_uid",
        fixture: &AC_CREATE,
        patch: &[("/class_uid", REMOVE)],
        field: "/class_uid",
        message: "required, absent or null",
    },
    Quarantine {
        name: "class_uid as text",
        fixture: &AC_CREATE,
        patch: &[("/class_uid", r#""3001""#)],
        field: "/class_uid",
        message: "expected an integer, found a string",
    },
    Quarantine {
        name: "an IAM class OCSF 1.x does not have",
        fixture: &AC_CREATE,
        patch: &[("/class_uid", "3099")],
        field: "/class_uid",
        message: "3099 is not an IAM class of OCSF 1.0 to 1.9 (3001 to 3008)",
    },
    Quarantine {
        name: "an IAM class in another category",
        fixture: &AC_CREATE,
        patch: &[("/category_uid", "4")],
        field: "/category_uid",
        message: "class 3001 is in category 3, found 4",
    },
    Quarantine {
        name: "category_uid as text",
        fixture: &AC_CREATE,
        patch: &[("/category_uid", r#""3""#)],
        field: "/category_uid",
        message: "expected an integer, found a string",
    },
    Quarantine {
        name: "no activity_id",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", REMOVE)],
        field: "/activity_id",
        message: "required, absent or null",
    },
    Quarantine {
        name: "an activity the class does not have",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", "13")],
        field: "/activity_id",
        message: "13 is not an activity of Account Change (3001)",
    },
    Quarantine {
        name: "no metadata.uid",
        fixture: &AC_CREATE,
        patch: &[("/metadata/uid", REMOVE)],
        field: "/metadata/uid",
        message: "required, absent or null",
    },
    Quarantine {
        name: "an empty metadata.uid",
        fixture: &AC_CREATE,
        patch: &[("/metadata/uid", r#""""#)],
        field: "/metadata/uid",
        message: "must not be empty",
    },
    Quarantine {
        name: "no time",
        fixture: &AC_CREATE,
        patch: &[("/time", REMOVE)],
        field: "/time",
        message: "required, absent or null",
    },
    Quarantine {
        name: "time as text",
        fixture: &AC_CREATE,
        patch: &[("/time", r#""2026-03-02T09:00:00Z""#)],
        field: "/time",
        message: "expected an integer, found a string",
    },
    Quarantine {
        name: "a time no timestamp holds",
        fixture: &AC_CREATE,
        patch: &[("/time", "9223372036854775807")],
        field: "/time",
        message: "ms is outside the time range",
    },
    Quarantine {
        name: "a status_id OCSF does not have",
        fixture: &AC_CREATE,
        patch: &[("/status_id", "7")],
        field: "/status_id",
        message: "expected 0, 1, 2 or 99, found 7",
    },
    Quarantine {
        name: "no product",
        fixture: &AC_CREATE,
        patch: &[("/metadata/product", REMOVE)],
        field: "/metadata/product",
        message: "required: the product that reported the event",
    },
    Quarantine {
        name: "a product with no name",
        fixture: &AC_CREATE,
        patch: &[("/metadata/product", r#"{"version":"1"}"#)],
        field: "/metadata/product/name",
        message: "required: the product that reported the event",
    },
    Quarantine {
        name: "a product name that is not text",
        fixture: &AC_CREATE,
        patch: &[("/metadata/product/name", "7")],
        field: "/metadata/product/name",
        message: "expected a string, found a number",
    },
    Quarantine {
        name: "no actor",
        fixture: &AC_CREATE,
        patch: &[("/actor", REMOVE)],
        field: "/actor",
        message: "required, absent or null",
    },
    Quarantine {
        name: "an actor naming no one",
        fixture: &AC_CREATE,
        patch: &[("/actor", r#"{"session":{"uid":"s"}}"#)],
        field: "/actor",
        message: "names no one",
    },
    Quarantine {
        name: "an actor that is not an object",
        fixture: &AC_CREATE,
        patch: &[("/actor", r#""dana""#)],
        field: "/actor",
        message: "expected an object, found a string",
    },
    Quarantine {
        name: "actor MFA not a boolean",
        fixture: &AC_CREATE,
        patch: &[("/actor/session/is_mfa", r#""yes""#)],
        field: "/actor/session/is_mfa",
        message: "expected a boolean, found a string",
    },
    Quarantine {
        name: "no user",
        fixture: &AC_CREATE,
        patch: &[("/user", REMOVE)],
        field: "/user",
        message: "required, absent or null",
    },
    Quarantine {
        name: "a user naming no one",
        fixture: &AC_CREATE,
        patch: &[("/user", r#"{"type_id":1}"#)],
        field: "/user",
        message: "names no user",
    },
    Quarantine {
        name: "a user name that is not text",
        fixture: &AC_CREATE,
        patch: &[("/user/name", "[1]")],
        field: "/user/name",
        message: "expected a string, found an array",
    },
    Quarantine {
        name: "a user type_id that is not an integer",
        fixture: &AC_CREATE,
        patch: &[("/user/type_id", r#""User""#)],
        field: "/user/type_id",
        message: "expected an integer, found a string",
    },
    Quarantine {
        name: "a logon's is_mfa not a boolean",
        fixture: &AUTH_LOGON,
        patch: &[("/is_mfa", "1")],
        field: "/is_mfa",
        message: "expected a boolean, found a number",
    },
    Quarantine {
        name: "a factor that is not an object",
        fixture: &AC_MFA,
        patch: &[("/auth_factors", "[7]")],
        field: "/auth_factors/0",
        message: "expected an object, found a number",
    },
    Quarantine {
        name: "attach policy with no policy",
        fixture: &AC_POLICY,
        patch: &[("/policies", REMOVE)],
        field: "/policies",
        message: "required, absent or null",
    },
    Quarantine {
        name: "policies not an array",
        fixture: &AC_POLICY,
        patch: &[("/policies", r#"{"name":"x"}"#)],
        field: "/policies",
        message: "expected an array, found an object",
    },
    Quarantine {
        name: "a policy with no uid or name",
        fixture: &AC_POLICY,
        patch: &[("/policies", r#"[{"uid":"p-1"},{"desc":"x"}]"#)],
        field: "/policies/1",
        message: "expected `uid` or `name`",
    },
    Quarantine {
        name: "assign privileges with no privilege",
        fixture: &UA_PRIVILEGES,
        patch: &[("/privileges", REMOVE)],
        field: "/privileges",
        message: "required, absent or null",
    },
    Quarantine {
        name: "an empty privilege",
        fixture: &UA_PRIVILEGES,
        patch: &[("/privileges", r#"["read",""]"#)],
        field: "/privileges/1",
        message: "must not be empty",
    },
    Quarantine {
        name: "a privilege that is not text",
        fixture: &UA_PRIVILEGES,
        patch: &[("/privileges", "[true]")],
        field: "/privileges/0",
        message: "expected a string, found a boolean",
    },
    Quarantine {
        name: "a resource with no name or uid",
        fixture: &UA_PRIVILEGES,
        patch: &[("/resources", r#"[{"type":"Database"}]"#)],
        field: "/resources/0",
        message: "expected `name` or `uid`",
    },
    Quarantine {
        name: "assign role with no role",
        fixture: &UA_ROLE,
        patch: &[("/iam_role", REMOVE)],
        field: "/iam_roles",
        message: "required, absent or null",
    },
    Quarantine {
        name: "add user with no group",
        fixture: &GM_ADD,
        patch: &[("/group", REMOVE)],
        field: "/group",
        message: "required, absent or null",
    },
    Quarantine {
        name: "add user with no user",
        fixture: &GM_ADD,
        patch: &[("/users", REMOVE)],
        field: "/users",
        message: "required, absent or null",
    },
    Quarantine {
        name: "add a user naming no one",
        fixture: &GM_ADD,
        patch: &[("/users", r#"[{"name":"a@example.com"},{}]"#)],
        field: "/users/1",
        message: "names no user",
    },
    Quarantine {
        name: "programmatic credentials absent",
        fixture: &UM_PROGRAMMATIC,
        patch: &[("/programmatic_credentials", REMOVE)],
        field: "/programmatic_credentials",
        message: "required, absent or null",
    },
    Quarantine {
        name: "a programmatic credential with no uid",
        fixture: &UM_PROGRAMMATIC,
        patch: &[("/programmatic_credentials", r#"[{"type":"API Key"}]"#)],
        field: "/programmatic_credentials/0/uid",
        message: "required, absent or null",
    },
    Quarantine {
        name: "entity management with no entity",
        fixture: &ENTITY_USER,
        patch: &[("/entity", REMOVE)],
        field: "/entity",
        message: "required, absent or null",
    },
    Quarantine {
        name: "a credential entity with no owner",
        fixture: &ENTITY_KEY,
        patch: &[("/entity/user", REMOVE)],
        field: "/entity/user",
        message: "required, absent or null",
    },
    Quarantine {
        name: "a credential entity with no uid",
        fixture: &ENTITY_KEY,
        patch: &[("/entity/uid", REMOVE)],
        field: "/entity/uid",
        message: "required, absent or null",
    },
    Quarantine {
        name: "an entity type_id that is not an integer",
        fixture: &ENTITY_USER,
        patch: &[("/entity/type_id", r#""2""#)],
        field: "/entity/type_id",
        message: "expected an integer, found a string",
    },
    Quarantine {
        name: "role management with no role",
        fixture: &RM_CREATE,
        patch: &[("/iam_role", REMOVE)],
        field: "/iam_role",
        message: "required, absent or null",
    },
    Quarantine {
        name: "a role naming no role",
        fixture: &RM_CREATE,
        patch: &[("/iam_role", r#"{"desc":"x"}"#)],
        field: "/iam_role",
        message: "names no role",
    },
];

#[test]
fn every_quarantine_reason_names_its_field() {
    for q in QUARANTINES {
        let doc = patched(q.fixture, q.patch);
        let outcomes = outcomes(&doc);
        let [RecordOutcome::Malformed { pointer, error }] = outcomes.as_slice() else {
            panic!(
                "{}: expected one malformed record, found {outcomes:?}",
                q.name
            )
        };
        assert_eq!(pointer, "", "{}", q.name);
        assert_eq!(error.field, q.field, "{}", q.name);
        assert!(
            error.message.contains(q.message),
            "{}: {:?} does not say {:?}",
            q.name,
            error.message,
            q.message
        );
        assert!(
            !error.message.ends_with('.') && !error.message.starts_with(char::is_uppercase),
            "{}: {:?}",
            q.name,
            error.message
        );
    }
}

#[test]
fn a_record_of_a_batch_is_named_by_its_place() {
    let doc = json!([
        serde_json::from_str::<Value>(AC_CREATE.text).expect("JSON"),
        7
    ]);
    let outcomes = outcomes(&doc);
    assert!(matches!(&outcomes[0], RecordOutcome::Event(m) if m.pointer == "/0"));
    let RecordOutcome::Malformed { pointer, error } = &outcomes[1] else {
        panic!("expected a malformed record, found {:?}", outcomes[1])
    };
    assert_eq!((pointer.as_str(), error.field.as_str()), ("/1", ""));
    assert_eq!(
        error.message,
        "expected an OCSF event object, found a number"
    );
}

#[test]
fn a_message_that_is_not_ocsf_at_all_is_an_error() {
    for doc in [json!("text"), json!(7), json!(null), json!(true)] {
        let error = map(&doc, &FormatSettings::default()).expect_err("not OCSF");
        assert_eq!(error.field, "");
        assert!(
            error
                .message
                .starts_with("expected an OCSF event object or an array of them")
        );
    }
    assert_eq!(map(&json!([]), &FormatSettings::default()), Ok(vec![]));
}
