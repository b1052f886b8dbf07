//! The GitHub mapping table: one row per mapped action, with the fixture it reads, the
//! document the fixture was written from, and every draft expected, field by field.

use crate::event::{ActorKind, AttrValue, EventType, MembershipKind, Outcome, SubjectKind};
use crate::formats::Draft;
use crate::formats::draft::{DraftActor, DraftSubject, membership_grant_id};
use crate::time::Timestamp;

/// "Audit log events for your organization" (the fields of every organization action).
pub(super) const ORG_EVENTS: &str = "https://docs.github.com/en/enterprise-cloud@latest/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/audit-log-events-for-your-organization";
/// "Audit log events for your enterprise" (GitHub Enterprise Server: `user.login`).
pub(super) const ENTERPRISE_EVENTS: &str = "https://docs.github.com/en/enterprise-server@3.20/admin/monitoring-activity-in-your-enterprise/reviewing-audit-logs-for-your-enterprise/audit-log-events-for-your-enterprise";
/// "Identifying audit log events performed by an access token" (`hashed_token`).
pub(super) const TOKEN_DATA: &str = "https://docs.github.com/enterprise-cloud@latest/admin/monitoring-activity-in-your-enterprise/reviewing-audit-logs-for-your-enterprise/identifying-audit-log-events-performed-by-an-access-token";
/// "Get the audit log for an organization" (the REST API returns an array of events).
pub(super) const REST_AUDIT_LOG: &str = "https://docs.github.com/en/enterprise-cloud@latest/rest/orgs/orgs#get-the-audit-log-for-an-organization";

/// The draft every row starts from: the fields every event has.
fn base(id: &str, kind: EventType, millis: i64, actor: &str, subject: DraftSubject) -> Draft {
    let mut draft = Draft::new(
        "github:octo-org",
        id,
        kind,
        Timestamp(millis * 1_000_000),
        subject,
    );
    draft.actor = Some(DraftActor {
        id: actor.to_owned(),
        kind: ActorKind::Human,
        mfa: None,
    });
    draft
}

fn human(id: &str) -> DraftSubject {
    DraftSubject {
        id: id.to_owned(),
        kind: SubjectKind::Human,
    }
}

fn bot(id: &str) -> DraftSubject {
    DraftSubject {
        id: id.to_owned(),
        kind: SubjectKind::Bot,
    }
}

fn text(members: &[(&str, &str)]) -> Vec<(String, AttrValue)> {
    members
        .iter()
        .map(|(k, v)| ((*k).to_owned(), AttrValue::Text((*v).to_owned())))
        .collect()
}

/// One mapped action: the fixture, the document it was written from, and every draft expected.
pub(super) struct Row {
    pub(super) fixture: &'static str,
    pub(super) json: &'static str,
    pub(super) cite: &'static str,
    pub(super) want: Vec<Draft>,
}

pub(super) fn rows() -> Vec<Row> {
    let team = "octo-org/justice-league";
    let app_url = "https://github.com/settings/connections/applications/Iv1.8a61f9b3a7aba766";
    vec![
        Row {
            fixture: "org_add_member",
            json: include_str!("../../../tests/fixtures/formats/github/org_add_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some(membership_grant_id(MembershipKind::Group, "octo-org", "mona")),
                resource: Some("octo-org".into()),
                membership: Some(MembershipKind::Group),
                attributes: text(&[
                    ("github.action", "org.add_member"),
                    ("github.operation_type", "create"),
                    ("github.permission", "read"),
                ]),
                ..base("Kx3-PAtKZ8l7aeRVw-Ebvg", EventType::AccessGranted, 1767258000000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "org_update_member",
            json: include_str!("../../../tests/fixtures/formats/github/org_update_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some(membership_grant_id(MembershipKind::Group, "octo-org", "mona")),
                resource: Some("octo-org".into()),
                membership: Some(MembershipKind::Group),
                attributes: text(&[
                    ("github.action", "org.update_member"),
                    ("github.operation_type", "modify"),
                    ("github.permission", "admin"),
                    ("github.old_permission", "read"),
                ]),
                ..base("T0m7x0YQv1f2k3Jd8lQp2A", EventType::AccessGranted, 1767261600000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "org_remove_member",
            json: include_str!("../../../tests/fixtures/formats/github/org_remove_member.json"),
            cite: TOKEN_DATA,
            want: vec![Draft {
                grant_id: Some(membership_grant_id(MembershipKind::Group, "octo-org", "mona")),
                resource: Some("octo-org".into()),
                membership: Some(MembershipKind::Group),
                attributes: vec![
                    ("github.action".into(), AttrValue::Text("org.remove_member".into())),
                    ("github.operation_type".into(), AttrValue::Text("remove".into())),
                    (
                        "github.programmatic_access_type".into(),
                        AttrValue::Text("OAuth access token".into()),
                    ),
                    ("github.token_id".into(), AttrValue::Integer(55501)),
                    (
                        "github.token_sha256".into(),
                        AttrValue::Text(
                            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                        ),
                    ),
                ],
                ..base("Vb9nR2t5S8w1y4Z7c0E3gA", EventType::AccessRevoked, 1767265200000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "team_add_member",
            json: include_str!("../../../tests/fixtures/formats/github/team_add_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some(membership_grant_id(MembershipKind::Team, team, "mona")),
                resource: Some(team.into()),
                membership: Some(MembershipKind::Team),
                attributes: text(&[("github.action", "team.add_member"), ("github.operation_type", "modify")]),
                ..base("Qz1xW3e5R7t9Y1u3I5o7PA", EventType::AccessGranted, 1767268800000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "team_remove_member",
            json: include_str!("../../../tests/fixtures/formats/github/team_remove_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some(membership_grant_id(MembershipKind::Team, team, "mona")),
                resource: Some(team.into()),
                membership: Some(MembershipKind::Team),
                attributes: text(&[("github.action", "team.remove_member"), ("github.operation_type", "remove")]),
                ..base("Lk8jH6g4F2d0S8a6P4o2IA", EventType::AccessRevoked, 1767272400000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "repo_add_member",
            json: include_str!("../../../tests/fixtures/formats/github/repo_add_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:collaborator:octo-org/payments:hubot".into()),
                resource: Some("octo-org/payments".into()),
                attributes: text(&[
                    ("github.action", "repo.add_member"),
                    ("github.operation_type", "create"),
                    ("github.permission", "write"),
                ]),
                ..base("Mn5bV7c9X1z3A5s7D9f1GA", EventType::AccessGranted, 1767276000000, "octo-admin", human("hubot"))
            }],
        },
        Row {
            fixture: "repo_update_member",
            json: include_str!("../../../tests/fixtures/formats/github/repo_update_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:collaborator:octo-org/payments:hubot".into()),
                resource: Some("octo-org/payments".into()),
                attributes: text(&[
                    ("github.action", "repo.update_member"),
                    ("github.operation_type", "modify"),
                    ("github.new_repo_permission", "admin"),
                    ("github.old_repo_permission", "write"),
                ]),
                ..base("Pq2wE4r6T8y0U2i4O6p8AA", EventType::AccessGranted, 1767279600000, "octo-admin", human("hubot"))
            }],
        },
        Row {
            fixture: "repo_remove_member",
            json: include_str!("../../../tests/fixtures/formats/github/repo_remove_member.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:collaborator:octo-org/payments:hubot".into()),
                resource: Some("octo-org/payments".into()),
                attributes: text(&[("github.action", "repo.remove_member"), ("github.operation_type", "remove")]),
                ..base("Rs3dF5g7H9j1K3l5Z7x9CA", EventType::AccessRevoked, 1767283200000, "octo-admin", human("hubot"))
            }],
        },
        Row {
            fixture: "pat_request_created",
            json: include_str!("../../../tests/fixtures/formats/github/pat_request_created.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:fine_grained_pat:octo-org:mona:deploy-scripts".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "personal_access_token.request_created"),
                    ("github.operation_type", "create"),
                    ("github.token_name", "deploy-scripts"),
                    ("github.repository_selection", "subset"),
                ]),
                ..base("Tu4fG6h8J0k2L4z6X8c0VA", EventType::AccessRequested, 1767286800000, "mona", human("mona"))
            }],
        },
        Row {
            fixture: "pat_access_granted",
            json: include_str!("../../../tests/fixtures/formats/github/pat_access_granted.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:fine_grained_pat:octo-org:mona:deploy-scripts".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "personal_access_token.access_granted"),
                    ("github.operation_type", "access"),
                    ("github.token_name", "deploy-scripts"),
                    ("github.repository_selection", "subset"),
                ]),
                ..base("Wx5gH7j9K1l3Z5x7C9v1BA", EventType::AccessGranted, 1767290400000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "pat_request_denied",
            json: include_str!("../../../tests/fixtures/formats/github/pat_request_denied.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:fine_grained_pat:octo-org:mona:scraper".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "personal_access_token.request_denied"),
                    ("github.operation_type", "access"),
                    ("github.token_name", "scraper"),
                    ("github.repository_selection", "all"),
                ]),
                ..base("Yz6hJ8k0L2z4X6c8V0b2NA", EventType::AccessDenied, 1767294000000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "pat_access_revoked",
            json: include_str!("../../../tests/fixtures/formats/github/pat_access_revoked.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:fine_grained_pat:octo-org:mona:deploy-scripts".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "personal_access_token.access_revoked"),
                    ("github.operation_type", "access"),
                    ("github.token_name", "deploy-scripts"),
                    ("github.repository_selection", "subset"),
                ]),
                ..base("Ab7jK9l1Z3x5C7v9B1n3MA", EventType::AccessRevoked, 1767297600000, "octo-admin", human("mona"))
            }],
        },
        Row {
            fixture: "integration_installation_create",
            json: include_str!("../../../tests/fixtures/formats/github/integration_installation_create.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:installation:octo-org:ci-bot".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "integration_installation.create"),
                    ("github.operation_type", "create"),
                    ("github.repository_selection", "selected"),
                ]),
                ..base("Cd8kL0z2X4c6V8b0N2m4QA", EventType::AccessGranted, 1767301200000, "octo-admin", bot("ci-bot"))
            }],
        },
        Row {
            fixture: "integration_installation_repositories_added",
            json: include_str!(
                "../../../tests/fixtures/formats/github/integration_installation_repositories_added.json"
            ),
            cite: ORG_EVENTS,
            want: ["octo-org/payments", "octo-org/ledger"]
                .iter()
                .enumerate()
                .map(|(n, repo)| Draft {
                    grant_id: Some(format!("github:installation:octo-org:ci-bot:{repo}")),
                    resource: Some((*repo).into()),
                    attributes: text(&[
                        ("github.action", "integration_installation.repositories_added"),
                        ("github.operation_type", "modify"),
                    ]),
                    ..base(
                        &format!("Ef9lZ1x3C5v7B9n1M3q5WA#{}", n + 1),
                        EventType::AccessGranted,
                        1767304800000,
                        "octo-admin",
                        bot("ci-bot"),
                    )
                })
                .collect(),
        },
        Row {
            fixture: "integration_installation_repositories_removed",
            json: include_str!(
                "../../../tests/fixtures/formats/github/integration_installation_repositories_removed.json"
            ),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:installation:octo-org:ci-bot:octo-org/ledger".into()),
                resource: Some("octo-org/ledger".into()),
                attributes: text(&[
                    ("github.action", "integration_installation.repositories_removed"),
                    ("github.operation_type", "modify"),
                ]),
                ..base("Gh0zX2c4V6b8N0m2Q4w6EA", EventType::AccessRevoked, 1767308400000, "octo-admin", bot("ci-bot"))
            }],
        },
        Row {
            fixture: "integration_installation_destroy",
            json: include_str!("../../../tests/fixtures/formats/github/integration_installation_destroy.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:installation:octo-org:ci-bot".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "integration_installation.destroy"),
                    ("github.operation_type", "remove"),
                    ("github.repository_selection", "selected"),
                ]),
                ..base("Ij1xC3v5B7n9M1q3W5e7RA", EventType::AccessRevoked, 1767312000000, "octo-admin", bot("ci-bot"))
            }],
        },
        Row {
            fixture: "integration_create",
            json: include_str!("../../../tests/fixtures/formats/github/integration_create.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                owner: Some("octo-org".into()),
                attributes: text(&[("github.action", "integration.create"), ("github.operation_type", "create")]),
                ..base("Kl2cV4b6N8m0Q2w4E6r8TA", EventType::IdentityCreated, 1767315600000, "octo-admin", bot("release-bot"))
            }],
        },
        Row {
            fixture: "integration_destroy",
            json: include_str!("../../../tests/fixtures/formats/github/integration_destroy.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                attributes: text(&[("github.action", "integration.destroy"), ("github.operation_type", "remove")]),
                ..base("Mn3vB5n7M9q1W3e5R7t9YA", EventType::IdentityDeleted, 1767319200000, "octo-admin", bot("release-bot"))
            }],
        },
        Row {
            fixture: "oauth_app_access_requested",
            json: include_str!("../../../tests/fixtures/formats/github/oauth_app_access_requested.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:oauth_app:octo-org:Octo Reports".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "org.oauth_app_access_requested"),
                    ("github.operation_type", "access"),
                    ("github.url", app_url),
                ]),
                ..base("Op4bN6m8Q0w2E4r6T8y0UA", EventType::AccessRequested, 1767322800000, "mona", bot("Octo Reports"))
            }],
        },
        Row {
            fixture: "oauth_app_access_approved",
            json: include_str!("../../../tests/fixtures/formats/github/oauth_app_access_approved.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some("github:oauth_app:octo-org:Octo Reports".into()),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "org.oauth_app_access_approved"),
                    ("github.operation_type", "access"),
                    ("github.url", app_url),
                ]),
                ..base("Qr5nM7q9W1e3R5t7Y9u1IA", EventType::AccessGranted, 1767326400000, "octo-admin", bot("Octo Reports"))
            }],
        },
        Row {
            // No `oauth_application` here (the documented fields list only `url`): the app is
            // named by its URL.
            fixture: "oauth_app_access_denied",
            json: include_str!("../../../tests/fixtures/formats/github/oauth_app_access_denied.json"),
            cite: ORG_EVENTS,
            want: vec![Draft {
                grant_id: Some(format!("github:oauth_app:octo-org:{app_url}")),
                resource: Some("octo-org".into()),
                attributes: text(&[
                    ("github.action", "org.oauth_app_access_denied"),
                    ("github.operation_type", "access"),
                    ("github.url", app_url),
                ]),
                ..base("St6mQ8w0E2r4T6y8U0i2OA", EventType::AccessRevoked, 1767330000000, "octo-admin", bot(app_url))
            }],
        },
        Row {
            fixture: "user_login",
            json: include_str!("../../../tests/fixtures/formats/github/user_login.json"),
            cite: ENTERPRISE_EVENTS,
            want: vec![Draft {
                source: "github:octo-corp".into(),
                attributes: text(&[("github.action", "user.login"), ("github.operation_type", "authentication")]),
                ..base("Uv7qW9e1R3t5Y7u9I1o3PA", EventType::IdentityAuthenticated, 1767333600000, "mona", human("mona"))
            }],
        },
        Row {
            fixture: "user_failed_login",
            json: include_str!("../../../tests/fixtures/formats/github/user_failed_login.json"),
            cite: ENTERPRISE_EVENTS,
            want: vec![Draft {
                source: "github:octo-corp".into(),
                outcome: Outcome::Failed,
                attributes: text(&[
                    ("github.action", "user.failed_login"),
                    ("github.operation_type", "authentication"),
                ]),
                ..base("Wx8wE0r2T4y6U8i0O2p4AA", EventType::IdentityAuthenticated, 1767337200000, "mona", human("mona"))
            }],
        },
    ]
}
