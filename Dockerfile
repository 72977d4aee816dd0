# syntax=docker/dockerfile:1
# Multi-stage build: compile herald with the full Rust toolchain, ship only the binary on a
# slim Debian base, running as an unprivileged user.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the crate registry and build artefacts between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin herald \
    && strip target/release/herald \
    && cp target/release/herald /usr/local/bin/herald

FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --uid 10001 --home-dir /var/lib/herald --create-home herald
COPY --from=build /usr/local/bin/herald /usr/local/bin/herald
USER herald
WORKDIR /var/lib/herald
# The audit store lives in ./data (mount a volume here to keep it).
VOLUME ["/var/lib/herald/data"]
# A container must listen on every interface; herald refuses to do so with the default app
# secret, so `docker run` needs -e HERALD_APP_SECRET=… (or a config file with [[apps]]).
ENV HERALD_HOST=0.0.0.0 \
    HERALD_PORT=6001 \
    RUST_LOG=info
EXPOSE 6001 9601
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:6001/ready || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["serve"]
