//! Which OCSF 1.9 IAM class and activity each entry becomes: the inverse of the input mapping's
//! activity table (`formats/ocsf/activities.rs`), and which of the class's own attributes the
//! record fills (docs/EXPORT.md, "OCSF records").

use crate::entry::SystemRecord;
use crate::event::{CredentialKind, Event, EventType, Family, MembershipKind};
use crate::export::describe::{system_title, title};

/// An OCSF event class of the IAM category, by `class_uid` and caption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Class {
    pub uid: u32,
    pub name: &'static str,
}

pub(crate) const AUTHENTICATION: Class = Class {
    uid: 3002,
    name: "Authentication",
};
pub(crate) const ENTITY_MANAGEMENT: Class = Class {
    uid: 3004,
    name: "Entity Management",
};
pub(crate) const GROUP_MANAGEMENT: Class = Class {
    uid: 3006,
    name: "Group Management",
};
pub(crate) const USER_MANAGEMENT: Class = Class {
    uid: 3007,
    name: "User Management",
};

/// The IAM category every class above is in.
pub(crate) const IAM_CATEGORY: (u32, &str) = (3, "Identity & Access Management");

/// The activity every class has for what its other activities do not name.
pub(crate) const OTHER: u32 = 99;

/// The `activity_name` of a quarantined entry (an Other activity).
pub(crate) const QUARANTINED: &str = "Quarantined";

/// One activity of one class: `name` is the schema's caption, or for Other the label idledger
/// gives it (OCSF: the source-specific name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Activity {
    pub class: Class,
    pub id: u32,
    pub name: &'static str,
}

impl Activity {
    pub(crate) const fn new(class: Class, id: u32, name: &'static str) -> Activity {
        Activity { class, id, name }
    }

    /// `class_uid * 100 + activity_id`, as OCSF defines `type_uid`.
    pub(crate) fn type_uid(self) -> u32 {
        self.class.uid * 100 + self.id
    }

    /// The schema's caption of the activity (`Other` for Other, whatever its label).
    pub(crate) fn caption(self) -> &'static str {
        if self.id == OTHER { "Other" } else { self.name }
    }

    /// The same class's Other activity, labelled `name`.
    pub(crate) fn other(self, name: &'static str) -> Activity {
        Activity::new(self.class, OTHER, name)
    }
}

/// Which of its class's own attributes an event's record fills, besides `user` (the subject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `user` alone.
    User,
    /// `service` (the resource, else the source) and `is_mfa`.
    Authentication,
    /// `group`: the group or team `resource` names.
    Group,
    /// `iam_roles`: the role `resource` names.
    Roles,
    /// `privileges`: the entitlement `resource` names.
    Privileges,
    /// `auth_factors`: an MFA factor (of a type the event does not give).
    MfaFactors,
    /// `user.programmatic_credentials`: the credential by id and kind.
    ProgrammaticCredential,
}

/// The class and activity of an event, and the attributes its class fills.
pub(crate) fn event_activity(event: &Event) -> (Activity, Shape) {
    use EventType::*;
    let other = |class| Activity::new(class, OTHER, title(event.kind));
    match event.kind.family() {
        Family::Identity => match event.kind {
            IdentityAuthenticated => (
                Activity::new(AUTHENTICATION, 1, "Logon"),
                Shape::Authentication,
            ),
            IdentityCreated => (Activity::new(USER_MANAGEMENT, 1, "Create"), Shape::User),
            IdentityUpdated | IdentityOwnerChanged => {
                (Activity::new(USER_MANAGEMENT, 2, "Update"), Shape::User)
            }
            IdentityDeleted => (Activity::new(USER_MANAGEMENT, 3, "Delete"), Shape::User),
            IdentityEnabled => (Activity::new(USER_MANAGEMENT, 4, "Enable"), Shape::User),
            _ => (Activity::new(USER_MANAGEMENT, 5, "Disable"), Shape::User),
        },
        Family::Access => {
            let (class, shape, add, remove) = match event.membership {
                Some(MembershipKind::Group | MembershipKind::Team) => (
                    GROUP_MANAGEMENT,
                    Shape::Group,
                    (3, "Add User"),
                    (4, "Remove User"),
                ),
                Some(MembershipKind::Role) => (
                    USER_MANAGEMENT,
                    Shape::Roles,
                    (16, "Assign Roles"),
                    (17, "Remove Roles"),
                ),
                None => (
                    USER_MANAGEMENT,
                    Shape::Privileges,
                    (14, "Assign Privileges"),
                    (15, "Remove Privileges"),
                ),
            };
            let activity = match event.kind {
                AccessGranted => Activity::new(class, add.0, add.1),
                AccessRevoked | AccessExpired => Activity::new(class, remove.0, remove.1),
                _ => other(class),
            };
            (activity, shape)
        }
        Family::Credential => credential_activity(event),
    }
}

/// Credential events by the credential's kind: MFA factors, passwords, and programmatic
/// credentials (API keys, secrets, certificates, tokens, SSH keys); a use is an authentication.
fn credential_activity(event: &Event) -> (Activity, Shape) {
    use EventType::*;
    let other = |class| Activity::new(class, OTHER, title(event.kind));
    if event.kind == CredentialUsed {
        return (other(AUTHENTICATION), Shape::Authentication);
    }
    let kind = event.credential.as_ref().map(|c| c.kind);
    match kind {
        Some(CredentialKind::MfaFactor) => {
            let activity = match event.kind {
                CredentialIssued => Activity::new(USER_MANAGEMENT, 12, "Enable MFA Factors"),
                CredentialRevoked | CredentialExpired => {
                    Activity::new(USER_MANAGEMENT, 13, "Disable MFA Factors")
                }
                _ => other(USER_MANAGEMENT),
            };
            (activity, Shape::MfaFactors)
        }
        Some(CredentialKind::Password) => {
            let activity = match event.kind {
                CredentialRotated => Activity::new(USER_MANAGEMENT, 8, "Password Change"),
                _ => other(USER_MANAGEMENT),
            };
            (activity, Shape::User)
        }
        _ => {
            let activity = match event.kind {
                CredentialIssued => {
                    Activity::new(USER_MANAGEMENT, 18, "Add Programmatic Credentials")
                }
                CredentialRevoked | CredentialExpired => {
                    Activity::new(USER_MANAGEMENT, 19, "Remove Programmatic Credentials")
                }
                _ => other(USER_MANAGEMENT),
            };
            (activity, Shape::ProgrammaticCredential)
        }
    }
}

/// The Entity Management activity of a system record: the log and its keys are the entities
/// the ledger manages; offsets and out-of-scope records are Other activities.
pub(crate) fn system_activity(record: &SystemRecord) -> Activity {
    match record {
        SystemRecord::Genesis { .. } | SystemRecord::KeyAdded { .. } => {
            Activity::new(ENTITY_MANAGEMENT, 1, "Create")
        }
        SystemRecord::KeyRetired { .. } => Activity::new(ENTITY_MANAGEMENT, 9, "Disable"),
        SystemRecord::OffsetsUnavailable { .. } | SystemRecord::OutOfScope { .. } => {
            Activity::new(ENTITY_MANAGEMENT, OTHER, system_title(record))
        }
    }
}

/// The activity of a quarantined input that kept no event: an Other activity of Entity
/// Management, whose entity is the input.
pub(crate) const QUARANTINED_INPUT: Activity = Activity::new(ENTITY_MANAGEMENT, OTHER, QUARANTINED);
