//! The column table: every standard column of a record, in one line each.
//!
//! A line names the column's enum variant, its gateway name (the [`Record`] field, as in JSON
//! bodies and `search[...]`), its type in [`Record`], the upstream's read name (`FirstName`)
//! and write name (`firstname`), its [`ColumnKind`] and its [`Access`]. From the table follow
//! [`Column`] and its name lookups, the [`Record`] struct, and [`Record::set`], which fills a
//! field from an upstream value through a [`CellReader`] picked by kind. The upstream's names
//! are written here so that a new column is one line; only `upstream::wire` reads them.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

/// What a column holds: how the upstream spells its value and how a write is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// The record's identity (`id`, `dataset_id`): a number every row carries.
    Key,
    /// Text of at most [`super::value::MAX_TEXT`] characters.
    Text,
    /// Text of at most [`super::value::MAX_NOTES`] characters.
    Notes,
    /// A phone number ([`super::Phone`]).
    Phone,
    /// A reference where the upstream's `0` means none.
    Reference,
    /// A numeric code.
    Code,
    /// A datetime, the upstream's zero date meaning none.
    DateTime,
    /// A date, the upstream's zero date meaning none.
    Date,
    /// A `1`/`0` flag.
    Flag,
}

/// Whether callers may write a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Callers may set and clear it.
    Writable,
    /// Only the upstream sets it.
    ReadOnly,
}

/// Reads one non-empty upstream value into a column's typed value, one method per kind.
/// [`Record::set`] calls the method of the column's [`ColumnKind`]; the upstream client
/// implements it, so that the upstream's spelling stays in `upstream::wire`.
pub trait CellReader {
    /// Why a value cannot be read.
    type Error;
    /// A [`ColumnKind::Key`] value.
    fn key(&self, column: Column, value: String) -> Result<u64, Self::Error>;
    /// A [`ColumnKind::Text`], [`ColumnKind::Notes`] or [`ColumnKind::Phone`] value.
    fn text(&self, column: Column, value: String) -> Result<Option<String>, Self::Error>;
    /// A [`ColumnKind::Reference`] value.
    fn reference(&self, column: Column, value: String) -> Result<Option<String>, Self::Error>;
    /// A [`ColumnKind::Code`] value.
    fn code(&self, column: Column, value: String) -> Result<Option<u32>, Self::Error>;
    /// A [`ColumnKind::DateTime`] value.
    fn datetime(&self, column: Column, value: String)
    -> Result<Option<NaiveDateTime>, Self::Error>;
    /// A [`ColumnKind::Date`] value.
    fn date(&self, column: Column, value: String) -> Result<Option<NaiveDate>, Self::Error>;
    /// A [`ColumnKind::Flag`] value.
    fn flag(&self, column: Column, value: String) -> Result<bool, Self::Error>;
}

/// The [`CellReader`] method of a kind.
macro_rules! read_cell {
    ($reader:ident, Key, $column:expr, $value:expr) => {
        $reader.key($column, $value)
    };
    ($reader:ident, Text, $column:expr, $value:expr) => {
        $reader.text($column, $value)
    };
    ($reader:ident, Notes, $column:expr, $value:expr) => {
        $reader.text($column, $value)
    };
    ($reader:ident, Phone, $column:expr, $value:expr) => {
        $reader.text($column, $value)
    };
    ($reader:ident, Reference, $column:expr, $value:expr) => {
        $reader.reference($column, $value)
    };
    ($reader:ident, Code, $column:expr, $value:expr) => {
        $reader.code($column, $value)
    };
    ($reader:ident, DateTime, $column:expr, $value:expr) => {
        $reader.datetime($column, $value)
    };
    ($reader:ident, Date, $column:expr, $value:expr) => {
        $reader.date($column, $value)
    };
    ($reader:ident, Flag, $column:expr, $value:expr) => {
        $reader.flag($column, $value)
    };
}

/// Generates [`Column`], [`Record`] and [`Record::set`] from the table below.
macro_rules! columns {
    ($(
        $(#[$field_attr:meta])*
        $variant:ident $field:ident: $ty:ty = $read:literal, $write:literal, $kind:ident, $access:ident;
    )*) => {
        /// A standard column of a ContactNow record, named as the gateway shows it.
        ///
        /// The declaration order is the order of [`Record`]'s fields and the order in which
        /// writes are sent upstream.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Column {
            $(
                #[doc = concat!("`", stringify!($field), "`")]
                $variant,
            )*
        }

        impl Column {
            /// Every column, in declaration order (so `column as usize` is its index here).
            pub const ALL: [Column; [$(stringify!($variant)),*].len()] = [$(Column::$variant),*];

            /// The gateway name of the column, as in JSON bodies and `search[...]`.
            pub const fn name(self) -> &'static str {
                match self { $(Column::$variant => stringify!($field),)* }
            }

            /// `,"<gateway name>":`, the column's key in a [`Record`]'s JSON with the comma
            /// before it (for writers of that JSON that skip serde).
            pub const fn json_key(self) -> &'static str {
                match self { $(Column::$variant => concat!(",\"", stringify!($field), "\":"),)* }
            }

            /// The upstream's name of the column in read rows (`FirstName`), matched in any case.
            pub const fn read_name(self) -> &'static str {
                match self { $(Column::$variant => $read,)* }
            }

            /// The upstream's name of the column in write payloads (`firstname`).
            pub const fn write_name(self) -> &'static str {
                match self { $(Column::$variant => $write,)* }
            }

            /// What the column holds.
            pub const fn kind(self) -> ColumnKind {
                match self { $(Column::$variant => ColumnKind::$kind,)* }
            }

            /// Whether callers may write the column.
            pub const fn access(self) -> Access {
                match self { $(Column::$variant => Access::$access,)* }
            }
        }

        /// A record in clean shape: `null` for empty values and zero dates, numbers for ids and
        /// outcome codes, ISO 8601 datetimes without offset (the account's local time), and every
        /// column the gateway does not know under `custom`.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
        #[schema(example = Record::example)]
        pub struct Record {
            $(
                $(#[$field_attr])*
                pub $field: $ty,
            )*
            /// Custom columns by their own names.
            pub custom: BTreeMap<String, Option<String>>,
        }

        impl Record {
            /// Sets `column` from one non-empty upstream value, read by `reader` as the
            /// column's kind says.
            #[inline]
            pub fn set<R: CellReader>(
                &mut self,
                column: Column,
                value: String,
                reader: &R,
            ) -> Result<(), R::Error> {
                match column {
                    $(Column::$variant => self.$field = read_cell!(reader, $kind, column, value)?,)*
                }
                Ok(())
            }
        }
    };
}

// One line per column; the doc comment and attributes go to the `Record` field. Writable
// columns keep their relative order: it is the order of write payloads.
#[rustfmt::skip]
columns! {
    /// Record id.
    Id               id:                 u64                   = "id",                 "id",                 Key,       ReadOnly;
    /// Dataset the record belongs to.
    DatasetId        dataset_id:         u64                   = "datasetid",          "datasetid",          Key,       ReadOnly;
    /// Title (`Mr`, `Ms`, …).
    Title            title:              Option<String>        = "Title",              "title",              Text,      Writable;
    /// First name.
    FirstName        first_name:         Option<String>        = "FirstName",          "firstname",          Text,      Writable;
    /// Last name.
    LastName         last_name:          Option<String>        = "LastName",           "lastname",           Text,      Writable;
    /// Mobile phone.
    MobilePhone      mobile_phone:       Option<String>        = "MobilePhone",        "mobilephone",        Phone,     Writable;
    /// Home phone.
    HomePhone        home_phone:         Option<String>        = "HomePhone",          "homephone",          Phone,     Writable;
    /// Work phone.
    WorkPhone        work_phone:         Option<String>        = "WorkPhone",          "workphone",          Phone,     Writable;
    /// Address line 1.
    Address1         address1:           Option<String>        = "Address1",           "address1",           Text,      Writable;
    /// Address line 2.
    Address2         address2:           Option<String>        = "Address2",           "address2",           Text,      Writable;
    /// Address line 3.
    Address3         address3:           Option<String>        = "Address3",           "address3",           Text,      Writable;
    /// Address line 4.
    Address4         address4:           Option<String>        = "Address4",           "address4",           Text,      Writable;
    /// Address line 5.
    Address5         address5:           Option<String>        = "Address5",           "address5",           Text,      Writable;
    /// Address line 6.
    Address6         address6:           Option<String>        = "Address6",           "address6",           Text,      Writable;
    /// Postcode.
    Postcode         postcode:           Option<String>        = "Postcode",           "postcode",           Text,      Writable;
    /// Free notes.
    Notes            notes:              Option<String>        = "notes",              "notes",              Notes,     Writable;
    /// Outcome code of the last call.
    OutcomeCode      outcome_code:       Option<u32>           = "outcomecode",        "outcomecode",        Code,      Writable;
    /// Process type (`New Prospect`, `COMPLETE`, …).
    ProcessType      process_type:       Option<String>        = "ProcessType",        "processtype",        Text,      ReadOnly;
    /// When the record was last processed (ISO 8601, no offset: the account's local time).
    #[schema(value_type = Option<String>, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2019-01-07T10:15:00")]
    ProcessDate      process_date:       Option<NaiveDateTime> = "ProcessDate",        "processdate",        DateTime,  ReadOnly;
    /// Callback time, if one is set (ISO 8601, no offset).
    #[schema(value_type = Option<String>, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2019-02-01T10:15:00")]
    CallbackAt       callback_at:        Option<NaiveDateTime> = "callback",           "callback",           DateTime,  Writable;
    /// Notes for the callback.
    CallbackNotes    callback_notes:     Option<String>        = "Call_Back_Notes",    "call_back_notes",    Text,      Writable;
    /// Whether the callback is at the same time of day.
    CallbackSameTime callback_same_time: bool                  = "Call_Back_Sametime", "call_back_sametime", Flag,      Writable;
    /// Reference of the agent the record is tied to.
    AgentRef         agent_ref:          Option<String>        = "AgentRef",           "agentref",           Reference, Writable;
    /// Whether only that agent may take the record.
    AgentSpecific    agent_specific:     bool                  = "Agent_Specific",     "agent_specific",     Flag,      Writable;
    /// Day the record was loaded.
    LoadDate         load_date:          Option<NaiveDate>     = "loaddate",           "loaddate",           Date,      ReadOnly;
    /// File or feed the record came from.
    SourceFile       source_file:        Option<String>        = "sourcefile",         "sourcefile",         Text,      ReadOnly;
    /// Unique reference number.
    Urn              urn:                Option<String>        = "URN",                "urn",                Text,      ReadOnly;
    /// Vendor's unique reference number.
    VendorUrn        vendor_urn:         Option<String>        = "VENDOR_URN",         "vendor_urn",         Text,      ReadOnly;
}

impl Column {
    /// The column with this gateway name.
    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|column| column.name() == name)
    }

    /// Whether callers may write the column.
    pub fn is_writable(self) -> bool {
        self.access() == Access::Writable
    }

    /// Whether the column holds a phone number.
    pub fn is_phone(self) -> bool {
        self.kind() == ColumnKind::Phone
    }

    /// The writable columns, in write order.
    pub fn writable() -> impl Iterator<Item = Column> {
        Column::ALL
            .into_iter()
            .filter(|column| column.is_writable())
    }

    /// Whether `name` is one of the column's names (gateway, upstream read or write name) in
    /// any letter case.
    pub fn is_named(self, name: &str) -> bool {
        [self.name(), self.read_name(), self.write_name()]
            .into_iter()
            .any(|known| known.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_writable_columns_are_the_twenty_of_the_spec() {
        for column in Column::ALL {
            assert_eq!(Column::from_name(column.name()), Some(column));
        }
        assert_eq!(Column::writable().count(), 20);
        assert!(Column::OutcomeCode.is_writable());
        assert!(!Column::ProcessType.is_writable());
    }

    #[test]
    fn the_table_is_the_record_and_writes_keep_the_spec_order() {
        let fields = serde_json::to_value(Record::default()).unwrap();
        let names: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|name| *name != "custom")
            .collect();
        let mut table: Vec<&str> = Column::ALL.iter().map(|column| column.name()).collect();
        table.sort_unstable();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, table, "one Record field per column");
        let writable: Vec<&str> = Column::writable().map(Column::name).collect();
        assert_eq!(
            writable,
            [
                "title",
                "first_name",
                "last_name",
                "mobile_phone",
                "home_phone",
                "work_phone",
                "address1",
                "address2",
                "address3",
                "address4",
                "address5",
                "address6",
                "postcode",
                "notes",
                "outcome_code",
                "callback_at",
                "callback_notes",
                "callback_same_time",
                "agent_ref",
                "agent_specific"
            ]
        );
        let phones: Vec<Column> = Column::ALL.into_iter().filter(|c| c.is_phone()).collect();
        assert_eq!(
            phones,
            [Column::MobilePhone, Column::HomePhone, Column::WorkPhone]
        );
    }
}
