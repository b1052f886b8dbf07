//! Witness policies in the subset of Sigsum's policy format (sigsum-go `doc/policy.md`) that
//! idledger reads: which log key signs checkpoints, which witnesses (cosignature/v1 keys) the
//! auditor knows, how they form groups, and which group (or witness) is the quorum. Parsing is
//! strict and every error names its line. `cosigned` checks a checkpoint against a policy.
//!
//! Architecture invariant: members are defined on earlier lines than the groups that name
//! them, so a policy is acyclic by construction and a group's state is computed once, in file
//! order, from its members' states.

use crate::cosignature::{CosignError, CosignerKey};
use crate::note::{NoteError, VerifierKey};
use std::collections::HashMap;

/// A witness or a group, as a group member or the quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// Index into `Policy::witnesses`.
    Witness(usize),
    /// Index into `Policy::groups`.
    Group(usize),
}

/// A named witness: the policy's name for it and its cosigner key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    pub name: String,
    pub key: CosignerKey,
}

/// A group: satisfied when at least `threshold` of its members are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// 1 to `members.len()`.
    pub threshold: usize,
    /// Witnesses and groups defined on earlier lines, each once.
    pub members: Vec<Member>,
}

/// A parsed, checked witness policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The log keys a checkpoint may be signed by (one, or more during a key rotation).
    pub logs: Vec<VerifierKey>,
    pub witnesses: Vec<Witness>,
    pub groups: Vec<Group>,
    pub quorum: Member,
}

/// Why a policy file was refused. Line numbers start at 1.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("line {line}: unknown keyword `{keyword}` (expected log, witness, group or quorum)")]
    UnknownKeyword { line: usize, keyword: String },
    #[error("line {line}: expected `{usage}`")]
    Usage { line: usize, usage: &'static str },
    #[error("line {line}: log key: {error}")]
    LogKey { line: usize, error: NoteError },
    #[error("line {line}: witness key: {error}")]
    WitnessKey { line: usize, error: CosignError },
    #[error("line {line}: `{name}` is not a name: a name has no control or formatting characters")]
    BadName { line: usize, name: String },
    #[error("line {line}: `{name}` is already defined on line {first}")]
    DuplicateName {
        line: usize,
        name: String,
        first: usize,
    },
    #[error("line {line}: the key of witness `{name}` is already the key of `{first}`")]
    DuplicateKey {
        line: usize,
        name: String,
        first: String,
    },
    #[error("line {line}: the log key is already given on line {first}")]
    DuplicateLog { line: usize, first: usize },
    #[error("line {line}: `{member}` is not a witness or group defined in the policy")]
    Undefined { line: usize, member: String },
    #[error(
        "line {line}: group `{group}` names `{member}`, defined on line {defined}: members must be defined on earlier lines, so no group contains itself (a cycle)"
    )]
    Cycle {
        line: usize,
        group: String,
        member: String,
        defined: usize,
    },
    #[error("line {line}: `{member}` is named twice in group `{group}`")]
    DuplicateMember {
        line: usize,
        group: String,
        member: String,
    },
    #[error(
        "line {line}: threshold `{found}` of group `{group}` is not all, any or a number from 1 to {members}"
    )]
    Threshold {
        line: usize,
        group: String,
        found: String,
        members: usize,
    },
    #[error("line {line}: a second quorum line (the first is line {first})")]
    DuplicateQuorum { line: usize, first: usize },
    #[error("the policy has no `quorum` line")]
    MissingQuorum,
    #[error("the policy has no `log` line")]
    MissingLog,
}

/// Where each name is defined: its line and what it is.
struct Names(HashMap<String, (usize, Option<Member>)>);

impl Names {
    /// The first line defining each name of a witness or group line, read before the policy
    /// is: so that a member defined later (a cycle) is told apart from one defined nowhere.
    fn collect(lines: &[(usize, Vec<&str>)]) -> Names {
        let mut names = HashMap::new();
        for (line, words) in lines {
            if matches!(words[0], "witness" | "group") && words.len() >= 2 {
                names.entry(words[1].to_owned()).or_insert((*line, None));
            }
        }
        Names(names)
    }

    /// The member `name` refers to on `line`, which must be defined before it.
    fn resolve(&self, line: usize, group: Option<&str>, name: &str) -> Result<Member, PolicyError> {
        match self.0.get(name) {
            Some((_, Some(member))) => Ok(*member),
            Some((defined, None)) if group.is_some() => Err(PolicyError::Cycle {
                line,
                group: group.unwrap_or_default().to_owned(),
                member: name.to_owned(),
                defined: *defined,
            }),
            _ => Err(PolicyError::Undefined {
                line,
                member: name.to_owned(),
            }),
        }
    }

    /// Records that `name`, defined on `line`, is `member`; a name is defined once.
    fn define(&mut self, line: usize, name: &str, member: Member) -> Result<(), PolicyError> {
        match self.0.get_mut(name) {
            Some((first, slot)) if *first == line => {
                *slot = Some(member);
                Ok(())
            }
            Some((first, _)) => Err(PolicyError::DuplicateName {
                line,
                name: name.to_owned(),
                first: *first,
            }),
            None => unreachable!("collect saw every witness and group line"),
        }
    }
}

/// The words of each line that is not blank or a comment, with its 1-based number. A `#`
/// starts a comment anywhere on a line.
fn lines(text: &str) -> Vec<(usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let words: Vec<&str> = l
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            (!words.is_empty()).then_some((i + 1, words))
        })
        .collect()
}

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let lines = lines(text);
        let mut names = Names::collect(&lines);
        let mut logs: Vec<(usize, VerifierKey)> = Vec::new();
        let (mut witnesses, mut groups) = (Vec::<Witness>::new(), Vec::<Group>::new());
        let mut quorum: Option<(usize, &str)> = None;
        for (line, words) in &lines {
            let line = *line;
            match (words[0], words.len()) {
                ("log", 2) => {
                    let key = VerifierKey::parse(words[1])
                        .map_err(|error| PolicyError::LogKey { line, error })?;
                    if let Some((first, _)) = logs.iter().find(|(_, k)| *k == key) {
                        return Err(PolicyError::DuplicateLog {
                            line,
                            first: *first,
                        });
                    }
                    logs.push((line, key));
                }
                ("witness", 3) => {
                    check_name(line, words[1])?;
                    let key = CosignerKey::parse(words[2])
                        .map_err(|error| PolicyError::WitnessKey { line, error })?;
                    if let Some(first) = witnesses.iter().find(|w| w.key == key) {
                        return Err(PolicyError::DuplicateKey {
                            line,
                            name: words[1].to_owned(),
                            first: first.name.clone(),
                        });
                    }
                    names.define(line, words[1], Member::Witness(witnesses.len()))?;
                    witnesses.push(Witness {
                        name: words[1].to_owned(),
                        key,
                    });
                }
                ("group", n) if n >= 4 => {
                    check_name(line, words[1])?;
                    let group = group(line, words, &names)?;
                    names.define(line, words[1], Member::Group(groups.len()))?;
                    groups.push(group);
                }
                ("quorum", 2) => {
                    if let Some((first, _)) = quorum {
                        return Err(PolicyError::DuplicateQuorum { line, first });
                    }
                    quorum = Some((line, words[1]));
                }
                (keyword, _) => return Err(usage(line, keyword)),
            }
        }
        if logs.is_empty() {
            return Err(PolicyError::MissingLog);
        }
        // The quorum may name a group defined after it: a quorum line cannot make a cycle.
        let (line, quorum) = quorum.ok_or(PolicyError::MissingQuorum)?;
        let quorum = names.resolve(line, None, quorum)?;
        Ok(Policy {
            logs: logs.into_iter().map(|(_, k)| k).collect(),
            witnesses,
            groups,
            quorum,
        })
    }

    /// The policy's name for a witness or group.
    pub fn name(&self, member: Member) -> &str {
        match member {
            Member::Witness(i) => &self.witnesses[i].name,
            Member::Group(i) => &self.groups[i].name,
        }
    }

    /// Whether the quorum is met when exactly the witnesses with `cosigned[i]` set cosigned.
    /// Groups only name earlier groups, so one pass in file order settles every group.
    pub fn quorum_met(&self, cosigned: &[bool]) -> bool {
        debug_assert_eq!(cosigned.len(), self.witnesses.len());
        let mut met: Vec<bool> = Vec::with_capacity(self.groups.len());
        let state = |member: &Member, met: &[bool]| match *member {
            Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
            Member::Group(i) => met.get(i).copied().unwrap_or(false),
        };
        for group in &self.groups {
            let count = group.members.iter().filter(|m| state(m, &met)).count();
            met.push(count >= group.threshold);
        }
        state(&self.quorum, &met)
    }
}

/// A name is printed in messages: no control or bidirectional formatting characters.
fn check_name(line: usize, name: &str) -> Result<(), PolicyError> {
    if name.chars().any(crate::printable::is_hazard) {
        return Err(PolicyError::BadName {
            line,
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn usage(line: usize, keyword: &str) -> PolicyError {
    let usage = match keyword {
        "log" => "log <log verifier key>",
        "witness" => "witness <name> <cosigner verifier key>",
        "group" => "group <name> <k|all|any> <member>...",
        "quorum" => "quorum <group or witness name>",
        other => {
            return PolicyError::UnknownKeyword {
                line,
                keyword: other.to_owned(),
            };
        }
    };
    PolicyError::Usage { line, usage }
}

/// A `group <name> <k|all|any> <member>...` line.
fn group(line: usize, words: &[&str], names: &Names) -> Result<Group, PolicyError> {
    let name = words[1];
    let mut members = Vec::with_capacity(words.len() - 3);
    for member in &words[3..] {
        let resolved = names.resolve(line, Some(name), member)?;
        if members.contains(&resolved) {
            return Err(PolicyError::DuplicateMember {
                line,
                group: name.to_owned(),
                member: (*member).to_owned(),
            });
        }
        members.push(resolved);
    }
    let n = members.len();
    let threshold = match words[2] {
        "all" => n,
        "any" => 1,
        k => k
            .parse::<usize>()
            .ok()
            .filter(|v| (1..=n).contains(v) && v.to_string() == k)
            .ok_or_else(|| PolicyError::Threshold {
                line,
                group: name.to_owned(),
                found: k.to_owned(),
                members: n,
            })?,
    };
    Ok(Group {
        name: name.to_owned(),
        threshold,
        members,
    })
}

#[cfg(test)]
#[path = "witness_policy_tests.rs"]
pub(crate) mod tests;
