//! The OpenAPI document, generated from the handlers, and its Swagger UI.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Server};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{Error, FieldError, Problem};

/// The document's fixed parts; paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ecnow-gateway",
        description = "Clean REST over the 8x8 ContactNow record API (`ecnow.php`). \
Every resource needs `Authorization: Bearer <JWT>` with `records:read`, `records:write` and/or `datasets:write` in `scope`; \
errors are RFC 9457 problem details.",
        license(name = "MIT")
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "records", description = "Records of a dataset"),
        (name = "datasets", description = "Datasets: their status, priority and campaign"),
        (name = "campaigns", description = "Campaign tables: their fields and records"),
        (name = "outcomes", description = "The account's outcome codes"),
        (name = "imports", description = "Bulk imports: upload a file of leads, follow it, cancel it"),
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

/// Gives every problem response an example body, rendered from the error type itself so the
/// examples cannot drift from what the gateway sends.
struct ProblemExamples;

fn sample_error(status: &str) -> Option<Error> {
    Some(match status {
        "400" => crate::domain::filter::limit_refused(),
        "401" => Error::Unauthenticated(String::new()),
        "403" => Error::Forbidden("the token does not grant dataset 200".into()),
        "404" => Error::NotFound("Record id [999999] does not exist.".into()),
        "409" => Error::KeyInFlight,
        "413" => Error::PayloadTooLarge {
            limit: super::DEFAULT_BODY_LIMIT,
        },
        "415" => Error::UnsupportedMediaType,
        "422" => Error::Validation(vec![FieldError::new(
            "mobile_phone",
            "at least one phone (mobile_phone, home_phone or work_phone) is required",
        )]),
        "429" => Error::TooManyRequests {
            retry_after: crate::error::RETRY_AFTER_BUSY_SECS,
        },
        "502" => Error::UpstreamFailed(String::new()),
        "503" => Error::UpstreamUnavailable(String::new()),
        "504" => Error::UpstreamTimeout,
        _ => return None,
    })
}

impl Modify for ProblemExamples {
    fn modify(&self, doc: &mut Document) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    let sample = match (status.as_str(), path.contains("/imports")) {
                        ("413", true) => Some(Error::PayloadTooLarge {
                            limit: crate::imports::DEFAULT_MAX_BYTES,
                        }),
                        ("415", true) => Some(Error::UnsupportedImportType),
                        _ => sample_error(status),
                    };
                    let (RefOr::T(response), Some(error)) = (response, sample) else {
                        continue;
                    };
                    if let Some(content) = response.content.get_mut("application/problem+json") {
                        let problem = error.problem("6f1c2a9e-5b0d-4f63-a3d4-8c2e1b7f9a10");
                        content.example = serde_json::to_value(problem).ok();
                    }
                }
            }
        }
    }
}

/// The full document: the fixed parts, every route registered by [`super::routes`], examples
/// for every response, and the request constraints the derives cannot express.
pub fn document() -> serde_json::Value {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::routes)
        .split_for_parts();
    ProblemExamples.modify(&mut doc);
    let mut value = serde_json::to_value(&doc).expect("the document serialises");
    add_response_examples(&mut value);
    super::constraints::tighten(&mut value);
    value
}

/// Copies each referenced schema's example onto the responses that lack one, so every status of
/// every operation shows an example body.
fn add_response_examples(value: &mut serde_json::Value) {
    let examples: serde_json::Map<String, serde_json::Value> = value["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .filter_map(|(name, schema)| {
                    let example = schema
                        .get("example")
                        .or_else(|| schema.get("examples")?.get(0))?;
                    Some((format!("#/components/schemas/{name}"), example.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(paths) = value["paths"].as_object_mut() {
        for operation in paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut())
        {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            for content in responses
                .values_mut()
                .filter_map(|response| response.get_mut("content")?.as_object_mut())
                .flat_map(|content| content.values_mut())
            {
                let reference = content["schema"]["$ref"].as_str().map(str::to_owned);
                if content.get("example").is_none()
                    && let Some(example) = reference.and_then(|r| examples.get(&r))
                {
                    content["example"] = example.clone();
                }
            }
        }
    }
}

/// The document as the committed `openapi/openapi.json` holds it (pretty, trailing newline).
pub fn document_json() -> String {
    let mut json = serde_json::to_string_pretty(&document()).expect("the document serialises");
    json.push('\n');
    json
}
