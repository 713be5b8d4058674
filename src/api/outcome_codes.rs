//! `GET /outcome-codes`: the account's outcome codes, served from the metadata cache.

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::records::refuse_query;
use super::responses::*;
use crate::auth::{Caller, Scope};
use crate::domain::dataset::OutcomeCodeList;
use crate::error::Error;
use crate::upstream::ContactNowClient;

/// List the account's outcome codes.
///
/// `complete` codes take a record off the dialler when set as its `outcome_code`. Takes no
/// query parameters.
#[utoipa::path(
    tag = "outcomes",
    responses(
        (status = 200, description = "The outcome codes", body = OutcomeCodeList),
        BadRequestQuery,
        Unauthorized,
        ForbiddenScope,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[get("/outcome-codes")]
pub async fn list_outcome_codes(
    caller: Caller,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    refuse_query(&request)?;
    let codes = client.outcome_codes().await?;
    Ok(HttpResponse::Ok().json(OutcomeCodeList {
        outcome_codes: codes.known("outcome code list")?.clone(),
    }))
}
