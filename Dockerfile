# The strigil API and dashboards. Build: docker build -t strigil . ; run with docker-compose.yml.
#
# The base images are build arguments so a production build pins them by digest (the digest
# a registry serves for a tag is not knowable offline; docs/deploy.md, "The image"):
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # prints Digest: sha256:…
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:… \
#                --build-arg NODE_IMAGE=node:20-bookworm-slim@sha256:… -t strigil .
ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The dashboards' front-end package (uPlot), pinned by web/package-lock.json, copied into the
# Python package's static files.
FROM ${NODE_IMAGE} AS web
WORKDIR /build
COPY web ./web
RUN mkdir -p src/strigil/dashboards/static && cd web && npm ci --no-audit --no-fund \
    && npm run build

FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml requirements-docker.txt README.md ./
COPY src ./src
COPY --from=web /build/src/strigil/dashboards/static/vendor ./src/strigil/dashboards/static/vendor
# Every Python package from requirements-docker.txt, each file checked against its SHA-256;
# then strigil itself with that backend and nothing fetched (--no-index).
RUN pip install --require-hashes --no-deps -r requirements-docker.txt \
    && pip install --no-deps --no-build-isolation --no-index . \
    && useradd --system --uid 10001 --home /var/lib/strigil strigil \
    && mkdir -p /var/lib/strigil && chown strigil /var/lib/strigil
USER strigil
ENV STRIGIL_DATA_DIR=/var/lib/strigil STRIGIL_BIND_HOST=0.0.0.0 STRIGIL_BIND_PORT=8000
EXPOSE 8000
# Readiness, not only liveness: unhealthy while InfluxDB refuses or does not answer (the API
# keeps serving and queueing meanwhile). Bash's /dev/tcp: no Python started every 10 s.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000 && printf "GET /api/v1/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && read -r _ code _ <&3 && [ "$code" = 200 ]'
# liveness alone: GET /api/v1/health
CMD ["strigil", "serve"]
