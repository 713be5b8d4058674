//! The record resources: create, read and update ContactNow records.
//!
//! Layout:
//! - [`create`]: `POST /datasets/{dataset}/records`, one record or a batch in chunks.
//! - [`schemas`]: the answer, query and body types the document shows.
//! - here: the reads and the updates.

pub mod create;
pub mod schemas;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, web};

pub use create::{CREATE_CHUNK, create_records};
pub use schemas::{
    BatchResult, CreateBody, CreatedRecord, MatchParam, ModeParam, NewRecordBody, ReadQuery,
    RecordList, RecordPatchBody, TimeFieldParam, UpdatedRecord,
};

use super::JsonBody;
use super::responses::*;
use crate::auth::{Caller, Scope};
use crate::domain::dataset::DatasetStatus;
use crate::domain::{
    BodyTarget, DatasetId, ReadFilter, Record, RecordId, RecordPatch, Source, TableName,
    UpdateTarget,
};
use crate::domain::{CampaignColumns, Column, WriteValue};
use crate::error::Error;
use crate::error::FieldError;
use crate::idempotency::{Idempotency, IdempotencyKey, Reply, WriteKind, fingerprint};
use crate::upstream::wire::{ReadRecord, RecordJson};
use crate::upstream::{ContactNowClient, DatasetCheck, OutcomeCheck, UncheckedTable};

/// The `Prefer` preference that answers an update with the record as read back (RFC 7240).
pub(super) const RETURN_REPRESENTATION: &str = "return=representation";

/// Whether `request` carries `Prefer: return=representation` (among any other preferences).
fn prefers_representation(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all(actix_web::http::header::HeaderName::from_static("prefer"))
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| preference.split(';').next())
        .any(|preference| {
            preference
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .eq_ignore_ascii_case(RETURN_REPRESENTATION)
        })
}

/// What a records route is about to do with its dataset, for [`require_dataset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DatasetUse {
    /// Create records in it: an `expired` dataset takes none.
    Create,
    /// Read or update its records.
    Other,
}

/// `404` when ContactNow does not list `dataset` (after one fresh read), `422` when `purpose` is
/// a create and the dataset is `expired`; nothing is sent for either. A refused dataset list
/// lets everything through, to the upstream's own answer.
pub(super) async fn require_dataset(
    client: &ContactNowClient,
    dataset: DatasetId,
    purpose: DatasetUse,
) -> Result<(), Error> {
    match client.dataset_check(dataset).await? {
        DatasetCheck::Unlisted => Err(Error::NotFound(format!("dataset {dataset} does not exist"))),
        DatasetCheck::Listed(DatasetStatus::Expired) if purpose == DatasetUse::Create => {
            Err(Error::Validation(vec![FieldError::new(
                "dataset",
                format!("dataset {dataset} is expired and takes no new records"),
            )]))
        }
        DatasetCheck::Listed(_) | DatasetCheck::Unchecked => Ok(()),
    }
}

/// `422` naming `field` when `code` is set and the readable outcome-code list does not name it.
pub(super) async fn require_outcome(
    client: &ContactNowClient,
    field: String,
    code: Option<u32>,
) -> Result<(), Error> {
    let Some(code) = code else { return Ok(()) };
    match client.outcome_check(code).await? {
        OutcomeCheck::Allowed => Ok(()),
        OutcomeCheck::Unlisted => Err(Error::Validation(vec![FieldError::new(
            field,
            format!("outcome code {code} is not one of the account's outcome codes"),
        )])),
    }
}

/// `422` listing what `check` finds wrong with a write into `target` against its campaign's
/// own columns (a custom column it does not have, a value over a column's `size`); nothing is
/// sent. When the campaign or its field list cannot be known (a dataset no readable table list
/// places, a refused `campaign_fields`), the write falls back to the syntax rules.
pub(super) async fn require_fields(
    client: &ContactNowClient,
    target: &UpdateTarget,
    check: impl FnOnce(&CampaignColumns, &mut Vec<FieldError>),
) -> Result<(), Error> {
    let Some(columns) = client.write_columns(target).await? else {
        return Ok(());
    };
    let mut errors = Vec::new();
    check(&columns, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// The outcome code a write value sets, if it is one.
pub(super) fn outcome_of(column: Column, value: Option<&WriteValue>) -> Option<u32> {
    match (column, value) {
        (Column::OutcomeCode, Some(WriteValue::Code(code))) => Some(*code),
        _ => None,
    }
}

/// The `Idempotency-Key` header of every write.
pub(crate) const IDEMPOTENCY_KEY_DESCRIPTION: &str = "A Structured Field string (`\"…\"`, 1 to 255 characters). A retry with the same key and body replays the first answer (with `Idempotent-Replayed: true`) and never writes twice. Use a fresh value per logical write, e.g. `\"8e03978e-40d5-43e8-bc93-6894a57f9324\"`.";

/// The `Prefer` header of the updates.
pub(super) const PREFER_DESCRIPTION: &str = "`return=representation` answers the whole record as read back after the update (a `Record`), with `Preference-Applied: return=representation`.";

/// Every route without documented query parameters refuses any query (`400`), writes included:
/// a `?dry_run=true` the gateway does not know must never turn into a real write.
pub(super) fn refuse_query(request: &HttpRequest) -> Result<(), Error> {
    match request.query_string() {
        "" => Ok(()),
        _ => Err(Error::bad_field(
            "query",
            "this route takes no query parameters",
        )),
    }
}

/// The parent a record route names in its first path segment: a dataset or a campaign table.
pub(super) trait Parent: Sized {
    /// The parent in `segment`, or a `400` naming the path parameter.
    fn parse_segment(segment: &str) -> Result<Self, Error>;
    /// `Ok` when `caller`'s token grants this parent, else `403`.
    fn require_granted(&self, caller: &Caller) -> Result<(), Error>;
}

impl Parent for DatasetId {
    fn parse_segment(segment: &str) -> Result<Self, Error> {
        DatasetId::parse("dataset", segment)
    }

    fn require_granted(&self, caller: &Caller) -> Result<(), Error> {
        caller.require_dataset(*self)
    }
}

impl Parent for TableName {
    fn parse_segment(segment: &str) -> Result<Self, Error> {
        TableName::parse("table", segment)
    }

    fn require_granted(&self, caller: &Caller) -> Result<(), Error> {
        caller.require_table(self)
    }
}

/// The parent of a collection route, checked in this order: `scope`, the path, the grant.
pub(super) fn granted_parent<P: Parent>(
    caller: &Caller,
    scope: Scope,
    segment: &str,
) -> Result<P, Error> {
    caller.require(scope)?;
    let parent = P::parse_segment(segment)?;
    parent.require_granted(caller)?;
    Ok(parent)
}

/// The parent and record of a `/{parent}/records/{id}` route, checked in this order: `scope`,
/// the path (parent, then id), the grant, the absence of a query.
fn granted_record<P: Parent>(
    caller: &Caller,
    scope: Scope,
    path: &(String, String),
    request: &HttpRequest,
) -> Result<(P, RecordId), Error> {
    caller.require(scope)?;
    let parent = P::parse_segment(&path.0)?;
    let id = RecordId::parse("id", &path.1)?;
    parent.require_granted(caller)?;
    refuse_query(request)?;
    Ok((parent, id))
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
        BadRequestRead,
        Unauthorized,
        ForbiddenDataset,
        DatasetNotFound,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
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
    let dataset: DatasetId = granted_parent(&caller, Scope::Read, &dataset)?;
    let filter = ReadFilter::parse_query(request.query_string())?;
    require_dataset(&client, dataset, DatasetUse::Other).await?;
    list(
        &client,
        Source::Dataset(dataset),
        &filter,
        UncheckedTable::Show,
    )
    .await
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
        BadRequestPath,
        Unauthorized,
        ForbiddenDataset,
        RecordNotInDataset,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
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
    let (dataset, id) = granted_record(&caller, Scope::Read, &path, &request)?;
    require_dataset(&client, dataset, DatasetUse::Other).await?;
    let record: RecordJson =
        find(&client, &Source::Dataset(dataset), id, UncheckedTable::Show).await?;
    Ok(json_answer(record.into_bytes()))
}

/// Update a record of a dataset.
///
/// Any writable field (`null` clears it), the dialler fields (`outcome_code`, `callback_at`,
/// `agent_ref`, …) included, `custom`, and `notes_append`. The body may not name another
/// dataset. `agent_specific: true` without an `agent_ref` reads the record first: `422` when it
/// has no agent. A `custom` column the dataset's campaign does not have, or a value longer than
/// its column's `size`, is `422` naming the field; nothing is sent.
#[utoipa::path(
    tag = "records",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, example = 100),
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY_DESCRIPTION),
        ("Prefer" = Option<String>, Header, description = PREFER_DESCRIPTION),
    ),
    request_body(content = RecordPatchBody, example = json!({"last_name": "Bloggs", "notes_append": "Called back"})),
    responses(
        (status = 200, description = "Updated; with `Prefer: return=representation`, the whole record as read back after the update (and `Preference-Applied: return=representation`)", body = UpdatedRecord,
            headers(("Preference-Applied" = String, description = "`return=representation` when the answer is the record"))),
        BadRequestWrite,
        Unauthorized,
        ForbiddenDataset,
        RecordNotInDataset,
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
    let (dataset, id) = granted_record(&caller, Scope::Write, &path, &request)?;
    let patch = RecordPatch::parse_body(&body.0, BodyTarget::FromPath)?;
    let print = || fingerprint("PATCH", request.path(), &body.0);
    let target = UpdateTarget::Dataset(dataset);
    let prefer = prefers_representation(&request);
    let write = update(&caller, &client, id, target, &patch, prefer);
    idempotency
        .run(&caller.sub, key, WriteKind::Update, print, write)
        .await
}

/// Update a record, naming its dataset or campaign table in the body.
///
/// The body carries exactly one of `dataset` / `table`, and any writable field (`null` clears
/// it), the dialler fields included, `custom`, and `notes_append`. `agent_specific: true`
/// without an `agent_ref` reads the record first: `422` when it has no agent. A `custom` column
/// the campaign (`table`, or the `dataset`'s) does not have, or a value longer than its
/// column's `size`, is `422` naming the field; nothing is sent.
#[utoipa::path(
    tag = "records",
    params(
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
        ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY_DESCRIPTION),
        ("Prefer" = Option<String>, Header, description = PREFER_DESCRIPTION),
    ),
    request_body(content = RecordPatchBody, example = json!({"dataset": 100, "last_name": "Bloggs", "notes_append": "Called back"})),
    responses(
        (status = 200, description = "Updated; with `Prefer: return=representation`, the whole record as read back after the update (and `Preference-Applied: return=representation`)", body = UpdatedRecord,
            headers(("Preference-Applied" = String, description = "`return=representation` when the answer is the record"))),
        BadRequestWrite,
        Unauthorized,
        ForbiddenTarget,
        RecordNotFound,
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
    let patch = RecordPatch::parse_body(&body.0, BodyTarget::Required)?;
    let target = patch
        .target()
        .cloned()
        .ok_or_else(|| Error::Internal("a parsed patch without target".into()))?;
    match &target {
        UpdateTarget::Dataset(dataset) => caller.require_dataset(*dataset)?,
        UpdateTarget::Table(table) => caller.require_table(table)?,
    }
    let print = || fingerprint("PATCH", request.path(), &body.0);
    let prefer = prefers_representation(&request);
    let write = update(&caller, &client, id, target, &patch, prefer);
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
        ("table" = String, Path, description = "Campaign table name", example = "sandbox_campaign"),
        ReadQuery,
    ),
    responses(
        (status = 200, description = "The matching records", body = RecordList),
        BadRequestQuery,
        Unauthorized,
        ForbiddenTable,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
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
    let table: TableName = granted_parent(&caller, Scope::Read, &table)?;
    let filter = ReadFilter::parse_query(request.query_string())?;
    list(
        &client,
        Source::Table(table),
        &filter,
        unchecked_table(&caller),
    )
    .await
}

/// Read one record of a campaign table.
///
/// `404` when no dataset of the campaign holds the record.
#[utoipa::path(
    tag = "campaigns",
    params(
        ("table" = String, Path, description = "Campaign table name", example = "sandbox_campaign"),
        ("id" = u64, Path, description = "Record id", minimum = 1, example = 550000),
    ),
    responses(
        (status = 200, description = "The record", body = Record),
        BadRequestPath,
        Unauthorized,
        ForbiddenTable,
        RecordNotInTable,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
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
    let (table, id) = granted_record(&caller, Scope::Read, &path, &request)?;
    let record: RecordJson =
        find(&client, &Source::Table(table), id, unchecked_table(&caller)).await?;
    Ok(json_answer(record.into_bytes()))
}

/// What a table read of `caller` does when ContactNow refuses the table's dataset list: a
/// caller limited to tables is shown nothing unchecked; any other may read every table anyway.
fn unchecked_table(caller: &Caller) -> UncheckedTable {
    if caller.is_limited() {
        UncheckedTable::Refuse
    } else {
        UncheckedTable::Show
    }
}

async fn list(
    client: &ContactNowClient,
    source: Source,
    filter: &ReadFilter,
    unchecked: UncheckedTable,
) -> Result<HttpResponse, Error> {
    let page = client
        .read::<RecordJson>(&source, None, filter, unchecked)
        .await?;
    Ok(json_answer(RecordList::json(page.total, &page.records)))
}

/// A `200` JSON answer.
fn json_answer(json: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(json)
}

/// Record `id` of `source`, as a [`Record`] or as its JSON ([`RecordJson`]).
async fn find<R: ReadRecord>(
    client: &ContactNowClient,
    source: &Source,
    id: RecordId,
    unchecked: UncheckedTable,
) -> Result<R, Error> {
    let filter = ReadFilter {
        limit: 1,
        ..ReadFilter::default()
    };
    client
        .read::<R>(source, Some(id), &filter, unchecked)
        .await?
        .records
        .into_iter()
        .find(|record| record.id() == id.get())
        .ok_or_else(|| Error::NotFound(format!("record {id} does not exist here")))
}

async fn update(
    caller: &Caller,
    client: &ContactNowClient,
    id: RecordId,
    target: UpdateTarget,
    patch: &RecordPatch,
    representation: bool,
) -> Result<Reply, Error> {
    if let UpdateTarget::Dataset(dataset) = &target {
        require_dataset(client, *dataset, DatasetUse::Other).await?;
    }
    let code = patch
        .changes()
        .find_map(|(column, value)| outcome_of(column, value));
    require_outcome(client, "outcome_code".into(), code).await?;
    if CampaignColumns::concern_patch(patch) {
        require_fields(client, &target, |columns, errors| {
            columns.check_patch(patch, errors);
        })
        .await?;
    }
    // A limited caller may only change what it may see, and `agent_specific: true` without an
    // `agent_ref` only a record that has an agent: both read the record first.
    if caller.is_limited() || patch.needs_record_agent() {
        let source = match &target {
            UpdateTarget::Dataset(dataset) => Source::Dataset(*dataset),
            UpdateTarget::Table(table) => Source::Table(table.clone()),
        };
        // The record must be of the dataset, or of a dataset of the table, named: for a limited
        // caller, a table whose datasets ContactNow will not list lets nothing through.
        let record: Record = find(client, &source, id, unchecked_table(caller)).await?;
        if let UpdateTarget::Dataset(dataset) = target
            && record.dataset_id != dataset.get()
        {
            return Err(Error::NotFound(format!("record {id} does not exist here")));
        }
        if patch.needs_record_agent() && record.agent_ref.is_none() {
            return Err(RecordPatch::record_agent_missing(id));
        }
    }
    let outcome = client.update(id, &target, patch).await?;
    if representation {
        let source = match &target {
            UpdateTarget::Dataset(dataset) => Source::Dataset(*dataset),
            UpdateTarget::Table(table) => Source::Table(table.clone()),
        };
        let record: Record = find(client, &source, id, unchecked_table(caller)).await?;
        return Ok(
            Reply::json(StatusCode::OK, &record).with_preference_applied(RETURN_REPRESENTATION)
        );
    }
    let updated = UpdatedRecord {
        id: id.get(),
        live: outcome.live,
        info: outcome.info,
    };
    Ok(Reply::json(StatusCode::OK, &updated))
}
