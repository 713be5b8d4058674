//! The streaming parse of an upload: rows are read one at a time from a blocking [`Read`] (fed
//! from the request body as it arrives), validated by the create rules, and the valid ones
//! written to a spool as `row<TAB>record JSON` lines. Nothing but the current row and the listed
//! errors is held in memory.

use std::io::{self, BufRead, BufReader, Read, Write};

use bytes::Bytes;
use serde_json::{Map, Value};

use super::ImportError;
use crate::domain::{CampaignColumns, CustomFieldName, NewRecord};
use crate::error::{Error, FieldError};

/// How often (in rows) the import's counters are brought up to date during validation.
pub const PROGRESS_EVERY_ROWS: u64 = 1000;
const BOM: &str = "\u{feff}";
const CUSTOM_PREFIX: &str = "custom.";
/// Header names whose cells are booleans.
const BOOLEAN_FIELDS: &[&str] = &["callback_same_time", "agent_specific"];
/// Header names whose cells are integers.
const INTEGER_FIELDS: &[&str] = &["outcome_code"];

/// The media type of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadFormat {
    /// `text/csv`: RFC 4180 with a header row of field names.
    Csv,
    /// `application/x-ndjson`: one create object per line.
    Ndjson,
}

impl UploadFormat {
    /// The format of a `Content-Type` value, if it is one of the two.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mime = value.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "text/csv" => Some(Self::Csv),
            "application/x-ndjson" | "application/ndjson" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

/// What validation found.
#[derive(Debug, Default)]
pub struct Tally {
    /// Data rows from `start_row` on.
    pub rows: u64,
    /// Rows refused.
    pub invalid: u64,
    /// Rows spooled to be sent.
    pub valid: u64,
    /// The errors of the invalid rows not yet handed to `progress` (which takes them away, so
    /// at most [`PROGRESS_EVERY_ROWS`] rows' errors are held here).
    pub errors: Vec<ImportError>,
}

impl Tally {
    fn refuse(&mut self, row: u64, errors: Vec<FieldError>) {
        self.invalid += 1;
        self.errors
            .extend(errors.into_iter().map(|error| ImportError::Row {
                row,
                field: error.field,
                message: error.message,
            }));
    }
}

/// A blocking reader of body chunks sent from the async side; an `Err` item ends it with that
/// error (a cut upload must never read as a complete one).
pub struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    /// Reads what `receiver` carries.
    pub fn new(receiver: tokio::sync::mpsc::Receiver<io::Result<Bytes>>) -> Self {
        Self {
            receiver,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(error)) => return Err(error),
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len());
        buffer[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

/// Where a CSV column goes in a create object.
#[derive(Clone, Debug)]
enum Target {
    Field(String),
    Custom(String),
}

/// Whether `name` is a top-level field of a create object, asked of the create rules
/// themselves: a probe object holding only that name (and a phone) must not be refused for it.
fn is_record_field(name: &str) -> Result<(), String> {
    if name == "custom" {
        return Err("`custom` is not a column; name custom columns directly".into());
    }
    let mut probe = Map::new();
    let phone = if name == "mobile_phone" {
        "home_phone"
    } else {
        "mobile_phone"
    };
    probe.insert(phone.into(), Value::String("01234567890".into()));
    probe.insert(name.to_owned(), Value::Null);
    match NewRecord::parse(&probe, "") {
        Ok(_) => Ok(()),
        Err(errors) => match errors.into_iter().find(|error| error.field == name) {
            Some(error) => Err(error.message),
            None => Ok(()),
        },
    }
}

/// Maps the header row to targets; an unknown, malformed or repeated name refuses the whole
/// upload (`422`), since every row would be read wrong.
fn parse_header(names: &[String]) -> Result<Vec<Target>, Error> {
    let mut targets = Vec::with_capacity(names.len());
    let mut errors = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let field = format!("header[{index}]");
        let target = match name.strip_prefix(CUSTOM_PREFIX) {
            Some(custom) => CustomFieldName::parse(custom).map(|_| Target::Custom(custom.into())),
            None => match is_record_field(name) {
                Ok(()) => Ok(Target::Field(name.clone())),
                Err(message) => match CustomFieldName::parse(name) {
                    Ok(_) => Ok(Target::Custom(name.clone())),
                    Err(_) => Err(message),
                },
            },
        };
        match target {
            Ok(target) => {
                let repeated = targets.iter().any(|seen: &Target| match (seen, &target) {
                    (Target::Field(a), Target::Field(b))
                    | (Target::Custom(a), Target::Custom(b)) => a == b,
                    _ => false,
                });
                if repeated {
                    errors.push(FieldError::new(field, format!("`{name}` appears twice")));
                }
                targets.push(target);
            }
            Err(message) => {
                errors.push(FieldError::new(
                    field,
                    format!("unknown column `{name}`: {message}"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        Err(Error::Validation(errors))
    }
}

/// A CSV cell as a JSON value: booleans and integers for the fields that take them (a cell
/// that is neither stays text, so validation names the problem), text for the rest.
fn cell_value(name: &str, cell: &str) -> Value {
    if BOOLEAN_FIELDS.contains(&name) {
        match cell.to_ascii_lowercase().as_str() {
            "true" | "1" => return Value::Bool(true),
            "false" | "0" => return Value::Bool(false),
            _ => {}
        }
    }
    if INTEGER_FIELDS.contains(&name)
        && let Ok(number) = cell.parse::<u64>()
    {
        return Value::from(number);
    }
    Value::String(cell.to_owned())
}

/// One CSV row as a create object; empty cells are absent fields.
fn csv_object(
    targets: &[Target],
    record: &csv::ByteRecord,
) -> Result<Map<String, Value>, FieldError> {
    if record.len() != targets.len() {
        return Err(FieldError::new(
            "",
            format!(
                "the row has {} cells, the header {}",
                record.len(),
                targets.len()
            ),
        ));
    }
    let mut object = Map::new();
    let mut custom = Map::new();
    for (target, cell) in targets.iter().zip(record.iter()) {
        let cell = std::str::from_utf8(cell)
            .map_err(|_| FieldError::new("", "the row is not valid UTF-8"))?;
        if cell.is_empty() {
            continue;
        }
        match target {
            Target::Field(name) => {
                object.insert(name.clone(), cell_value(name, cell));
            }
            Target::Custom(name) => {
                custom.insert(name.clone(), Value::String(cell.to_owned()));
            }
        }
    }
    if !custom.is_empty() {
        object.insert("custom".into(), Value::Object(custom));
    }
    Ok(object)
}

fn read_failed(error: io::Error) -> Error {
    Error::BadRequest {
        detail: format!("the upload could not be read: {error}"),
        errors: Vec::new(),
    }
}

fn spool_failed(error: io::Error) -> Error {
    Error::Internal(format!("import spool: {error}"))
}

/// Validates one row object (by the create rules, then against the campaign's `columns` when
/// they are known) and spools it, or lists its errors.
fn take_row(
    tally: &mut Tally,
    spool: &mut impl Write,
    columns: Option<&CampaignColumns>,
    row: u64,
    object: Result<Map<String, Value>, FieldError>,
) -> Result<(), Error> {
    let object = match object {
        Ok(object) => object,
        Err(error) => {
            tally.refuse(row, vec![error]);
            return Ok(());
        }
    };
    let checked = NewRecord::parse(&object, "").and_then(|record| {
        let mut errors = Vec::new();
        if let Some(columns) = columns {
            columns.check_record(&record, None, &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    });
    match checked {
        Ok(()) => {
            tally.valid += 1;
            let json =
                serde_json::to_string(&object).map_err(|e| Error::Internal(e.to_string()))?;
            writeln!(spool, "{row}\t{json}").map_err(spool_failed)
        }
        Err(errors) => {
            tally.refuse(row, errors);
            Ok(())
        }
    }
}

/// Reads, validates and spools a whole upload. Rows before `start_row` are skipped (neither
/// validated nor counted). Rows are checked against the campaign's `columns` when they are
/// known (read once per import). `progress` is given the tally every [`PROGRESS_EVERY_ROWS`]
/// rows, to publish the counts and take the errors.
pub fn validate_upload(
    format: UploadFormat,
    reader: impl Read,
    start_row: u64,
    columns: Option<&CampaignColumns>,
    spool: &mut impl Write,
    progress: &mut dyn FnMut(&mut Tally),
) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    match format {
        UploadFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(reader);
            let mut record = csv::ByteRecord::new();
            let csv_failed = |error: csv::Error| match error.into_kind() {
                csv::ErrorKind::Io(error) => read_failed(error),
                other => Error::bad_field("body", format!("not CSV: {other:?}")),
            };
            if !reader.read_byte_record(&mut record).map_err(csv_failed)? {
                return Err(Error::Validation(vec![FieldError::new(
                    "header",
                    "the upload is empty: a CSV import starts with a header row of field names",
                )]));
            }
            let names = record
                .iter()
                .enumerate()
                .map(|(index, name)| {
                    let name = String::from_utf8_lossy(name);
                    let name = match index {
                        0 => name.trim_start_matches(BOM),
                        _ => &name,
                    };
                    name.trim().to_owned()
                })
                .collect::<Vec<_>>();
            let targets = parse_header(&names)?;
            let mut row = 0;
            while reader.read_byte_record(&mut record).map_err(csv_failed)? {
                row += 1;
                if row < start_row {
                    continue;
                }
                tally.rows += 1;
                take_row(
                    &mut tally,
                    spool,
                    columns,
                    row,
                    csv_object(&targets, &record),
                )?;
                if row % PROGRESS_EVERY_ROWS == 0 {
                    progress(&mut tally);
                }
            }
        }
        UploadFormat::Ndjson => {
            let mut reader = BufReader::new(reader);
            let mut line = Vec::new();
            let mut row = 0;
            let mut first = true;
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line).map_err(read_failed)? == 0 {
                    break;
                }
                let mut text: &[u8] = &line;
                if first {
                    first = false;
                    text = text.strip_prefix(BOM.as_bytes()).unwrap_or(text);
                }
                if text.trim_ascii().is_empty() {
                    continue;
                }
                row += 1;
                if row < start_row {
                    continue;
                }
                tally.rows += 1;
                let object = match serde_json::from_slice::<Value>(text) {
                    Ok(Value::Object(object)) => Ok(object),
                    Ok(_) => Err(FieldError::new("", "the line must be one JSON object")),
                    Err(error) => Err(FieldError::new("", format!("not valid JSON: {error}"))),
                };
                take_row(&mut tally, spool, columns, row, object)?;
                if row % PROGRESS_EVERY_ROWS == 0 {
                    progress(&mut tally);
                }
            }
        }
    }
    spool.flush().map_err(spool_failed)?;
    Ok(tally)
}

/// One spooled row: its number and its record.
pub fn read_spooled(line: &str) -> Option<(u64, NewRecord)> {
    let (row, json) = line.split_once('\t')?;
    let row = row.parse().ok()?;
    let object = serde_json::from_str::<Map<String, Value>>(json).ok()?;
    NewRecord::parse(&object, "")
        .ok()
        .map(|record| (row, record))
}

/// The row number of a spool's first line, if it has one.
pub fn first_spooled_row(spool: std::fs::File) -> Option<u64> {
    let mut line = String::new();
    BufReader::new(spool).read_line(&mut line).ok()?;
    line.split_once('\t')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: UploadFormat, text: &str) -> Result<(Tally, String), Error> {
        let mut spool = Vec::new();
        let tally = validate_upload(format, text.as_bytes(), 1, None, &mut spool, &mut |_| {})?;
        Ok((tally, String::from_utf8(spool).unwrap()))
    }

    #[test]
    fn csv_with_bom_crlf_and_quoted_newlines_and_commas() {
        let text = "\u{feff}first_name,mobile_phone,notes,company_name\r\n\
                    \"Blogs, Joe\",07123456789,\"two\r\nlines\",ACME\r\n\
                    Ann,07123456780,,\r\n";
        let (tally, spool) = run(UploadFormat::Csv, text).unwrap();
        assert_eq!((tally.rows, tally.valid, tally.invalid), (2, 2, 0));
        let lines: Vec<_> = spool.lines().collect();
        let (row, record) = read_spooled(lines[0]).unwrap();
        assert_eq!(row, 1);
        assert_eq!(record.custom().count(), 1);
        assert!(lines[0].contains("two\\r\\nlines"));
        assert!(lines[0].contains("Blogs, Joe"));
    }

    #[test]
    fn blank_csv_lines_are_not_rows_and_short_rows_are_invalid() {
        let text = "first_name,mobile_phone\n\nJoe,07123456789\n\nAnn\n\n";
        let (tally, spool) = run(UploadFormat::Csv, text).unwrap();
        assert_eq!((tally.rows, tally.valid, tally.invalid), (2, 1, 1));
        assert!(spool.starts_with("1\t"));
        assert!(matches!(&tally.errors[0], ImportError::Row { row: 2, .. }));
    }

    #[test]
    fn an_unknown_header_refuses_the_upload() {
        let error = run(UploadFormat::Csv, "id,mobile_phone\n1,07123456789\n").unwrap_err();
        assert!(matches!(error, Error::Validation(errors) if errors[0].field == "header[0]"));
    }

    #[test]
    fn ndjson_rows_are_validated_one_by_one() {
        let text = "{\"mobile_phone\":\"07123456789\"}\n\nnot json\n{\"first_name\":\"x\"}\n";
        let (tally, _) = run(UploadFormat::Ndjson, text).unwrap();
        assert_eq!((tally.rows, tally.valid, tally.invalid), (3, 1, 2));
        assert!(
            matches!(&tally.errors[1], ImportError::Row { row: 3, field, .. } if field == "mobile_phone")
        );
    }
}
