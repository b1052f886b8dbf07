//! The server's limits: open connections, how long a client may take to send a request or keep
//! an idle connection, how long a request may run, how much ledger work runs at once, the
//! sizes of requests and pages, and how many entry streams (`/v1/entries`) may be open, how long
//! one may go untaken and how far a follower may fall behind. Defaults here; the configuration
//! file sets them (docs/CONFIG.md).

use std::time::Duration;

/// The settable limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once. Beyond it the connection that has waited longest for a
    /// request is closed to make room; when every one is busy, new ones wait in the kernel's
    /// backlog.
    pub max_connections: usize,
    /// Requests doing ledger work at once (every `/v1/` and tlog-tiles route); more are
    /// answered 503 with `Retry-After`, never queued.
    pub max_concurrent_reads: usize,
    /// From a connection's opening, or from the first byte of a later request, until the
    /// request's head is complete.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request may take to answer, from its head's arrival; beyond it the answer is
    /// a 503 (work already started on a blocking thread finishes, still counted against
    /// `max_concurrent_reads`).
    pub request_timeout: Duration,
    /// Entry streams (`/v1/entries`, followed or not) open at once; one more is answered 503.
    pub max_followers: usize,
    /// How long a stream's client may leave what was sent untaken before it is told where to
    /// resume and its stream ends.
    pub follow_stall_timeout: Duration,
    /// How many entries signed since a follower connected it may leave untaken before it is told
    /// where to resume and its stream ends.
    pub follow_max_lag: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 128,
            max_concurrent_reads: 4,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            max_followers: 64,
            follow_stall_timeout: Duration::from_secs(30),
            follow_max_lag: 1_000_000,
        }
    }
}

/// The bounds of each setting, as the configuration file names it.
pub const MAX_CONNECTIONS: (&str, u64, u64) = ("max_connections", 1, 65_536);
pub const MAX_CONCURRENT_READS: (&str, u64, u64) = ("max_concurrent_reads", 1, 256);
pub const HEADER_READ_TIMEOUT_MS: (&str, u64, u64) = ("header_read_timeout_ms", 10, 3_600_000);
pub const IDLE_TIMEOUT_MS: (&str, u64, u64) = ("idle_timeout_ms", 10, 3_600_000);
pub const REQUEST_TIMEOUT_MS: (&str, u64, u64) = ("request_timeout_ms", 10, 3_600_000);
pub const MAX_FOLLOWERS: (&str, u64, u64) = ("max_followers", 1, 4_096);
pub const FOLLOW_STALL_TIMEOUT_MS: (&str, u64, u64) = ("follow_stall_timeout_ms", 10, 3_600_000);
pub const FOLLOW_MAX_LAG: (&str, u64, u64) = ("follow_max_lag", 1, 1_000_000_000_000);

/// The largest request head (request line and headers) read, in bytes; a larger one is
/// answered 431 and the connection closed. It holds a query of the longest parameters: the
/// most values of `/v1/entries`' repeatable ids, each of the most characters, each character
/// four UTF-8 bytes percent-encoded (two lists of 8 × 256 × 12 bytes, about 49 KiB).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most characters a text parameter (an id, a resource, an attribute) may have.
pub const TEXT_MAX_CHARS: usize = 1024;
/// Rows in a report page when `limit` is not given.
pub const PAGE_DEFAULT: u64 = 1000;
/// The most rows a report page may hold.
pub const PAGE_MAX: u64 = 10_000;
/// What `Retry-After` says when the server is busy, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;
/// Cheap ledger reads (`/healthz`, `/metrics`) at once: a pool apart from the expensive one,
/// so health stays answerable when reports fill theirs.
pub const LIGHT_READS: usize = 2;
/// Rounds of entry streams read from the ledger at once (and the streams' catching up with the
/// writer): a pool of their own, so followers neither take the API's permits nor wait on them.
pub const STREAM_READS: usize = 1;
/// The most entries one round of an entry stream reads while holding the ledger (more only
/// when one batch, which a round never splits, holds more).
pub const ROUND_ENTRIES: u64 = 4096;
/// The bytes of records an entry stream queues for its client beyond what the connection has
/// taken (one record larger than this is queued alone).
pub const STREAM_BUFFER_BYTES: usize = 1 << 20;
/// The most values a repeatable parameter (`type`, `source`, `subject`) may be given.
pub const MAX_REPEATS: usize = 8;

/// A setting outside its bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` must be between {min} and {max}, found {found}")]
pub struct OutOfBounds {
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
    pub found: u64,
}

/// Checks one setting against its bounds.
pub fn bounded(bounds: (&'static str, u64, u64), found: u64) -> Result<u64, OutOfBounds> {
    let (name, min, max) = bounds;
    if (min..=max).contains(&found) {
        Ok(found)
    } else {
        Err(OutOfBounds {
            name,
            min,
            max,
            found,
        })
    }
}

/// The limits a configuration sets, each `None` left at its default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitSettings {
    pub max_connections: Option<u64>,
    pub max_concurrent_reads: Option<u64>,
    pub header_read_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub max_followers: Option<u64>,
    pub follow_stall_timeout_ms: Option<u64>,
    pub follow_max_lag: Option<u64>,
}

impl Limits {
    /// The limits these settings give, or the first setting outside its bounds.
    pub fn from_settings(s: &LimitSettings) -> Result<Limits, OutOfBounds> {
        let d = Limits::default();
        let count = |bounds, given: Option<u64>, default: usize| -> Result<usize, OutOfBounds> {
            match given {
                // The bounds keep it far below `usize::MAX`.
                Some(n) => bounded(bounds, n).map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
                None => Ok(default),
            }
        };
        let time = |bounds, given: Option<u64>, default: Duration| match given {
            Some(ms) => bounded(bounds, ms).map(Duration::from_millis),
            None => Ok(default),
        };
        Ok(Limits {
            max_connections: count(MAX_CONNECTIONS, s.max_connections, d.max_connections)?,
            max_concurrent_reads: count(
                MAX_CONCURRENT_READS,
                s.max_concurrent_reads,
                d.max_concurrent_reads,
            )?,
            header_read_timeout: time(
                HEADER_READ_TIMEOUT_MS,
                s.header_read_timeout_ms,
                d.header_read_timeout,
            )?,
            idle_timeout: time(IDLE_TIMEOUT_MS, s.idle_timeout_ms, d.idle_timeout)?,
            request_timeout: time(REQUEST_TIMEOUT_MS, s.request_timeout_ms, d.request_timeout)?,
            max_followers: count(MAX_FOLLOWERS, s.max_followers, d.max_followers)?,
            follow_stall_timeout: time(
                FOLLOW_STALL_TIMEOUT_MS,
                s.follow_stall_timeout_ms,
                d.follow_stall_timeout,
            )?,
            follow_max_lag: match s.follow_max_lag {
                Some(n) => bounded(FOLLOW_MAX_LAG, n)?,
                None => d.follow_max_lag,
            },
        })
    }

    /// Threads the server's blocking work can use at most: every ledger read, cheap read and
    /// stream round at once (catching up with the writer runs inside a read's share).
    pub fn blocking_threads(&self) -> usize {
        self.max_concurrent_reads + LIGHT_READS + STREAM_READS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_within_bounds_are_taken_and_others_refused_by_name() {
        let all = |v: u64| LimitSettings {
            max_connections: Some(v),
            max_concurrent_reads: Some(v),
            header_read_timeout_ms: Some(v),
            idle_timeout_ms: Some(v),
            request_timeout_ms: Some(v),
            max_followers: Some(v),
            follow_stall_timeout_ms: Some(v),
            follow_max_lag: Some(v),
        };
        assert_eq!(
            Limits::from_settings(&LimitSettings::default()),
            Ok(Limits::default())
        );
        assert_eq!(
            Limits::from_settings(&all(200)),
            Ok(Limits {
                max_connections: 200,
                max_concurrent_reads: 200,
                header_read_timeout: Duration::from_millis(200),
                idle_timeout: Duration::from_millis(200),
                request_timeout: Duration::from_millis(200),
                max_followers: 200,
                follow_stall_timeout: Duration::from_millis(200),
                follow_max_lag: 200,
            })
        );
        let cases = [
            (
                LimitSettings {
                    max_connections: Some(0),
                    ..LimitSettings::default()
                },
                "`max_connections` must be between 1 and 65536, found 0",
            ),
            (
                LimitSettings {
                    max_concurrent_reads: Some(257),
                    ..LimitSettings::default()
                },
                "`max_concurrent_reads` must be between 1 and 256, found 257",
            ),
            (
                LimitSettings {
                    header_read_timeout_ms: Some(9),
                    ..LimitSettings::default()
                },
                "`header_read_timeout_ms` must be between 10 and 3600000, found 9",
            ),
            (
                LimitSettings {
                    idle_timeout_ms: Some(u64::MAX),
                    ..LimitSettings::default()
                },
                "`idle_timeout_ms` must be between 10 and 3600000, found 18446744073709551615",
            ),
            (
                LimitSettings {
                    request_timeout_ms: Some(0),
                    ..LimitSettings::default()
                },
                "`request_timeout_ms` must be between 10 and 3600000, found 0",
            ),
            (
                LimitSettings {
                    max_followers: Some(4_097),
                    ..LimitSettings::default()
                },
                "`max_followers` must be between 1 and 4096, found 4097",
            ),
            (
                LimitSettings {
                    follow_stall_timeout_ms: Some(5),
                    ..LimitSettings::default()
                },
                "`follow_stall_timeout_ms` must be between 10 and 3600000, found 5",
            ),
            (
                LimitSettings {
                    follow_max_lag: Some(0),
                    ..LimitSettings::default()
                },
                "`follow_max_lag` must be between 1 and 1000000000000, found 0",
            ),
        ];
        for (settings, says) in cases {
            let refused = Limits::from_settings(&settings).expect_err("out of bounds");
            assert_eq!(refused.to_string(), says);
        }
    }
}
