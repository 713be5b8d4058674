//! The problem responses of the operations, one type per status and meaning, so that an
//! operation lists them by name (`responses(Unauthorized, BadGateway, …)`) and each one's
//! description and `application/problem+json` content are written once.

use crate::error::Problem;

/// Declares problem responses: `Name = status, "description";`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident = $status:tt, $description:tt;)*) => {
        $(
            $(#[$doc])*
            #[derive(utoipa::IntoResponses)]
            #[response(status = $status, description = $description, content_type = "application/problem+json")]
            pub struct $name(pub Problem);
        )*
    };
}

problem_responses! {
    /// `400` of a write: its body, path or query.
    BadRequestWrite = 400, "Malformed body or path, or a query parameter";
    /// `400` of a dataset read.
    BadRequestRead = 400, "Malformed or unknown query parameter";
    /// `400` of a one-record read.
    BadRequestPath = 400, "Malformed path, or a query parameter";
    /// `400` of a campaign read.
    BadRequestQuery = 400, "Malformed query";
    /// `400` of a route whose only input is its path: a query parameter.
    BadRequestAnyQuery = 400, "A query parameter";
    /// `401`.
    Unauthorized = 401, "No valid token";
    /// `403` of a route that needs a scope only.
    ForbiddenScope = 403, "Scope not granted";
    /// `403` of a dataset route.
    ForbiddenDataset = 403, "Scope or dataset not granted";
    /// `403` of a campaign route.
    ForbiddenTable = 403, "Scope or table not granted";
    /// `403` of a route whose body names the dataset or table.
    ForbiddenTarget = 403, "Scope, dataset or table not granted";
    /// `404` of a create.
    DatasetNotFound = 404, "Dataset does not exist";
    /// `404` of a campaign table.
    TableNotFound = 404, "No such campaign table";
    /// `404` of a record of a dataset.
    RecordNotInDataset = 404, "No such record in the dataset";
    /// `404` of a record of a campaign table.
    RecordNotInTable = 404, "No such record in the table";
    /// `404` of a record by id.
    RecordNotFound = 404, "No such record";
    /// `404` of an import by id.
    ImportNotFound = 404, "No such import of this caller";
    /// `409` of a change to an expired dataset.
    DatasetExpired = 409, "The dataset is expired and cannot change; nothing was sent";
    /// `408`.
    BodyTimeout = 408, "The body did not arrive whole within `GATEWAY_BODY_TIMEOUT_MS`; the connection is closed";
    /// `409`.
    IdempotencyConflict = 409, "A request with this Idempotency-Key is running, or its outcome is unknown";
    /// `413`.
    PayloadTooLarge = 413, "Body too large";
    /// `415`.
    UnsupportedMediaType = 415, "Body not JSON";
    /// `422` of an update.
    InvalidFields = 422, "Invalid fields";
    /// `422` of a create.
    CreateRefused = 422, "Invalid fields, every record refused, or an Idempotency-Key reused with another body";
    /// `429` of a write.
    TooManyWrites = 429, "Rate limit reached (`too_many_requests`), or this caller holds its whole share of live Idempotency-Keys (`idempotency_quota_exceeded`; only new keys are refused, nothing was sent); both with `Retry-After`";
    /// `502`.
    BadGateway = 502, "ContactNow failed";
    /// `503` of a read.
    UnavailableRead = 503, "ContactNow unavailable, all upstream calls in use (`upstream_busy`), the shared store of cluster-wide limits unreachable (`store_unavailable`), or, for a caller limited to tables, a campaign table whose datasets ContactNow will not list (`table_unchecked`; nothing shown)";
    /// `503` of a write.
    UnavailableWrite = 503, "ContactNow unavailable, all upstream calls in use (`upstream_busy`), the shared store unreachable (`store_unavailable`), the idempotency store full for a new Idempotency-Key (`idempotency_store_full`, with `Retry-After`; nothing was sent), or, for a caller limited to tables, a campaign table whose datasets ContactNow will not list (`table_unchecked`; nothing sent)";
    /// `504`.
    GatewayTimeout = 504, "ContactNow too slow";
}
