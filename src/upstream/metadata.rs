//! Account metadata, cached in moka: the dataset ids of each campaign table (read from
//! `ecnow_datasets` with `table=`), dataset reads by filter or id, the campaign tables, each
//! table's fields, and the outcome codes.
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
use crate::domain::dataset::{Dataset, DatasetQuery, OutcomeCode};
use crate::domain::{CampaignColumns, DatasetId, TableName};
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

/// How a metadata listing ended when ContactNow answered: its rows, or its refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing<T> {
    /// What ContactNow listed.
    Known(T),
    /// ContactNow refused the read (its error text): e.g. the API user lacks the method, or the
    /// table does not exist.
    Refused(String),
}

/// The most distinct entries kept per metadata list (the least used go first).
pub const MAX_CACHED_LISTINGS: u64 = 10_000;

/// The metadata caches of one client: each table's datasets, dataset reads by filter, the
/// campaign tables, each table's fields, the outcome codes. Every entry lives `ttl`.
pub(crate) struct MetadataCache {
    pub(super) tables: Cache<TableName, Arc<TableDatasets>>,
    /// Datasets as their rows show them: `campaign` is `None` here, added from `tables`.
    pub(super) datasets: Cache<DatasetRead, Arc<Listing<Vec<Dataset>>>>,
    pub(super) campaign_tables: Cache<(), Arc<Listing<Vec<TableName>>>>,
    /// Each table's fields, with the lookups of the write checks built once per fetch.
    pub(super) fields: Cache<TableName, Arc<Listing<Arc<CampaignColumns>>>>,
    pub(super) outcome_codes: Cache<(), Arc<Listing<Vec<OutcomeCode>>>>,
    /// The fresh reads of datasets the cached list does not show: at most one per dataset per
    /// [`FRESH_DATASET_READ_INTERVAL`].
    pub(super) fresh_datasets: Cache<DatasetId, Arc<Listing<Vec<Dataset>>>>,
}

/// How long the fresh read of a dataset the cached list does not show is kept: a records route
/// reads such a dataset at most once per this interval before answering `404`.
pub const FRESH_DATASET_READ_INTERVAL: Duration = Duration::from_secs(10);

/// One `ecnow_datasets` read: by id, or by the list filters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum DatasetRead {
    /// `dataset=`.
    One(DatasetId),
    /// `state`, `table`, `qid`.
    List(DatasetQuery),
}

fn cache<K, V>(ttl: Duration, capacity: u64) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(ttl)
        .build()
}

/// The value of `key` in `cache`: cached, or loaded by the future `fetch` makes (once for every
/// concurrent caller; an error is not kept). The flag says whether `fetch` ran for this call.
///
/// A hit never builds the fetch future: it is made and boxed on a miss only, so the future of
/// every caller stays the size of a hit (a request's future is moved whole at each layer).
pub(super) async fn cached<K, V, Fut>(
    cache: &Cache<K, Arc<V>>,
    key: &K,
    fetch: impl FnOnce() -> Fut,
) -> Result<(Arc<V>, bool), Error>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
    Fut: Future<Output = Result<V, Error>>,
{
    if let Some(value) = cache.get(key).await {
        return Ok((value, false));
    }
    // The miss path, boxed: its state (moka's loader and the fetch) lives on the heap.
    Box::pin(async move {
        let fetched = std::sync::atomic::AtomicBool::new(false);
        let load = async {
            fetched.store(true, std::sync::atomic::Ordering::Relaxed);
            fetch().await.map(Arc::new)
        };
        let value = cache
            .try_get_with_by_ref(key, load)
            .await
            .map_err(|error: Arc<Error>| (*error).clone())?;
        Ok((value, fetched.load(std::sync::atomic::Ordering::Relaxed)))
    })
    .await
}

impl MetadataCache {
    /// Empty caches whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            tables: cache(ttl, MAX_CACHED_TABLES),
            datasets: cache(ttl, MAX_CACHED_LISTINGS),
            campaign_tables: cache(ttl, 1),
            fields: cache(ttl, MAX_CACHED_LISTINGS),
            outcome_codes: cache(ttl, 1),
            fresh_datasets: cache(FRESH_DATASET_READ_INTERVAL, MAX_CACHED_LISTINGS),
        }
    }

    /// The datasets of `table`: cached, or loaded by `fetch` (once for every concurrent caller).
    /// The flag says whether `fetch` ran for this call.
    pub async fn get<Fut>(
        &self,
        table: &TableName,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<(Arc<TableDatasets>, bool), Error>
    where
        Fut: Future<Output = Result<TableDatasets, Error>>,
    {
        cached(&self.tables, table, fetch).await
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
