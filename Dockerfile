# One image for every Quarry process: `quarry api`, `quarry operator`, `quarry extract --run-id N`,
# `quarry worker transform|load|embed`, `quarry migrate`. The imitation servers are not inside.
#
#   podman build -t localhost/quarry:dev .            (or docker build)
#   docker run --rm quarry:dev --help
#
# BASE_IMAGE is any Debian bookworm-based image; one without Python gets Debian's python3.
ARG BASE_IMAGE=python:3.12-slim-bookworm
# Builds the dashboard when the context has no built copy (scripts/build-image builds it first).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS dashboard
COPY frontend /src/frontend
COPY services/backend/quarry_backend /src/services/backend/quarry_backend
WORKDIR /src/frontend
RUN --mount=type=secret,id=cacert,required=false \
    if [ -f ../services/backend/quarry_backend/static/index.html ]; then exit 0; fi; \
    if [ -f /run/secrets/cacert ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/cacert; fi; \
    npm ci --no-audit --no-fund && npm run build

FROM ${BASE_IMAGE} AS python-base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN if ! command -v python3 >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*; \
    fi

FROM python-base AS build
RUN python3 -m venv /opt/quarry
COPY pyproject.toml README.md /src/
COPY etl_core /src/etl_core
COPY services/backend /src/services/backend
COPY services/extractor /src/services/extractor
COPY services/workers /src/services/workers
COPY local /src/local
COPY operator /src/operator
COPY cli /src/cli
COPY --from=dashboard /src/services/backend/quarry_backend/static /src/services/backend/quarry_backend/static
# A build behind a TLS-intercepting proxy passes its CA bundle as the secret `cacert`; it is used
# here only and never lands in a layer.
RUN --mount=type=secret,id=cacert,required=false \
    if [ -f /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi; \
    /opt/quarry/bin/pip install --no-compile /src \
    && find /opt/quarry -name '__pycache__' -prune -exec rm -rf {} +

FROM python-base AS final
LABEL org.opencontainers.image.title="quarry" \
      org.opencontainers.image.description="Kubernetes-native ETL for engineering analytics" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/quarry /opt/quarry
COPY crds /opt/quarry/crds
# glibc malloc: two arenas, large blocks (raw pages) mapped and returned whole when freed
# (quarry_local.processes.MALLOC_ENV says why; the same values).
ENV PATH=/opt/quarry/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=262144 \
    QUARRY_CRD_DIR=/opt/quarry/crds \
    QUARRY_DATA_DIR=/tmp/quarry \
    HOME=/tmp
# Any non-root uid works (OpenShift-style arbitrary uids): nothing is written outside /tmp.
USER 10001:0
WORKDIR /tmp
EXPOSE 8000
ENTRYPOINT ["quarry"]
CMD ["--help"]
