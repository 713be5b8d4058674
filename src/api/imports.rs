//! The import resources: upload a file of leads, follow it, list its errors, cancel it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use futures_util::StreamExt;

use super::Limits;
use super::records::{granted_parent, refuse_query};
use super::responses::{
    BadRequestAnyQuery, ForbiddenDataset, ForbiddenScope, ImportNotFound, Unauthorized,
};
use crate::auth::{Caller, Scope};
use crate::domain::{CampaignColumns, DatasetId, UpdateTarget};
use crate::error::{Error, Problem};
use crate::idempotency::{IdempotencyKey, REPLAYED_HEADER};
use crate::imports::parse::{ChannelReader, Tally, UploadFormat, validate_upload};
use crate::imports::{
    Import, ImportErrors, ImportState, Imports, Reservation, StopReason, now_text,
};
use crate::upstream::ContactNowClient;

/// Body chunks buffered between the request and the validating thread (backpressure beyond).
const UPLOAD_QUEUE_CHUNKS: usize = 8;

const CSV_EXAMPLE: &str = "first_name,last_name,mobile_phone,notes,company_name\r\n\
Joe,Blogs,07123456789,\"Prefers calls after 5pm, weekdays\",ACME\r\n\
Ann,Smith,07123456780,,\r\n";
const NDJSON_EXAMPLE: &str = "{\"first_name\": \"Joe\", \"mobile_phone\": \"07123456789\", \"custom\": {\"company_name\": \"ACME\"}}\n\
{\"first_name\": \"Ann\", \"mobile_phone\": \"07123456780\"}\n";

/// The query of an upload: only `start_row`.
fn start_row(request: &HttpRequest) -> Result<u64, Error> {
    let query = request.query_string();
    if query.is_empty() {
        return Ok(1);
    }
    let bad = || {
        Error::bad_field(
            "query",
            "the only query parameter is start_row, an integer from 1",
        )
    };
    let value = query.strip_prefix("start_row=").ok_or_else(bad)?;
    value
        .parse::<u64>()
        .ok()
        .filter(|row| (1..=crate::domain::ids::MAX_ID).contains(row))
        .ok_or_else(|| {
            Error::bad_field(
                "start_row",
                format!("an integer from 1 to {}", crate::domain::ids::MAX_ID),
            )
        })
}

fn accepted(import: &Import, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::Accepted();
    response.insert_header((header::LOCATION, format!("/imports/{}", import.id)));
    if replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    response.json(import)
}

/// Reads the body into the validating thread as it arrives: `413` past the import limit,
/// `408` when no byte arrives for the body deadline.
async fn pump(
    mut payload: web::Payload,
    sender: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    max_bytes: usize,
    idle: Duration,
) -> Result<(), Error> {
    let mut received = 0usize;
    loop {
        let next = match tokio::time::timeout(idle, payload.next()).await {
            Ok(next) => next,
            Err(_) => {
                let _ = sender.send(Err(io::Error::other("upload stalled"))).await;
                return Err(Error::BodyTimeout { limit: idle });
            }
        };
        let Some(chunk) = next else { return Ok(()) };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                let _ = sender.send(Err(io::Error::other("upload cut"))).await;
                return Err(Error::bad_field("body", error.to_string()));
            }
        };
        received += chunk.len();
        if received > max_bytes {
            let _ = sender.send(Err(io::Error::other("upload too large"))).await;
            return Err(Error::PayloadTooLarge { limit: max_bytes });
        }
        if sender.send(Ok(chunk)).await.is_err() {
            // The validating side stopped (a refused header): its error answers.
            return Ok(());
        }
    }
}

/// Start an import: upload a file of leads into a dataset.
///
/// The body is `text/csv` (RFC 4180, a header row of field names: `first_name`, `mobile_phone`,
/// … or custom column names, also as `custom.<name>`) or `application/x-ndjson` (one create
/// object per line). Every row is validated as it arrives by the same rules as a create, the
/// dataset campaign's own columns included (a custom column it does not have, or a value over a
/// column's `size`, makes the row invalid); a header naming an unknown column refuses the whole
/// upload (`422`) and nothing is sent. Then
/// the valid rows go upstream in order, in chunks of `GATEWAY_IMPORT_CHUNK_ROWS`, in the
/// background: follow `Location` (`GET /imports/{import}`) until `state` is final. Nothing is
/// ever sent twice: a chunk whose answer is lost counts as `unconfirmed`. After an
/// `interrupted` or `failed` import, upload the same file with `?start_row=` its
/// `resume_from_row` to send the rest.
#[utoipa::path(
    tag = "imports",
    params(
        ("dataset" = u64, Path, description = "Dataset id", minimum = 1, maximum = 9007199254740991_u64, example = 100),
        ("start_row" = Option<u64>, Query, description = "The first data row to send (rows from 1); earlier rows are skipped. Use an interrupted import's `resume_from_row`.", minimum = 1, maximum = 9007199254740991_u64, example = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "A Structured Field string (`\"…\"`). A retry with the same key answers the import the first upload started (with `Idempotent-Replayed: true`) and sends nothing."),
    ),
    request_body(
        description = "The file of leads, up to `GATEWAY_IMPORT_MAX_BYTES`",
        content(
            (String = "text/csv", example = json!(CSV_EXAMPLE)),
            (String = "application/x-ndjson", example = json!(NDJSON_EXAMPLE)),
        ),
    ),
    responses(
        (status = 202, description = "Validated; sending in the background (or already `done`)", body = Import,
            headers(("Location" = String, description = "/imports/{import}"))),
        (status = 400, description = "Malformed query or body", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        ForbiddenDataset,
        (status = 408, description = "No byte of the upload arrived for `GATEWAY_BODY_TIMEOUT_MS`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Upload over `GATEWAY_IMPORT_MAX_BYTES`; nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/x-ndjson", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The CSV header names an unknown column, or the upload is empty; nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many imports running for this caller or this gateway (with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "ContactNow failed while the campaign's fields were read; nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The gateway is shutting down, or ContactNow unavailable while the campaign's fields were read; nothing was sent", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "ContactNow too slow while the campaign's fields were read; nothing was sent", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/datasets/{dataset}/imports")]
#[allow(clippy::too_many_arguments)]
pub async fn create_import(
    caller: Caller,
    dataset: web::Path<String>,
    key: IdempotencyKey,
    request: HttpRequest,
    payload: web::Payload,
    client: web::Data<ContactNowClient>,
    imports: web::Data<Imports>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, Error> {
    let dataset: DatasetId = granted_parent(&caller, Scope::Write, &dataset)?;
    let start_row = start_row(&request)?;
    let format = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(UploadFormat::from_content_type)
        .ok_or(Error::UnsupportedImportType)?;
    let imports = imports.into_inner();
    let max_bytes = imports.settings().max_bytes;
    if super::declares_more_than(&request, max_bytes) {
        return Err(Error::PayloadTooLarge { limit: max_bytes });
    }
    let replay = async |id: &str| match imports.find(&caller.sub, id).await? {
        Some(import) if import.dataset_id == dataset.get() => Ok(accepted(&import, true)),
        _ => Err(Error::KeyReused),
    };
    if let Some(key) = &key.0
        && let Some(id) = imports.keyed(&caller.sub, key).await?
    {
        return replay(&id).await;
    }
    // The campaign's columns, read once for every row (cached); `None` falls back to the
    // syntax rules.
    let columns = client
        .write_columns(&UpdateTarget::Dataset(dataset))
        .await?;
    let reservation = imports.reserve(&caller.sub)?;
    let import = Import {
        id: reservation.id.clone(),
        dataset_id: dataset.get(),
        state: ImportState::Validating,
        rows: 0,
        invalid: 0,
        sent: 0,
        created: 0,
        rejected: 0,
        unconfirmed: 0,
        resume_from_row: None,
        created_at: now_text(),
        finished_at: None,
    };
    imports.store().insert(&caller.sub, import);
    let mut guard = UploadGuard {
        imports: imports.clone(),
        owner: caller.sub.clone(),
        key: None,
        id: reservation.id.clone(),
        armed: true,
    };
    if let Some(key) = &key.0 {
        if let Some(id) = imports.bind_key(&caller.sub, key, &reservation.id).await? {
            drop(guard);
            return replay(&id).await;
        }
        guard.key = Some(key.clone());
    }
    let (tally, spool) = receive(
        &imports,
        &reservation,
        format,
        start_row,
        columns,
        payload,
        limits.body_timeout,
    )
    .await?;
    guard.armed = false;
    let import = finish_validation(&imports, reservation, dataset, tally, spool, client);
    // Every replica knows the import before its Location is handed out.
    imports.flush_shared().await;
    Ok(accepted(&import, false))
}

/// Forgets an import whose upload did not complete (refused, cut, or the caller went away and
/// the handler was dropped), and the `Idempotency-Key` bound to it, so that a retry starts
/// afresh and nothing reads `validating` for ever.
struct UploadGuard {
    imports: Arc<Imports>,
    owner: String,
    key: Option<String>,
    id: String,
    armed: bool,
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.imports.store().remove(&self.id);
        if let Some(key) = self.key.take() {
            let (imports, owner, id) = (self.imports.clone(), self.owner.clone(), self.id.clone());
            tokio::spawn(async move { imports.forget(&owner, Some(&key), &id).await });
        }
    }
}

/// Streams the upload through validation into a spool file.
async fn receive(
    imports: &Arc<Imports>,
    reservation: &Reservation,
    format: UploadFormat,
    start_row: u64,
    columns: Option<Arc<CampaignColumns>>,
    payload: web::Payload,
    idle: Duration,
) -> Result<(Tally, std::fs::File), Error> {
    let (sender, receiver) = tokio::sync::mpsc::channel(UPLOAD_QUEUE_CHUNKS);
    let store_imports = imports.clone();
    let id = reservation.id.clone();
    let validation = tokio::task::spawn_blocking(move || {
        let spool =
            tempfile::tempfile().map_err(|e| Error::Internal(format!("import spool: {e}")))?;
        let mut writer = io::BufWriter::new(spool);
        let mut publish = |tally: &mut Tally| {
            let store = store_imports.store();
            store.update(&id, |import| {
                import.rows = tally.rows;
                import.invalid = tally.invalid;
            });
            store.add_errors(&id, std::mem::take(&mut tally.errors));
        };
        let mut tally = validate_upload(
            format,
            ChannelReader::new(receiver),
            start_row,
            columns.as_deref(),
            &mut writer,
            &mut publish,
        )?;
        publish(&mut tally);
        let mut spool = writer
            .into_inner()
            .map_err(|e| Error::Internal(format!("import spool: {e}")))?;
        io::Seek::rewind(&mut spool).map_err(|e| Error::Internal(format!("import spool: {e}")))?;
        Ok::<_, Error>((tally, spool))
    });
    let max_bytes = imports.settings().max_bytes;
    let (pumped, validated) = tokio::join!(pump(payload, sender, max_bytes, idle), validation);
    let validated =
        validated.map_err(|e| Error::Internal(format!("import validation task: {e}")))?;
    // The transport's error explains a read failure better than the parser's.
    pumped?;
    validated
}

/// Records what validation found and starts sending (or ends the import when nothing is left
/// to send or it was stopped while uploading).
fn finish_validation(
    imports: &Arc<Imports>,
    reservation: Reservation,
    dataset: DatasetId,
    tally: Tally,
    spool: std::fs::File,
    client: web::Data<ContactNowClient>,
) -> Import {
    imports.metrics().import_rows("invalid", tally.invalid);
    let stopped = reservation.stop.reason();
    let ended = match (tally.valid, stopped) {
        (0, _) => Some(ImportState::Done),
        (_, Some(StopReason::Cancelled)) => Some(ImportState::Cancelled),
        (_, Some(StopReason::Interrupted)) => Some(ImportState::Interrupted),
        (_, None) => None,
    };
    let id = reservation.id.clone();
    let import = imports.store().update(&id, |import| match ended {
        Some(state) => {
            import.state = state;
            import.finished_at = Some(now_text());
        }
        None => import.state = ImportState::Sending,
    });
    let import = import.expect("the import was kept while it uploaded");
    if ended.is_none() {
        imports.start_sending(client.into_inner(), reservation, dataset, spool);
    } else if ended != Some(ImportState::Done) {
        // Stopped before anything was sent: the first spooled row is where to resume.
        let resume = crate::imports::parse::first_spooled_row(spool);
        return imports
            .store()
            .update(&id, |import| import.resume_from_row = resume)
            .unwrap_or(import);
    }
    import
}

/// Follow an import.
///
/// Poll until `state` is `done`, `cancelled`, `failed` or `interrupted`. Only the caller that
/// started the import sees it.
#[utoipa::path(
    tag = "imports",
    params(("import" = String, Path, description = "The import's id, from `Location`", example = "imp_6f1c2a9e5b0d4f63a3d48c2e1b7f9a10")),
    responses(
        (status = 200, description = "The import", body = Import),
        BadRequestAnyQuery,
        Unauthorized,
        ForbiddenScope,
        ImportNotFound,
    ),
    security(("bearer" = []))
)]
#[get("/imports/{import}")]
pub async fn get_import(
    caller: Caller,
    id: web::Path<String>,
    request: HttpRequest,
    imports: web::Data<Imports>,
) -> Result<HttpResponse, Error> {
    let import = find_owned(&caller, Scope::Read, &request, &imports, &id).await?;
    Ok(HttpResponse::Ok().json(import))
}

/// The caller's import `id`, checked in this order: `scope`, the absence of a query, ownership.
async fn find_owned(
    caller: &Caller,
    scope: Scope,
    request: &HttpRequest,
    imports: &Imports,
    id: &str,
) -> Result<Import, Error> {
    caller.require(scope)?;
    refuse_query(request)?;
    owned(caller, imports.find(&caller.sub, id).await?, id)
}

/// The import if the caller may see it: its own, of a dataset its token still grants.
fn owned(caller: &Caller, import: Option<Import>, id: &str) -> Result<Import, Error> {
    let unknown = || Error::NotFound(format!("no import {id}"));
    let import = import.ok_or_else(unknown)?;
    let dataset = DatasetId::try_from(import.dataset_id)?;
    caller.require_dataset(dataset).map_err(|_| unknown())?;
    Ok(import)
}

/// List an import's errors.
///
/// Invalid rows (never sent) with their row number, field and message, then the chunks whose
/// rows ContactNow refused or did not confirm, by row range.
#[utoipa::path(
    tag = "imports",
    params(("import" = String, Path, description = "The import's id", example = "imp_6f1c2a9e5b0d4f63a3d48c2e1b7f9a10")),
    responses(
        (status = 200, description = "The errors", body = ImportErrors),
        BadRequestAnyQuery,
        Unauthorized,
        ForbiddenScope,
        ImportNotFound,
    ),
    security(("bearer" = []))
)]
#[get("/imports/{import}/errors")]
pub async fn get_import_errors(
    caller: Caller,
    id: web::Path<String>,
    request: HttpRequest,
    imports: web::Data<Imports>,
) -> Result<HttpResponse, Error> {
    find_owned(&caller, Scope::Read, &request, &imports, &id).await?;
    let errors = imports
        .find_errors(&caller.sub, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no import {id}")))?;
    Ok(HttpResponse::Ok().json(ImportErrors { errors }))
}

/// Cancel an import.
///
/// No further chunk starts; chunks in flight finish, then `state` becomes `cancelled` (with
/// `resume_from_row`). An import that has ended is answered as it is.
#[utoipa::path(
    tag = "imports",
    params(("import" = String, Path, description = "The import's id", example = "imp_6f1c2a9e5b0d4f63a3d48c2e1b7f9a10")),
    responses(
        (status = 200, description = "The import, cancelling", body = Import),
        BadRequestAnyQuery,
        Unauthorized,
        ForbiddenScope,
        ImportNotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/imports/{import}")]
pub async fn cancel_import(
    caller: Caller,
    id: web::Path<String>,
    request: HttpRequest,
    imports: web::Data<Imports>,
) -> Result<HttpResponse, Error> {
    find_owned(&caller, Scope::Write, &request, &imports, &id).await?;
    let import = owned(&caller, imports.cancel(&caller.sub, &id).await?, &id)?;
    Ok(HttpResponse::build(StatusCode::OK).json(import))
}
