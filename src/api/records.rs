//! The record resources: create, read and update ContactNow records.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::JsonBody;
use crate::auth::{Caller, Scope};
use crate::domain::{
    DatasetId, NewRecord, ReadFilter, Record, RecordId, RecordPatch, Source, TableName,
    UpdateTarget,
};
use crate::error::{Error, Problem};
use crate::idempotency::{Idempotency, IdempotencyKey, Reply, WriteKind, fingerprint};
use crate::upstream::{ContactNowClient, create_refused};

/// How many records go upstream in one `create` exchange.
pub const CREATE_CHUNK: usize = 500;

/// The answer to a single-record create.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 550447, "dataset_id": 100, "live": true, "info": "Record is LIVE on the dialer."}))]
pub struct CreatedRecord {
    /// The new record's id.
    pub id: u64,
    /// Its dataset.
    pub dataset_id: u64,
    /// Whether the record is live on the dialler.
    pub live: bool,
    /// ContactNow's information text.
    pub info: Option<String>,
}

/// The answer to a batch create.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"created": 2, "rejected": 1, "info": ["records 0..3: 2 created, 1 rejected: No phone number provided."]}))]
pub struct BatchResult {
    /// Records created.
    pub created: u64,
    /// Records refused (or not confirmed, see `info`).
    pub rejected: u64,
    /// One line per upstream exchange: what ContactNow said about that chunk.
    pub info: Vec<String>,
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = RecordList::example)]
pub struct RecordList {
    /// Every match, even those `limit` cut: ContactNow's count, less the rows of this page that
    /// were dropped for being outside the dataset read.
    #[schema(example = 1)]
    pub total: u64,
    /// The records returned.
    pub records: Vec<Record>,
}

impl RecordList {
    /// A page holding the example record.
    pub fn example() -> serde_json::Value {
        serde_json::json!({"total": 1, "records": [Record::example()]})
    }
}

/// The answer to an update.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 550447, "live": true, "info": "Record is LIVE on the dialer."}))]
pub struct UpdatedRecord {
    /// The record's id.
    pub id: u64,
    /// Whether the record is live on the dialler.
    pub live: bool,
    /// ContactNow's information text.
    pub info: Option<String>,
}

/// `mode`: which records a read keeps by their process state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModeParam {
    /// New or needing more work.
    Active,
    /// Live on the dialler.
    Live,
    /// With a callback set.
    Callbacks,
    /// Live, with a callback set.
    LiveCallbacks,
    /// Not expired.
    Unexpired,
}

/// `time_field`: the datetime column `from` / `to` apply to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeFieldParam {
    /// The callback time.
    Callback,
    /// The last processing time.
    ProcessDate,
}

/// `match`: how `search[...]` values match.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchParam {
    /// Equal.
    Exact,
    /// Contains (`*` and `%` are wildcards); the default.
    Wildcard,
}

/// The query of a table read. Filters combine with AND; any other parameter is a 400.
#[derive(Debug, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Comma list of outcome codes, e.g. `100,200`.
    pub outcome: Option<String>,
    /// Process state to keep.
    #[param(inline)]
    pub mode: Option<ModeParam>,
    /// Agent reference.
    pub agent: Option<String>,
    /// A phone matching any of the three phones.
    pub phone: Option<String>,
    /// The datetime column `from` / `to` apply to (needs one of them).
    #[param(inline)]
    pub time_field: Option<TimeFieldParam>,
    /// Inclusive start, ISO 8601 without offset (`2019-01-07` or `2019-01-07T10:15:00`).
    pub from: Option<String>,
    /// Inclusive end, ISO 8601 without offset.
    pub to: Option<String>,
    /// Search `last_name`. Any gateway field name or custom column name works in the brackets,
    /// e.g. `search[company_name]=ACME`.
    #[serde(rename = "search[last_name]")]
    pub search_last_name: Option<String>,
    /// Search `first_name`.
    #[serde(rename = "search[first_name]")]
    pub search_first_name: Option<String>,
    /// Search `postcode`.
    #[serde(rename = "search[postcode]")]
    pub search_postcode: Option<String>,
    /// How `search[...]` values match.
    #[serde(rename = "match")]
    #[param(inline)]
    pub match_: Option<MatchParam>,
    /// The most records to return: 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// The create body's record. Only a name and an example here: its schema (writable fields, at
/// least one phone, no unknown fields) is written in `constraints`, beside the other rules the
/// derive cannot express, and mirrors `NewRecord::parse`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"title": "Mr", "first_name": "Joe", "last_name": "Blogs",
    "mobile_phone": "07123456789", "custom": {"company_name": "Company Name"}}))]
pub struct NewRecordBody {}

/// A create body: one record, or an array of 1 to 1000.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreateBody {
    /// One record.
    One(Box<NewRecordBody>),
    /// A batch.
    Many(Vec<NewRecordBody>),
}

/// An update body: any writable field (`null` clears it), `notes_append`, and on
/// `PATCH /records/{id}` exactly one of `dataset` / `table`. Its schema is written in
/// `constraints` and mirrors `RecordPatch::parse_body`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"dataset": 100, "last_name": "Bloggs", "notes_append": "Called back"}))]
pub struct RecordPatchBody {}

/// Every route without documented query parameters refuses any query (`400`), writes included:
/// a `?dry_run=true` the gateway does not know must never turn into a real write.
fn refuse_query(request: &HttpRequest) -> Result<(), Error> {
    match request.query_string() {
        "" => Ok(()),
        _ => Err(Error::bad_field(
            "query",
            "this route takes no query parameters",
        )),
    }
}

/// Create one record, or a batch of up to 1000.
///
/// One object answers `201` with the new id and `Location`. An array is sent upstream in chunks
/// of 500 and answers `201` when every record was created, `207` when some were refused, `422`
/// when all were. The body is validated whole before anything is sent.
#[utoipa::path(
    tag = "records",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, maximum = 9007199254740991_u64, example = 100),
        ("Idempotency-Key" = Option<String>, Header, description = "A Structured Field string (`\"…\"`, 1 to 255 characters). A retry with the same key and body replays the first answer (with `Idempotent-Replayed: true`) and never writes twice. Use a fresh value per logical write, e.g. `\"8e03978e-40d5-43e8-bc93-6894a57f9324\"`."),
    ),
    request_body(content = CreateBody, description = "One record or an array of 1 to 1000"),
    responses(
        (status = 201, description = "Created", body = CreatedRecord,
            headers(("Location" = String, description = "/datasets/{dataset}/records/{id}"))),
        (status = 207, description = "Batch: some records refused", body = BatchResult),
        (status = 400, description = "Malformed body or path, or a query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope or dataset not granted", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Dataset does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body did not arrive whole within `GATEWAY_BODY_TIMEOUT_MS`; the connection is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is running, or its outcome is unknown", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, every record refused, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit reached (`too_many_requests`), or this caller holds its whole share of live Idempotency-Keys (`idempotency_quota_exceeded`; only new keys are refused, nothing was sent); both with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), the shared store unreachable (`store_unavailable`), or the idempotency store full for a new Idempotency-Key (`idempotency_store_full`, with `Retry-After`; nothing was sent)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
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
    caller.require(Scope::Write)?;
    let dataset = DatasetId::parse("dataset", &dataset)?;
    caller.require_dataset(dataset)?;
    refuse_query(&request)?;
    let records = NewRecord::parse_body(&body.0)?;
    let print = || fingerprint("POST", request.path(), &body.0);
    let write = async {
        match body.0.is_object() {
            true => create_one(&client, dataset, &records).await,
            false => create_batch(&client, dataset, &records).await,
        }
    };
    idempotency
        .run(&caller.sub, key, WriteKind::Create, print, write)
        .await
}

async fn create_one(
    client: &ContactNowClient,
    dataset: DatasetId,
    records: &[NewRecord],
) -> Result<Reply, Error> {
    let outcome = client.create(dataset, records).await?;
    if outcome.created != 1 || outcome.rejected > 0 {
        return Err(create_refused(&outcome));
    }
    let id = outcome
        .key
        .ok_or_else(|| Error::UpstreamFailed("create answered no key".into()))?;
    let created = CreatedRecord {
        id: id.get(),
        dataset_id: dataset.get(),
        live: outcome.live,
        info: outcome.info,
    };
    Ok(Reply::json(StatusCode::CREATED, &created)
        .with_location(format!("/datasets/{dataset}/records/{id}")))
}

async fn create_batch(
    client: &ContactNowClient,
    dataset: DatasetId,
    records: &[NewRecord],
) -> Result<Reply, Error> {
    let mut result = BatchResult {
        created: 0,
        rejected: 0,
        info: Vec::new(),
    };
    for (index, chunk) in records.chunks(CREATE_CHUNK).enumerate() {
        let (start, end) = (index * CREATE_CHUNK, index * CREATE_CHUNK + chunk.len());
        match client.create(dataset, chunk).await {
            Ok(outcome) => {
                result.created += outcome.created;
                result.rejected += outcome.rejected;
                let said = [outcome.error, outcome.info]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>();
                result.info.push(format!(
                    "records {start}..{end}: {} created, {} rejected: {}",
                    outcome.created,
                    outcome.rejected,
                    said.join(" ")
                ));
            }
            Err(error) if index == 0 => return Err(error),
            Err(error) => {
                // Earlier chunks were created: answer what is known instead of hiding it.
                tracing::error!(%error, start, "batch create stopped at a failed chunk");
                result.rejected += (records.len() - start) as u64;
                result.info.push(format!(
                    "records {start}..{}: not confirmed ({}); read back by phone before resending",
                    records.len(),
                    error.code()
                ));
                break;
            }
        }
    }
    if result.created == 0
        && result
            .info
            .iter()
            .all(|line| line.contains("does not exist"))
    {
        return Err(Error::NotFound(format!("dataset {dataset} does not exist")));
    }
    let status = match (result.created, result.rejected) {
        (_, 0) => StatusCode::CREATED,
        (0, _) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::MULTI_STATUS,
    };
    Ok(Reply::json(status, &result))
}

/// Read the records of a dataset.
///
/// Filters combine with AND. `search[<field>]` takes a gateway field name (`last_name`) or a
/// custom column's own name. Any other query parameter is refused (`400`), so a typo never
/// widens a read.
#[utoipa::path(
    tag = "records",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 100),
        ReadQuery,
    ),
    responses(
        (status = 200, description = "The matching records", body = RecordList),
        (status = 400, description = "Malformed or unknown query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope or dataset not granted", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), or the shared store of cluster-wide limits unreachable (`store_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/datasets/{dataset}/records")]
pub async fn list_dataset_records(
    caller: Caller,
    dataset: web::Path<String>,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    let dataset = DatasetId::parse("dataset", &dataset)?;
    caller.require_dataset(dataset)?;
    let filter = ReadFilter::parse_query(request.query_string())?;
    list(&client, Source::Dataset(dataset), &filter).await
}

/// Read one record of a dataset.
///
/// `404` when the record does not exist or belongs to another dataset. Takes no query
/// parameters.
#[utoipa::path(
    tag = "records",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 100),
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
    ),
    responses(
        (status = 200, description = "The record", body = Record),
        (status = 400, description = "Malformed path, or a query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope or dataset not granted", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record in the dataset", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), or the shared store of cluster-wide limits unreachable (`store_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/datasets/{dataset}/records/{id}")]
pub async fn get_dataset_record(
    caller: Caller,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    let dataset = DatasetId::parse("dataset", &path.0)?;
    let id = RecordId::parse("id", &path.1)?;
    caller.require_dataset(dataset)?;
    refuse_query(&request)?;
    let record = find(&client, &Source::Dataset(dataset), id).await?;
    Ok(HttpResponse::Ok().json(record))
}

/// Update a record of a dataset.
///
/// Any writable field (`null` clears it), `custom`, and `notes_append`. The body may not name
/// another dataset.
#[utoipa::path(
    tag = "records",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 100),
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
        ("Idempotency-Key" = Option<String>, Header, description = "A Structured Field string (`\"…\"`, 1 to 255 characters). A retry with the same key and body replays the first answer (with `Idempotent-Replayed: true`) and never writes twice. Use a fresh value per logical write, e.g. `\"8e03978e-40d5-43e8-bc93-6894a57f9324\"`."),
    ),
    request_body(content = RecordPatchBody, example = json!({"last_name": "Bloggs", "notes_append": "Called back"})),
    responses(
        (status = 200, description = "Updated", body = UpdatedRecord),
        (status = 400, description = "Malformed body or path, or a query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope or dataset not granted", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record in the dataset", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body did not arrive whole within `GATEWAY_BODY_TIMEOUT_MS`; the connection is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is running, or its outcome is unknown", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit reached (`too_many_requests`), or this caller holds its whole share of live Idempotency-Keys (`idempotency_quota_exceeded`; only new keys are refused, nothing was sent); both with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), the shared store unreachable (`store_unavailable`), or the idempotency store full for a new Idempotency-Key (`idempotency_store_full`, with `Retry-After`; nothing was sent)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/datasets/{dataset}/records/{id}")]
#[allow(clippy::too_many_arguments)]
pub async fn update_dataset_record(
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
    key: IdempotencyKey,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
    idempotency: web::Data<Idempotency>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Write)?;
    let dataset = DatasetId::parse("dataset", &path.0)?;
    let id = RecordId::parse("id", &path.1)?;
    caller.require_dataset(dataset)?;
    refuse_query(&request)?;
    let patch = RecordPatch::parse_body(&body.0, false)?;
    let print = || fingerprint("PATCH", request.path(), &body.0);
    let write = update(&caller, &client, id, UpdateTarget::Dataset(dataset), &patch);
    idempotency
        .run(&caller.sub, key, WriteKind::Update, print, write)
        .await
}

/// Update a record, naming its dataset or campaign table in the body.
///
/// The body carries exactly one of `dataset` / `table`, and any writable field (`null` clears
/// it), `custom`, and `notes_append`.
#[utoipa::path(
    tag = "records",
    params(
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
        ("Idempotency-Key" = Option<String>, Header, description = "A Structured Field string (`\"…\"`, 1 to 255 characters). A retry with the same key and body replays the first answer (with `Idempotent-Replayed: true`) and never writes twice. Use a fresh value per logical write, e.g. `\"8e03978e-40d5-43e8-bc93-6894a57f9324\"`."),
    ),
    request_body(content = RecordPatchBody, example = json!({"dataset": 100, "last_name": "Bloggs", "notes_append": "Called back"})),
    responses(
        (status = 200, description = "Updated", body = UpdatedRecord),
        (status = 400, description = "Malformed body or path, or a query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope, dataset or table not granted", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body did not arrive whole within `GATEWAY_BODY_TIMEOUT_MS`; the connection is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is running, or its outcome is unknown", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit reached (`too_many_requests`), or this caller holds its whole share of live Idempotency-Keys (`idempotency_quota_exceeded`; only new keys are refused, nothing was sent); both with `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), the shared store unreachable (`store_unavailable`), or the idempotency store full for a new Idempotency-Key (`idempotency_store_full`, with `Retry-After`; nothing was sent)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/records/{id}")]
#[allow(clippy::too_many_arguments)]
pub async fn update_record(
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody,
    key: IdempotencyKey,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
    idempotency: web::Data<Idempotency>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Write)?;
    let id = RecordId::parse("id", &id)?;
    refuse_query(&request)?;
    let patch = RecordPatch::parse_body(&body.0, true)?;
    let target = patch
        .target()
        .cloned()
        .ok_or_else(|| Error::Internal("a parsed patch without target".into()))?;
    match &target {
        UpdateTarget::Dataset(dataset) => caller.require_dataset(*dataset)?,
        UpdateTarget::Table(table) => caller.require_table(table)?,
    }
    let print = || fingerprint("PATCH", request.path(), &body.0);
    let write = update(&caller, &client, id, target, &patch);
    idempotency
        .run(&caller.sub, key, WriteKind::Update, print, write)
        .await
}

/// Read the records of a campaign table.
///
/// Every dataset of the campaign is searched. Same filters as a dataset read; a token limited to
/// datasets only may not use campaign routes.
#[utoipa::path(
    tag = "campaigns",
    params(
        ("table" = String, Path, description = "Campaign table name", pattern = "^[A-Za-z0-9_]{1,64}$", example = "sandbox_campaign"),
        ReadQuery,
    ),
    responses(
        (status = 200, description = "The matching records", body = RecordList),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope or table not granted", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), or the shared store of cluster-wide limits unreachable (`store_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/campaigns/{table}/records")]
pub async fn list_campaign_records(
    caller: Caller,
    table: web::Path<String>,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    let table = TableName::parse("table", &table)?;
    caller.require_table(&table)?;
    let filter = ReadFilter::parse_query(request.query_string())?;
    list(&client, Source::Table(table), &filter).await
}

/// Read one record of a campaign table.
///
/// `404` when no dataset of the campaign holds the record.
#[utoipa::path(
    tag = "campaigns",
    params(
        ("table" = String, Path, description = "Campaign table name", pattern = "^[A-Za-z0-9_]{1,64}$", example = "sandbox_campaign"),
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
    ),
    responses(
        (status = 200, description = "The record", body = Record),
        (status = 400, description = "Malformed path, or a query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Scope or table not granted", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record in the table", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ContactNow unavailable, all upstream calls in use (`upstream_busy`), or the shared store of cluster-wide limits unreachable (`store_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/campaigns/{table}/records/{id}")]
pub async fn get_campaign_record(
    caller: Caller,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    let table = TableName::parse("table", &path.0)?;
    let id = RecordId::parse("id", &path.1)?;
    caller.require_table(&table)?;
    refuse_query(&request)?;
    let record = find(&client, &Source::Table(table), id).await?;
    Ok(HttpResponse::Ok().json(record))
}

async fn list(
    client: &ContactNowClient,
    source: Source,
    filter: &ReadFilter,
) -> Result<HttpResponse, Error> {
    let page = client.read(&source, None, filter).await?;
    Ok(HttpResponse::Ok().json(RecordList {
        total: page.total,
        records: page.records,
    }))
}

async fn find(client: &ContactNowClient, source: &Source, id: RecordId) -> Result<Record, Error> {
    let filter = ReadFilter {
        limit: 1,
        ..ReadFilter::default()
    };
    client
        .read(source, Some(id), &filter)
        .await?
        .records
        .into_iter()
        .find(|record| record.id == id.get())
        .ok_or_else(|| Error::NotFound(format!("record {id} does not exist here")))
}

async fn update(
    caller: &Caller,
    client: &ContactNowClient,
    id: RecordId,
    target: UpdateTarget,
    patch: &RecordPatch,
) -> Result<Reply, Error> {
    if caller.is_limited() {
        // A limited caller may only change what it may see: check where the record really is.
        let source = match &target {
            UpdateTarget::Dataset(dataset) => Source::Dataset(*dataset),
            UpdateTarget::Table(table) => Source::Table(table.clone()),
        };
        let record = find(client, &source, id).await?;
        if let UpdateTarget::Dataset(dataset) = target
            && record.dataset_id != dataset.get()
        {
            return Err(Error::NotFound(format!("record {id} does not exist here")));
        }
    }
    let outcome = client.update(id, &target, patch).await?;
    let updated = UpdatedRecord {
        id: id.get(),
        live: outcome.live,
        info: outcome.info,
    };
    Ok(Reply::json(StatusCode::OK, &updated))
}
