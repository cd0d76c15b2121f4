# Multi-stage: build `arena`, `arena-crawler` and the dashboard with the same toolchain as CI, run them on a
# slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    dashboard/build.sh \
    && cargo build --release --locked -p arena-api --bin arena -p arena-crawler --bin arena-crawler \
    && cp target/release/arena /arena \
    && cp target/release/arena-crawler /arena-crawler \
    && cp -r dashboard/dist /dashboard

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/arena --create-home arena \
    && install -d -o arena /var/lib/arena/assets
COPY --from=build /arena /usr/local/bin/arena
COPY --from=build /arena-crawler /usr/local/bin/arena-crawler
COPY --from=build /dashboard /usr/share/arena/dashboard
USER arena
WORKDIR /var/lib/arena
ENV ARENA_BIND=0.0.0.0:8000 \
    ARENA_DASHBOARD_DIR=/usr/share/arena/dashboard
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/arena"]
CMD ["serve"]
