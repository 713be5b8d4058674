//! The OpenAPI document, generated from the handlers, and its Swagger UI.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Server};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};

/// The document's fixed parts; paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ecnow-gateway",
        description = "Clean REST over the 8x8 ContactNow record API (`ecnow.php`). \
Every resource needs `Authorization: Bearer <JWT>` with `records:read` and/or `records:write` in `scope`; \
errors are RFC 9457 problem details.",
        license(name = "MIT")
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "records", description = "Records of a dataset"),
        (name = "campaigns", description = "Records of a campaign table"),
        (name = "operations", description = "Health and readiness"),
    ),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with `sub`, `exp` and `scope`; `ecnow-gateway token` mints one.",
                    ))
                    .build(),
            ),
        );
        doc.servers = Some(vec![Server::new("/")]);
    }
}

/// The full document: the fixed parts and every route registered by [`super::routes`].
pub fn document() -> Document {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::routes)
        .split_for_parts();
    doc
}

/// The document as the committed `openapi/openapi.json` holds it (pretty, trailing newline).
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the document serialises");
    json.push('\n');
    json
}
