//! The dataset resources: `GET /datasets` and `GET /datasets/{dataset}`, served from the
//! metadata cache.
//!
//! A caller limited by its token sees only the datasets it may touch: its `datasets`, and the
//! datasets of its `tables`.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};

use super::records::refuse_query;
use super::responses::*;
use crate::api::JsonBody;
use crate::api::records::IDEMPOTENCY_KEY_DESCRIPTION;
use crate::auth::{Caller, Scope};
use crate::domain::DatasetId;
use crate::domain::dataset::{
    Dataset, DatasetList, DatasetPatch, DatasetQuery, DatasetStatus, NewDataset,
};
use crate::error::Error;
use crate::idempotency::{Idempotency, IdempotencyKey, Reply, WriteKind, fingerprint};
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

/// Create a dataset.
///
/// Needs `datasets:write` and a token without `datasets` or `tables` (a limited caller cannot
/// create). `queue_id` is required; `status` is `hold` or `live` (default `hold`), `priority`
/// 0 to 90 (default 0). Answers `201`, `Location: /datasets/{id}` and the dataset as read back.
#[utoipa::path(
    tag = "datasets",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY_DESCRIPTION),
    ),
    request_body(content = NewDataset),
    responses(
        (status = 201, description = "Created, as read back", body = Dataset,
            headers(("Location" = String, description = "/datasets/{id}"))),
        BadRequestWrite,
        Unauthorized,
        ForbiddenScope,
        BodyTimeout,
        IdempotencyConflict,
        UnsupportedMediaType,
        InvalidFields,
        TooManyWrites,
        BadGateway,
        UnavailableWrite,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[post("/datasets")]
pub async fn create_dataset(
    caller: Caller,
    body: JsonBody,
    key: IdempotencyKey,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
    idempotency: web::Data<Idempotency>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::DatasetsWrite)?;
    if caller.is_limited() {
        return Err(Error::Forbidden(
            "a token limited to datasets or tables cannot create datasets".into(),
        ));
    }
    refuse_query(&request)?;
    let new = NewDataset::parse_body(&body.0)?;
    let print = || fingerprint("POST", request.path(), &body.0);
    let write = async {
        let dataset = client.create_dataset(&new).await?;
        let location = format!("/datasets/{}", dataset.id);
        Ok(Reply::json(StatusCode::CREATED, &dataset).with_location(location))
    };
    idempotency
        .run(&caller.sub, key, WriteKind::Create, print, write)
        .await
}

/// Change a dataset's status, priority, description or notes.
///
/// Needs `datasets:write`; a token that lists `datasets` or `tables` may change only those
/// datasets. An `expired` dataset cannot change (`409`, nothing sent). Answers `200` with the
/// dataset as read back.
#[utoipa::path(
    tag = "datasets",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 351),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY_DESCRIPTION),
    ),
    request_body(content = DatasetPatch),
    responses(
        (status = 200, description = "Updated, as read back", body = Dataset),
        BadRequestWrite,
        Unauthorized,
        ForbiddenDataset,
        DatasetNotFound,
        DatasetExpired,
        BodyTimeout,
        IdempotencyConflict,
        UnsupportedMediaType,
        InvalidFields,
        TooManyWrites,
        BadGateway,
        UnavailableWrite,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[patch("/datasets/{dataset}")]
#[allow(clippy::too_many_arguments)]
pub async fn update_dataset(
    caller: Caller,
    dataset: web::Path<String>,
    body: JsonBody,
    key: IdempotencyKey,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
    idempotency: web::Data<Idempotency>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::DatasetsWrite)?;
    let id = DatasetId::parse("dataset", &dataset)?;
    refuse_query(&request)?;
    let patch = DatasetPatch::parse_body(&body.0)?;
    if let Err(forbidden) = caller.require_dataset(id)
        && !datasets_of_granted_tables(&caller, &client)
            .await?
            .contains(&id.get())
    {
        return Err(forbidden);
    }
    let print = || fingerprint("PATCH", request.path(), &body.0);
    let write = async {
        let current = client
            .fresh_dataset(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Dataset [{id}] does not exist.")))?;
        if current.status == DatasetStatus::Expired {
            return Err(Error::StateConflict(format!(
                "dataset {id} is expired and cannot change"
            )));
        }
        let dataset = client.update_dataset(id, &patch).await?;
        Ok(Reply::json(StatusCode::OK, &dataset))
    };
    idempotency
        .run(&caller.sub, key, WriteKind::Update, print, write)
        .await
}
