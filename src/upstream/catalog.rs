//! The metadata reads: `ecnow_datasets`, `campaign_tables`, `campaign_fields` (on `ecnow.php`)
//! and `outcomecodes` (on `database.php`), their rows read into the domain's types, each list
//! kept in the [`MetadataCache`](super::metadata::MetadataCache) for
//! `GATEWAY_METADATA_TTL_SECONDS` and fetched once per key however many requests ask at once.
//!
//! Every value is the upstream's and is not trusted: a number that is not one, a status or a
//! flag outside its spelling, is an invalid answer (502), never a panic.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use moka::future::Cache;

use super::metadata::{DatasetRead, Listing, TableDatasets, cached};
use super::outcome::data_error;
use super::wire::payload::WireRow;
use super::wire::{Envelope, Row, RowKey, bad_answer};
use super::{Action, ContactNowClient, Script, query};
use crate::domain::dataset::{
    CampaignField, Dataset, DatasetPatch, DatasetQuery, DatasetStatus, MAX_PRIORITY, NewDataset,
    OutcomeCode,
};
use crate::domain::{CampaignColumns, DatasetId, TableName, UpdateTarget};
use crate::error::Error;
use crate::metrics::{MetadataList, MetadataOutcome};

/// The largest outcome code (as records' `outcome_code` takes it).
const MAX_OUTCOME_CODE: u32 = 999_999_999;

impl<T> Listing<T> {
    /// The listed value, or a `502` saying ContactNow refused the list of `what`.
    pub fn known(&self, what: &str) -> Result<&T, Error> {
        match self {
            Listing::Known(value) => Ok(value),
            Listing::Refused(refusal) => Err(Error::UpstreamFailed(format!(
                "ContactNow refused the {what} read: {refusal}"
            ))),
        }
    }
}

/// What the cached metadata says of a records route's dataset, before anything is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetCheck {
    /// ContactNow lists the dataset, in this state.
    Listed(DatasetStatus),
    /// ContactNow does not list the dataset, not even on a fresh read.
    Unlisted,
    /// ContactNow refused the dataset list: the upstream's own answer decides.
    Unchecked,
}

/// What the outcome-code list says of a code, before anything is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeCheck {
    /// The list names the code, or cannot be read.
    Allowed,
    /// The list is read and does not name the code.
    Unlisted,
}

impl ContactNowClient {
    /// Dataset `id` as the cached dataset list shows it; a dataset the list does not show is read
    /// fresh (at most once per dataset per
    /// [`FRESH_DATASET_READ_INTERVAL`](super::metadata::FRESH_DATASET_READ_INTERVAL)) before it
    /// is called unlisted. A refused list leaves the dataset unchecked; a fault on the way is the
    /// answer's fault (5xx).
    pub async fn dataset_check(&self, id: DatasetId) -> Result<DatasetCheck, Error> {
        let status_in = |listing: &Listing<Vec<Dataset>>| match listing {
            Listing::Known(datasets) => Some(
                datasets
                    .iter()
                    .find(|d| d.id == id.get())
                    .map(|d| DatasetCheck::Listed(d.status)),
            ),
            Listing::Refused(_) => None,
        };
        let all = DatasetRead::List(DatasetQuery::default());
        let listing = self.dataset_read(all).await?;
        match status_in(&listing) {
            None => return Ok(DatasetCheck::Unchecked),
            Some(Some(listed)) => return Ok(listed),
            Some(None) => {}
        }
        let fetch = move || async move {
            let args = [("dataset".into(), id.to_string())];
            let rows = self
                .metadata_rows(Script::Ecnow, query::DATASETS_METHOD, &args)
                .await?;
            parse_rows(rows, dataset)
        };
        let fresh = self
            .listing(
                MetadataList::Datasets,
                &self.tables.fresh_datasets,
                &id,
                fetch,
            )
            .await?;
        Ok(match status_in(&fresh) {
            Some(Some(listed)) => listed,
            Some(None) => DatasetCheck::Unlisted,
            None => DatasetCheck::Unchecked,
        })
    }

    /// Whether outcome `code` may be written: the (cached) outcome-code list names it, or that
    /// list is refused, and then the upstream's own answer decides; a fault on the way is the
    /// answer's fault (5xx).
    pub async fn outcome_check(&self, code: u32) -> Result<OutcomeCheck, Error> {
        Ok(match &*self.outcome_codes().await? {
            Listing::Known(codes) if !codes.iter().any(|known| known.code == code) => {
                OutcomeCheck::Unlisted
            }
            _ => OutcomeCheck::Allowed,
        })
    }

    /// The datasets `query` selects, each with its campaign table (when known).
    pub async fn datasets(&self, query: &DatasetQuery) -> Result<Vec<Dataset>, Error> {
        let listing = self.dataset_read(DatasetRead::List(query.clone())).await?;
        let datasets = listing.known("dataset list")?;
        let campaigns = match &query.campaign {
            Some(table) => HashMap::from_iter(datasets.iter().map(|d| (d.id, table.clone()))),
            None => self.dataset_campaigns().await?,
        };
        Ok(with_campaigns(datasets, &campaigns))
    }

    /// Dataset `id` with its campaign table, or `None` when ContactNow does not list it.
    pub async fn dataset(&self, id: DatasetId) -> Result<Option<Dataset>, Error> {
        let listing = self.dataset_read(DatasetRead::One(id)).await?;
        let Some(found) = listing.known("dataset")?.iter().find(|d| d.id == id.get()) else {
            return Ok(None);
        };
        let campaigns = self.dataset_campaigns().await?;
        Ok(with_campaigns(std::slice::from_ref(found), &campaigns).pop())
    }

    /// Creates a dataset with one `ecnow_datasets` `create` (status `HOLD` and priority `0`
    /// unless given) and reads it back. Every cached dataset read is dropped first, so the
    /// read-back and later lists are fresh.
    #[tracing::instrument(name = "upstream dataset create", skip_all)]
    pub async fn create_dataset(&self, new: &NewDataset) -> Result<Dataset, Error> {
        let status = new.status.unwrap_or(DatasetStatus::Hold);
        let mut row: Vec<(Cow<'_, str>, Cow<'_, str>)> =
            vec![("qid".into(), new.queue_id.to_string().into())];
        if let Some(description) = &new.description {
            row.push(("description".into(), description.as_str().into()));
        }
        row.push(("d_status".into(), status.name().to_ascii_uppercase().into()));
        row.push((
            "d_priority".into(),
            new.priority.unwrap_or(0).to_string().into(),
        ));
        if let Some(notes) = &new.notes {
            row.push(("notes".into(), notes.as_str().into()));
        }
        let body = WireRow::payload_of(&[WireRow(row)], query::DATASETS_METHOD, self.format);
        let envelope = self.dataset_write(Action::Create, body).await?;
        let id = envelope
            .key
            .filter(|key| *key > 0)
            .and_then(|key| DatasetId::try_from(key).ok())
            .ok_or_else(|| Error::UpstreamFailed("dataset create answered no key".into()))?;
        self.dataset(id)
            .await?
            .ok_or_else(|| Error::UpstreamFailed(format!("created dataset {id} is not listed")))
    }

    /// Changes dataset `id` with one `ecnow_datasets` `update` (only the given fields) and reads
    /// it back. Every cached dataset read is dropped first.
    #[tracing::instrument(name = "upstream dataset update", skip_all, fields(dataset = %id))]
    pub async fn update_dataset(
        &self,
        id: DatasetId,
        patch: &DatasetPatch,
    ) -> Result<Dataset, Error> {
        let mut row: Vec<(Cow<'_, str>, Cow<'_, str>)> =
            vec![("dataset".into(), id.to_string().into())];
        if let Some(status) = patch.status {
            row.push(("d_status".into(), status.name().to_ascii_uppercase().into()));
        }
        if let Some(priority) = patch.priority {
            row.push(("d_priority".into(), priority.to_string().into()));
        }
        if let Some(description) = &patch.description {
            row.push(("description".into(), description.as_str().into()));
        }
        if let Some(notes) = &patch.notes {
            row.push(("notes".into(), notes.as_str().into()));
        }
        let body = WireRow::payload_of(&[WireRow(row)], query::DATASETS_METHOD, self.format);
        self.dataset_write(Action::Update, body).await?;
        self.dataset(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Dataset [{id}] does not exist.")))
    }

    /// Dataset `id` read past the cache (the cached read is dropped first): for a check before
    /// a write.
    pub async fn fresh_dataset(&self, id: DatasetId) -> Result<Option<Dataset>, Error> {
        self.tables.datasets.invalidate(&DatasetRead::One(id)).await;
        self.dataset(id).await
    }

    /// One `ecnow_datasets` write; whatever it answers, every cached dataset read is dropped.
    /// A refusal, or a row counted bad, is the caller's data refused (`404` for a dataset that
    /// does not exist, else `422`).
    async fn dataset_write(&self, action: Action, body: Vec<u8>) -> Result<Envelope, Error> {
        let answer = self
            .exchange_answer(
                Script::Ecnow,
                query::DATASETS_METHOD,
                action,
                &[],
                Some(body),
            )
            .await;
        self.tables.datasets.invalidate_all();
        self.tables.tables.invalidate_all();
        let envelope = answer?.map_err(data_error)?;
        if envelope.bad.unwrap_or(0) > 0 || envelope.total == Some(0) {
            return Err(data_error(
                envelope
                    .error
                    .unwrap_or_else(|| "ContactNow refused the dataset".into()),
            ));
        }
        Ok(envelope)
    }

    /// The campaign table of every dataset ContactNow places in one: the campaign tables, then
    /// each table's datasets (both cached). Empty when the table list is refused; a table whose
    /// datasets are refused places none.
    pub async fn dataset_campaigns(&self) -> Result<HashMap<u64, TableName>, Error> {
        let tables = self.campaign_tables().await?;
        let mut campaigns = HashMap::new();
        let Listing::Known(tables) = &*tables else {
            return Ok(campaigns);
        };
        // One lookup at a time: each is cached, so only the first request after the TTL pays.
        for table in tables {
            if let TableDatasets::Known(ids) = &*self.table_datasets(table).await? {
                for id in ids {
                    campaigns.entry(*id).or_insert_with(|| table.clone());
                }
            }
        }
        Ok(campaigns)
    }

    /// The campaign table that holds dataset `id`, as the cached table lists place it: `None`
    /// when the table list is refused or no table's (readable) dataset list names it.
    pub async fn dataset_campaign(&self, id: DatasetId) -> Result<Option<TableName>, Error> {
        let tables = self.campaign_tables().await?;
        let Listing::Known(tables) = &*tables else {
            return Ok(None);
        };
        for table in tables {
            if let TableDatasets::Known(ids) = &*self.table_datasets(table).await?
                && ids.contains(&id.get())
            {
                return Ok(Some(table.clone()));
            }
        }
        Ok(None)
    }

    /// The columns a write into `target` is checked against: the (cached) field list of the
    /// target's campaign table. `None`, and the write falls back to the syntax rules, when the
    /// campaign is unknown (a dataset no readable table list places) or ContactNow refuses or
    /// lists nothing for the field list; a fault on the way is the answer's fault (5xx).
    pub async fn write_columns(
        &self,
        target: &UpdateTarget,
    ) -> Result<Option<Arc<CampaignColumns>>, Error> {
        let listing = match target {
            UpdateTarget::Table(table) => self.campaign_fields(table).await?,
            UpdateTarget::Dataset(dataset) => match self.dataset_campaign(*dataset).await? {
                Some(table) => self.campaign_fields(&table).await?,
                None => return Ok(None),
            },
        };
        Ok(match &*listing {
            Listing::Known(columns) if !columns.is_empty() => Some(columns.clone()),
            _ => None,
        })
    }

    /// The account's campaign tables.
    pub async fn campaign_tables(&self) -> Result<Arc<Listing<Vec<TableName>>>, Error> {
        let fetch = move || async move {
            let rows = self
                .metadata_rows(Script::Ecnow, query::CAMPAIGN_TABLES_METHOD, &[])
                .await?;
            parse_rows(rows, campaign_table)
        };
        self.listing(
            MetadataList::CampaignTables,
            &self.tables.campaign_tables,
            &(),
            fetch,
        )
        .await
    }

    /// The columns of campaign `table`.
    pub async fn campaign_fields(
        &self,
        table: &TableName,
    ) -> Result<Arc<Listing<Arc<CampaignColumns>>>, Error> {
        let fetch = move || async move {
            let args = [("table".into(), table.to_string())];
            let rows = self
                .metadata_rows(Script::Ecnow, query::CAMPAIGN_FIELDS_METHOD, &args)
                .await?;
            Ok(match parse_rows(rows, campaign_field)? {
                Listing::Known(fields) => {
                    Listing::Known(Arc::new(CampaignColumns::new(table.clone(), fields)))
                }
                Listing::Refused(refusal) => Listing::Refused(refusal),
            })
        };
        self.listing(
            MetadataList::CampaignFields,
            &self.tables.fields,
            table,
            fetch,
        )
        .await
    }

    /// The account's outcome codes.
    pub async fn outcome_codes(&self) -> Result<Arc<Listing<Vec<OutcomeCode>>>, Error> {
        let fetch = move || async move {
            let rows = self
                .metadata_rows(Script::Database, query::OUTCOME_CODES_METHOD, &[])
                .await?;
            parse_rows(rows, outcome_code)
        };
        self.listing(
            MetadataList::OutcomeCodes,
            &self.tables.outcome_codes,
            &(),
            fetch,
        )
        .await
    }

    async fn dataset_read(&self, read: DatasetRead) -> Result<Arc<Listing<Vec<Dataset>>>, Error> {
        let wanted = &read;
        let fetch = move || async move {
            let mut args: Vec<(Cow<'static, str>, String)> = Vec::new();
            match wanted {
                DatasetRead::One(id) => args.push(("dataset".into(), id.to_string())),
                DatasetRead::List(query) => {
                    if let Some(status) = query.status {
                        args.push(("state".into(), status.name().to_ascii_uppercase()));
                    }
                    if let Some(table) = &query.campaign {
                        args.push(("table".into(), table.to_string()));
                    }
                    if let Some(queue) = query.queue_id {
                        args.push(("qid".into(), queue.to_string()));
                    }
                }
            }
            let rows = self
                .metadata_rows(Script::Ecnow, query::DATASETS_METHOD, &args)
                .await?;
            parse_rows(rows, dataset)
        };
        self.listing(MetadataList::Datasets, &self.tables.datasets, &read, fetch)
            .await
    }

    /// `key` of `cache`, fetched by the future `fetch` makes once for every concurrent caller,
    /// counted in the metadata list metrics. `fetch` runs only on a miss.
    async fn listing<K, T, Fut>(
        &self,
        list: MetadataList,
        cache: &Cache<K, Arc<Listing<T>>>,
        key: &K,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<Arc<Listing<T>>, Error>
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        T: Send + Sync + 'static,
        Fut: Future<Output = Result<Listing<T>, Error>>,
    {
        let fetch = move || async move {
            let result = fetch().await;
            self.metrics.metadata_list_fetch(
                list,
                match &result {
                    Ok(Listing::Known(_)) => MetadataOutcome::Ok,
                    Ok(Listing::Refused(_)) => MetadataOutcome::Refused,
                    Err(_) => MetadataOutcome::Error,
                },
            );
            result
        };
        let (value, fetched) = cached(cache, key, fetch).await?;
        if !fetched {
            self.metrics.metadata_list_cache_hit(list);
        }
        Ok(value)
    }

    /// One metadata read: its rows, or ContactNow's refusal (kept like an answer).
    #[tracing::instrument(name = "upstream metadata read", skip(self, args))]
    async fn metadata_rows(
        &self,
        script: Script,
        method: &str,
        args: &[(Cow<'_, str>, String)],
    ) -> Result<Listing<Vec<Row>>, Error> {
        match self
            .exchange_answer(script, method, Action::Read, args, None)
            .await?
        {
            Ok(envelope) => Ok(Listing::Known(envelope.list.unwrap_or_default())),
            Err(refusal) => {
                tracing::warn!(refusal, "ContactNow refused a metadata read");
                Ok(Listing::Refused(refusal))
            }
        }
    }
}

/// The datasets with the campaign table `campaigns` names for each.
fn with_campaigns(datasets: &[Dataset], campaigns: &HashMap<u64, TableName>) -> Vec<Dataset> {
    datasets
        .iter()
        .map(|d| Dataset {
            campaign: campaigns.get(&d.id).map(|t| t.to_string()),
            ..d.clone()
        })
        .collect()
}

fn parse_rows<T>(
    rows: Listing<Vec<Row>>,
    parse: fn(&Row) -> Result<T, Error>,
) -> Result<Listing<Vec<T>>, Error> {
    Ok(match rows {
        Listing::Known(rows) => Listing::Known(rows.iter().map(parse).collect::<Result<_, _>>()?),
        Listing::Refused(refusal) => Listing::Refused(refusal),
    })
}

/// The upstream's name of a row column.
fn key_name(key: &RowKey) -> &str {
    match key {
        RowKey::Column(column) => column.read_name(),
        RowKey::Custom(name) => name,
    }
}

/// The non-empty value of column `name` (in any letter case).
fn cell<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    row.iter()
        .find(|(key, _)| key_name(key).eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_deref())
        .filter(|value| !value.trim().is_empty())
}

fn text(row: &Row, name: &str) -> Option<String> {
    cell(row, name).map(str::to_owned)
}

fn number<T: FromStr>(row: &Row, name: &str) -> Result<Option<T>, Error> {
    cell(row, name)
        .map(|value| {
            value
                .trim()
                .parse()
                .map_err(|_| bad_answer(format!("`{name}` is not a number")))
        })
        .transpose()
}

/// A flag spelled `Y`/`N`, `yes`/`no`, `1`/`0` or `true`/`false`; absent or empty is false.
fn flag(row: &Row, name: &str) -> Result<bool, Error> {
    let Some(value) = cell(row, name) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "1" | "true" => Ok(true),
        "n" | "no" | "0" | "false" => Ok(false),
        _ => Err(bad_answer(format!("`{name}` is not a flag"))),
    }
}

fn dataset(row: &Row) -> Result<Dataset, Error> {
    let id = number::<u64>(row, "dataset")?
        .and_then(|id| DatasetId::try_from(id).ok())
        .ok_or_else(|| bad_answer("an ecnow_datasets row without a dataset id"))?;
    let status = match cell(row, "d_status").map(|s| s.trim().to_ascii_uppercase()) {
        Some(s) if s == "HOLD" => DatasetStatus::Hold,
        Some(s) if s == "LIVE" => DatasetStatus::Live,
        Some(s) if s == "EXPIRED" => DatasetStatus::Expired,
        _ => return Err(bad_answer("`d_status` is not HOLD, LIVE or EXPIRED")),
    };
    let priority = number::<u8>(row, "d_priority")?.unwrap_or(0);
    if priority > MAX_PRIORITY {
        return Err(bad_answer("`d_priority` is over 90"));
    }
    Ok(Dataset {
        id: id.get(),
        queue_id: number(row, "qid")?.unwrap_or(0),
        status,
        priority,
        description: text(row, "description"),
        notes: text(row, "notes"),
        callbacks: text(row, "callbacks"),
        locked: flag(row, "locked")?,
        campaign: None,
    })
}

/// The table a `campaign_tables` row names.
pub(super) fn campaign_table(row: &Row) -> Result<TableName, Error> {
    let name = cell(row, "name").unwrap_or_default();
    TableName::parse("name", name.trim())
        .map_err(|_| bad_answer("a campaign_tables row without a usable table name"))
}

/// The field a `campaign_fields` row describes.
pub(super) fn campaign_field(row: &Row) -> Result<CampaignField, Error> {
    let name = cell(row, "name")
        .map(str::trim)
        .ok_or_else(|| bad_answer("a campaign_fields row without a name"))?
        .to_owned();
    // `standard_field` is a count (`1`, `2`, …) where a flag might be expected: above 0 is set.
    let standard = match number::<u32>(row, "standard_field") {
        Ok(count) => count.unwrap_or(0) > 0,
        Err(_) => flag(row, "standard_field")?,
    };
    // Where a record read puts the column: its gateway field, else `custom`.
    let gateway_name = match RowKey::of(&name) {
        RowKey::Column(column) => column.name().to_owned(),
        RowKey::Custom(_) => format!("custom.{name}"),
    };
    Ok(CampaignField {
        gateway_name,
        kind: text(row, "type"),
        size: number(row, "size")?,
        group: text(row, "group_name"),
        prompt: text(row, "prompt"),
        required: flag(row, "required")?,
        read_only: flag(row, "readonly")?,
        hidden: flag(row, "hidden")?,
        searchable: flag(row, "search")?,
        order: number(row, "order")?,
        standard,
        picklist: text(row, "picklist"),
        name,
    })
}

fn outcome_code(row: &Row) -> Result<OutcomeCode, Error> {
    let code = number::<u32>(row, "outcome")?
        .filter(|code| (1..=MAX_OUTCOME_CODE).contains(code))
        .ok_or_else(|| bad_answer("an outcomecodes row without a usable `outcome`"))?;
    Ok(OutcomeCode {
        code,
        description: text(row, "description"),
        complete: flag(row, "complete")?,
        dmc: flag(row, "dmc")?,
        sale: flag(row, "sale")?,
        do_not_call: flag(row, "do_not_call")?,
        answerphone: flag(row, "answerphone")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, &str)]) -> Row {
        cells
            .iter()
            .map(|(k, v)| (RowKey::of(k), Some((*v).to_owned())))
            .collect()
    }

    #[test]
    fn a_dataset_row_becomes_the_spec_dataset() {
        let parsed = dataset(&row(&[
            ("dataset", "351"),
            ("qid", "75674454"),
            ("d_status", "LIVE"),
            ("d_priority", "0"),
            ("notes", "Loaded by Importer 2.1"),
            ("callbacks", "none"),
            ("crm_account", "0"),
            ("description", "MyNumber"),
            ("locked", "0"),
        ]))
        .unwrap();
        let expected = serde_json::json!({"id": 351, "queue_id": 75674454, "status": "live",
            "priority": 0, "description": "MyNumber", "notes": "Loaded by Importer 2.1",
            "callbacks": "none", "locked": false, "campaign": null});
        assert_eq!(serde_json::to_value(parsed).unwrap(), expected);
    }

    #[test]
    fn hostile_values_are_invalid_answers_not_panics() {
        let base = [("dataset", "351"), ("d_status", "LIVE")];
        for (name, value) in [
            ("dataset", "x"),
            ("dataset", "0"),
            ("dataset", "99999999999999999999"),
            ("d_status", "PAUSED"),
            ("d_priority", "91"),
            ("d_priority", "-1"),
            ("qid", "1e3"),
            ("locked", "maybe"),
        ] {
            let mut cells = base.to_vec();
            cells.retain(|(n, _)| *n != name);
            cells.push((name, value));
            assert!(dataset(&row(&cells)).is_err(), "{name}={value}");
        }
        assert!(outcome_code(&row(&[("outcome", "1000000000")])).is_err());
        assert!(outcome_code(&row(&[("outcome", "200"), ("sale", "perhaps")])).is_err());
        assert!(campaign_field(&row(&[("name", "x"), ("size", "big")])).is_err());
        assert!(campaign_table(&row(&[("name", "a b")])).is_err());
    }

    #[test]
    fn fields_map_standard_columns_to_gateway_names_and_the_rest_to_custom() {
        let first = campaign_field(&row(&[
            ("name", "FirstName"),
            ("standard_field", "1"),
            ("readonly", "N"),
            ("search", "yes"),
            ("required", "Y"),
            ("size", "50"),
            ("order", "4"),
            ("picklist", ""),
        ]))
        .unwrap();
        assert_eq!(first.gateway_name, "first_name");
        assert!(first.standard && first.searchable && first.required && !first.read_only);
        assert_eq!(
            (first.size, first.order, first.picklist),
            (Some(50), Some(4), None)
        );
        let custom =
            campaign_field(&row(&[("name", "company_name"), ("standard_field", "0")])).unwrap();
        assert_eq!(custom.gateway_name, "custom.company_name");
        assert!(!custom.standard);
        let code = outcome_code(&row(&[
            ("outcome", "510456"),
            ("complete", "Y"),
            ("do_not_call", "N"),
            ("answerphone", "1"),
        ]))
        .unwrap();
        assert!(code.complete && !code.do_not_call && code.answerphone && !code.sale);
    }
}
