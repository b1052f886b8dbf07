//! The activity table and the constants held against the OCSF schema files and the docs.

use super::*;

/// A file of the OCSF schema's definitions: under `OCSF_SCHEMA_DIR` when set, else in
/// `../shared/ocsf-schema` beside the project (where this machine and CI keep them).
fn schema_file(path: &str) -> String {
    let root = std::env::var_os("OCSF_SCHEMA_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ocsf-schema"),
        std::path::PathBuf::from,
    );
    let file = root.join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "the OCSF schema file {} ({e}): keep the schema at ../shared/ocsf-schema beside the project, or set OCSF_SCHEMA_DIR",
            file.display()
        )
    })
}

macro_rules! schema {
    ($path:literal) => {
        &schema_file($path)
    };
}

const CLASS_PATHS: [&str; 8] = [
    "events/iam/account_change.json",
    "events/iam/authentication.json",
    "events/iam/authorize_session.json",
    "events/iam/entity_management.json",
    "events/iam/user_access.json",
    "events/iam/group_management.json",
    "events/iam/user_management.json",
    "events/iam/role_management.json",
];

fn schema_json(text: &str) -> Value {
    serde_json::from_str(text).expect("the OCSF schema files are JSON")
}

/// The IAM category's uid, from categories.json (class_uid = category uid × 1000 + class uid).
fn iam_category() -> i64 {
    schema_json(schema!("categories.json"))["attributes"]["iam"]["uid"]
        .as_i64()
        .expect("categories.json gives iam a uid")
}

/// Each class file as (class_uid, caption, [(activity id, caption)]).
/// A class of the schema: its class_uid, caption and activities (id, caption).
type SchemaClass = (i64, String, Vec<(i64, String)>);

fn schema_classes() -> Vec<SchemaClass> {
    let category = iam_category();
    CLASS_PATHS
        .map(schema_file)
        .iter()
        .map(|text| {
            let class = schema_json(text);
            let uid = class["uid"].as_i64().expect("a class has a uid");
            let caption = class["caption"].as_str().expect("a caption").to_owned();
            let activities = class["attributes"]["activity_id"]["enum"]
                .as_object()
                .expect("a class lists its activities")
                .iter()
                .map(|(id, a)| {
                    let id: i64 = id.parse().expect("activity ids are integers");
                    (id, a["caption"].as_str().expect("a caption").to_owned())
                })
                .collect();
            (category * 1000 + uid, caption, activities)
        })
        .collect()
}

#[test]
fn the_classes_are_the_schemas_iam_classes() {
    assert_eq!(iam_category(), crate::formats::ocsf::IAM_CATEGORY);
    let schema: Vec<(i64, String)> = schema_classes()
        .into_iter()
        .map(|(uid, caption, _)| (uid, caption))
        .collect();
    let ours: Vec<(i64, String)> = CLASSES.iter().map(|(u, c)| (*u, (*c).to_owned())).collect();
    assert_eq!(ours, schema);
}

#[test]
fn every_activity_of_the_schema_has_a_decision_and_no_other_does() {
    let mut claimed = 0;
    for (class, caption, activities) in schema_classes() {
        for (id, name) in &activities {
            let ours = crate::formats::ocsf::activities::activity(class, *id);
            match ours {
                Some(a) => assert_eq!(a.name, name, "{caption} ({class}) activity {id}"),
                None => panic!("{caption} ({class}) activity {id} {name} has no decision"),
            }
        }
        for ours in ACTIVITIES.iter().filter(|a| a.class == class) {
            assert!(
                activities.iter().any(|(id, _)| *id == ours.id),
                "{caption} ({class}) has no activity {} {}",
                ours.id,
                ours.name
            );
            claimed += 1;
        }
    }
    assert_eq!(
        claimed,
        ACTIVITIES.len(),
        "every row is of one of the classes"
    );
}

#[test]
fn unknown_and_other_are_the_base_activities() {
    let dictionary = schema_json(schema!("dictionary.json"));
    let base = dictionary["attributes"]["activity_id"]["enum"]
        .as_object()
        .expect("the dictionary lists the base activities");
    let ids: Vec<&str> = base.keys().map(String::as_str).collect();
    assert_eq!(ids, ["0", "99"]);
    assert!(ACTIVITIES.iter().all(|a| a.id != 0 && a.id != 99));
}

#[test]
fn factor_types_are_the_dictionarys() {
    let dictionary = schema_json(schema!("dictionary.json"));
    let factors = dictionary["attributes"]["factor_type_id"]["enum"]
        .as_object()
        .expect("the dictionary lists factor types");
    let schema: Vec<(i64, String)> = factors
        .iter()
        .map(|(id, f)| {
            let caption = f["caption"].as_str().expect("a caption");
            (
                id.parse().expect("an integer id"),
                caption.to_lowercase().replace(' ', "_"),
            )
        })
        .collect();
    let mut ours: Vec<(i64, String)> = FACTOR_TYPES
        .iter()
        .map(|(i, n)| (*i, (*n).to_owned()))
        .collect();
    let mut schema = schema;
    ours.sort();
    schema.sort();
    assert_eq!(ours, schema);
    let password = FACTOR_TYPES
        .iter()
        .find(|(id, _)| *id == crate::formats::ocsf::objects::PASSWORD_FACTOR);
    assert_eq!(password.map(|(_, n)| *n), Some("password"));
}

#[test]
fn status_ids_are_the_schemas() {
    let dictionary = schema_json(schema!("dictionary.json"));
    let base = schema_json(schema!("events/base_event.json"));
    let mut ids: Vec<i64> = [
        &dictionary["attributes"]["status_id"]["enum"],
        &base["attributes"]["status_id"]["enum"],
    ]
    .iter()
    .flat_map(|e| e.as_object().expect("an enum").keys())
    .map(|id| id.parse().expect("an integer id"))
    .collect();
    ids.sort();
    assert_eq!(ids, STATUS_IDS);
    let failure = &base["attributes"]["status_id"]["enum"]["2"]["caption"];
    assert_eq!(failure, "Failure");
}

#[test]
fn the_docs_give_every_activity_its_decision() {
    let docs = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/formats/ocsf.md"
    ));
    for a in ACTIVITIES {
        let line = format!("| {} | {} | {} |", a.class, a.id, a.name);
        assert!(
            docs.contains(&line),
            "docs/formats/ocsf.md has no row `{line}`"
        );
    }
    for fixture in ALL_FIXTURES {
        assert!(
            docs.contains(fixture.cited),
            "docs/formats/ocsf.md does not cite {}",
            fixture.cited
        );
    }
}
