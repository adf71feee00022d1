# syntax=docker/dockerfile:1
#
# One image holding every flatgov binary: the seven services, the HTTP gateway
# and the operators' `flatgov` CLI. The command picks what runs, e.g.
#   docker run flatgov:local flatgov-cases
#   docker run flatgov:local flatgov-cases migrate
#   docker run flatgov:local flatgov keys init --dir /var/lib/flatgov/keys
#
# Dependency caching: cargo-chef. The `planner` stage reduces the workspace to
# a recipe (every Cargo.toml and Cargo.lock, with the sources replaced by
# stubs); the `builder` stage compiles the dependencies from that recipe in a
# layer of its own, which Docker reuses until a manifest or the lockfile
# changes. Editing a .rs or .proto file therefore rebuilds only our crates.
# cargo-chef rather than a hand-made dummy-source step because the workspace
# has a dozen members and a build script (proto/ compiles the .proto files with
# protox), which a dummy step would have to mirror member by member.
#
# The build needs no database: no sqlx compile-time query macros are used.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# The same package list for `cook` and `build`, so both resolve the same
# feature set and the cooked dependencies are reused as they are.
ARG FLATGOV_PACKAGES="-p flatgov-blocks -p flatgov-duties -p flatgov-cases -p flatgov-enforcement -p flatgov-federation -p flatgov-notices -p flatgov-mediation -p flatgov-errands -p flatgov-gateway -p flatgov-cli"
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json ${FLATGOV_PACKAGES}
COPY . .
RUN cargo build --release --locked ${FLATGOV_PACKAGES} \
 && mkdir -p /out \
 && for binary in flatgov flatgov-blocks flatgov-duties flatgov-cases flatgov-enforcement flatgov-federation flatgov-notices flatgov-mediation flatgov-errands flatgov-gateway; do \
        install -m 0755 "target/release/${binary}" "/out/${binary}"; \
    done

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="flatgov" \
      org.opencontainers.image.description="flatgov services (blocks, duties, cases, enforcement, federation, notices, mediation, errands), the HTTP gateway and the flatgov operators' CLI; the command selects the binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# ca-certificates: TLS to managed PostgreSQL/NATS and to an OTLP endpoint.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid (10001) so Kubernetes' runAsUser, volume ownership and the
# compose volumes all agree: the compose `init` one-shot (root) hands each
# service its files owned by 10001 (deploy/compose/init/flatgov-init.sh).
# bash runs that script; it is in the base image.
RUN groupadd --system --gid 10001 flatgov \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin flatgov \
 && install -d -o 10001 -g 10001 -m 0750 /etc/flatgov

COPY --from=builder /out/ /usr/local/bin/

USER 10001:10001
WORKDIR /

# gRPC: blocks 50051, duties 50052, cases 50053, enforcement 50054, federation 50055.
# Prometheus metrics: 9451..9455 in the same order.
EXPOSE 50051 50052 50053 50054 50055 9451 9452 9453 9454 9455

CMD ["flatgov", "--help"]
