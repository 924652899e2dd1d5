# Build: everything native (libpq, SQLite, OpenSSL) is compiled from source by the
# bundled -sys crates, so the builder needs only Rust, a C compiler, make and perl.
FROM rust:1.95-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends make perl && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p faltlogg-api --bin faltlogg

# Run: a slim image, a user without privileges, no shell tools beyond the base.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/faltlogg --create-home faltlogg
COPY --from=build /src/target/release/faltlogg /usr/local/bin/faltlogg
USER faltlogg
WORKDIR /var/lib/faltlogg
ENV FALTLOGG_LISTEN=0.0.0.0:8080 FALTLOGG_LOG_FORMAT=json
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["faltlogg"]
CMD ["serve"]
