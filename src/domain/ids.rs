//! Identifiers that appear in paths and bodies.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The largest id accepted: 2^53 - 1, so every id survives a JSON number in any language.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// The longest campaign table name.
pub const MAX_TABLE_NAME_CHARS: usize = 64;
/// What [`TableName::parse`] takes, in words.
pub fn table_name_rule() -> String {
    format!("1 to {MAX_TABLE_NAME_CHARS} of A-Z, a-z, 0-9, _")
}

/// What [`TableName::parse`] takes, as a pattern.
pub const TABLE_NAME_PATTERN: &str = "^[A-Za-z0-9_]{1,64}$";

fn parse_positive(value: &str) -> Option<u64> {
    let plain = !value.is_empty()
        && value.len() <= 16
        && value.bytes().all(|b| b.is_ascii_digit())
        && !value.starts_with('0');
    plain
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .filter(|id| (1..=MAX_ID).contains(id))
}

macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// The id as a number.
            pub fn get(self) -> u64 {
                self.0
            }

            /// Parses a path segment or body value: ASCII digits only, no sign, no leading zero,
            /// 1 to 2^53 - 1.
            pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
                parse_positive(value).map(Self).ok_or_else(|| {
                    Error::bad_field(field, concat!($what, " must be a positive integer below 2^53"))
                })
            }
        }

        impl TryFrom<u64> for $name {
            type Error = Error;
            fn try_from(value: u64) -> Result<Self, Error> {
                Self::parse($what, &value.to_string())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(value: &str) -> Result<Self, Error> {
                Self::parse($what, value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

positive_id!(
    /// A ContactNow dataset id: a positive integer.
    DatasetId,
    "dataset"
);
positive_id!(
    /// A ContactNow record id: a positive integer.
    RecordId,
    "id"
);

/// A campaign table name: 1 to 64 of `A-Z a-z 0-9 _`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName(String);

impl TableName {
    /// Parses a table name.
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let valid = (1..=MAX_TABLE_NAME_CHARS).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::bad_field(
                field,
                format!("table must be {}", table_name_rule()),
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a read looks in: one dataset, or one campaign table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A dataset.
    Dataset(DatasetId),
    /// A campaign table.
    Table(TableName),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_plain_positive_integers_only() {
        for good in ["1", "100", "550431", "9007199254740991"] {
            assert!(DatasetId::parse("dataset", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "01",
            "1.0",
            "1e3",
            "9007199254740992",
            "100&x=1",
            "..",
            "%31",
            "١٠٠",
            " 1",
            "18446744073709551616",
        ] {
            assert!(RecordId::parse("id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn table_names_are_restricted() {
        assert!(TableName::parse("table", "sandbox_campaign").is_ok());
        assert!(TableName::parse("table", &"a".repeat(64)).is_ok());
        for bad in ["", "a b", "a&b", "ä", &"a".repeat(65)] {
            assert!(TableName::parse("table", bad).is_err(), "{bad:?}");
        }
    }
}
