# weir in a container (Debian 12).
#   docker build -t weir .
#   docker run -p 5006:5006 -e API_KEYS=change-me -v weir-data:/var/lib/weir weir
# Graphs and components live in the volume at /var/lib/weir (DATA_DIR).
ARG DEBIAN_IMAGE=debian:12-slim
# User components need Node.js 20 or newer; Debian 12's nodejs is 18, so the
# node binary comes from the official image built on the same Debian release.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS node

# ---------------------------------------------------------------- build stage
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libjansson-dev libuv1-dev libcurl4-openssl-dev libyaml-dev libhttp-parser-dev libssl-dev libwslay-dev \
      libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the weir binary (libweir is linked in statically); no man pages: the
# slim image has no man reader.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DWEIR_TESTS=OFF -DWEIR_BENCH=OFF -DWEIR_MAN=OFF \
 && cmake --build /build -j "$(nproc)" --target weir \
 && install -D -m 0755 /build/weir /out/usr/local/bin/weir \
 && install -D -m 0644 LICENSE /out/usr/share/doc/weir/LICENSE

# -------------------------------------------------------------- runtime stage
FROM ${DEBIAN_IMAGE}
# The shared libraries weir links to; ca-certificates for https egress; curl
# for the health check; tzdata for symbia.core.cron's time zones.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libjansson4 libuv1 libcurl4 libyaml-0-2 libhttp-parser2.9 libssl3 libwslay1 libsqlite3-0 \
      libstdc++6 ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/*
# node on PATH (/usr/local/bin) and at /usr/bin/node, where a host spawned
# with an empty environment looks for it.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN ln -s /usr/local/bin/node /usr/bin/node && node --version
COPY --from=build /out/ /
RUN weir --version

# Not root: a system user with a fixed id (so runAsNonRoot can check it) that
# owns only the data directory.
RUN groupadd --system --gid 10001 weir \
 && useradd --system --uid 10001 --gid weir --home-dir /var/lib/weir --shell /usr/sbin/nologin weir \
 && install -d -o weir -g weir -m 0750 /var/lib/weir
USER 10001:10001
WORKDIR /var/lib/weir
VOLUME /var/lib/weir

# HOST=0.0.0.0: inside a container loopback is the container's own, so a
# published port reaches weir only on another address.  weir refuses a
# non-loopback HOST without auth: `docker run` must give API_KEYS (or
# JWT_SECRET / JWT_PUBLIC_KEY), or weir exits at start saying so.  That is the
# point: the image never serves an open API.  To try it without auth, keep it
# on the host's loopback instead: docker run --network host -e HOST=127.0.0.1 weir
# A name other than localhost in the Host header (the address you browse to)
# must be listed in ALLOWED_HOSTS.
ENV DATA_DIR=/var/lib/weir \
    HOST=0.0.0.0 \
    PORT=5006
EXPOSE 5006
# /health/ready: 200 once serving, 503 while shutting down (SIGTERM, the
# default stop signal, is a graceful shutdown).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${PORT:-5006}/health/ready" || exit 1
ENTRYPOINT ["weir"]
CMD ["serve"]
