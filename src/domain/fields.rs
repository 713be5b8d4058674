//! A campaign's own columns as writes are checked against them: which custom columns it has,
//! and how long a value each column holds (`campaign_fields`' `size`).
//!
//! [`CampaignColumns`] is built once per fetched field list and kept in the metadata cache, so
//! a write looks its names up in a prepared index and allocates nothing unless it is refused.

use std::collections::HashMap;
use std::num::NonZeroU32;

use super::dataset::CampaignField;
use super::value::MAX_CUSTOM_NAME_CHARS;
use super::{Column, ColumnKind, CustomFieldName, NewRecord, RecordPatch, TableName, WriteValue};
use crate::error::FieldError;

/// What a body names a custom column under: `custom.<name>`.
const CUSTOM_PREFIX: &str = "custom.";

/// One custom column of the campaign: its own spelling and the longest value it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CustomColumn {
    name: Box<str>,
    size: Option<NonZeroU32>,
}

/// A campaign table's columns, with the lookups a write check needs.
///
/// Invariants: `custom` is keyed by the ASCII-lowercased name of every custom column in
/// `fields` (ContactNow matches column names in any letter case); `sizes[column as usize]` is
/// the `size` of the field whose `gateway_name` is that standard column. A `size` of `0` or none
/// states no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignColumns {
    table: TableName,
    fields: Vec<CampaignField>,
    sizes: [Option<NonZeroU32>; Column::ALL.len()],
    custom: HashMap<Box<str>, CustomColumn>,
    /// The custom column names in ContactNow's order, for the message of an unknown one.
    custom_names: Box<str>,
}

impl CampaignColumns {
    /// The columns of `table` as `campaign_fields` lists them.
    pub fn new(table: TableName, fields: Vec<CampaignField>) -> Self {
        let mut sizes = [None; Column::ALL.len()];
        let mut custom = HashMap::new();
        let mut names = Vec::new();
        for field in &fields {
            let size = field.size.and_then(NonZeroU32::new);
            match field.gateway_name.strip_prefix(CUSTOM_PREFIX) {
                Some(_) => {
                    names.push(field.name.as_str());
                    custom.insert(
                        field.name.to_ascii_lowercase().into_boxed_str(),
                        CustomColumn {
                            name: field.name.as_str().into(),
                            size,
                        },
                    );
                }
                None => {
                    if let Some(column) = Column::from_name(&field.gateway_name) {
                        sizes[column as usize] = size;
                    }
                }
            }
        }
        let custom_names = names.join(", ").into_boxed_str();
        Self {
            table,
            fields,
            sizes,
            custom,
            custom_names,
        }
    }

    /// The fields as ContactNow listed them, in its order.
    pub fn fields(&self) -> &[CampaignField] {
        &self.fields
    }

    /// Whether ContactNow listed no field at all (a real table always has its standard columns).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Adds to `errors` every custom column of `record` the campaign does not have and every
    /// value longer than its column's `size`; `item` is the record's index in a batch (field
    /// names then start with `[item].`).
    pub fn check_record(
        &self,
        record: &NewRecord,
        item: Option<usize>,
        errors: &mut Vec<FieldError>,
    ) {
        for (column, value) in record.values() {
            self.check_standard(column, value, item, errors);
        }
        for (name, value) in record.custom() {
            self.check_custom(name, Some(value), item, errors);
        }
    }

    /// Adds to `errors` every custom column of `patch` the campaign does not have (clearing one
    /// included) and every value longer than its column's `size`.
    pub fn check_patch(&self, patch: &RecordPatch, errors: &mut Vec<FieldError>) {
        for (column, value) in patch.changes() {
            if let Some(value) = value {
                self.check_standard(column, value, None, errors);
            }
        }
        for (name, value) in patch.custom() {
            self.check_custom(name, value, None, errors);
        }
    }

    /// Whether [`CampaignColumns::check_patch`] could refuse anything of `patch` (a custom
    /// column, or text measured against a size): a patch of only dialler codes, flags and times
    /// needs no field list.
    pub fn concern_patch(patch: &RecordPatch) -> bool {
        patch.custom().next().is_some()
            || patch
                .changes()
                .any(|(column, value)| value.is_some() && is_measured(column))
    }

    fn check_standard(
        &self,
        column: Column,
        value: &WriteValue,
        item: Option<usize>,
        errors: &mut Vec<FieldError>,
    ) {
        if let (true, WriteValue::Text(text), Some(size)) =
            (is_measured(column), value, self.sizes[column as usize])
            && let Some(message) = self.too_long(text, size, column.read_name())
        {
            errors.push(FieldError::new(
                field_name(item, "", column.name()),
                message,
            ));
        }
    }

    fn check_custom(
        &self,
        name: &CustomFieldName,
        value: Option<&str>,
        item: Option<usize>,
        errors: &mut Vec<FieldError>,
    ) {
        let field = || field_name(item, CUSTOM_PREFIX, name.as_str());
        let Some(column) = self.custom_column(name) else {
            let message = if self.custom_names.is_empty() {
                format!(
                    "campaign {} has no custom column `{name}`; it has no custom columns",
                    self.table
                )
            } else {
                format!(
                    "campaign {} has no custom column `{name}`; its custom columns are: {}",
                    self.table, self.custom_names
                )
            };
            errors.push(FieldError::new(field(), message));
            return;
        };
        if let (Some(value), Some(size)) = (value, column.size)
            && let Some(message) = self.too_long(value, size, &column.name)
        {
            errors.push(FieldError::new(field(), message));
        }
    }

    /// The custom column `name` names, in any letter case; looked up without allocating.
    fn custom_column(&self, name: &CustomFieldName) -> Option<&CustomColumn> {
        let bytes = name.as_str().as_bytes();
        let mut lower = [0_u8; MAX_CUSTOM_NAME_CHARS];
        let lower = lower.get_mut(..bytes.len())?;
        lower.copy_from_slice(bytes);
        lower.make_ascii_lowercase();
        self.custom.get(std::str::from_utf8(lower).ok()?)
    }

    /// The refusal of `text` when it has more than `size` characters.
    fn too_long(&self, text: &str, size: NonZeroU32, column: &str) -> Option<String> {
        let size = size.get() as usize;
        // A character takes at least one byte: a short text needs no counting.
        if text.len() <= size {
            return None;
        }
        let count = text.chars().count();
        (count > size).then(|| {
            format!(
                "must be at most {size} characters (the size of column `{column}` of campaign \
                 {}); this value has {count}",
                self.table
            )
        })
    }
}

/// Whether a standard column's values are measured against its `size`: text only, since the
/// `size` of an `int` or `datetime` column is a display width.
fn is_measured(column: Column) -> bool {
    matches!(
        column.kind(),
        ColumnKind::Text | ColumnKind::Notes | ColumnKind::Phone
    )
}

/// `[item].<prefix><name>` in a batch, `<prefix><name>` otherwise.
fn field_name(item: Option<usize>, prefix: &str, name: &str) -> String {
    match item {
        Some(index) => format!("[{index}].{prefix}{name}"),
        None => format!("{prefix}{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BodyTarget;
    use serde_json::json;

    fn field(name: &str, gateway_name: &str, size: Option<u32>) -> CampaignField {
        CampaignField {
            name: name.into(),
            gateway_name: gateway_name.into(),
            kind: Some("varchar".into()),
            size,
            group: None,
            prompt: None,
            required: false,
            read_only: false,
            hidden: false,
            searchable: false,
            order: None,
            standard: !gateway_name.starts_with(CUSTOM_PREFIX),
            picklist: None,
        }
    }

    fn columns() -> CampaignColumns {
        CampaignColumns::new(
            TableName::parse("table", "leads").unwrap(),
            vec![
                field("Title", "title", Some(10)),
                field("AgentRef", "agent_ref", Some(2)),
                field("Company_Name", "custom.Company_Name", Some(5)),
                field("region", "custom.region", Some(0)),
            ],
        )
    }

    fn errors_of(body: serde_json::Value) -> Vec<FieldError> {
        let request = NewRecord::parse_body(&body).unwrap();
        let mut errors = Vec::new();
        let batch = matches!(request, crate::domain::CreateRequest::Many(_));
        for (index, record) in request.records().iter().enumerate() {
            columns().check_record(record, batch.then_some(index), &mut errors);
        }
        errors
    }

    #[test]
    fn custom_names_match_in_any_case_and_unknown_ones_list_the_real_columns() {
        assert!(
            errors_of(json!({"mobile_phone": "0712345678", "title": "Dr",
            "custom": {"company_NAME": "ACME", "REGION": "anything long is fine"}}))
            .is_empty()
        );
        let errors = errors_of(json!([{"mobile_phone": "0712345678"},
            {"mobile_phone": "0712345678", "custom": {"vat": "x"}}]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "[1].custom.vat");
        assert!(
            errors[0]
                .message
                .ends_with("its custom columns are: Company_Name, region"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn values_over_the_size_are_counted_in_characters_and_name_the_size() {
        let errors = errors_of(json!({"mobile_phone": "0712345678", "title": "Professor X",
            "agent_ref": "12345", "custom": {"company_name": "éééée"}}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "title");
        assert!(errors[0].message.contains("at most 10"), "{errors:?}");
        let errors = errors_of(json!({"mobile_phone": "0712345678",
            "custom": {"company_name": "ACME Ltd"}}));
        assert_eq!(errors[0].field, "custom.company_name");
        assert!(errors[0].message.contains("at most 5"), "{errors:?}");
    }

    #[test]
    fn a_patch_may_not_clear_a_column_the_campaign_does_not_have() {
        let patch = RecordPatch::parse_body(
            &json!({"title": null, "custom": {"vat": null, "company_name": null}}),
            BodyTarget::FromPath,
        )
        .unwrap();
        let mut errors = Vec::new();
        columns().check_patch(&patch, &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "custom.vat");
        let bare = CampaignColumns::new(TableName::parse("table", "t").unwrap(), Vec::new());
        assert!(bare.is_empty());
        let mut errors = Vec::new();
        bare.check_patch(&patch, &mut errors);
        assert!(errors[0].message.ends_with("it has no custom columns"));
    }
}
