//! Every exported OCSF record validated against the OCSF schema it claims (1.9.0-dev, in
//! `../shared/ocsf-schema` beside the project, or `OCSF_SCHEMA_DIR`), by a small validator that
//! reads the schema's definitions as the OCSF server compiles them:
//!
//! - a class `extends` its parent up to `base_event`, an object its own (`_entity`, `object`);
//!   each level's attribute definitions overlay the dictionary's (requirement, type, enum);
//! - `$include`d profiles add their attributes, allowed only when the record lists the profile
//!   in `metadata.profiles` (an attribute a class defines itself is the class's own);
//! - checks: required attributes present, every present attribute defined, types (`string_t`
//!   and its subtypes strings, `integer_t`/`long_t`/`timestamp_t` integers, `float_t` numbers,
//!   `boolean_t`, `json_t` anything, objects recursively, `is_array` arrays), the enum of each
//!   `*_id` attribute and its sibling caption, objects' `at_least_one` and `just_one`
//!   constraints, and `class_uid`, `category_uid` and `type_uid` as the schema computes them.

use super::tests::{Log, every_kind, ocsf};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The schema's root: `OCSF_SCHEMA_DIR`, else `../shared/ocsf-schema` beside the project.
fn schema_root() -> PathBuf {
    std::env::var_os("OCSF_SCHEMA_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/ocsf-schema"),
        PathBuf::from,
    )
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "the OCSF schema file {} ({e}): keep the schema at ../shared/ocsf-schema beside the project, or set OCSF_SCHEMA_DIR",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An attribute as a class or object defines it, over the dictionary's definition.
#[derive(Clone, Debug)]
struct Attribute {
    required: bool,
    /// A type of the dictionary's `types`, or an object's name.
    kind: String,
    is_array: bool,
    /// Enum values and their captions.
    values: BTreeMap<String, String>,
    sibling: Option<String>,
    /// The profile that adds it, when it is not the class's (or object's) own.
    profile: Option<String>,
}

/// A class or an object, its `extends` chain merged.
#[derive(Clone, Debug, Default)]
struct Definition {
    name: String,
    attributes: BTreeMap<String, Attribute>,
    constraints: BTreeMap<String, Vec<String>>,
    /// A class's own uid and category.
    uid: Option<i64>,
    category: Option<String>,
}

struct Schema {
    root: PathBuf,
    dictionary: Value,
    categories: Value,
    /// Event classes by name (`events/**/*.json`).
    events: BTreeMap<String, PathBuf>,
    /// The concrete classes, merged, by `class_uid` (filled by `load`).
    classes: BTreeMap<i64, Definition>,
    objects: RefCell<HashMap<String, Rc<Definition>>>,
}

impl Schema {
    fn load() -> Schema {
        let root = schema_root();
        let mut events = BTreeMap::new();
        let mut dirs = vec![root.join("events")];
        while let Some(dir) = dirs.pop() {
            for item in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = item.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let name = read_json(&path)["name"].as_str().map(str::to_owned);
                    events.insert(name.expect("every event file has a name"), path);
                }
            }
        }
        let mut schema = Schema {
            dictionary: read_json(&root.join("dictionary.json")),
            categories: read_json(&root.join("categories.json")),
            root,
            events,
            classes: BTreeMap::new(),
            objects: RefCell::new(HashMap::new()),
        };
        let classes = schema
            .events
            .keys()
            .map(|name| schema.class(name))
            .filter_map(|class| {
                let category = class
                    .category
                    .as_deref()
                    .map_or(0, |c| schema.category_uid(c));
                Some((category * 1000 + class.uid?, class))
            })
            .collect();
        schema.classes = classes;
        schema
    }

    /// The dictionary's definition of an attribute (optional until a class says otherwise).
    fn dictionary_attribute(&self, name: &str, owner: &str) -> Attribute {
        let def = &self.dictionary["attributes"][name];
        let kind = def["type"].as_str().unwrap_or_else(|| {
            panic!("attribute `{name}` of `{owner}` has no type in the dictionary")
        });
        Attribute {
            required: false,
            kind: kind.to_owned(),
            is_array: def["is_array"].as_bool().unwrap_or(false),
            values: captions(&def["enum"]),
            sibling: def["sibling"].as_str().map(str::to_owned),
            profile: None,
        }
    }

    /// A class or object file merged down its `extends` chain.
    fn definition(&self, path: &Path, parent: impl Fn(&str) -> Definition) -> Definition {
        let file = read_json(path);
        let name = file["name"].as_str().expect("a name").to_owned();
        let mut def = match file["extends"].as_str() {
            Some(base) => parent(base),
            None => Definition::default(),
        };
        def.name.clone_from(&name);
        let attributes = file["attributes"].as_object().cloned().unwrap_or_default();
        for include in attributes
            .get("$include")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let profile = read_json(&self.root.join(include.as_str().expect("a path")));
            let profile_name = profile["name"].as_str().expect("a profile name").to_owned();
            for (attr, over) in profile["attributes"].as_object().into_iter().flatten() {
                if !def.attributes.contains_key(attr) {
                    let mut merged = self.overlay(self.dictionary_attribute(attr, &name), over);
                    merged.profile = Some(profile_name.clone());
                    def.attributes.insert(attr.clone(), merged);
                }
            }
        }
        for (attr, over) in attributes.iter().filter(|(k, _)| *k != "$include") {
            let base = def.attributes.get(attr).cloned();
            let mut merged = self.overlay(
                base.unwrap_or_else(|| self.dictionary_attribute(attr, &name)),
                over,
            );
            if over.get("profile").is_some_and(Value::is_null) {
                merged.profile = None;
            }
            def.attributes.insert(attr.clone(), merged);
        }
        if let Some(constraints) = file["constraints"].as_object() {
            def.constraints = constraints
                .iter()
                .map(|(rule, names)| {
                    let names = names.as_array().expect("a list of attributes");
                    (
                        rule.clone(),
                        names
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    )
                })
                .collect();
        }
        def.uid = file["uid"].as_i64().or(def.uid);
        def.category = file["category"]
            .as_str()
            .map(str::to_owned)
            .or(def.category);
        def
    }

    /// A level's definition of an attribute over the one below it: its requirement, type and
    /// array-ness replace, its enum values add.
    fn overlay(&self, mut attr: Attribute, over: &Value) -> Attribute {
        if let Some(requirement) = over["requirement"].as_str() {
            attr.required = requirement == "required";
        }
        if let Some(kind) = over["type"].as_str() {
            attr.kind = kind.to_owned();
        }
        if let Some(is_array) = over["is_array"].as_bool() {
            attr.is_array = is_array;
        }
        attr.values.extend(captions(&over["enum"]));
        attr
    }

    fn class(&self, name: &str) -> Definition {
        let path = self
            .events
            .get(name)
            .unwrap_or_else(|| panic!("no event class `{name}`"));
        self.definition(path, |base| self.class(base))
    }

    fn object(&self, name: &str) -> Rc<Definition> {
        if let Some(def) = self.objects.borrow().get(name) {
            return Rc::clone(def);
        }
        let path = self.root.join("objects").join(format!("{name}.json"));
        let def = Rc::new(self.definition(&path, |base| (*self.object(base)).clone()));
        self.objects
            .borrow_mut()
            .insert(name.to_owned(), Rc::clone(&def));
        def
    }

    fn category_uid(&self, category: &str) -> i64 {
        self.categories["attributes"][category]["uid"]
            .as_i64()
            .unwrap_or(0)
    }

    /// The base type (`string_t`, `integer_t`, ...) of a dictionary type, or `None` for an
    /// object.
    fn base_type(&self, kind: &str) -> Option<String> {
        let types = &self.dictionary["types"]["attributes"];
        let mut kind = kind.to_owned();
        while types.get(&kind).is_some() {
            match types[&kind]["type"].as_str() {
                Some(parent) => kind = parent.to_owned(),
                None => return Some(kind),
            }
        }
        None
    }

    /// Every way `event` breaks the schema, each naming its JSON path.
    fn validate(&self, event: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let Some(class_uid) = event["class_uid"].as_i64() else {
            return vec!["/class_uid: required, missing or not an integer".into()];
        };
        let Some(class) = self.classes.get(&class_uid) else {
            return vec![format!("/class_uid: {class_uid} is no class of the schema")];
        };
        let category = class
            .category
            .as_deref()
            .map_or(0, |c| self.category_uid(c));
        let activity = event["activity_id"].as_i64().unwrap_or(-1);
        for (attr, expected) in [
            ("category_uid", category),
            ("type_uid", class_uid * 100 + activity),
        ] {
            if event[attr].as_i64() != Some(expected) {
                errors.push(format!(
                    "/{attr}: expected {expected} for class {class_uid}, found {}",
                    event[attr]
                ));
            }
        }
        let profiles: BTreeSet<&str> = event["metadata"]["profiles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let check = Check {
            schema: self,
            profiles: &profiles,
        };
        check.object(class, event, "", &mut errors);
        errors
    }
}

fn captions(values: &Value) -> BTreeMap<String, String> {
    values
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v["caption"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// One record's check: the schema, and the profiles the record lists.
struct Check<'s> {
    schema: &'s Schema,
    profiles: &'s BTreeSet<&'s str>,
}

/// Attributes whose values the schema computes per class rather than listing.
const COMPUTED: [&str; 3] = ["class_uid", "category_uid", "type_uid"];

impl Check<'_> {
    fn object(&self, def: &Definition, value: &Value, path: &str, errors: &mut Vec<String>) {
        let Some(members) = value.as_object() else {
            errors.push(format!(
                "{path}: expected a `{}` object, found {value}",
                def.name
            ));
            return;
        };
        let applies = |attr: &Attribute| {
            attr.profile
                .as_deref()
                .is_none_or(|p| self.profiles.contains(p))
        };
        for (name, attr) in &def.attributes {
            if attr.required && applies(attr) && !members.contains_key(name) {
                errors.push(format!(
                    "{path}/{name}: required by `{}`, missing",
                    def.name
                ));
            }
        }
        for (name, member) in members {
            let at = format!("{path}/{name}");
            let Some(attr) = def.attributes.get(name) else {
                errors.push(format!("{at}: not an attribute of `{}`", def.name));
                continue;
            };
            if let Some(profile) = attr.profile.as_deref().filter(|_| !applies(attr)) {
                errors.push(format!("{at}: added by the profile `{profile}`, which `metadata.profiles` does not list"));
            }
            self.value(name, attr, member, &at, errors);
            self.sibling(name, attr, members, &at, errors);
        }
        for (rule, names) in &def.constraints {
            let present = names.iter().filter(|n| members.contains_key(*n)).count();
            let holds = match rule.as_str() {
                "at_least_one" => present >= 1,
                "just_one" => present == 1,
                other => panic!(
                    "`{}` has a constraint `{other}` this validator does not know",
                    def.name
                ),
            };
            if !holds {
                errors.push(format!(
                    "{path}: `{}` needs {rule} of {names:?}, found {present}",
                    def.name
                ));
            }
        }
    }

    fn value(
        &self,
        name: &str,
        attr: &Attribute,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        if attr.is_array {
            match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.single(name, attr, item, &format!("{at}/{i}"), errors);
                    }
                }
                None => errors.push(format!(
                    "{at}: expected an array of `{}`, found {value}",
                    attr.kind
                )),
            }
        } else {
            self.single(name, attr, value, at, errors);
        }
    }

    fn single(
        &self,
        name: &str,
        attr: &Attribute,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let fits = match self.schema.base_type(&attr.kind).as_deref() {
            Some("string_t") => value.is_string(),
            Some("integer_t" | "long_t") => value.is_i64() || value.is_u64(),
            Some("float_t") => value.is_number(),
            Some("boolean_t") => value.is_boolean(),
            Some("json_t") => true,
            Some(other) => {
                panic!("type `{other}` of `{name}` is not a base type this validator knows")
            }
            // The generic object holds anything (`unmapped`); other objects are checked.
            None if attr.kind == "object" => value.is_object(),
            None => {
                let def = self.schema.object(&attr.kind);
                self.object(&def, value, at, errors);
                true
            }
        };
        if !fits {
            errors.push(format!("{at}: expected `{}`, found {value}", attr.kind));
        }
        if name.ends_with("_id") && !attr.values.is_empty() && !COMPUTED.contains(&name) {
            let key = value.as_i64().map(|v| v.to_string());
            if key.as_ref().is_none_or(|k| !attr.values.contains_key(k)) {
                errors.push(format!(
                    "{at}: {value} is not one of {:?}",
                    attr.values.keys().collect::<Vec<_>>()
                ));
            }
        }
    }

    /// The caption sibling of an enum (`status` of `status_id`) is its value's caption, unless
    /// the value is Other (99), whose sibling is the source's own word.
    fn sibling(
        &self,
        name: &str,
        attr: &Attribute,
        members: &serde_json::Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let (Some(sibling), Some(id)) = (&attr.sibling, members.get(name).and_then(Value::as_i64))
        else {
            return;
        };
        if id == 99 || COMPUTED.contains(&name) {
            return;
        }
        let shown = members.get(sibling).and_then(Value::as_str);
        let caption = attr.values.get(&id.to_string());
        if let (Some(shown), Some(caption)) = (shown, caption)
            && shown != caption
        {
            errors.push(format!(
                "{at}: {id} is `{caption}`, but `{sibling}` says `{shown}`"
            ));
        }
    }
}

/// Every kind of entry, with and without a proof, validates as the class it claims.
#[test]
fn every_exported_record_validates_against_the_schema() {
    let schema = Schema::load();
    assert_eq!(
        read_json(&schema.root.join("version.json"))["version"],
        super::OCSF_VERSION,
        "records claim the schema's version"
    );
    let log = Log::every_kind();
    let names: Vec<&str> = every_kind().iter().map(|(n, _, _)| *n).collect();
    let mut classes = BTreeSet::new();
    for index in 0..log.len() {
        let proof = log.proof(index, log.len());
        for proof in [None, Some(&proof)] {
            let record = ocsf(&log, index, proof);
            let errors = schema.validate(&record);
            assert!(
                errors.is_empty(),
                "{}: {errors:#?}\n{record:#}",
                names[index as usize]
            );
            classes.insert(record["class_uid"].as_i64());
        }
    }
    // The classes the table in docs/EXPORT.md names.
    assert_eq!(
        classes,
        [3002, 3004, 3006, 3007].into_iter().map(Some).collect()
    );
}

/// What a case does to a valid record.
type Breaks = fn(&mut Value);

/// The validator finds what is wrong: each broken record, the error it must give.
#[test]
fn the_validator_refuses_each_kind_of_error() {
    let schema = Schema::load();
    let log = Log::every_kind();
    let valid = ocsf(&log, 0, None);
    assert!(schema.validate(&valid).is_empty());
    let cases: Vec<(&str, Breaks, &str)> = vec![
        (
            "a required attribute missing",
            |r| {
                remove(r, "", "time");
            },
            "/time: required by `user_management`, missing",
        ),
        (
            "a required attribute of an object missing",
            |r| {
                remove(r, "/metadata", "product");
            },
            "/metadata/product: required by `metadata`, missing",
        ),
        (
            "a required attribute of a profile object missing",
            |r| {
                remove(r, "/attestation_list/0/fingerprint", "algorithm_id");
            },
            "/attestation_list/0/fingerprint/algorithm_id: required by `fingerprint`, missing",
        ),
        (
            "a timestamp as text",
            |r| r["time"] = json!("2026-01-01T00:00:00Z"),
            "/time: expected `timestamp_t`",
        ),
        (
            "an integer as a float",
            |r| r["severity_id"] = json!(1.5),
            "/severity_id: expected `integer_t`",
        ),
        (
            "a string as a number",
            |r| r["user"]["uid"] = json!(7),
            "/user/uid: expected `string_t`",
        ),
        (
            "a boolean as text",
            |r| r["user"]["has_mfa"] = json!("yes"),
            "/user/has_mfa: expected `boolean_t`",
        ),
        (
            "an object as text",
            |r| r["actor"] = json!("admin"),
            "/actor: expected a `actor` object",
        ),
        (
            "an array as an object",
            |r| r["attestation_list"] = r["attestation_list"][0].clone(),
            "/attestation_list: expected an array of `attestation`",
        ),
        (
            "a bad severity",
            |r| r["severity_id"] = json!(42),
            "/severity_id: 42 is not one of",
        ),
        (
            "a bad activity",
            |r| {
                r["activity_id"] = json!(77);
                r["type_uid"] = json!(300777);
            },
            "/activity_id: 77 is not one of",
        ),
        (
            "a bad user type",
            |r| r["user"]["type_id"] = json!(7),
            "/user/type_id: 7 is not one of",
        ),
        (
            "a bad fingerprint algorithm",
            |r| r["attestation_list"][0]["fingerprint"]["algorithm_id"] = json!(300),
            "/attestation_list/0/fingerprint/algorithm_id: 300 is not one of",
        ),
        (
            "a caption that is not the id's",
            |r| r["status"] = json!("Failure"),
            "/status_id: 1 is `Success`, but `status` says `Failure`",
        ),
        (
            "a wrong type_uid",
            |r| r["type_uid"] = json!(300702),
            "/type_uid: expected 300701",
        ),
        (
            "a wrong category",
            |r| r["category_uid"] = json!(2),
            "/category_uid: expected 3",
        ),
        (
            "an attribute of no class",
            |r| r["colour"] = json!("red"),
            "/colour: not an attribute of `user_management`",
        ),
        (
            "an attribute of no object",
            |r| r["user"]["colour"] = json!("red"),
            "/user/colour: not an attribute of `user`",
        ),
        (
            "a profile not listed",
            |r| r["metadata"]["profiles"] = json!([]),
            "/attestation_list: added by the profile `record_integrity`",
        ),
        (
            "an attestation with neither fingerprint nor signatures",
            |r| {
                remove(r, "/attestation_list/0", "fingerprint");
            },
            "/attestation_list/0: `attestation` needs at_least_one of [\"fingerprint\", \"signatures\"], found 0",
        ),
        (
            "a user with no account, name or uid",
            |r| {
                remove(r, "/user", "uid");
            },
            "/user: `user` needs at_least_one",
        ),
        (
            "a class the schema does not have",
            |r| r["class_uid"] = json!(3999),
            "/class_uid: 3999 is no class of the schema",
        ),
    ];
    for (name, breaks, expected) in cases {
        let mut record = valid.clone();
        breaks(&mut record);
        let errors = schema.validate(&record);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{name}: expected `{expected}` in {errors:#?}"
        );
    }
}

/// The `just_one` constraint, which no IAM object uses, on a definition made for the test.
#[test]
fn the_validator_holds_just_one() {
    let schema = Schema::load();
    let mut def = Definition {
        name: "pair".into(),
        ..Definition::default()
    };
    for name in ["uid", "name"] {
        def.attributes
            .insert(name.into(), schema.dictionary_attribute(name, "pair"));
    }
    def.constraints
        .insert("just_one".into(), vec!["uid".into(), "name".into()]);
    let profiles = BTreeSet::new();
    let check = Check {
        schema: &schema,
        profiles: &profiles,
    };
    for (value, errors) in [
        (json!({"uid": "a"}), 0),
        (json!({"uid": "a", "name": "b"}), 1),
        (json!({}), 1),
    ] {
        let mut found = Vec::new();
        check.object(&def, &value, "", &mut found);
        assert_eq!(found.len(), errors, "{value}: {found:?}");
    }
}

fn remove(record: &mut Value, pointer: &str, key: &str) {
    record
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key))
        .unwrap_or_else(|| panic!("{pointer}/{key} is in the record"));
}
