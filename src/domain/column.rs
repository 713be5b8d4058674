//! The columns of a record, by their gateway names.

/// A standard column of a ContactNow record, named as the gateway shows it.
///
/// The declaration order is the order in which writes are sent upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// `title`
    Title,
    /// `first_name`
    FirstName,
    /// `last_name`
    LastName,
    /// `mobile_phone`
    MobilePhone,
    /// `home_phone`
    HomePhone,
    /// `work_phone`
    WorkPhone,
    /// `address1`
    Address1,
    /// `address2`
    Address2,
    /// `address3`
    Address3,
    /// `address4`
    Address4,
    /// `address5`
    Address5,
    /// `address6`
    Address6,
    /// `postcode`
    Postcode,
    /// `notes`
    Notes,
    /// `id` (read-only)
    Id,
    /// `dataset_id` (read-only)
    DatasetId,
    /// `outcome_code` (read-only)
    OutcomeCode,
    /// `process_type` (read-only)
    ProcessType,
    /// `process_date` (read-only)
    ProcessDate,
    /// `callback_at` (read-only)
    CallbackAt,
    /// `callback_notes` (read-only)
    CallbackNotes,
    /// `callback_same_time` (read-only)
    CallbackSameTime,
    /// `agent_ref` (read-only)
    AgentRef,
    /// `agent_specific` (read-only)
    AgentSpecific,
    /// `load_date` (read-only)
    LoadDate,
    /// `source_file` (read-only)
    SourceFile,
    /// `urn` (read-only)
    Urn,
    /// `vendor_urn` (read-only)
    VendorUrn,
}

impl Column {
    /// Every column, writable ones first, in upstream write order (and declaration order, so
    /// `column as usize` is its index here).
    pub const ALL: [Column; 28] = [
        Column::Title,
        Column::FirstName,
        Column::LastName,
        Column::MobilePhone,
        Column::HomePhone,
        Column::WorkPhone,
        Column::Address1,
        Column::Address2,
        Column::Address3,
        Column::Address4,
        Column::Address5,
        Column::Address6,
        Column::Postcode,
        Column::Notes,
        Column::Id,
        Column::DatasetId,
        Column::OutcomeCode,
        Column::ProcessType,
        Column::ProcessDate,
        Column::CallbackAt,
        Column::CallbackNotes,
        Column::CallbackSameTime,
        Column::AgentRef,
        Column::AgentSpecific,
        Column::LoadDate,
        Column::SourceFile,
        Column::Urn,
        Column::VendorUrn,
    ];

    /// The gateway name of the column, as in JSON bodies and `search[...]`.
    pub fn name(self) -> &'static str {
        match self {
            Column::Title => "title",
            Column::FirstName => "first_name",
            Column::LastName => "last_name",
            Column::MobilePhone => "mobile_phone",
            Column::HomePhone => "home_phone",
            Column::WorkPhone => "work_phone",
            Column::Address1 => "address1",
            Column::Address2 => "address2",
            Column::Address3 => "address3",
            Column::Address4 => "address4",
            Column::Address5 => "address5",
            Column::Address6 => "address6",
            Column::Postcode => "postcode",
            Column::Notes => "notes",
            Column::Id => "id",
            Column::DatasetId => "dataset_id",
            Column::OutcomeCode => "outcome_code",
            Column::ProcessType => "process_type",
            Column::ProcessDate => "process_date",
            Column::CallbackAt => "callback_at",
            Column::CallbackNotes => "callback_notes",
            Column::CallbackSameTime => "callback_same_time",
            Column::AgentRef => "agent_ref",
            Column::AgentSpecific => "agent_specific",
            Column::LoadDate => "load_date",
            Column::SourceFile => "source_file",
            Column::Urn => "urn",
            Column::VendorUrn => "vendor_urn",
        }
    }

    /// The column with this gateway name.
    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|column| column.name() == name)
    }

    /// Whether callers may write the column.
    pub fn is_writable(self) -> bool {
        self <= Column::Notes
    }

    /// Whether the column holds a phone number.
    pub fn is_phone(self) -> bool {
        matches!(
            self,
            Column::MobilePhone | Column::HomePhone | Column::WorkPhone
        )
    }

    /// The writable columns.
    pub fn writable() -> impl Iterator<Item = Column> {
        Column::ALL
            .into_iter()
            .filter(|column| column.is_writable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_writable_columns_are_the_fourteen_of_the_spec() {
        for column in Column::ALL {
            assert_eq!(Column::from_name(column.name()), Some(column));
        }
        assert_eq!(Column::writable().count(), 14);
        assert!(!Column::OutcomeCode.is_writable());
    }
}
