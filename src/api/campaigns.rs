//! The campaign metadata resources: `GET /campaigns` and `GET /campaigns/{table}/fields`,
//! served from the metadata cache.

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::records::{granted_parent, refuse_query};
use super::responses::*;
use crate::auth::{Caller, Scope};
use crate::domain::TableName;
use crate::domain::dataset::{Campaign, CampaignList, FieldList};
use crate::error::Error;
use crate::upstream::ContactNowClient;
use crate::upstream::metadata::Listing;

/// List campaign tables.
///
/// A token that lists `tables` sees those only (one that lists only `datasets` sees none).
/// Takes no query parameters.
#[utoipa::path(
    tag = "campaigns",
    responses(
        (status = 200, description = "The campaign tables the caller may touch", body = CampaignList),
        BadRequestQuery,
        Unauthorized,
        ForbiddenScope,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[get("/campaigns")]
pub async fn list_campaigns(
    caller: Caller,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    caller.require(Scope::Read)?;
    refuse_query(&request)?;
    let tables = client.campaign_tables().await?;
    let campaigns = tables
        .known("campaign table list")?
        .iter()
        .filter(|table| caller.require_table(table).is_ok())
        .map(|table| Campaign {
            table: table.to_string(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(CampaignList { campaigns }))
}

/// List the fields of a campaign table.
///
/// Standard and custom columns in ContactNow's order; `gateway_name` says where each lives in a
/// record body (`first_name`, `custom.company_name`). `404` for a table ContactNow does not
/// have. Takes no query parameters.
#[utoipa::path(
    tag = "campaigns",
    params(
        ("table" = String, Path, description = "Campaign table name", example = "sandbox_campaign"),
    ),
    responses(
        (status = 200, description = "The table's fields", body = FieldList),
        BadRequestPath,
        Unauthorized,
        ForbiddenTable,
        TableNotFound,
        BadGateway,
        UnavailableRead,
        GatewayTimeout,
    ),
    security(("bearer" = []))
)]
#[get("/campaigns/{table}/fields")]
pub async fn list_campaign_fields(
    caller: Caller,
    table: web::Path<String>,
    request: HttpRequest,
    client: web::Data<ContactNowClient>,
) -> Result<HttpResponse, Error> {
    let table: TableName = granted_parent(&caller, Scope::Read, &table)?;
    refuse_query(&request)?;
    let listing = client.campaign_fields(&table).await?;
    let unknown = || Error::NotFound(format!("Table [{table}] does not exist."));
    match &*listing {
        // A real table always has its standard columns: none listed is no table.
        Listing::Known(fields) if fields.is_empty() => Err(unknown()),
        Listing::Refused(refusal) if refusal.contains("does not exist") => Err(unknown()),
        listing => Ok(HttpResponse::Ok().json(FieldList {
            fields: listing.known("campaign field list")?.fields().to_vec(),
        })),
    }
}
