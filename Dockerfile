# syntax=docker/dockerfile:1
#
# registryd and registryctl in one slim image.
#
#   docker build -t motie/registry .
#   docker run --rm motie/registry registryd --help
#
# Stages: `chef` (toolchain + cargo-chef), `planner` (the dependency recipe of the workspace),
# `builder` (dependencies compiled from the recipe alone, so they stay cached until
# Cargo.toml/Cargo.lock change; then the workspace itself) and the runtime image
# (debian:bookworm-slim, non-root user, no compiler).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused as long as the recipe (manifests + lock) is unchanged.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# registryd comes from the `registryd` package, registryctl from `registry-cli`.
RUN cargo build --release --locked -p registryd -p registry-cli --bin registryd --bin registryctl \
 && install -D -m 0755 target/release/registryd target/release/registryctl -t /out/

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 registry \
 && useradd --system --uid 10001 --gid registry --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin registry
COPY --from=builder /out/registryd /out/registryctl /usr/local/bin/
USER 10001:10001
# In a container: listen on every interface; JSON logs; metrics on 9464 (publish it only to
# the monitoring network). The health check talks to the server in the same container.
# TLS: on a non-loopback address `registryd serve` refuses plaintext. Either mount a
# certificate and set REGISTRY_TLS_CERT/REGISTRY_TLS_KEY (the health check then needs an
# https REGISTRY_HEALTHCHECK_ENDPOINT), or, when something else encrypts the traffic (a
# TLS-terminating proxy, a private network, as docker-compose.yml does), set
# REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK=true explicitly; the image sets neither.
ENV REGISTRY_LISTEN=0.0.0.0:50051 \
    REGISTRY_METRICS_LISTEN=0.0.0.0:9464 \
    REGISTRY_LOG_FORMAT=json \
    REGISTRY_HEALTHCHECK_ENDPOINT=http://127.0.0.1:50051
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["registryd", "healthcheck", "--timeout-secs", "3"]
STOPSIGNAL SIGTERM
CMD ["registryd", "serve"]
