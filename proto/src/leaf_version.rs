//! Which leaf format version is being decoded, and the decoders of the types whose layout
//! changed between versions, so that leaves written by every earlier version still read.
//!
//! Version 2 (source formats) appended `outcome` and `membership` to the event, made a
//! credential's fingerprint optional, and appended the source record to an event entry
//! (docs/FORMAT.md). A version-1 leaf reads as a version-2 value with a succeeded outcome, no
//! membership, its credential's fingerprint present, and no source record.

use crate::entry::EventEntry;
use crate::event::{Credential, Event, Outcome};
use crate::source_record::SourceRecord;
use crate::view::{CredentialView, EventEntryView, EventView};
use bincode::de::{BorrowDecoder, Decoder};
use bincode::error::DecodeError;
use bincode::{BorrowDecode, Decode};

/// The version of the leaf being decoded: the decode context of every leaf type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeafVersion(pub u8);

impl LeafVersion {
    /// Version 1: native events only.
    pub const FIRST: LeafVersion = LeafVersion(1);
    /// The version this code writes.
    pub const CURRENT: LeafVersion = LeafVersion(crate::entry::FORMAT_VERSION);

    /// Whether this version's events carry an outcome, a membership kind and a source record,
    /// and its credentials an optional fingerprint.
    fn has_source_formats(self) -> bool {
        self.0 >= 2
    }
}

/// A credential's fingerprint: always present in version 1, optional from version 2.
fn fingerprint<D: Decoder<Context = LeafVersion>>(
    d: &mut D,
) -> Result<Option<[u8; 32]>, DecodeError> {
    if d.context().has_source_formats() {
        Option::<[u8; 32]>::decode(d)
    } else {
        <[u8; 32]>::decode(d).map(Some)
    }
}

/// A version-2 field, or its version-1 meaning when the leaf predates it.
fn since_v2<T: Decode<LeafVersion>, D: Decoder<Context = LeafVersion>>(
    d: &mut D,
    before: T,
) -> Result<T, DecodeError> {
    if d.context().has_source_formats() {
        T::decode(d)
    } else {
        Ok(before)
    }
}

/// `since_v2` for a borrowed field.
fn borrowed_since_v2<
    'de,
    T: BorrowDecode<'de, LeafVersion>,
    D: BorrowDecoder<'de, Context = LeafVersion>,
>(
    d: &mut D,
    before: T,
) -> Result<T, DecodeError> {
    if d.context().has_source_formats() {
        T::borrow_decode(d)
    } else {
        Ok(before)
    }
}

impl Decode<LeafVersion> for Credential {
    fn decode<D: Decoder<Context = LeafVersion>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(Credential {
            id: Decode::decode(d)?,
            kind: Decode::decode(d)?,
            fingerprint: fingerprint(d)?,
        })
    }
}
bincode::impl_borrow_decode_with_context!(Credential, LeafVersion);

impl<'de> BorrowDecode<'de, LeafVersion> for CredentialView<'de> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = LeafVersion>>(
        d: &mut D,
    ) -> Result<Self, DecodeError> {
        Ok(CredentialView {
            id: BorrowDecode::borrow_decode(d)?,
            kind: BorrowDecode::borrow_decode(d)?,
            fingerprint: fingerprint(d)?,
        })
    }
}

impl Decode<LeafVersion> for Event {
    fn decode<D: Decoder<Context = LeafVersion>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(Event {
            source: Decode::decode(d)?,
            id: Decode::decode(d)?,
            kind: Decode::decode(d)?,
            time: Decode::decode(d)?,
            actor: Decode::decode(d)?,
            subject: Decode::decode(d)?,
            grant_id: Decode::decode(d)?,
            request_id: Decode::decode(d)?,
            resource: Decode::decode(d)?,
            reason: Decode::decode(d)?,
            ticket: Decode::decode(d)?,
            policy: Decode::decode(d)?,
            decision: Decode::decode(d)?,
            expires_at: Decode::decode(d)?,
            exception: Decode::decode(d)?,
            credential: Decode::decode(d)?,
            owner: Decode::decode(d)?,
            attributes: Decode::decode(d)?,
            outcome: since_v2(d, Outcome::Succeeded)?,
            membership: since_v2(d, None)?,
        })
    }
}
bincode::impl_borrow_decode_with_context!(Event, LeafVersion);

impl<'de> BorrowDecode<'de, LeafVersion> for EventView<'de> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = LeafVersion>>(
        d: &mut D,
    ) -> Result<Self, DecodeError> {
        Ok(EventView {
            source: BorrowDecode::borrow_decode(d)?,
            id: BorrowDecode::borrow_decode(d)?,
            kind: BorrowDecode::borrow_decode(d)?,
            time: BorrowDecode::borrow_decode(d)?,
            actor: BorrowDecode::borrow_decode(d)?,
            subject: BorrowDecode::borrow_decode(d)?,
            grant_id: BorrowDecode::borrow_decode(d)?,
            request_id: BorrowDecode::borrow_decode(d)?,
            resource: BorrowDecode::borrow_decode(d)?,
            reason: BorrowDecode::borrow_decode(d)?,
            ticket: BorrowDecode::borrow_decode(d)?,
            policy: BorrowDecode::borrow_decode(d)?,
            decision: BorrowDecode::borrow_decode(d)?,
            expires_at: BorrowDecode::borrow_decode(d)?,
            exception: BorrowDecode::borrow_decode(d)?,
            credential: BorrowDecode::borrow_decode(d)?,
            owner: BorrowDecode::borrow_decode(d)?,
            attributes: BorrowDecode::borrow_decode(d)?,
            outcome: borrowed_since_v2(d, Outcome::Succeeded)?,
            membership: borrowed_since_v2(d, None)?,
        })
    }
}

impl Decode<LeafVersion> for EventEntry {
    fn decode<D: Decoder<Context = LeafVersion>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(EventEntry {
            links: Decode::decode(d)?,
            event: Decode::decode(d)?,
            record: since_v2::<Option<SourceRecord>, _>(d, None)?,
        })
    }
}
bincode::impl_borrow_decode_with_context!(EventEntry, LeafVersion);

impl<'de> BorrowDecode<'de, LeafVersion> for EventEntryView<'de> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = LeafVersion>>(
        d: &mut D,
    ) -> Result<Self, DecodeError> {
        Ok(EventEntryView {
            links: BorrowDecode::borrow_decode(d)?,
            event: BorrowDecode::borrow_decode(d)?,
            record: borrowed_since_v2::<Option<SourceRecord>, _>(d, None)?,
        })
    }
}
