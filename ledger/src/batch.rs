//! What goes into an append and what comes out of it: submissions (an event, a rejection or a
//! system record, with where it came from), Kafka positions stored with a batch, and what
//! happened to each submission.

use idledger_proto::entry::{Origin, SystemRecord};
use idledger_proto::hash::Hash;
use idledger_proto::rejection::Rejection;
use idledger_proto::{Seq, TreeSize, ValidatedEvent};

/// Something to append.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "events are nearly every item; boxing them would allocate once more per event"
)]
pub enum Item {
    Event(ValidatedEvent),
    Rejected(Rejection),
    System(SystemRecord),
}

/// One input to `append`, with where it came from.
#[derive(Debug, Clone)]
pub struct Submission {
    pub origin: Origin,
    pub item: Item,
}

/// The next Kafka offset to consume for a partition, stored atomically with the entries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// What happened to one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Appended(Seq),
    Quarantined(Seq),
    /// Identical to the event already recorded at this index; nothing appended.
    Duplicate(Seq),
}

#[derive(Debug, Clone)]
pub struct AppendReport {
    pub outcomes: Vec<Outcome>,
    pub size: TreeSize,
    pub root: Hash,
    pub checkpoint: String,
    pub appended: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub elapsed: std::time::Duration,
}
