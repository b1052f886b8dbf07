//! `GET /v1/entries`: entries as the export stream `idledger export` writes (a start line, entry
//! lines, checkpoint lines; docs/EXPORT.md), as NDJSON or server-sent events: a range, or
//! following the log as new checkpoints cover new entries.
//!
//! A stream is made in rounds. Each round reads at most `ROUND_ENTRIES` entries (one batch, if
//! a batch is larger) into memory on the streams' own blocking pool, lets go of the ledger, and
//! only then is queued for the client (`stream_body`): a slow client never holds a reader, an
//! iterator or a permit the API needs. A client that leaves what was sent untaken for the stall
//! timeout, or lets more than `follow_max_lag` entries signed since it connected go untaken, is
//! sent a `resume` record naming the index after the last record it was sent, and its stream
//! ends; so does every stream when the server stops.

use super::access::Work;
use super::failures::{error, internal, unavailable};
use super::limits::{ROUND_ENTRIES, STREAM_BUFFER_BYTES};
use super::params::Args;
use super::stream_body::{self, Framing, Outlet, Refused};
use super::streams::covered_size;
use super::{ServerState, query_error};
use crate::answers::QueryError;
use crate::export::{Collected, ExportFilter, ExportOptions, export, export_more};
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::Seq;
use idledger_proto::export::RecordFormat;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, watch};

/// The header a server-sent events client resumes with.
const LAST_EVENT_ID: &str = "last-event-id";
/// Records are queued in chunks of about this many bytes (a round's last chunk is smaller).
const CHUNK_BYTES: usize = 64 * 1024;
/// How often a producer waiting for its client looks whether it stalled or lags.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// What a request asked for, checked.
#[derive(Clone, Debug)]
struct Asked {
    options: ExportOptions,
    follow: bool,
    framing: Framing,
}

impl Asked {
    /// The request's parameters and headers as a stream's options, or the 400 saying why not.
    fn of(args: &Args, headers: &HeaderMap) -> Result<Asked, Response> {
        let resumed = match headers.get(LAST_EVENT_ID) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .map(str::trim)
                    .and_then(super::params::decimal)
                    .ok_or_else(|| {
                        error(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "the Last-Event-ID header must be an index (the `id` of an event this stream sent), found `{}`",
                                String::from_utf8_lossy(v.as_bytes())
                            ),
                        )
                    })?,
            ),
        };
        // A client reconnecting after events repeats its first URL: the header says where it
        // got to, so it wins over `from` (which the gate checked is there).
        let from = resumed.or(args.integer("from")).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "`from` is required: the index the stream starts at",
            )
        })?;
        let to = args.integer("to");
        if let Some(to) = to
            && to <= from
        {
            return Err(error(
                StatusCode::NOT_FOUND,
                format!("nothing to send from {from} to {to}: `to` must be above `from`"),
            ));
        }
        let filter = ExportFilter {
            types: args.texts("type"),
            sources: args.texts("source"),
            subjects: args.texts("subject"),
            human: args.text("kind").map(|k| k == "human"),
            quarantined: args.flag_given("quarantined"),
        };
        // The gate checked the name against `RecordFormat`'s.
        let format = match args.text("format").map(str::parse::<RecordFormat>) {
            None => RecordFormat::default(),
            Some(Ok(f)) => f,
            Some(Err(e)) => return Err(error(StatusCode::BAD_REQUEST, e.to_string())),
        };
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        Ok(Asked {
            options: ExportOptions {
                from,
                to,
                proofs: args.flag("proofs"),
                format,
                filter,
                ..ExportOptions::default()
            },
            follow: args.flag("follow"),
            framing: Framing::for_accept(accept),
        })
    }

    /// The options of a round that ends at `end` at the latest.
    fn round(&self, end: u64) -> ExportOptions {
        ExportOptions {
            to: Some(end),
            ..self.options.clone()
        }
    }
}

/// A round read from the ledger: its records and the index after them.
#[derive(Debug)]
struct Round {
    records: Collected,
    end: u64,
}

/// Where a round read from `from` ends, below `limit`: the last checkpoint within
/// `ROUND_ENTRIES` entries, or, when one batch holds more, the end of that batch.
fn round_end(reader: &LedgerReader<'_>, from: u64, limit: u64) -> Result<u64, QueryError> {
    let cap = from.saturating_add(ROUND_ENTRIES);
    if cap >= limit {
        return Ok(limit);
    }
    if let Some(&last) = reader.checkpoint_sizes(from + 1, cap)?.last() {
        return Ok(last);
    }
    match reader.checkpoint_covering(Seq(cap)) {
        Ok((size, _)) => Ok(size.0.min(limit)),
        Err(ReadError::NoCheckpoint) => Ok(limit),
        Err(e) => Err(e.into()),
    }
}

/// The next round from `next` (the stream's start line first, unless `started`), up to `to`
/// and what checkpoints cover now; `None` when no checkpoint ends in that range.
fn read_round(
    reader: &LedgerReader<'_>,
    asked: &Asked,
    next: u64,
    started: bool,
) -> Result<Option<Round>, QueryError> {
    let limit = covered_size(reader)?.min(asked.options.to.unwrap_or(u64::MAX));
    if limit <= next {
        return Ok(None);
    }
    let end = round_end(reader, next, limit)?;
    let mut records = Collected::default();
    let summary = if started {
        export_more(reader, &asked.round(end), next, &mut records)?
    } else {
        Some(export(reader, &asked.round(end), &mut records)?)
    };
    Ok(summary.map(|s| Round {
        records,
        end: s.end,
    }))
}

/// The request's first look at the ledger: its first round, or, for a follow from the latest
/// checkpoint, nothing yet; with the covered size it saw.
fn first_round(
    reader: &LedgerReader<'_>,
    asked: &Asked,
) -> Result<(Option<Round>, u64), FirstRefusal> {
    let covered = covered_size(reader)?;
    let from = asked.options.from;
    if asked.follow && from >= covered {
        if from > covered {
            return Err(FirstRefusal::Empty(format!(
                "nothing to follow from {from}: it is past the latest checkpoint (tree size {covered}); a follow starts at most there"
            )));
        }
        return Ok((None, covered));
    }
    let to = asked.options.to.unwrap_or(u64::MAX).min(covered);
    let end = round_end(reader, from, to.max(from.saturating_add(1)))?;
    let mut records = Collected::default();
    // `export` refuses a range that holds nothing (it starts past the end, or no checkpoint
    // ends in it), saying so.
    let summary = match export(reader, &asked.round(end), &mut records) {
        Ok(summary) => summary,
        Err(QueryError::BadRequest(nothing)) => return Err(FirstRefusal::Empty(nothing)),
        Err(e) => return Err(e.into()),
    };
    Ok((
        Some(Round {
            records,
            end: summary.end,
        }),
        covered,
    ))
}

/// Why a stream is not started.
#[derive(Debug)]
enum FirstRefusal {
    /// The range holds nothing to send (404).
    Empty(String),
    Read(QueryError),
}

impl<E: Into<QueryError>> From<E> for FirstRefusal {
    fn from(e: E) -> FirstRefusal {
        FirstRefusal::Read(e.into())
    }
}

/// `GET /v1/entries` (see the module's doc).
pub(crate) async fn entries(
    State(s): State<Arc<ServerState>>,
    Extension(args): Extension<Args>,
    Extension(work): Extension<Work>,
    headers: HeaderMap,
) -> Response {
    let asked = match Asked::of(&args, &headers) {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    let Some(slot) = s.streams.slot() else {
        return unavailable(format!(
            "{} entry streams are open, as many as the server allows (max_followers); try again later",
            s.streams.max()
        ));
    };
    // The first round runs with the request's own permit, after the gate caught up with the
    // writer: a refusal (nothing to export, `from` past the end) is an answer, not a stream.
    let (reading, looking) = (Arc::clone(&s), asked.clone());
    let first = tokio::task::spawn_blocking(move || {
        #[cfg(test)]
        if let Some(hook) = &work.hook {
            hook.pass();
        }
        let first = first_round(&reading.ledger.current().reader(), &looking);
        drop(work);
        first
    })
    .await;
    let (first, covered) = match first {
        Ok(Ok(f)) => f,
        Ok(Err(FirstRefusal::Empty(nothing))) => return error(StatusCode::NOT_FOUND, nothing),
        Ok(Err(FirstRefusal::Read(e))) => return query_error(e),
        Err(e) => return internal(format!("the first round of a stream failed: {e}")),
    };
    let (body, outlet) = stream_body::channel(STREAM_BUFFER_BYTES, asked.options.from);
    s.streams.register(outlet.shared());
    if asked.follow {
        s.streams.saw_covered(covered);
        s.watch_for_followers();
    }
    // CEF lines are not JSON: one per line, as text.
    let content_type = match (asked.framing, asked.options.format) {
        (Framing::Ndjson, RecordFormat::Cef) => "text/plain; charset=utf-8",
        (framing, _) => framing.content_type(),
    };
    let producer = Producer {
        next: asked.options.from,
        started: false,
        covered_at_start: covered,
        target: covered,
        covered: s.streams.covered(),
        stopping: s.streams.stopping(),
        state: Arc::clone(&s),
        asked,
        outlet,
    };
    tokio::spawn(producer.run(first, slot));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::new(body),
    )
        .into_response()
}

/// Why a stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The range is sent (or, following, `to` is reached).
    Done,
    /// The client went away.
    Gone,
    /// The client left what was sent untaken for the stall timeout.
    Stalled,
    /// The client fell more than `follow_max_lag` entries behind.
    Lagging,
    /// The server is stopping.
    Stopping,
    /// Reading the ledger failed, again and again.
    Failed,
}

/// Rounds that fail in a row before a stream gives up (with a resume record).
const MAX_FAILED_ROUNDS: u32 = 10;

/// One stream's producer: reads rounds, queues them, waits for more.
struct Producer {
    state: Arc<ServerState>,
    asked: Asked,
    outlet: Outlet,
    /// The index the stream goes on from after what was queued.
    next: u64,
    /// Whether the start line was queued.
    started: bool,
    /// The covered size when the client connected: entries below it are a backlog it chose,
    /// not a lag.
    covered_at_start: u64,
    /// Without `follow`: where the range ends (what was covered when the client connected).
    target: u64,
    /// The covered size, as the streams' watcher last saw it.
    covered: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
}

impl Producer {
    async fn run(mut self, first: Option<Round>, slot: OwnedSemaphorePermit) {
        let end = self.produce(first).await;
        // The slot is for producing: a client cut off no longer counts against the limit.
        drop(slot);
        let limits = &self.state.limits;
        let framing = self.asked.framing;
        match end {
            End::Gone => return,
            End::Done => {
                self.outlet.finish(None);
                return;
            }
            End::Stalled => {
                self.state
                    .streams
                    .cut_stalled
                    .fetch_add(1, Ordering::Relaxed);
            }
            End::Lagging => {
                self.state
                    .streams
                    .cut_lagging
                    .fetch_add(1, Ordering::Relaxed);
            }
            End::Stopping | End::Failed => {}
        }
        tracing::info!(
            ending = ?end,
            resume_from = self.next,
            "an entry stream ends, telling its client where to resume"
        );
        self.outlet.set_pending(0);
        self.outlet.finish(Some(framing.resume(self.next)));
        // A client still taking nothing a stall timeout later keeps only its resume record,
        // made for what it did take: the server holds no more for it.
        tokio::time::sleep(limits.follow_stall_timeout).await;
        if self.outlet.keep_only_resume(|taken| framing.resume(taken)) {
            tracing::info!(
                resume_from = self.outlet.taken(),
                "a stream's client took nothing after being cut off: its queue is dropped"
            );
        }
    }

    async fn produce(&mut self, first: Option<Round>) -> End {
        if let Some(round) = first
            && let Err(end) = self.send(round).await
        {
            return end;
        }
        let mut failures = 0u32;
        loop {
            if *self.stopping.borrow() {
                return End::Stopping;
            }
            if self.asked.options.to.is_some_and(|to| self.next >= to) {
                return End::Done;
            }
            if self.asked.follow
                && let Err(end) = self.wait_for_more().await
            {
                return end;
            }
            match self.read().await {
                Ok(Some(round)) => {
                    failures = 0;
                    if let Err(end) = self.send(round).await {
                        return end;
                    }
                }
                Ok(None) if !self.asked.follow || self.reached_to() => return End::Done,
                Ok(None) => {}
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, next = self.next, failures, "a round of an entry stream failed");
                    if failures >= MAX_FAILED_ROUNDS {
                        return End::Failed;
                    }
                    tokio::time::sleep(super::streams::WATCH_INTERVAL).await;
                }
            }
        }
    }

    /// Following with `to`: whether checkpoints now cover it (no checkpoint can end below it any
    /// more that was not read).
    fn reached_to(&self) -> bool {
        self.asked
            .options
            .to
            .is_some_and(|to| *self.covered.borrow() >= to || self.next >= to)
    }

    /// The next round, read on the streams' pool.
    async fn read(&self) -> Result<Option<Round>, QueryError> {
        let permit = self
            .state
            .streams
            .round_permit()
            .await
            .ok_or_else(|| QueryError::BadRequest("the server is stopping".into()))?;
        let (s, asked, next, started) = (
            Arc::clone(&self.state),
            self.asked.clone(),
            self.next,
            self.started,
        );
        let target = (!asked.follow).then_some(self.target);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut asked = asked;
            if let Some(t) = target {
                // A range ends where checkpoints covered it when the client connected.
                asked.options.to = Some(asked.options.to.map_or(t, |to| to.min(t)));
            }
            read_round(&s.ledger.current().reader(), &asked, next, started)
        })
        .await
        .map_err(|e| QueryError::Encode(format!("a round of an entry stream failed: {e}")))?
    }

    /// Queues a round's records in chunks, each once the client has room for it.
    async fn send(&mut self, round: Round) -> Result<(), End> {
        let total: usize = round.records.iter().map(|(_, line)| line.len() + 1).sum();
        let mut pending = total;
        self.outlet.set_pending(pending);
        let mut chunk = Vec::with_capacity(CHUNK_BYTES + 1024);
        let mut records = round.records.iter().peekable();
        while let Some((record, line)) = records.next() {
            self.asked.framing.frame(&mut chunk, record, line);
            pending = pending.saturating_sub(line.len() + 1);
            if chunk.len() < CHUNK_BYTES && records.peek().is_some() {
                continue;
            }
            let resume_after = record.resume_from();
            let mut offered = Bytes::from(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(CHUNK_BYTES + 1024),
            ));
            loop {
                match self.outlet.try_queue(offered, resume_after) {
                    Ok(()) => break,
                    Err(Refused::Gone) => return Err(End::Gone),
                    Err(Refused::Full(back)) => offered = back,
                }
                self.check_client()?;
                let _ = tokio::time::timeout(CHECK_EVERY, self.outlet.changed()).await;
            }
            self.next = resume_after;
            self.outlet.set_pending(pending);
            // A stream's first chunk holds its start line.
            self.started = true;
        }
        self.outlet.set_pending(0);
        self.next = round.end.max(self.next);
        self.started = true;
        Ok(())
    }

    /// Whether the client is still one to produce for: there, taking what was sent, and (when
    /// following) not too far behind.
    fn check_client(&self) -> Result<(), End> {
        if self.outlet.gone() {
            return Err(End::Gone);
        }
        if *self.stopping.borrow() {
            return Err(End::Stopping);
        }
        if self.outlet.stalled(self.state.limits.follow_stall_timeout) {
            return Err(End::Stalled);
        }
        // Lagging is judged only while records wait for the client: a burst of entries not
        // sent yet is the server's to send, not the client's lag.
        if self.asked.follow && self.outlet.has_queued() {
            let covered = *self.covered.borrow();
            // Entries signed since the client connected that it has not taken: what it chose
            // to catch up on when it connected is not a lag.
            let behind = covered.saturating_sub(self.outlet.taken().max(self.covered_at_start));
            if behind > self.state.limits.follow_max_lag {
                return Err(End::Lagging);
            }
        }
        Ok(())
    }

    /// Following: waits until checkpoints cover entries past `next`, ending the stream if the
    /// client stalls, lags, goes away, or the server stops.
    async fn wait_for_more(&mut self) -> Result<(), End> {
        let _waiting = self.state.streams.waiting();
        loop {
            self.check_client()?;
            if *self.covered.borrow_and_update() > self.next {
                return Ok(());
            }
            tokio::select! {
                _ = self.covered.changed() => {}
                _ = self.stopping.changed() => {}
                () = self.outlet.changed() => {}
                () = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    }
}
