//! Campaign table metadata, cached in moka: the dataset ids of each campaign table, read from
//! `ecnow_datasets` with `table=`.
//!
//! A read row names its dataset but not its campaign table, so a table read is checked against
//! this list. One fetch per table however many requests arrive at once (`try_get_with`
//! coalesces concurrent loads and caches no error); an answer, or ContactNow's refusal of the
//! list, is kept for `GATEWAY_METADATA_TTL_SECONDS`. A fault on the way (timeout, HTTP error,
//! open breaker) is not kept: the next request asks again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::wire::{Row, RowKey, bad_answer};
use crate::domain::TableName;
use crate::error::Error;

/// The default of `GATEWAY_METADATA_TTL_SECONDS`: how long a table's dataset list is kept.
pub const DEFAULT_METADATA_TTL_SECS: u64 = 300;

/// The longest `GATEWAY_METADATA_TTL_SECONDS` accepted: one day.
pub const MAX_METADATA_TTL_SECS: u64 = 86_400;

/// The most campaign tables whose dataset lists are kept at once (the least used go first).
pub const MAX_CACHED_TABLES: u64 = 10_000;

/// The column of an `ecnow_datasets` row that holds the dataset id.
const DATASET_COLUMN: &str = "dataset";

/// What ContactNow says of a campaign table's datasets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableDatasets {
    /// The ids of the datasets loaded into the table (possibly none).
    Known(HashSet<u64>),
    /// ContactNow refused the dataset list itself (e.g. the API user lacks `ecnow_datasets`):
    /// which datasets the table holds is unknown.
    Refused,
}

impl TableDatasets {
    /// The dataset ids of an `ecnow_datasets` read's rows; a row without a numeric `dataset` is
    /// an invalid answer.
    pub fn from_rows(rows: Option<Vec<Row>>) -> Result<Self, Error> {
        rows.unwrap_or_default()
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .find_map(|(key, value)| match key {
                        RowKey::Custom(name) if name.eq_ignore_ascii_case(DATASET_COLUMN) => value,
                        _ => None,
                    })
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .ok_or_else(|| bad_answer("an ecnow_datasets row without a numeric `dataset`"))
            })
            .collect::<Result<HashSet<u64>, Error>>()
            .map(Self::Known)
    }
}

/// The table → datasets cache of one client.
pub(crate) struct MetadataCache {
    tables: Cache<TableName, Arc<TableDatasets>>,
}

impl MetadataCache {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            tables: Cache::builder()
                .max_capacity(MAX_CACHED_TABLES)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The datasets of `table`: cached, or loaded by `fetch` (once for every concurrent caller).
    /// The flag says whether `fetch` ran for this call.
    pub async fn get(
        &self,
        table: &TableName,
        fetch: impl Future<Output = Result<TableDatasets, Error>>,
    ) -> Result<(Arc<TableDatasets>, bool), Error> {
        let fetched = std::sync::atomic::AtomicBool::new(false);
        let load = async {
            fetched.store(true, std::sync::atomic::Ordering::Relaxed);
            fetch.await.map(Arc::new)
        };
        let datasets = self
            .tables
            .try_get_with_by_ref(table, load)
            .await
            .map_err(|error: Arc<Error>| (*error).clone())?;
        Ok((datasets, fetched.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dataset: Option<&str>) -> Row {
        let mut row = vec![(RowKey::of("qid"), Some("75674454".into()))];
        if let Some(dataset) = dataset {
            row.push((RowKey::of("Dataset"), Some(dataset.into())));
        }
        row
    }

    #[test]
    fn a_dataset_list_is_the_set_of_its_rows_ids() {
        let rows = Some(vec![row(Some("100")), row(Some(" 351 "))]);
        assert_eq!(
            TableDatasets::from_rows(rows).unwrap(),
            TableDatasets::Known(HashSet::from([100, 351]))
        );
        assert_eq!(
            TableDatasets::from_rows(None).unwrap(),
            TableDatasets::Known(HashSet::new())
        );
        assert!(TableDatasets::from_rows(Some(vec![row(None)])).is_err());
        assert!(TableDatasets::from_rows(Some(vec![row(Some("x"))])).is_err());
    }
}
