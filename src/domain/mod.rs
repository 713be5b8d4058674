//! The gateway's own vocabulary: parsed ids, phones, records, writes and read filters.
//!
//! Everything here is built by a fallible constructor ("parse, don't validate"): a value of
//! these types is valid by construction, so the upstream client never sees unchecked input.
//! The upstream's names of the standard columns are written in the column table only, and
//! only `upstream::wire` reads them.
//!
//! Layout:
//! - [`ids`]: [`DatasetId`], [`RecordId`], [`TableName`], [`Source`].
//! - [`column`]: the column table: [`Column`] (one line per column: names, kind, access) and
//!   the [`Record`] struct that follows from it.
//! - [`record`]: [`Record`]'s example; [`json`]: [`Record`] written as JSON by hand.
//! - [`value`]: [`Phone`], [`CustomFieldName`], text the wire can carry, [`WriteValue`] (a
//!   written value typed by its column's kind), and their bounds.
//! - [`write`]: [`CreateRequest`], [`NewRecord`], [`RecordPatch`], [`UpdateTarget`].
//! - [`filter`]: [`ReadFilter`], the query of a table read.
//! - [`dataset`]: [`dataset::Dataset`], campaign tables and fields, outcome codes.
//! - [`fields`]: [`CampaignColumns`], a campaign's columns as writes are checked against them.

pub mod column;
pub mod dataset;
pub mod fields;
pub mod filter;
pub mod ids;
pub mod json;
pub mod record;
pub mod value;
pub mod write;

pub use column::{Access, CellReader, Column, ColumnKind};
pub use fields::CampaignColumns;
pub use filter::{ReadFilter, ReadMode, SearchField, TimeField};
pub use ids::{DatasetId, RecordId, Source, TableName};
pub use json::JsonValue;
pub use record::Record;
pub use value::{CustomFieldName, Phone, WriteValue};
pub use write::{BodyTarget, CreateRequest, NewRecord, RecordPatch, UpdateTarget};
