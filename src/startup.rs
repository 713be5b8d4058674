//! Building and running the gateway: [`Application::build`] binds the listener (port 0 works),
//! [`Application::run_until_stopped`] serves until SIGTERM/SIGINT, draining in-flight requests.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, http::header, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, Limits, RouteTable};
use crate::auth::Authenticator;
use crate::config::{ConfigError, Settings};
use crate::telemetry;
use crate::upstream::ContactNowClient;

/// How long in-flight requests may run after a stop signal.
pub const DRAIN_SECONDS: u64 = 30;

/// A bound, ready-to-run gateway.
pub struct Application {
    port: u16,
    server: Server,
}

async fn swagger_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}

impl Application {
    /// Binds `settings.listen` and builds the server (not yet running).
    pub fn build(settings: &Settings) -> Result<Self, ConfigError> {
        let authenticator =
            web::Data::new(Authenticator::new(&settings.auth).map_err(ConfigError)?);
        let client = web::Data::new(
            ContactNowClient::new(&settings.upstream).map_err(|e| ConfigError(e.to_string()))?,
        );
        let idempotency = web::Data::new(
            crate::idempotency::Idempotency::new(settings.idempotency.clone())
                .map_err(ConfigError)?,
        );
        let limits = web::Data::new(Limits {
            body_bytes: settings.body_limit,
        });
        let document = api::openapi::document();
        let route_table = web::Data::new(RouteTable::new(&document));
        let listener = TcpListener::bind(settings.listen).map_err(|e| {
            ConfigError(format!(
                "GATEWAY_LISTEN: cannot bind {}: {e}",
                settings.listen
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| ConfigError(e.to_string()))?
            .port();
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .wrap(from_fn(telemetry::request_context))
                .app_data(authenticator.clone())
                .app_data(client.clone())
                .app_data(limits.clone())
                .app_data(idempotency.clone())
                .app_data(route_table.clone())
                .into_utoipa_app()
                .configure(api::routes)
                .split_for_parts();
            app.service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/openapi.json", document.clone()))
                .route("/swagger-ui", web::get().to(swagger_redirect))
                .default_service(web::to(api::fallback))
        })
        .shutdown_timeout(DRAIN_SECONDS);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|e| ConfigError(format!("GATEWAY_LISTEN: {e}")))?
            .run();
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped; in-flight requests get up to [`DRAIN_SECONDS`] to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
