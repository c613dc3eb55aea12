# offload-http as a container: built in a Swift image, run on Debian slim with only the
# runtime libraries. glibc, not musl: OpenSSL's ASYNC fibres are unavailable on musl.
#
#   podman build -t offload-http .        (or docker build)
#   podman run --rm -p 8080:8080 offload-http
#
# An air-gapped site points the base images at its own mirror with --build-arg. Configuration
# is only through OFFLOAD_* environment variables (see the README's table).
ARG BUILDER_IMAGE=docker.io/library/swift:6.3-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
LABEL offload-http.stage=build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd-dev libssl-dev libsqlite3-dev libpq-dev libtcmalloc-minimal4 pkg-config binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY bench/engine-bench ./bench/engine-bench
# SwiftPM reads every target of the package, the test targets too.
COPY Tests ./Tests
# Package.resolved is not kept in the repository: dependencies resolve at build time.
RUN swift build -c release --static-swift-stdlib --product offload-http \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/offload-http" /out/offload-http \
 && strip /out/offload-http

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libssl3 libsqlite3-0 libpq5 libtcmalloc-minimal4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin offload \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/offload-http
COPY --from=build /out/offload-http /usr/local/bin/offload-http
USER 10001:10001
# The embedded store: mount a volume here to keep async jobs across container restarts, or
# set OFFLOAD_STORE=postgres://... for replicas that share their jobs.
ENV OFFLOAD_HOST=0.0.0.0 \
    OFFLOAD_PORT=8080 \
    OFFLOAD_STORE=sqlite:/var/lib/offload-http/jobs.sqlite3
VOLUME /var/lib/offload-http
EXPOSE 8080
# No curl in the image: bash's /dev/tcp asks /healthz, on whatever port OFFLOAD_PORT says.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${OFFLOAD_PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '^HTTP/1.[01] 200' <&3"]
# The service is PID 1 and handles SIGTERM itself: it drains, answers what is in flight, exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/offload-http"]
