//! The demo's second feed: records as identity systems send them (Okta, CloudTrail, Entra ID,
//! GitHub, OCSF, Vault), read with `--format auto`. They are the mapping tests' fixtures
//! (proto/tests/fixtures/formats, each written from its vendor's documentation); the Vault ones
//! tell a story the demo answers: a token issued at a login, revoked, then used again.

/// The records, in the order produced.
pub const RECORDS: [&[u8]; 9] = [
    include_bytes!("../proto/tests/fixtures/formats/okta/group_add.json"),
    include_bytes!("../proto/tests/fixtures/formats/okta/policy_evaluate_sign_on.json"),
    include_bytes!("../proto/tests/fixtures/formats/cloudtrail/create_access_key.json"),
    include_bytes!("../proto/tests/fixtures/formats/entra/add_member_group.json"),
    include_bytes!("../proto/tests/fixtures/formats/github/team_add_member.json"),
    include_bytes!("../proto/tests/fixtures/formats/ocsf/group_management_add_user.json"),
    include_bytes!("../proto/tests/fixtures/formats/vault/login_userpass.json"),
    include_bytes!("../proto/tests/fixtures/formats/vault/token_revoke_self.json"),
    include_bytes!("../proto/tests/fixtures/formats/vault/kv_read.json"),
];
