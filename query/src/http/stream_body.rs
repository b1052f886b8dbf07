//! An entry stream's way to its client: records framed as NDJSON lines or server-sent events
//! (`Framing`), queued up to a byte budget for the connection to take (`Outlet`, the producer's
//! end; `StreamBody`, a pull-based body hyper takes chunks from when the socket has room), and
//! the final `resume` record that tells a client cut off where to go on.
//!
//! Nothing here touches the ledger: a producer reads a round, lets go of the reader, and only
//! then waits here for room. A client that takes nothing costs the server at most the budget
//! (plus the round being sent), and once it has been cut off and still takes nothing, only the
//! resume record (`Outlet::keep_only_resume`).

use crate::export::Record;
use axum::body::Bytes;
use http_body::Frame;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use std::time::Instant;
use tokio::sync::Notify;

/// How records are written on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One record per line (`application/x-ndjson`): the lines `idledger export` writes.
    Ndjson,
    /// One server-sent event per record (`text/event-stream`): `id:` the index the stream goes
    /// on from after it (so `Last-Event-ID` resumes), `event:` its kind, `data:` its line.
    Sse,
}

impl Framing {
    /// Server-sent events when the request's `Accept` names `text/event-stream`, else NDJSON.
    pub(crate) fn for_accept(accept: Option<&str>) -> Framing {
        let wants_events = accept.is_some_and(|a| {
            a.split(',').any(|range| {
                range
                    .split(';')
                    .next()
                    .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/event-stream"))
            })
        });
        if wants_events {
            Framing::Sse
        } else {
            Framing::Ndjson
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Framing::Ndjson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
        }
    }

    /// Appends one record, framed, to `out`.
    pub(crate) fn frame(self, out: &mut Vec<u8>, record: Record, line: &[u8]) {
        let event = match record {
            Record::Start { .. } => "start",
            Record::Entry { .. } => "entry",
            Record::Checkpoint { .. } => "checkpoint",
        };
        self.frame_event(out, event, record.resume_from(), line);
    }

    /// The `resume` record: not part of the verifiable stream, it tells the client the index to
    /// ask `from` next (`{"kind":"resume","from":N}`; as an event, `event: resume`).
    pub(crate) fn resume(self, from: u64) -> Bytes {
        let mut out = Vec::with_capacity(64);
        let line = format!(r#"{{"kind":"resume","from":{from}}}"#);
        self.frame_event(&mut out, "resume", from, line.as_bytes());
        Bytes::from(out)
    }

    fn frame_event(self, out: &mut Vec<u8>, event: &str, id: u64, line: &[u8]) {
        match self {
            Framing::Ndjson => {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            Framing::Sse => {
                out.extend_from_slice(format!("id: {id}\nevent: {event}\n").as_bytes());
                // A line holding a line break (none of the export's JSON does) goes as several
                // `data:` lines, which the client joins with newlines again.
                for part in line.split(|&b| b == b'\n') {
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(part.strip_suffix(b"\r").unwrap_or(part));
                    out.push(b'\n');
                }
                out.push(b'\n');
            }
        }
    }
}

/// What the producer and the body share.
#[derive(Debug)]
struct Queue {
    /// Chunks not yet taken, each with the index the stream goes on from after it.
    chunks: VecDeque<(Bytes, u64)>,
    bytes: usize,
    /// The index the stream goes on from after the last chunk the connection took.
    taken: u64,
    /// Since when the oldest untaken chunk has waited without the connection taking any.
    waiting_since: Option<Instant>,
    /// The producer will queue nothing more (the final record, if any, is queued).
    finished: bool,
    /// The body was dropped: the client went away, or the connection closed.
    body_gone: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// Told when the connection takes a chunk or drops the body.
    room: Notify,
    budget: usize,
    /// Bytes of the round being sent that are not queued yet (held by the producer).
    pending: AtomicUsize,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held for this stream: queued, and the rest of the round being sent.
    pub(crate) fn held_bytes(&self) -> usize {
        self.queue().bytes + self.pending.load(Ordering::Relaxed)
    }
}

/// Why a chunk was not queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The client went away.
    Gone,
    /// No room within the budget: the chunk, to offer again once the connection takes some.
    Full(Bytes),
}

/// The producer's end of a stream.
#[derive(Debug)]
pub(crate) struct Outlet {
    shared: Arc<Shared>,
}

/// The body hyper takes a stream's chunks from.
#[derive(Debug)]
pub(crate) struct StreamBody {
    shared: Arc<Shared>,
}

/// A stream that starts at index `from`, queuing at most `budget` bytes for its client.
pub(crate) fn channel(budget: usize, from: u64) -> (StreamBody, Outlet) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            chunks: VecDeque::new(),
            bytes: 0,
            taken: from,
            waiting_since: None,
            finished: false,
            body_gone: false,
            waker: None,
        }),
        room: Notify::new(),
        budget,
        pending: AtomicUsize::new(0),
    });
    (
        StreamBody {
            shared: Arc::clone(&shared),
        },
        Outlet { shared },
    )
}

impl Outlet {
    /// The shared state, for the server's account of what streams hold.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Queues `chunk` (after which the stream goes on from `resume_after`) if it fits the
    /// budget (a chunk larger than the budget fits an empty queue).
    pub(crate) fn try_queue(&self, chunk: Bytes, resume_after: u64) -> Result<(), Refused> {
        let mut q = self.shared.queue();
        if q.body_gone {
            return Err(Refused::Gone);
        }
        if q.bytes > 0 && q.bytes + chunk.len() > self.shared.budget {
            return Err(Refused::Full(chunk));
        }
        q.bytes += chunk.len();
        if q.chunks.is_empty() {
            q.waiting_since = Some(Instant::now());
        }
        q.chunks.push_back((chunk, resume_after));
        if let Some(w) = q.waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// Bytes of the round being sent that are not queued yet.
    pub(crate) fn set_pending(&self, bytes: usize) {
        self.shared.pending.store(bytes, Ordering::Relaxed);
    }

    /// The index the stream goes on from after what the connection has taken.
    pub(crate) fn taken(&self) -> u64 {
        self.shared.queue().taken
    }

    /// Whether chunks wait for the connection to take them.
    pub(crate) fn has_queued(&self) -> bool {
        !self.shared.queue().chunks.is_empty()
    }

    pub(crate) fn gone(&self) -> bool {
        self.shared.queue().body_gone
    }

    /// Whether chunks have waited `stall` without the connection taking any.
    pub(crate) fn stalled(&self, stall: Duration) -> bool {
        self.shared
            .queue()
            .waiting_since
            .is_some_and(|since| since.elapsed() >= stall)
    }

    /// Completes when the connection takes a chunk or drops the body.
    pub(crate) async fn changed(&self) {
        self.shared.room.notified().await;
    }

    /// Ends the stream after what is queued, and `last` (the resume record) after it.
    pub(crate) fn finish(&self, last: Option<Bytes>) {
        let mut q = self.shared.queue();
        if let Some(last) = last {
            let resume = q.chunks.back().map_or(q.taken, |(_, r)| *r);
            q.bytes += last.len();
            q.chunks.push_back((last, resume));
        }
        q.finished = true;
        if let Some(w) = q.waker.take() {
            w.wake();
        }
    }

    /// For a client cut off that still takes nothing: drops what it has not taken, and ends its
    /// stream with the resume record `resume(taken)` made for what it did take. Whether there
    /// was anything to drop.
    pub(crate) fn keep_only_resume(&self, resume: impl FnOnce(u64) -> Bytes) -> bool {
        let mut q = self.shared.queue();
        if q.chunks.len() <= 1 {
            return false;
        }
        let taken = q.taken;
        let last = resume(taken);
        q.chunks.clear();
        q.bytes = last.len();
        q.chunks.push_back((last, taken));
        true
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        let mut q = self.shared.queue();
        q.body_gone = true;
        q.chunks.clear();
        q.bytes = 0;
        drop(q);
        self.shared.room.notify_one();
    }
}

impl http_body::Body for StreamBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut q = self.shared.queue();
        match q.chunks.pop_front() {
            Some((chunk, resume_after)) => {
                q.bytes -= chunk.len();
                q.taken = resume_after;
                q.waiting_since = if q.chunks.is_empty() {
                    None
                } else {
                    Some(Instant::now())
                };
                drop(q);
                self.shared.room.notify_one();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            None if q.finished => Poll::Ready(None),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let q = self.shared.queue();
        q.finished && q.chunks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    #[test]
    fn records_are_framed_as_lines_or_as_events_that_name_where_to_resume() {
        let line = br#"{"kind":"entry","index":7}"#;
        // (framing, record, what goes on the wire)
        let cases: &[(Framing, Record, &str)] = &[
            (
                Framing::Ndjson,
                Record::Entry { index: 7 },
                "{\"kind\":\"entry\",\"index\":7}\n",
            ),
            (
                Framing::Sse,
                Record::Entry { index: 7 },
                "id: 8\nevent: entry\ndata: {\"kind\":\"entry\",\"index\":7}\n\n",
            ),
            (
                Framing::Sse,
                Record::Start { from: 3 },
                "id: 3\nevent: start\ndata: {\"kind\":\"entry\",\"index\":7}\n\n",
            ),
            (
                Framing::Sse,
                Record::Checkpoint { size: 9 },
                "id: 9\nevent: checkpoint\ndata: {\"kind\":\"entry\",\"index\":7}\n\n",
            ),
        ];
        for &(framing, record, want) in cases {
            let mut out = Vec::new();
            framing.frame(&mut out, record, line);
            assert_eq!(
                String::from_utf8_lossy(&out),
                want,
                "{framing:?} {record:?}"
            );
        }
        let mut split = Vec::new();
        Framing::Sse.frame(&mut split, Record::Entry { index: 0 }, b"a\r\nb");
        assert_eq!(split, b"id: 1\nevent: entry\ndata: a\ndata: b\n\n");
        assert_eq!(
            Framing::Ndjson.resume(12),
            Bytes::from_static(b"{\"kind\":\"resume\",\"from\":12}\n")
        );
        assert_eq!(
            Framing::Sse.resume(12),
            Bytes::from_static(
                b"id: 12\nevent: resume\ndata: {\"kind\":\"resume\",\"from\":12}\n\n"
            )
        );
    }

    #[test]
    fn event_streams_are_chosen_by_the_accept_header() {
        let cases = [
            (None, Framing::Ndjson),
            (Some("application/x-ndjson"), Framing::Ndjson),
            (Some("*/*"), Framing::Ndjson),
            (Some("text/event-stream"), Framing::Sse),
            (Some("Text/Event-Stream; q=0.9"), Framing::Sse),
            (Some("application/json, text/event-stream"), Framing::Sse),
            (Some("text/event-streams"), Framing::Ndjson),
        ];
        for (accept, want) in cases {
            assert_eq!(Framing::for_accept(accept), want, "{accept:?}");
        }
    }

    /// Polls the body once, without waiting.
    fn poll_once(body: &mut StreamBody) -> Poll<Option<Bytes>> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        Pin::new(body)
            .poll_frame(&mut cx)
            .map(|f| f.map(|f| f.expect("infallible").into_data().expect("data")))
    }

    #[test]
    fn a_client_that_takes_nothing_holds_the_budget_and_is_then_called_stalled() {
        let stall = Duration::from_millis(100);
        let (mut body, outlet) = channel(10, 0);
        let chunk = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert!(!outlet.stalled(Duration::ZERO), "nothing waits yet");
        assert_eq!(outlet.try_queue(chunk("aaaa"), 1), Ok(()));
        assert_eq!(outlet.try_queue(chunk("bbbb"), 2), Ok(()));
        assert_eq!(outlet.shared().held_bytes(), 8);
        // No room for four more bytes.
        assert_eq!(
            outlet.try_queue(chunk("cccc"), 3),
            Err(Refused::Full(chunk("cccc")))
        );
        assert_eq!(outlet.shared().held_bytes(), 8, "nothing beyond the budget");
        assert!(!outlet.stalled(stall));
        std::thread::sleep(stall);
        assert!(outlet.stalled(stall), "chunks waited the stall timeout");
        // The connection takes one chunk: there is room again, and the wait starts over.
        assert_eq!(poll_once(&mut body), Poll::Ready(Some(chunk("aaaa"))));
        assert_eq!(outlet.taken(), 1);
        assert!(!outlet.stalled(stall));
        assert_eq!(outlet.try_queue(chunk("cccc"), 3), Ok(()));
        // Cut off: the resume record follows what was queued...
        outlet.finish(Some(Framing::Ndjson.resume(3)));
        // ...until the client is found still taking nothing: then only the resume record for
        // what it took remains.
        assert!(outlet.keep_only_resume(|taken| Framing::Ndjson.resume(taken)));
        assert_eq!(
            poll_once(&mut body),
            Poll::Ready(Some(chunk("{\"kind\":\"resume\",\"from\":1}\n")))
        );
        assert_eq!(poll_once(&mut body), Poll::Ready(None));
        assert!(body.is_end_stream());
    }

    #[test]
    fn a_chunk_larger_than_the_budget_waits_for_an_empty_queue_and_a_dropped_body_is_gone() {
        let (mut body, outlet) = channel(4, 0);
        let big = Bytes::from(vec![b'x'; 9]);
        assert_eq!(outlet.try_queue(big.clone(), 1), Ok(()));
        assert_eq!(
            outlet.try_queue(big.clone(), 2),
            Err(Refused::Full(big.clone()))
        );
        assert_eq!(poll_once(&mut body), Poll::Ready(Some(big.clone())));
        assert_eq!(poll_once(&mut body), Poll::Pending);
        assert_eq!(outlet.try_queue(big.clone(), 2), Ok(()));
        drop(body);
        assert!(outlet.gone());
        assert_eq!(outlet.try_queue(big, 3), Err(Refused::Gone));
        assert_eq!(outlet.shared().held_bytes(), 0);
    }
}
