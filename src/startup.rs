//! Building and running the gateway: [`Application::build`] binds the listener (port 0 works),
//! [`Application::run_until_stopped`] serves until SIGTERM/SIGINT, then drains: `/readyz` turns
//! 503, new connections are refused, in-flight requests get up to [`DRAIN_SECONDS`] to finish.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpResponse, HttpServer, http::header, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, Limits, RouteTable};
use crate::auth::{Authenticator, CallerLimiter};
use crate::config::{ConfigError, Settings};
use crate::cors;
use crate::idempotency::Idempotency;
use crate::imports::Imports;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::telemetry;
use crate::upstream::ContactNowClient;

/// How long in-flight requests may run after a stop signal.
pub const DRAIN_SECONDS: u64 = 30;

/// A bound, ready-to-run gateway.
pub struct Application {
    port: u16,
    server: Server,
    lifecycle: web::Data<Lifecycle>,
    imports: web::Data<Imports>,
}

/// Where the OpenAPI document is served.
const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI document, serialised once at start-up (`GET /openapi.json`): workers share these
/// bytes instead of each holding its own copy of the document's tree (megabytes each).
struct OpenApiJson(web::Bytes);

/// The route table and the serialised OpenAPI document.
///
/// The document's tree (several MiB, gone once serialised) is built on a short-lived thread, so
/// it is allocated and freed in that thread's malloc arena rather than left as free space
/// scattered through the main heap; the results are copied out to the calling thread first.
/// With the segment route table, this took the idle RSS from 18.9 to 17.3 MiB
/// (`bench/README.md`).
fn served_document() -> Result<(RouteTable, web::Bytes), ConfigError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let document = api::openapi::document();
                let json = serde_json::to_vec(&document)
                    .map_err(|e| ConfigError(format!("OpenAPI: {e}")))?;
                Ok((RouteTable::new(&document), json))
            })
            .join()
            .map_err(|_| ConfigError("OpenAPI: building the document panicked".into()))?
    })
    .map(|(table, json): (RouteTable, Vec<u8>)| (table.clone(), web::Bytes::copy_from_slice(&json)))
}

/// The OpenAPI document.
async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(document.0.clone())
}

async fn swagger_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}

fn setup_error(setting: &str) -> impl Fn(String) -> ConfigError + '_ {
    move |message| ConfigError(format!("{setting}: {message}"))
}

impl Application {
    /// Binds `settings.listen` and builds the server (not yet running).
    pub fn build(settings: &Settings) -> Result<Self, ConfigError> {
        let authenticator =
            web::Data::new(Authenticator::new(&settings.auth).map_err(ConfigError)?);
        authenticator.start_key_refresh();
        let redis = match &settings.redis_url {
            Some(url) => Some(crate::cluster::redis_pool(url).map_err(ConfigError)?),
            None => None,
        };
        let limiter = settings.rate_limit.map(|limit| {
            web::Data::new(match &redis {
                Some(pool) => CallerLimiter::shared(limit.per_second, limit.burst, pool.clone()),
                None => CallerLimiter::new(limit.per_second, limit.burst),
            })
        });
        let metrics = Arc::new(Metrics::new());
        let mut client = ContactNowClient::new(&settings.upstream, metrics.clone())
            .map_err(|e| setup_error("CONTACTNOW_BASE_URL")(e.to_string()))?;
        if let Some(pool) = &redis {
            client.share_slots(pool.clone(), settings.upstream.timeout);
        }
        let client = web::Data::new(client);
        let idempotency = web::Data::new(Idempotency::new(
            settings.idempotency.clone(),
            redis.clone(),
            metrics.clone(),
        ));
        let imports = web::Data::new(Imports::new(
            settings.imports,
            metrics.clone(),
            redis.clone(),
        ));
        let metrics = web::Data::from(metrics);
        let lifecycle = web::Data::new(Lifecycle::default());
        let limits = web::Data::new(Limits {
            body_bytes: settings.body_limit,
            body_timeout: settings.body_timeout,
        });
        let (route_table, document) = served_document()?;
        let (route_table, document) = (
            web::Data::new(route_table),
            web::Data::new(OpenApiJson(document)),
        );
        let listener = TcpListener::bind(settings.listen).map_err(|e| {
            setup_error("GATEWAY_LISTEN")(format!("cannot bind {}: {e}", settings.listen))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| setup_error("GATEWAY_LISTEN")(e.to_string()))?
            .port();
        let app_lifecycle = lifecycle.clone();
        let cors_settings = settings.cors.clone();
        let app_imports = imports.clone();
        let mut server = HttpServer::new(move || {
            let mut app = App::new();
            if let Some(limiter) = &limiter {
                app = app.app_data(limiter.clone());
            }
            let (app, _) = app
                .wrap(cors::layer(&cors_settings))
                .wrap(Condition::new(
                    cors_settings.enabled(),
                    from_fn(cors::shape_answers),
                ))
                .wrap(from_fn(telemetry::request_context))
                .wrap(from_fn(api::body_guard::hold_unread_body))
                .app_data(authenticator.clone())
                .app_data(client.clone())
                .app_data(limits.clone())
                .app_data(idempotency.clone())
                .app_data(app_imports.clone())
                .app_data(metrics.clone())
                .app_data(app_lifecycle.clone())
                .app_data(route_table.clone())
                .into_utoipa_app()
                .configure(api::routes)
                .split_for_parts();
            app.service(
                SwaggerUi::new("/swagger-ui/{_:.*}")
                    .config(utoipa_swagger_ui::Config::new([OPENAPI_PATH])),
            )
            .app_data(document.clone())
            .route(OPENAPI_PATH, web::get().to(openapi_json))
            .route("/swagger-ui", web::get().to(swagger_redirect))
            .default_service(web::to(api::fallback))
        })
        .shutdown_timeout(DRAIN_SECONDS)
        .disable_signals();
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|e| setup_error("GATEWAY_LISTEN")(e.to_string()))?
            .run();
        Ok(Self {
            port,
            server,
            lifecycle,
            imports,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that drains and stops the server (what SIGTERM does).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            lifecycle: self.lifecycle.clone(),
            handle: self.server.handle(),
            imports: self.imports.clone(),
        }
    }

    /// Serves until SIGTERM or SIGINT (then drains) or until a [`Stopper`] stops it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopper = self.stopper();
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("stop signal: draining in-flight requests");
            stopper.stop().await;
        });
        self.server.await
    }
}

/// Drains and stops one gateway.
#[derive(Clone)]
pub struct Stopper {
    lifecycle: web::Data<Lifecycle>,
    handle: ServerHandle,
    imports: web::Data<Imports>,
}

impl Stopper {
    /// `/readyz` turns 503 at once, running imports stop after their chunks in flight
    /// (`interrupted`), new connections are refused, in-flight requests finish (up to
    /// [`DRAIN_SECONDS`]); returns when the server has stopped.
    pub async fn stop(&self) {
        self.lifecycle.start_draining();
        let drain = std::time::Duration::from_secs(DRAIN_SECONDS);
        self.imports.interrupt_all(drain).await;
        self.handle.stop(true).await;
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
