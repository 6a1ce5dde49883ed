# ergon in a container: `docker build -t ergon .` then
#   docker run --rm -p 8080:8080 -p 7070:7070 -p 7070:7070/udp ergon node --dev --base-path /data
# The first stage compiles the node (RocksDB's C++ included: 15-25 minutes on 2 cores); the
# second holds only the binary and the chain specs. Not built in CI here (no engine can reach
# a registry from the CI machine); `docker build` on a machine with one.

FROM rust:1-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libclang-dev clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin ergon \
 && cp target/release/ergon /usr/local/bin/ergon

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /data --uid 10001 ergon
COPY --from=build /usr/local/bin/ergon /usr/local/bin/ergon
COPY chainspec /usr/share/ergon/chainspec
USER ergon
WORKDIR /data
VOLUME /data
# JSON-RPC, /metrics and /health; libp2p over TCP and QUIC.
EXPOSE 8080 7070 7070/udp
# Inside a container RPC must listen on every interface to be reachable through a published
# port; P2P already does (except with --dev, which keeps it on 127.0.0.1: pass
# --listen-addr /ip4/0.0.0.0/tcp/7070 to reach a --dev node's swarm from outside).
ENV RPC_BIND=0.0.0.0:8080 DB_PATH=/data
# /health answers 503 while the node is degraded (no peers, syncing, halted, storage error).
HEALTHCHECK --interval=30s --timeout=5s CMD ["curl", "-fsS", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/bin/tini", "--", "ergon"]
CMD ["node", "--chain", "local"]
