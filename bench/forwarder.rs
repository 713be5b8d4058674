//! The floor of `bench/run`: a bare actix-web + reqwest forwarder, not part of the gateway.
//!
//! `bare_forwarder LISTEN UPSTREAM` sends every request's method, path, query, content type and
//! body to `UPSTREAM` (e.g. `http://127.0.0.1:8081`) with one pooled reqwest client, and answers
//! with the upstream's status, content type and body. No JWT, no translation, no middleware:
//! what any actix-web service that calls another over reqwest pays at least.

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// actix-web 4 and reqwest use different `http` crate versions: names cross as text.
const CONTENT_TYPE: &str = "content-type";

struct Upstream {
    client: reqwest::Client,
    base: String,
}

async fn forward(
    request: HttpRequest,
    body: web::Bytes,
    upstream: web::Data<Upstream>,
) -> HttpResponse {
    let url = format!("{}{}", upstream.base, request.uri());
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut outgoing = upstream.client.request(method, url).body(body);
    if let Some(content_type) = request.headers().get(CONTENT_TYPE) {
        outgoing = outgoing.header(CONTENT_TYPE, content_type.as_bytes());
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => return HttpResponse::BadGateway().body(error.without_url().to_string()),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(CONTENT_TYPE).cloned();
    match answer.bytes().await {
        Ok(bytes) => {
            let mut response = HttpResponse::build(status);
            if let Some(content_type) = content_type {
                response.insert_header((CONTENT_TYPE, content_type.as_bytes()));
            }
            response.body(bytes)
        }
        Err(error) => HttpResponse::BadGateway().body(error.without_url().to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(base)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_forwarder LISTEN UPSTREAM_BASE_URL");
        std::process::exit(2);
    };
    let upstream = web::Data::new(Upstream {
        client: reqwest::Client::new(),
        base: base.trim_end_matches('/').to_owned(),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(upstream.clone())
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .default_service(web::to(forward))
    })
    .bind(listen)?
    .run()
    .await
}
