//! The dataset resources: `GET /datasets` and `GET /datasets/{dataset}`, served from the
//! metadata cache.
//!
//! A caller limited by its token sees only the datasets it may touch: its `datasets`, and the
//! datasets of its `tables`.

use std::collections::HashSet;

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::records::refuse_query;
use super::responses::*;
use crate::auth::{Caller, Scope};
use crate::domain::DatasetId;
use crate::domain::dataset::{Dataset, DatasetList, DatasetQuery};
use crate::error::Error;
use crate::upstream::ContactNowClient;
use crate::upstream::metadata::TableDatasets;

/// The datasets of the tables `caller`'s token lists (none without `tables`). A table whose
/// datasets ContactNow will not list grants none.
async fn datasets_of_granted_tables(
    caller: &Caller,
    client: &ContactNowClient,
) -> Result<HashSet<u64>, Error> {
    let mut granted = HashSet::new();
    for table in caller.granted_tables().unwrap_or_default() {
        if let TableDatasets::Known(ids) = &*client.table_datasets(table).await? {
            granted.extend(ids);
        }
    }
    Ok(granted)
}

/// List datasets.
///
/// Each dataset carries its campaign table (`null` when ContactNow does not place it). Filters
/// combine with AND; any other query parameter is refused (`400`). A token that lists
/// `datasets` or `tables` sees only those datasets and the datasets of those tables.
#[utoipa::path(
    tag = "datasets",
    params(DatasetQuery),
    responses(
        (status = 200, description = "The datasets the caller may touch", body = DatasetList),
        BadRequestRead,
        Unauthorized,
        ForbiddenScope,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[get("/datasets")]
pub async fn list_datasets(
    caller: Caller,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    let query = DatasetQuery::parse_query(request.query_string())?;
    let mut datasets = client.datasets(&query).await?;
    if caller.is_limited() {
        let of_tables = datasets_of_granted_tables(&caller, &client).await?;
        datasets.retain(|dataset: &Dataset| {
            of_tables.contains(&dataset.id)
                || DatasetId::try_from(dataset.id)
                    .is_ok_and(|id| caller.require_dataset(id).is_ok())
        });
    }
    Ok(HttpResponse::Ok().json(DatasetList { datasets }))
}

/// Read one dataset.
///
/// `404` when ContactNow does not list it; `403` when the token lists `datasets` or `tables`
/// and the dataset is neither one of them nor in one of them. Takes no query parameters.
#[utoipa::path(
    tag = "datasets",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 100),
    ),
    responses(
        (status = 200, description = "The dataset", body = Dataset),
        BadRequestPath,
        Unauthorized,
        ForbiddenDataset,
        DatasetNotFound,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[get("/datasets/{dataset}")]
pub async fn get_dataset(
    caller: Caller,
    dataset: web::Path<String>,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    let id = DatasetId::parse("dataset", &dataset)?;
    refuse_query(&request)?;
    if let Err(forbidden) = caller.require_dataset(id)
        && !datasets_of_granted_tables(&caller, &client)
            .await?
            .contains(&id.get())
    {
        return Err(forbidden);
    }
    let dataset = client
        .dataset(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Dataset [{id}] does not exist.")))?;
    Ok(HttpResponse::Ok().json(dataset))
}
