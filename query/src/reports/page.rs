//! A report a page at a time: its findings in order, cut into pages of at most `limit` rows, with
//! the cursor of the next page.
//!
//! A row is one item of a group, or the group itself when it has no items (so that its figures
//! appear on some page). Groups come in key order and items in the order the report found them,
//! both fixed for a given ledger size and `now`: asking for the next cursor with the same
//! parameters continues where the page ended. A group whose items run across pages appears on
//! each of those pages with the same figures.

use super::{Group, Report, ReportName};
use idledger_proto::Timestamp;
use serde::Serialize;

/// Where a page starts and where the next one does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PageInfo {
    /// The cursor this page was asked for (`0` for the first page).
    pub cursor: String,
    /// The most rows this page could hold.
    pub limit: u64,
    /// The cursor of the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Rows in the whole report.
    pub rows: u64,
}

/// One page of a report.
#[derive(Clone, Debug, Serialize)]
pub struct ReportPage {
    pub name: ReportName,
    pub now: Timestamp,
    pub group_by: Option<String>,
    pub groups: Vec<Group>,
    pub page: PageInfo,
}

/// The rows a group takes.
fn rows_of(g: &Group) -> u64 {
    u64::try_from(g.items.len()).unwrap_or(u64::MAX).max(1)
}

impl Report {
    /// Rows in the whole report.
    pub fn rows(&self) -> u64 {
        self.groups
            .iter()
            .fold(0u64, |n, g| n.saturating_add(rows_of(g)))
    }

    /// The rows from `cursor` on, at most `limit` of them (at least one when any remain).
    pub fn page(self, cursor: u64, limit: u64) -> ReportPage {
        let rows = self.rows();
        let limit = limit.max(1);
        let end = cursor.saturating_add(limit).min(rows);
        let mut groups = Vec::new();
        let mut at = 0u64;
        for mut g in self.groups {
            let first = at;
            at = at.saturating_add(rows_of(&g));
            if at <= cursor || first >= end {
                continue;
            }
            if !g.items.is_empty() {
                // Both bounds lie within the group's rows, so they index its items.
                let from = usize::try_from(cursor.saturating_sub(first)).unwrap_or(usize::MAX);
                let to = usize::try_from(end - first).unwrap_or(usize::MAX);
                g.items.truncate(to);
                g.items.drain(..from.min(g.items.len()));
            }
            groups.push(g);
        }
        ReportPage {
            name: self.name,
            now: self.now,
            group_by: self.group_by,
            groups,
            page: PageInfo {
                cursor: cursor.to_string(),
                limit,
                next_cursor: (end < rows).then(|| end.to_string()),
                rows,
            },
        }
    }
}
