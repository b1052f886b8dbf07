//! The OCSF IAM classes and activities, and what idledger makes of each: the one table the
//! mapper reads, which the tests hold against the OCSF schema so that no activity of the IAM
//! classes is left without a decision (docs/formats/ocsf.md).

use crate::event::EventType;
use EventType::{
    AccessGranted, AccessRevoked, CredentialIssued, CredentialRevoked, IdentityCreated,
    IdentityDeleted, IdentityDisabled, IdentityEnabled, IdentityUpdated,
};

/// What a mapped activity becomes, by the part of the record it acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// An identity lifecycle event about the subject: `/user`, or `/iam_role` in Role Management,
    /// where the role is the (non-human) identity.
    Lifecycle(EventType),
    /// `/user`'s password was changed or reset: `credential.rotated` of a password.
    Password,
    /// One event per factor in `/auth_factors`: `credential.issued` or `credential.revoked`.
    MfaFactors(EventType),
    /// One event per policy in `/policies` (or the older `/policy`) attached to or detached from
    /// `/user`.
    Policies(EventType),
    /// One event per privilege in `/privileges` (on each resource in `/resources` or the older
    /// `/resource`, when there are any) assigned to or taken from `/user`.
    Privileges(EventType),
    /// Role membership: one event per role in `/iam_roles` (or the older `/iam_role`).
    Roles(EventType),
    /// Group membership: one event per user in `/users` (or the older `/user`) added to or
    /// removed from `/group`.
    GroupUsers(EventType),
    /// One event per credential in `/programmatic_credentials` of `/user`.
    ProgrammaticCredentials(EventType),
    /// `/user` authenticated (a logon, a Kerberos ticket-granting ticket).
    Authenticated,
    /// `/actor` switched to the account `/user` (su, sudo, runas): a use of `/user`.
    AccountSwitch,
    /// Entity Management: what a user entity and a credential entity become (`None`: that kind
    /// of entity is out of scope for this activity).
    Entity {
        user: Option<EventType>,
        credential: Option<EventType>,
    },
    /// Well-formed but outside idledger's scope, for the reason given (docs/formats/ocsf.md).
    OutOfScope(&'static str),
}

/// One activity of one class, by the ids and caption the OCSF schema gives it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Activity {
    pub class: i64,
    pub id: i64,
    /// The activity's caption in the schema.
    pub name: &'static str,
    pub action: Action,
}

/// The IAM classes of OCSF 1.0 to 1.9 (User Management and Role Management are new in 1.9,
/// which deprecates Account Change and User Access Management in their favour).
pub(super) const CLASSES: [(i64, &str); 8] = [
    (3001, "Account Change"),
    (3002, "Authentication"),
    (3003, "Authorize Session"),
    (3004, "Entity Management"),
    (3005, "User Access Management"),
    (3006, "Group Management"),
    (3007, "User Management"),
    (3008, "Role Management"),
];

/// The name of an IAM class idledger knows.
pub(super) fn class_name(class: i64) -> Option<&'static str> {
    CLASSES
        .iter()
        .find(|(uid, _)| *uid == class)
        .map(|(_, name)| *name)
}

/// The activity `id` of `class`, if the schema has it.
pub(super) fn activity(class: i64, id: i64) -> Option<&'static Activity> {
    ACTIVITIES.iter().find(|a| a.class == class && a.id == id)
}

const LOCKOUT: &str =
    "a lockout is transient and ended by the identity system itself, not an administrative state";
const LOGOFF: &str = "the end of a session: idledger records authentications, not sessions";
const SERVICE_TICKET: &str =
    "a Kerberos service ticket is access under an authentication already recorded";
const PREAUTH: &str = "a stage of an authentication whose result the logon or ticket reports";
const SESSION_SNAPSHOT: &str = "the groups or roles a session carries, not a change to them";
const GROUP_ITSELF: &str = "about the group itself, not about an identity's access";
const NESTED_GROUP: &str = "nesting groups changes no identity's grants that the record names";
const RESOURCES_ALONE: &str =
    "resources put in a role's scope without privileges or policies name no entitlement";
const NOT_A_CHANGE: &str =
    "reading or enrolling an entity changes no identity, grant or credential";
const TRANSIENT: &str = "a transient change of state of the engine (OCSF's own note)";

const fn row(class: i64, id: i64, name: &'static str, action: Action) -> Activity {
    Activity {
        class,
        id,
        name,
        action,
    }
}

const fn entity(user: Option<EventType>, credential: Option<EventType>) -> Action {
    Action::Entity { user, credential }
}

use Action::{
    AccountSwitch, Authenticated, GroupUsers, Lifecycle, MfaFactors, OutOfScope, Password,
    Policies, Privileges, ProgrammaticCredentials, Roles,
};

/// Every activity of the eight classes except Unknown (0) and Other (99), which every class
/// has and which are out of scope (they say nothing idledger can record).
pub(super) const ACTIVITIES: &[Activity] = &[
    row(3001, 1, "Create", Lifecycle(IdentityCreated)),
    row(3001, 2, "Enable", Lifecycle(IdentityEnabled)),
    row(3001, 3, "Password Change", Password),
    row(3001, 4, "Password Reset", Password),
    row(3001, 5, "Disable", Lifecycle(IdentityDisabled)),
    row(3001, 6, "Delete", Lifecycle(IdentityDeleted)),
    row(3001, 7, "Attach Policy", Policies(AccessGranted)),
    row(3001, 8, "Detach Policy", Policies(AccessRevoked)),
    row(3001, 9, "Lock", OutOfScope(LOCKOUT)),
    row(3001, 10, "MFA Factor Enable", MfaFactors(CredentialIssued)),
    row(
        3001,
        11,
        "MFA Factor Disable",
        MfaFactors(CredentialRevoked),
    ),
    row(3001, 12, "Unlock", OutOfScope(LOCKOUT)),
    row(3002, 1, "Logon", Authenticated),
    row(3002, 2, "Logoff", OutOfScope(LOGOFF)),
    row(3002, 3, "Authentication Ticket", Authenticated),
    row(
        3002,
        4,
        "Service Ticket Request",
        OutOfScope(SERVICE_TICKET),
    ),
    row(3002, 5, "Service Ticket Renew", OutOfScope(SERVICE_TICKET)),
    row(3002, 6, "Preauth", OutOfScope(PREAUTH)),
    row(3002, 7, "Account Switch", AccountSwitch),
    row(3003, 1, "Assign Privileges", Privileges(AccessGranted)),
    row(3003, 2, "Assign Groups", OutOfScope(SESSION_SNAPSHOT)),
    row(3003, 3, "Assign Roles", OutOfScope(SESSION_SNAPSHOT)),
    row(
        3004,
        1,
        "Create",
        entity(Some(IdentityCreated), Some(CredentialIssued)),
    ),
    row(3004, 2, "Read", OutOfScope(NOT_A_CHANGE)),
    row(3004, 3, "Update", entity(Some(IdentityUpdated), None)),
    row(
        3004,
        4,
        "Delete",
        entity(Some(IdentityDeleted), Some(CredentialRevoked)),
    ),
    row(3004, 5, "Move", entity(Some(IdentityUpdated), None)),
    row(3004, 6, "Enroll", OutOfScope(NOT_A_CHANGE)),
    row(3004, 7, "Unenroll", OutOfScope(NOT_A_CHANGE)),
    row(3004, 8, "Enable", entity(Some(IdentityEnabled), None)),
    row(
        3004,
        9,
        "Disable",
        entity(Some(IdentityDisabled), Some(CredentialRevoked)),
    ),
    row(3004, 10, "Activate", OutOfScope(TRANSIENT)),
    row(3004, 11, "Deactivate", OutOfScope(TRANSIENT)),
    row(3004, 12, "Suspend", entity(Some(IdentityDisabled), None)),
    row(3004, 13, "Resume", entity(Some(IdentityEnabled), None)),
    row(3005, 1, "Assign Privileges", Privileges(AccessGranted)),
    row(3005, 2, "Revoke Privileges", Privileges(AccessRevoked)),
    row(3005, 3, "Assign Role", Roles(AccessGranted)),
    row(3005, 4, "Remove Role", Roles(AccessRevoked)),
    row(3006, 1, "Assign Privileges", OutOfScope(GROUP_ITSELF)),
    row(3006, 2, "Revoke Privileges", OutOfScope(GROUP_ITSELF)),
    row(3006, 3, "Add User", GroupUsers(AccessGranted)),
    row(3006, 4, "Remove User", GroupUsers(AccessRevoked)),
    row(3006, 5, "Delete", OutOfScope(GROUP_ITSELF)),
    row(3006, 6, "Create", OutOfScope(GROUP_ITSELF)),
    row(3006, 7, "Add Subgroup", OutOfScope(NESTED_GROUP)),
    row(3006, 8, "Remove Subgroup", OutOfScope(NESTED_GROUP)),
    row(3006, 9, "Update", OutOfScope(GROUP_ITSELF)),
    row(3006, 10, "Attach Policies", OutOfScope(GROUP_ITSELF)),
    row(3006, 11, "Detach Policies", OutOfScope(GROUP_ITSELF)),
    row(3006, 12, "Assign Roles", OutOfScope(GROUP_ITSELF)),
    row(3006, 13, "Remove Roles", OutOfScope(GROUP_ITSELF)),
    row(3007, 1, "Create", Lifecycle(IdentityCreated)),
    row(3007, 2, "Update", Lifecycle(IdentityUpdated)),
    row(3007, 3, "Delete", Lifecycle(IdentityDeleted)),
    row(3007, 4, "Enable", Lifecycle(IdentityEnabled)),
    row(3007, 5, "Disable", Lifecycle(IdentityDisabled)),
    row(3007, 6, "Lock", OutOfScope(LOCKOUT)),
    row(3007, 7, "Unlock", OutOfScope(LOCKOUT)),
    row(3007, 8, "Password Change", Password),
    row(3007, 9, "Password Reset", Password),
    row(3007, 10, "Attach Policies", Policies(AccessGranted)),
    row(3007, 11, "Detach Policies", Policies(AccessRevoked)),
    row(3007, 12, "Enable MFA Factors", MfaFactors(CredentialIssued)),
    row(
        3007,
        13,
        "Disable MFA Factors",
        MfaFactors(CredentialRevoked),
    ),
    row(3007, 14, "Assign Privileges", Privileges(AccessGranted)),
    row(3007, 15, "Remove Privileges", Privileges(AccessRevoked)),
    row(3007, 16, "Assign Roles", Roles(AccessGranted)),
    row(3007, 17, "Remove Roles", Roles(AccessRevoked)),
    row(
        3007,
        18,
        "Add Programmatic Credentials",
        ProgrammaticCredentials(CredentialIssued),
    ),
    row(
        3007,
        19,
        "Remove Programmatic Credentials",
        ProgrammaticCredentials(CredentialRevoked),
    ),
    row(3008, 1, "Create", Lifecycle(IdentityCreated)),
    row(3008, 2, "Update", Lifecycle(IdentityUpdated)),
    row(3008, 3, "Delete", Lifecycle(IdentityDeleted)),
    row(3008, 4, "Assign Privileges", Privileges(AccessGranted)),
    row(3008, 5, "Remove Privileges", Privileges(AccessRevoked)),
    row(3008, 6, "Assign Resources", OutOfScope(RESOURCES_ALONE)),
    row(3008, 7, "Remove Resources", OutOfScope(RESOURCES_ALONE)),
    row(3008, 8, "Attach Policies", Policies(AccessGranted)),
    row(3008, 9, "Detach Policies", Policies(AccessRevoked)),
    row(
        3008,
        10,
        "Add Programmatic Credentials",
        ProgrammaticCredentials(CredentialIssued),
    ),
    row(
        3008,
        11,
        "Remove Programmatic Credentials",
        ProgrammaticCredentials(CredentialRevoked),
    ),
];
