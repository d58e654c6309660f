# One image for every part: `poolpilot <part> --config /etc/poolpilot/poolpilot.yaml`.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p poolpilot

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/poolpilot /usr/local/bin/poolpilot
USER 65532:65532
EXPOSE 8080 9100
ENTRYPOINT ["/usr/local/bin/poolpilot"]
