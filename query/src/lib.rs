//! idledger's read side: replays the ledger into projections and answers auditors' and incident
//! responders' questions (histories, grant episodes, access at a time, governance reports), each
//! with proofs checkable offline. It never writes the log.

pub mod answers;
pub mod episode;
pub mod export;
pub mod http;
pub mod projections;
pub mod reports;
pub mod tiles;

pub use answers::{
    AccessRow, GrantAnswer, History, QueryError, access_at, access_proven, grant, grant_proven,
    history, history_proven,
};
pub use episode::Episode;
pub use projections::Projections;
pub use reports::{Report, ReportName, ReportOptions, report};
