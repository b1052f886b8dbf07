//! Chunks of polled messages and the decode workers: the polling thread copies messages into a
//! chunk's one buffer, `Dispatch` hands full chunks to the workers round-robin, each worker
//! decodes and validates its chunk into `Decoded` messages and hands the emptied buffer back.

use crate::config::{TopicFormat, TopicFormats};
use idledger_ledger::{Item, Submission};
use idledger_proto::entry::{KafkaOrigin, Origin};
use idledger_proto::formats::Message;
use idledger_proto::formats::message::{Decoded as Decoded_, decode_message};
use idledger_proto::rejection::{KeptPayload, Rejection};
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A message as polled; its key and payload are in its chunk's buffer.
struct RawMessage {
    /// Shared by every message of the topic (interned by the polling thread).
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    key: Option<Range<usize>>,
    payload: Option<Range<usize>>,
    /// The CloudEvents headers (`ce_*`, `content-type`): names and value ranges in the buffer.
    headers: Vec<(String, Range<usize>)>,
}

/// A message as the polling thread hands it over, borrowed from the client.
pub(super) struct Polled<'m> {
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) timestamp_ms: Option<i64>,
    pub(super) key: Option<&'m [u8]>,
    pub(super) payload: Option<&'m [u8]>,
    /// The CloudEvents headers (`ce_*`, `content-type`); no other header is kept.
    pub(super) headers: &'m [(&'m str, &'m [u8])],
}

/// Polled messages on their way to a decode worker. Their keys and payloads are copied into one
/// buffer, which the worker hands back empty (with its list of messages) for the polling thread
/// to fill again: in a steady stream no polled message costs an allocation of its own, and the
/// chunk's buffers are not freed by a thread other than the one that allocated them (such frees
/// are the slow path of any allocator; glibc's, used by this crate's tests, takes the allocating
/// arena's lock; the binary runs on jemalloc).
#[derive(Default)]
pub(super) struct RawChunk {
    bytes: Vec<u8>,
    messages: Vec<RawMessage>,
}

/// A chunk buffer that grew past this (a chunk of unusually large messages) is freed rather
/// than kept for reuse, so the spares hold at most this much each.
const SPARE_CHUNK_MAX_BYTES: usize = 4 << 20;

impl RawChunk {
    /// Copies a polled message's key, payload and CloudEvents headers into the buffer.
    pub(super) fn push(&mut self, m: Polled<'_>) {
        let mut place = |b: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(b);
            start..self.bytes.len()
        };
        let key = m.key.map(&mut place);
        let payload = m.payload.map(&mut place);
        let headers = m
            .headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), place(value)))
            .collect();
        self.messages.push(RawMessage {
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
            timestamp_ms: m.timestamp_ms,
            key,
            payload,
            headers,
        });
    }

    pub(super) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Emptied for reuse, or `None` if it is too large to keep.
    fn into_spare(mut self) -> Option<RawChunk> {
        if self.bytes.capacity() > SPARE_CHUNK_MAX_BYTES {
            return None;
        }
        self.bytes.clear();
        self.messages.clear();
        Some(self)
    }
}

/// A decoded message, ready for the sequencer.
pub(super) struct Decoded {
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) offset: i64,
    /// What the message's records became, in order: one for a native message, none when every
    /// record was out of scope.
    pub(super) submissions: Vec<Submission>,
    /// The kinds of the message's records that were out of scope (`format:kind`).
    pub(super) out_of_scope: Vec<String>,
    /// Raw bytes for the dead-letter topic (only for quarantined, non-secret messages).
    pub(super) dead_letter: Option<Vec<u8>>,
}

pub(super) type Chunk<T> = Vec<T>;

/// Hands chunks of polled messages to workers in round-robin order.
pub(super) struct Dispatch {
    /// The chunk the polling thread is filling.
    pub(super) pending: RawChunk,
    next_worker: usize,
    senders: Vec<SyncSender<RawChunk>>,
    /// Chunks the workers have emptied, to be filled again.
    spares: Receiver<RawChunk>,
    /// Messages handed to the workers so far.
    pub(super) sent: u64,
}

impl Dispatch {
    /// Hands the pending chunk (if it holds anything) to the next worker; false once the
    /// workers are gone.
    pub(super) fn flush(&mut self) -> bool {
        if self.pending.messages.is_empty() {
            return true;
        }
        let spare = self.spares.try_recv().unwrap_or_default();
        let chunk = std::mem::replace(&mut self.pending, spare);
        let n = chunk.messages.len() as u64;
        let worker = self.next_worker;
        self.next_worker = (self.next_worker + 1) % self.senders.len();
        if self.senders[worker].send(chunk).is_err() {
            return false;
        }
        self.sent += n;
        true
    }

    /// Closes the workers' inputs: each finishes what it was given, then ends.
    pub(super) fn close(&mut self) {
        self.senders.clear();
    }
}

/// One decode worker's ends of the pipeline.
pub(super) struct DecodeWorker {
    input: Receiver<RawChunk>,
    output: SyncSender<Chunk<Decoded>>,
    spares: SyncSender<RawChunk>,
    keep_dead_letters: bool,
    formats: Arc<TopicFormats>,
}

impl DecodeWorker {
    /// Decodes chunks until its input is closed or the sequencer has gone.
    pub(super) fn run(self) {
        for chunk in self.input {
            let (decoded, emptied) = decode_chunk(chunk, self.keep_dead_letters, &self.formats);
            if self.output.send(decoded).is_err() {
                break;
            }
            // Full only if the polling thread has stopped taking spares.
            if let Some(spare) = emptied.into_spare() {
                let _ = self.spares.try_send(spare);
            }
        }
    }
}

/// The decode stage's channels: what feeds the workers, the workers, and the sequencer's
/// inputs, one per worker in the order chunks are dispatched.
pub(super) struct DecodeStage {
    pub(super) dispatch: Dispatch,
    pub(super) workers: Vec<DecodeWorker>,
    pub(super) decoded: Vec<Receiver<Chunk<Decoded>>>,
}

impl DecodeStage {
    /// Channels for `workers` workers, each with `queue` chunks in and out.
    pub(super) fn new(
        workers: usize,
        queue: usize,
        keep_dead_letters: bool,
        formats: Arc<TopicFormats>,
    ) -> DecodeStage {
        // As many spares as chunks can be queued, plus one being decoded per worker.
        let (spare_sender, spares) = sync_channel::<RawChunk>(workers * (queue + 1));
        let mut senders = Vec::new();
        let mut stage = DecodeStage {
            dispatch: Dispatch {
                pending: RawChunk::default(),
                next_worker: 0,
                senders: Vec::new(),
                spares,
                sent: 0,
            },
            workers: Vec::new(),
            decoded: Vec::new(),
        };
        for _ in 0..workers {
            let (raw_sender, input) = sync_channel::<RawChunk>(queue);
            let (output, decoded) = sync_channel::<Chunk<Decoded>>(queue);
            senders.push(raw_sender);
            stage.workers.push(DecodeWorker {
                input,
                output,
                spares: spare_sender.clone(),
                keep_dead_letters,
                formats: formats.clone(),
            });
            stage.decoded.push(decoded);
        }
        stage.dispatch.senders = senders;
        stage
    }
}

/// A key's or payload's bytes in its chunk's buffer.
fn placed<'a>(bytes: &'a [u8], range: &Option<Range<usize>>) -> Option<&'a [u8]> {
    range.clone().map(|r| &bytes[r])
}

/// Decodes a chunk, handing back its emptied buffers.
fn decode_chunk(
    mut chunk: RawChunk,
    keep_dead_letters: bool,
    formats: &TopicFormats,
) -> (Chunk<Decoded>, RawChunk) {
    let RawChunk { bytes, messages } = &mut chunk;
    let decoded = messages
        .drain(..)
        .map(|m| {
            let origin = Origin::Kafka(KafkaOrigin::new(
                &m.topic,
                m.partition,
                m.offset,
                m.timestamp_ms,
                placed(bytes, &m.key),
            ));
            let headers: Vec<(&str, &[u8])> = m
                .headers
                .iter()
                .map(|(name, range)| (name.as_str(), &bytes[range.clone()]))
                .collect();
            let read = match placed(bytes, &m.payload) {
                None => Read {
                    submissions: vec![Submission {
                        origin,
                        item: Item::Rejected(Rejection::tombstone()),
                    }],
                    out_of_scope: Vec::new(),
                    dead_letter: None,
                },
                Some(p) => {
                    read_message(p, &headers, formats.of(&m.topic), origin, keep_dead_letters)
                }
            };
            Decoded {
                topic: m.topic,
                partition: m.partition,
                offset: m.offset,
                submissions: read.submissions,
                out_of_scope: read.out_of_scope,
                dead_letter: read.dead_letter,
            }
        })
        .collect();
    (decoded, chunk)
}

/// What one message's payload became.
struct Read {
    submissions: Vec<Submission>,
    out_of_scope: Vec<String>,
    dead_letter: Option<Vec<u8>>,
}

/// Reads a payload in its topic's format: each record an event, a rejection or an
/// out-of-scope count. A message with a rejected record is a dead letter (its raw bytes), unless
/// a rejection kept only a hash (secret material).
fn read_message(
    payload: &[u8],
    headers: &[(&str, &[u8])],
    topic: &TopicFormat,
    origin: Origin,
    keep_dead_letters: bool,
) -> Read {
    let message = Message { payload, headers };
    let mut read = Read {
        submissions: Vec::with_capacity(1),
        out_of_scope: Vec::new(),
        dead_letter: None,
    };
    let mut rejected = false;
    let mut redacted = false;
    for record in decode_message(topic.format, &topic.settings, message) {
        let item = match record {
            Decoded_::Event(event) => Item::Event(event),
            Decoded_::Rejected(rejection) => {
                rejected = true;
                redacted |= !matches!(rejection.payload, KeptPayload::Raw { .. });
                Item::Rejected(rejection)
            }
            Decoded_::OutOfScope { format, kind } => {
                read.out_of_scope.push(format!("{format}:{kind}"));
                continue;
            }
        };
        read.submissions.push(Submission {
            origin: origin.clone(),
            item,
        });
    }
    if keep_dead_letters && rejected && !redacted {
        read.dead_letter = Some(payload.to_vec());
    }
    read
}

#[cfg(test)]
mod tests {
    use super::{Polled, RawChunk, SPARE_CHUNK_MAX_BYTES, decode_chunk, placed};
    use crate::config::TopicFormats;
    use idledger_ledger::Item;
    use idledger_proto::entry::{MessageKey, Origin};
    use std::sync::Arc;

    /// (key, payload) of messages polled one after another.
    type KeysAndPayloads<'a> = [(Option<&'a [u8]>, Option<&'a [u8]>)];

    fn fill(chunk: &mut RawChunk, messages: &KeysAndPayloads<'_>) {
        let topic: Arc<str> = Arc::from("t");
        for (i, (key, payload)) in messages.iter().enumerate() {
            chunk.push(Polled {
                topic: topic.clone(),
                partition: 3,
                offset: 100 + i as i64,
                timestamp_ms: Some(7),
                key: *key,
                payload: *payload,
                headers: &[],
            });
        }
    }

    #[test]
    fn a_chunk_buffer_gives_back_each_key_and_payload_as_polled_also_when_reused() {
        // No key and an empty key, a tombstone (no payload) and an empty payload must stay
        // apart: they are quarantined for different reasons.
        let first: &KeysAndPayloads<'_> = &[
            (Some(b"k1"), Some(b"{\"a\":1}")),
            (None, None),
            (Some(b""), Some(b"")),
            (Some(b"key-two"), None),
        ];
        let second: &KeysAndPayloads<'_> = &[(None, Some(b"xyz")), (Some(b"k"), Some(b""))];
        let mut chunk = RawChunk::default();
        for messages in [first, second] {
            fill(&mut chunk, messages);
            let got: Vec<_> = chunk
                .messages
                .iter()
                .map(|m| {
                    (
                        placed(&chunk.bytes, &m.key),
                        placed(&chunk.bytes, &m.payload),
                    )
                })
                .collect();
            let want: Vec<_> = messages.iter().map(|(k, p)| (*k, *p)).collect();
            assert_eq!(got, want);
            chunk = chunk
                .into_spare()
                .expect("a small buffer is kept for reuse");
            assert!(chunk.messages.is_empty() && chunk.bytes.is_empty());
        }
    }

    #[test]
    fn an_oversized_chunk_buffer_is_not_kept() {
        let big = vec![b'x'; SPARE_CHUNK_MAX_BYTES + 1];
        let mut chunk = RawChunk::default();
        fill(&mut chunk, &[(None, Some(&big))]);
        assert!(chunk.into_spare().is_none());
    }

    const SECRET_KEY: &[u8] = br#"{"user":"svc","password":"hunter2"}"#;

    #[test]
    fn decoding_a_chunk_keeps_each_messages_provenance_and_outcome() {
        let mut chunk = RawChunk::default();
        fill(
            &mut chunk,
            &[
                (Some(b"k1"), None),
                (None, Some(b"")),
                (None, Some(b"not json")),
                (Some(SECRET_KEY), Some(b"not json")),
            ],
        );
        let (decoded, emptied) = decode_chunk(chunk, true, &TopicFormats::default());
        assert_eq!(emptied.messages.len(), 0, "the messages were taken");
        assert!(
            emptied.messages.capacity() >= 3,
            "the list of messages is kept for reuse"
        );
        // (offset, kept key, rejection class, dead letter kept)
        let got: Vec<_> = decoded
            .iter()
            .map(|d| {
                let [submission] = d.submissions.as_slice() else {
                    panic!("one submission per native message")
                };
                let Origin::Kafka(o) = &submission.origin else {
                    panic!("a Kafka origin")
                };
                let class = match &submission.item {
                    Item::Rejected(r) => Some(r.reason.class()),
                    _ => None,
                };
                (o.offset, o.key.clone(), class, d.dead_letter.clone())
            })
            .collect();
        let want = vec![
            (
                100,
                MessageKey::Kept(b"k1".to_vec()),
                Some("tombstone"),
                None,
            ),
            (
                101,
                MessageKey::Absent,
                Some("empty_payload"),
                Some(Vec::new()),
            ),
            (
                102,
                MessageKey::Absent,
                Some("not_json"),
                Some(b"not json".to_vec()),
            ),
            // A key that carries a secret is kept only as its length and hash.
            (
                103,
                MessageKey::Redacted {
                    total_len: SECRET_KEY.len() as u64,
                    sha256: idledger_proto::hash::sha256(SECRET_KEY).0,
                },
                Some("not_json"),
                Some(b"not json".to_vec()),
            ),
        ];
        assert_eq!(got, want);
    }
}
