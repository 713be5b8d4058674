//! `GET /`: the gateway's JSON index, open to anyone, so that the root URL the sandbox prints
//! leads somewhere.

use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

/// Where the documentation lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexLinks {
    /// The Swagger UI.
    #[schema(example = "/swagger-ui/")]
    pub swagger_ui: &'static str,
    /// The OpenAPI document.
    #[schema(example = "/openapi.json")]
    pub openapi: &'static str,
}

/// The index: what this is, which version, where its documentation is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Index {
    /// `ecnow-gateway`.
    #[schema(example = "ecnow-gateway")]
    pub name: &'static str,
    /// The gateway's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// Links to the documentation.
    pub links: IndexLinks,
}

/// The gateway's index.
///
/// Its name, version and links to the Swagger UI and the OpenAPI document. Open: no token.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The index", body = Index)))]
#[get("/")]
pub async fn index() -> HttpResponse {
    HttpResponse::Ok().json(Index {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        links: IndexLinks {
            swagger_ui: "/swagger-ui/",
            openapi: "/openapi.json",
        },
    })
}
