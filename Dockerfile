# ecnow-gateway: release build on the official Rust image, run on distroless (glibc + CA certs,
# no shell, non-root). Base images are pinned by tag; pin digests too where a bot keeps them fresh.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /app

# Dependencies first, against stub targets, so this layer is rebuilt only when the manifest or
# lock file changes, not on every source edit.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# The real sources. COPY keeps the files' own mtimes, which can be older than the stub build:
# touch the crate roots so cargo rebuilds the crate itself.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/ecnow-gateway /usr/local/bin/ecnow-gateway

# cc-debian12 = Debian 12 glibc (the builder's), libgcc and the CA bundle rustls reads as the
# system trust store; ":nonroot" runs as 65532.
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=builder /usr/local/bin/ecnow-gateway /usr/local/bin/ecnow-gateway

ENV GATEWAY_LISTEN=0.0.0.0:8080 \
    GATEWAY_LOG_FORMAT=json

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080

# The gateway drains in-flight requests for up to 30 s on SIGTERM, then exits 0.
STOPSIGNAL SIGTERM

# No shell or curl here to probe with, and the binary has no self-check command: Kubernetes'
# liveness/readiness probes (/healthz, /readyz) are the health checks.
HEALTHCHECK NONE

ENTRYPOINT ["/usr/local/bin/ecnow-gateway"]
CMD ["serve"]
