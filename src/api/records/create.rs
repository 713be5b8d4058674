//! `POST /datasets/{dataset}/records`: one record, or a batch sent upstream in chunks.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};

use super::schemas::{BatchResult, CreateBody, CreatedRecord};
use super::{
    DatasetUse, IDEMPOTENCY_KEY_DESCRIPTION, granted_parent, outcome_of, refuse_query,
    require_dataset, require_fields, require_outcome,
};
use crate::api::JsonBody;
use crate::api::responses::*;
use crate::auth::{Caller, Scope};
use crate::domain::{CreateRequest, DatasetId, NewRecord, UpdateTarget};
use crate::error::Error;
use crate::idempotency::{Idempotency, IdempotencyKey, Reply, WriteKind, fingerprint};
use crate::upstream::{ContactNowClient, CreateOutcome};

/// How many records go upstream in one `create` exchange.
pub const CREATE_CHUNK: usize = 500;

/// Create one record, or a batch of up to 1000.
///
/// One object answers `201` with the new id and `Location`. An array is sent upstream in chunks
/// of 500 and answers `201` when every record was created, `207` when some were refused, `422`
/// when all were. The body is validated whole before anything is sent, against the dataset
/// campaign's own columns too (`GET /campaigns/{table}/fields`): a `custom` column the campaign
/// does not have, or a value longer than its column's `size`, is `422` naming the field
/// (`custom.<name>`, or `[i].custom.<name>` in a batch) and the campaign's custom columns.
#[utoipa::path(
    tag = "records",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 100),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY_DESCRIPTION),
    ),
    request_body(content = CreateBody, description = "One record or an array of 1 to 1000"),
    responses(
        (status = 201, description = "Created", body = CreatedRecord,
            headers(("Location" = String, description = "/datasets/{dataset}/records/{id}"))),
        (status = 207, description = "Batch: some records refused", body = BatchResult),
        BadRequestWrite,
        Unauthorized,
        ForbiddenDataset,
        DatasetNotFound,
        BodyTimeout,
        IdempotencyConflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        CreateRefused,
        TooManyWrites,
        BadGateway,
        UnavailableWrite,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[post("/datasets/{dataset}/records")]
pub async fn create_records(
    caller: Caller,
    dataset: web::Path<String>,
    body: JsonBody,
    key: IdempotencyKey,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
    idempotency: web::Data<Idempotency>,
) -> Result<HttpResponse, Error> {
    let dataset: DatasetId = granted_parent(&caller, Scope::Write, &dataset)?;
    refuse_query(&request)?;
    let create = NewRecord::parse_body(&body.0)?;
    let print = || fingerprint("POST", request.path(), &body.0);
    let write = async {
        require_dataset(&client, dataset, DatasetUse::Create).await?;
        for (index, record) in create.records().iter().enumerate() {
            let code = record
                .values()
                .find_map(|(column, value)| outcome_of(column, Some(value)));
            let field = match &create {
                CreateRequest::One(_) => "outcome_code".to_string(),
                CreateRequest::Many(_) => format!("[{index}].outcome_code"),
            };
            require_outcome(&client, field, code).await?;
        }
        let batch = matches!(create, CreateRequest::Many(_));
        require_fields(
            &client,
            &UpdateTarget::Dataset(dataset),
            |columns, errors| {
                for (index, record) in create.records().iter().enumerate() {
                    columns.check_record(record, batch.then_some(index), errors);
                }
            },
        )
        .await?;
        match &create {
            CreateRequest::One(record) => create_one(&client, dataset, record).await,
            CreateRequest::Many(records) => create_batch(&client, dataset, records).await,
        }
    };
    idempotency
        .run(&caller.sub, key, WriteKind::Create, print, write)
        .await
}

async fn create_one(
    client: &ContactNowClient,
    dataset: DatasetId,
    record: &NewRecord,
) -> Result<Reply, Error> {
    let created = client.create_one(dataset, record).await?;
    let id = created.id;
    let created = CreatedRecord {
        id: id.get(),
        dataset_id: dataset.get(),
        live: created.live,
        info: created.info,
    };
    Ok(Reply::json(StatusCode::CREATED, &created)
        .with_location(format!("/datasets/{dataset}/records/{id}")))
}

/// What one upstream exchange of a batch came to, for records `range` of the batch.
enum ChunkResult {
    /// The upstream answered with its counts.
    Answered {
        range: std::ops::Range<usize>,
        outcome: CreateOutcome,
    },
    /// The exchange failed after earlier chunks were created: these records, and every later
    /// one, are not confirmed.
    Unconfirmed {
        range: std::ops::Range<usize>,
        error: Error,
    },
}

impl ChunkResult {
    /// Records created.
    fn created(&self) -> u64 {
        match self {
            ChunkResult::Answered { outcome, .. } => outcome.created,
            ChunkResult::Unconfirmed { .. } => 0,
        }
    }

    /// Records refused or not confirmed.
    fn rejected(&self) -> u64 {
        match self {
            ChunkResult::Answered { outcome, .. } => outcome.rejected,
            ChunkResult::Unconfirmed { range, .. } => range.len() as u64,
        }
    }

    /// The chunk's line of [`BatchResult::info`].
    fn info_line(&self) -> String {
        match self {
            ChunkResult::Answered { range, outcome } => {
                let said = [&outcome.error, &outcome.info]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect::<Vec<_>>();
                format!(
                    "records {}..{}: {} created, {} rejected: {}",
                    range.start,
                    range.end,
                    outcome.created,
                    outcome.rejected,
                    said.join(" ")
                )
            }
            ChunkResult::Unconfirmed { range, error } => format!(
                "records {}..{}: not confirmed ({}); read back by phone before resending",
                range.start,
                range.end,
                error.code()
            ),
        }
    }
}

async fn create_batch(
    client: &ContactNowClient,
    dataset: DatasetId,
    records: &[NewRecord],
) -> Result<Reply, Error> {
    let mut chunks = Vec::new();
    for (index, chunk) in records.chunks(CREATE_CHUNK).enumerate() {
        let start = index * CREATE_CHUNK;
        match client.create(dataset, chunk).await {
            Ok(outcome) => chunks.push(ChunkResult::Answered {
                range: start..start + chunk.len(),
                outcome,
            }),
            Err(error) if index == 0 => return Err(error),
            Err(error) => {
                // Earlier chunks were created: answer what is known instead of hiding it.
                tracing::error!(%error, start, "batch create stopped at a failed chunk");
                chunks.push(ChunkResult::Unconfirmed {
                    range: start..records.len(),
                    error,
                });
                break;
            }
        }
    }
    let missing_dataset = chunks.iter().all(|chunk| {
        matches!(chunk, ChunkResult::Answered { outcome, .. }
            if outcome.created == 0 && outcome.says("does not exist"))
    });
    if missing_dataset {
        return Err(Error::NotFound(format!("dataset {dataset} does not exist")));
    }
    let result = BatchResult {
        created: chunks.iter().map(ChunkResult::created).sum(),
        rejected: chunks.iter().map(ChunkResult::rejected).sum(),
        info: chunks.iter().map(ChunkResult::info_line).collect(),
    };
    let status = match (result.created, result.rejected) {
        (_, 0) => StatusCode::CREATED,
        (0, _) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::MULTI_STATUS,
    };
    Ok(Reply::json(status, &result))
}
