//! The gateway's own vocabulary: parsed ids, phones, records, writes and read filters.
//!
//! Everything here is built by a fallible constructor ("parse, don't validate"): a value of
//! these types is valid by construction, so the upstream client never sees unchecked input.
//! Nothing here knows the upstream's wire names.
//!
//! Layout:
//! - [`ids`]: [`DatasetId`], [`RecordId`], [`TableName`], [`Source`].
//! - [`column`]: [`Column`], the record's columns by their gateway names.
//! - [`record`]: [`Record`], a record as the gateway shows it.
//! - [`write`]: [`NewRecord`], [`RecordPatch`], [`UpdateTarget`], [`Phone`].
//! - [`filter`]: [`ReadFilter`], the query of a table read.

pub mod column;
pub mod filter;
pub mod ids;
pub mod record;
pub mod write;

pub use column::Column;
pub use filter::{ReadFilter, ReadMode, SearchField, TimeField};
pub use ids::{DatasetId, RecordId, Source, TableName};
pub use record::Record;
pub use write::{CustomFieldName, NewRecord, Phone, RecordPatch, UpdateTarget};
