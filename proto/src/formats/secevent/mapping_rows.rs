//! The expected drafts of every mapped CAEP/RISC event type, one row per fixture, with the
//! specification each row was written from.

use super::{CAEP, RISC};
use crate::event::{ActorKind, AttrValue, CredentialKind, EventType, SubjectKind};
use crate::formats::{Draft, DraftActor, DraftCredential, DraftSubject};
use crate::time::Timestamp;

const CAEP_SPEC: &str = "https://openid.net/specs/openid-caep-1_0.html";
const RISC_SPEC: &str = "https://openid.net/specs/openid-risc-profile-specification-1_0.html";
const SSF_SPEC: &str = "https://openid.net/specs/openid-sharedsignals-framework-1_0.html";

const IDP: &str = "https://idp.acme.test/tenant-42/";
const MAIL: &str = "https://accounts.mail.test/";

fn secs(s: i64) -> Timestamp {
    Timestamp(s * 1_000_000_000)
}

fn base(
    iss: &str,
    id: &str,
    kind: EventType,
    time: Timestamp,
    subject: &str,
    sk: SubjectKind,
) -> Draft {
    let mut d = Draft::new(
        format!("secevent:{iss}"),
        id,
        kind,
        time,
        DraftSubject {
            id: subject.to_owned(),
            kind: sk,
        },
    );
    d.actor = Some(system(iss));
    d
}

fn system(iss: &str) -> DraftActor {
    DraftActor {
        id: iss.to_owned(),
        kind: ActorKind::System,
        mfa: None,
    }
}

fn human(id: &str) -> DraftActor {
    DraftActor {
        id: id.to_owned(),
        kind: ActorKind::Human,
        mfa: None,
    }
}

fn cred(id: &str, kind: CredentialKind) -> Option<DraftCredential> {
    Some(DraftCredential {
        id: id.to_owned(),
        kind,
        fingerprint: None,
    })
}

/// Attributes: `set.verified` false (these rows are read unverified), the event type, then
/// `pairs` (text, or `true` for the booleans RISC flags become).
fn attrs(uri: &str, pairs: &[(&str, &str)]) -> Vec<(String, AttrValue)> {
    let mut out = vec![
        ("set.verified".to_owned(), AttrValue::Bool(false)),
        ("set.event_type".to_owned(), AttrValue::Text(uri.to_owned())),
    ];
    for (k, v) in pairs {
        let value = if *v == "true" {
            AttrValue::Bool(true)
        } else {
            AttrValue::Text((*v).to_owned())
        };
        out.push(((*k).to_owned(), value));
    }
    out
}

fn uri(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// One row per mapped event type: fixture, specification, the drafts it must map to.
pub(super) fn mapping_rows() -> Vec<(&'static str, &'static str, Vec<Draft>)> {
    use CredentialKind as C;
    use EventType as E;
    use SubjectKind as S;
    let dana = "dana.lee@acme.test";
    let mail_user = "https://accounts.mail.test/|108234987712";
    vec![
        (
            "caep_session_revoked",
            CAEP_SPEC,
            vec![Draft {
                reason: Some("Policy violation: impossible travel".into()),
                credential: cred("sess-8812-a", C::Token),
                attributes: attrs(
                    &uri(CAEP, "session-revoked"),
                    &[
                        ("set.txn", "tx-77120"),
                        ("set.aud", "https://rp.acme.test/caep"),
                        ("caep.initiating_entity", "policy"),
                    ],
                ),
                ..base(
                    IDP,
                    "5f1c0e9a7b3d4c2e8a6f0b1d2c3e4f50",
                    E::CredentialRevoked,
                    secs(1_767_257_940),
                    dana,
                    S::Human,
                )
            }],
        ),
        (
            "caep_session_revoked_all",
            CAEP_SPEC,
            vec![Draft {
                reason: Some("Offboarding".into()),
                credential: cred("all-sessions", C::Token),
                attributes: attrs(
                    &uri(CAEP, "session-revoked"),
                    &[
                        (
                            "set.aud",
                            "https://rp.acme.test/caep https://siem.acme.test/",
                        ),
                        ("caep.initiating_entity", "admin"),
                    ],
                ),
                ..base(
                    IDP,
                    "6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
                    E::CredentialRevoked,
                    secs(1_767_258_100),
                    "https://idp.acme.test/tenant-42/|00u1a2b3c4",
                    S::Human,
                )
            }],
        ),
        (
            "caep_credential_change_fido2",
            CAEP_SPEC,
            vec![Draft {
                actor: Some(human(dana)),
                reason: Some("Self-service enrollment".into()),
                credential: cred("Dana's security key", C::MfaFactor),
                attributes: attrs(
                    &uri(CAEP, "credential-change"),
                    &[
                        ("set.aud", "https://rp.acme.test/caep"),
                        ("caep.initiating_entity", "user"),
                        ("caep.credential_type", "fido2-roaming"),
                        ("caep.change_type", "create"),
                        ("caep.fido2_aaguid", "ee882879-721c-4913-9775-3dfcce97072a"),
                    ],
                ),
                ..base(
                    IDP,
                    "0b9e2f6d1a8c4e7f9a3b5c7d9e1f2a3b",
                    E::CredentialIssued,
                    secs(1_767_259_990),
                    dana,
                    S::Human,
                )
            }],
        ),
        (
            "caep_credential_change_x509",
            CAEP_SPEC,
            vec![Draft {
                reason: Some("Key compromise suspected".into()),
                credential: cred("4f:1a:22:9c:03:be:71", C::Certificate),
                attributes: attrs(
                    &uri(CAEP, "credential-change"),
                    &[
                        ("caep.initiating_entity", "admin"),
                        ("caep.credential_type", "x509"),
                        ("caep.change_type", "revoke"),
                        ("caep.x509_issuer", "CN=Acme Issuing CA 2,O=Acme"),
                        ("caep.friendly_name", "runner client cert"),
                    ],
                ),
                ..base(
                    "https://pki.acme.test/",
                    "c3a1f0e2-9d8b-4c7a-a6e5-f4d3c2b1a090",
                    E::CredentialRevoked,
                    Timestamp(1_767_260_950_500_000_000),
                    "u-4410-jdoe",
                    S::Human,
                )
            }],
        ),
        (
            "caep_credential_change_password",
            CAEP_SPEC,
            vec![Draft {
                actor: Some(human("ravi@acme.test")),
                credential: cred("password", C::Password),
                attributes: attrs(
                    &uri(CAEP, "credential-change"),
                    &[
                        ("caep.initiating_entity", "user"),
                        ("caep.credential_type", "password"),
                        ("caep.change_type", "update"),
                    ],
                ),
                ..base(
                    IDP,
                    "a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2",
                    E::CredentialRotated,
                    secs(1_767_262_000),
                    "ravi@acme.test",
                    S::Human,
                )
            }],
        ),
        (
            "caep_token_claims_change",
            CAEP_SPEC,
            vec![Draft {
                reason: Some("Left trusted network".into()),
                attributes: attrs(
                    &uri(CAEP, "token-claims-change"),
                    &[
                        ("set.aud", "https://rp2.acme.test/caep"),
                        ("caep.initiating_entity", "policy"),
                        ("caep.claims_changed", "role,trusted_network"),
                    ],
                ),
                ..base(
                    "https://idp.acme.test/tenant-9/",
                    "d41d8cd98f00b204e9800998ecf8427e",
                    E::IdentityUpdated,
                    secs(1_767_262_990),
                    "https://idp.acme.test/tenant-9/|u-5521",
                    S::Human,
                )
            }],
        ),
        (
            "caep_assurance_level_change",
            CAEP_SPEC,
            vec![Draft {
                actor: Some(human(dana)),
                attributes: attrs(
                    &uri(CAEP, "assurance-level-change"),
                    &[
                        ("caep.initiating_entity", "user"),
                        ("caep.namespace", "NIST-AAL"),
                        ("caep.current_level", "nist-aal2"),
                        ("caep.previous_level", "nist-aal1"),
                        ("caep.change_direction", "increase"),
                    ],
                ),
                ..base(
                    IDP,
                    "1f2e3d4c5b6a79880f1e2d3c4b5a6978",
                    E::IdentityUpdated,
                    secs(1_767_263_995),
                    dana,
                    S::Human,
                )
            }],
        ),
        (
            "caep_device_compliance_change",
            CAEP_SPEC,
            vec![Draft {
                reason: Some("Disk encryption turned off".into()),
                attributes: attrs(
                    &uri(CAEP, "device-compliance-change"),
                    &[
                        ("caep.initiating_entity", "policy"),
                        ("caep.previous_status", "compliant"),
                        ("caep.current_status", "not-compliant"),
                    ],
                ),
                ..base(
                    "https://mdm.acme.test/",
                    "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
                    E::IdentityUpdated,
                    secs(1_767_264_980),
                    "https://mdm.acme.test/|dev-5c1e7a",
                    S::Machine,
                )
            }],
        ),
        (
            "caep_session_established",
            CAEP_SPEC,
            vec![Draft {
                actor: Some(human("ravi@acme.test")),
                attributes: attrs(
                    &uri(CAEP, "session-established"),
                    &[
                        ("caep.acr", "AAL2"),
                        ("caep.amr", "pwd,otp"),
                        ("caep.ext_id", "saml-sess-4410"),
                    ],
                ),
                ..base(
                    IDP,
                    "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f",
                    E::IdentityAuthenticated,
                    secs(1_767_265_990),
                    "ravi@acme.test",
                    S::Human,
                )
            }],
        ),
        (
            "risc_account_disabled",
            RISC_SPEC,
            vec![Draft {
                reason: Some("hijacking".into()),
                attributes: attrs(
                    &uri(RISC, "account-disabled"),
                    &[("set.aud", "client-3344")],
                ),
                ..base(
                    MAIL,
                    "7b1c9d2e8f3a4b6c",
                    E::IdentityDisabled,
                    secs(1_767_270_000),
                    mail_user,
                    S::Human,
                )
            }],
        ),
        (
            "risc_account_enabled",
            RISC_SPEC,
            vec![Draft {
                attributes: attrs(&uri(RISC, "account-enabled"), &[]),
                ..base(
                    MAIL,
                    "7b1c9d2e8f3a4b6d",
                    E::IdentityEnabled,
                    secs(1_767_271_000),
                    mail_user,
                    S::Human,
                )
            }],
        ),
        (
            "risc_account_purged",
            RISC_SPEC,
            vec![Draft {
                attributes: attrs(&uri(RISC, "account-purged"), &[]),
                ..base(
                    MAIL,
                    "7b1c9d2e8f3a4b6e",
                    E::IdentityDeleted,
                    secs(1_767_271_900),
                    "old.user@mail.test",
                    S::Human,
                )
            }],
        ),
        (
            "risc_credential_compromise",
            RISC_SPEC,
            vec![Draft {
                reason: Some("compromised".into()),
                credential: cred("password", C::Password),
                attributes: attrs(
                    &uri(RISC, "credential-compromise"),
                    &[
                        ("set.aud", "https://idp.acme.test/risc"),
                        ("caep.credential_type", "password"),
                        ("risc.reason_admin", "Found in a public credential dump"),
                    ],
                ),
                ..base(
                    "https://breach-watch.test/",
                    "8c2d0e3f9a4b5c7d",
                    E::CredentialRevoked,
                    secs(1_767_272_900),
                    "https://idp.acme.test/tenant-42/|00u1a2b3c4",
                    S::Human,
                )
            }],
        ),
        (
            "risc_identifier_changed",
            RISC_SPEC,
            vec![Draft {
                attributes: attrs(
                    &uri(RISC, "identifier-changed"),
                    &[("risc.new_value", "sam.roe@mail.test")],
                ),
                ..base(
                    "https://mail.test/",
                    "9d3e1f4a0b5c6d8e",
                    E::IdentityUpdated,
                    secs(1_767_274_000),
                    "sam.doe@mail.test",
                    S::Human,
                )
            }],
        ),
        (
            "risc_identifier_recycled",
            RISC_SPEC,
            vec![Draft {
                attributes: attrs(
                    &uri(RISC, "identifier-recycled"),
                    &[("risc.identifier_recycled", "true")],
                ),
                ..base(
                    "https://mail.test/",
                    "0e4f2a5b1c6d7e9f",
                    E::IdentityUpdated,
                    secs(1_767_275_000),
                    "+12065550123",
                    S::Human,
                )
            }],
        ),
        (
            "risc_account_credential_change_required",
            RISC_SPEC,
            vec![Draft {
                attributes: attrs(
                    &uri(RISC, "account-credential-change-required"),
                    &[("risc.credential_change_required", "true")],
                ),
                ..base(
                    MAIL,
                    "1f5a3b6c2d7e8f0a",
                    E::IdentityUpdated,
                    secs(1_767_276_000),
                    mail_user,
                    S::Human,
                )
            }],
        ),
        (
            "risc_recovery_information_changed",
            RISC_SPEC,
            vec![Draft {
                attributes: attrs(
                    &uri(RISC, "recovery-information-changed"),
                    &[("risc.recovery_information_changed", "true")],
                ),
                ..base(
                    MAIL,
                    "2a6b4c7d3e8f9a0b",
                    E::IdentityUpdated,
                    secs(1_767_277_000),
                    "did:example:123456789abcdefghi",
                    S::Human,
                )
            }],
        ),
        (
            "risc_sessions_revoked_legacy",
            RISC_SPEC,
            vec![Draft {
                credential: cred("all-sessions", C::Token),
                attributes: attrs(
                    &uri(RISC, "sessions-revoked"),
                    &[("set.aud", "client-3344")],
                ),
                ..base(
                    MAIL,
                    "3b7c5d8e4f9a0b1c",
                    E::CredentialRevoked,
                    secs(1_767_278_000),
                    mail_user,
                    S::Human,
                )
            }],
        ),
        (
            "multiple_events",
            SSF_SPEC,
            vec![
                Draft {
                    credential: cred("all-sessions", C::Token),
                    attributes: attrs(&uri(CAEP, "session-revoked"), &[]),
                    ..base(
                        IDP,
                        "6e0f8a1b7c2d3e4f#0",
                        E::CredentialRevoked,
                        secs(1_767_280_990),
                        "lee.park@acme.test",
                        S::Human,
                    )
                },
                Draft {
                    reason: Some("bulk-account".into()),
                    attributes: attrs(&uri(RISC, "account-disabled"), &[]),
                    ..base(
                        IDP,
                        "6e0f8a1b7c2d3e4f#1",
                        E::IdentityDisabled,
                        secs(1_767_281_000),
                        "lee.park@acme.test",
                        S::Human,
                    )
                },
            ],
        ),
    ]
}
