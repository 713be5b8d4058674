//! `campaign_tables` and `campaign_fields` reads: the tables, and each table's standard and
//! custom columns with their attributes. The columns listed are the ones records of that
//! table read back with, in the same order.

use super::model::Store;
use crate::emulator::wire::{Args, TextRow};

/// `group_name` of the dialler's own columns.
const SYSTEM_GROUP: &str = "system";
/// `group_name` of the contact columns.
const NAME_GROUP: &str = "Name and Address";
/// `group_name` of the phone columns.
const PHONE_GROUP: &str = "Phone Numbers";
/// `group_name` of a custom column.
const CUSTOM_GROUP: &str = "Custom";
/// `type` and `size` of a custom column added by a write.
const CUSTOM_TYPE: (&str, u32) = ("varchar", 200);

/// One standard column: name, type, size, group, prompt, searchable, read-only on agent screens.
struct Standard {
    name: &'static str,
    kind: &'static str,
    size: u32,
    group: &'static str,
    prompt: &'static str,
    search: bool,
    readonly: bool,
}

const fn column(
    name: &'static str,
    kind: &'static str,
    size: u32,
    group: &'static str,
    prompt: &'static str,
) -> Standard {
    Standard {
        name,
        kind,
        size,
        group,
        prompt,
        search: true,
        readonly: false,
    }
}

const fn system(
    name: &'static str,
    kind: &'static str,
    size: u32,
    prompt: &'static str,
) -> Standard {
    Standard {
        search: false,
        readonly: true,
        ..column(name, kind, size, SYSTEM_GROUP, prompt)
    }
}

/// The standard columns, in the order read rows list them.
const STANDARD: [Standard; 28] = [
    system("id", "int", 11, "Record id"),
    system("datasetid", "int", 11, "Dataset"),
    column("Title", "varchar", 10, NAME_GROUP, "Title"),
    column("FirstName", "varchar", 50, NAME_GROUP, "First name"),
    column("LastName", "varchar", 50, NAME_GROUP, "Last name"),
    column("HomePhone", "varchar", 20, PHONE_GROUP, "Home phone"),
    column("MobilePhone", "varchar", 20, PHONE_GROUP, "Mobile phone"),
    column("WorkPhone", "varchar", 20, PHONE_GROUP, "Work phone"),
    column("Address1", "varchar", 100, NAME_GROUP, "Address 1"),
    column("Address2", "varchar", 100, NAME_GROUP, "Address 2"),
    column("Address3", "varchar", 100, NAME_GROUP, "Address 3"),
    column("Address4", "varchar", 100, NAME_GROUP, "Address 4"),
    column("Address5", "varchar", 100, NAME_GROUP, "Address 5"),
    column("Address6", "varchar", 100, NAME_GROUP, "Address 6"),
    column("Postcode", "varchar", 10, NAME_GROUP, "Postcode"),
    Standard {
        search: false,
        ..column("notes", "largetext", 65_535, SYSTEM_GROUP, "Notes")
    },
    system("outcomecode", "int", 11, "Outcome"),
    system("ProcessType", "varchar", 30, "Process type"),
    system("ProcessDate", "datetime", 19, "Process date"),
    system("callback", "datetime", 19, "Call back"),
    Standard {
        search: false,
        ..column(
            "Call_Back_Notes",
            "smalltext",
            255,
            SYSTEM_GROUP,
            "Call back notes",
        )
    },
    system("Call_Back_Sametime", "int", 1, "Call back at the same time"),
    system("AgentRef", "int", 11, "Agent"),
    system("Agent_Specific", "int", 1, "Agent specific"),
    system("loaddate", "date", 10, "Load date"),
    system("sourcefile", "varchar", 100, "Source file"),
    system("URN", "varchar", 50, "URN"),
    system("VENDOR_URN", "varchar", 50, "Vendor URN"),
];

fn yes_no(flag: bool) -> String {
    if flag { "Y" } else { "N" }.to_owned()
}

/// A `campaign_fields` row.
#[allow(clippy::too_many_arguments)]
fn field_row(
    position: usize,
    table: &str,
    name: &str,
    kind: &str,
    size: u32,
    standard: bool,
    group: &str,
    prompt: &str,
    readonly: bool,
    search: bool,
) -> TextRow {
    TextRow(vec![
        ("position", position.to_string()),
        ("table", table.to_owned()),
        ("name", name.to_owned()),
        ("size", size.to_string()),
        (
            "standard_field",
            if standard { "1" } else { "0" }.to_owned(),
        ),
        ("group_name", group.to_owned()),
        ("type", kind.to_owned()),
        ("prompt", prompt.to_owned()),
        ("readonly", yes_no(readonly)),
        ("search", if search { "yes" } else { "no" }.to_owned()),
        ("hidden", yes_no(false)),
        ("hidden_on_script", yes_no(false)),
        ("order", position.to_string()),
        ("picklist", String::new()),
        ("required", yes_no(false)),
    ])
}

/// A custom column's label: its name with `_` as spaces and the first letter capitalised.
fn prompt_of(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Store {
    /// Every campaign table, as `campaign_tables` rows.
    pub(in crate::emulator) fn read_campaign_tables(&self) -> Vec<TextRow> {
        self.tables
            .iter()
            .map(|t| TextRow(vec![("name", t.name.clone())]))
            .collect()
    }

    /// The columns of `table` (every table when absent), filtered by `name` in any letter
    /// case. An unknown table is refused.
    pub(in crate::emulator) fn read_campaign_fields(
        &self,
        args: &Args<'_>,
    ) -> Result<Vec<TextRow>, String> {
        let wanted = args.non_empty("table");
        if let Some(name) = wanted
            && !self.tables.iter().any(|t| t.name == name)
        {
            return Err(format!("Table [{name}] does not exist."));
        }
        let name_filter = args.non_empty("name");
        let mut rows = Vec::new();
        for table in self
            .tables
            .iter()
            .filter(|t| wanted.is_none_or(|w| t.name == w))
        {
            let standard = STANDARD.iter().enumerate().map(|(i, s)| {
                field_row(
                    i + 1,
                    &table.name,
                    s.name,
                    s.kind,
                    s.size,
                    true,
                    s.group,
                    s.prompt,
                    s.readonly,
                    s.search,
                )
            });
            let custom = table.custom.iter().enumerate().map(|(i, name)| {
                field_row(
                    STANDARD.len() + i + 1,
                    &table.name,
                    name,
                    CUSTOM_TYPE.0,
                    CUSTOM_TYPE.1,
                    false,
                    CUSTOM_GROUP,
                    &prompt_of(name),
                    false,
                    true,
                )
            });
            rows.extend(standard.chain(custom).filter(|row| {
                name_filter.is_none_or(|n| {
                    row.0
                        .iter()
                        .any(|(k, v)| *k == "name" && v.eq_ignore_ascii_case(n))
                })
            }));
        }
        Ok(rows)
    }
}
