# syntax=docker/dockerfile:1.7
# One image per process, from this one recipe: build with a SERVICE argument,
#   docker build --build-arg SERVICE=tenants -t aos/tenants:0.1.0 .
# SERVICE is one of tenants, traces, cost-intel, audit-ledger, guard-logs, gateway, or cli (the
# `aos` command with every package and the embedded servers; compose runs `aos migrate` with it).
# Why one image per service rather than one image choosing its service by command: each image holds
# only its own package and dependencies (no ledger code in the gateway image, no embedded
# PostgreSQL anywhere but the cli image), and k8s/ and compose already name images per service.
#
# Layers: the locked third-party dependencies first (only pyproject.toml files and uv.lock are
# copied, so a code change does not reinstall them; uv's cache is a BuildKit cache mount), then the
# workspace packages installed as ordinary, non-editable wheels. The runtime stage gets /opt/aos
# only: no sources, no uv, no build tools.
# The web console (console/ -> dist), served by the gateway at / (AOS_CONSOLE_DIST below).
FROM node:22-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY console ./
RUN npx vite build

FROM python:3.11-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build argument SERVICE is required" >&2; exit 1)
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/aos \
    UV_PYTHON_DOWNLOADS=never UV_FROZEN=1 UV_NO_DEV=1
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY libs/proofs/pyproject.toml libs/proofs/
COPY cli/pyproject.toml cli/
COPY gateway/pyproject.toml gateway/
COPY sdk/python/pyproject.toml sdk/python/
COPY services/tenants/pyproject.toml services/tenants/
COPY services/traces/pyproject.toml services/traces/
COPY services/cost-intel/pyproject.toml services/cost-intel/
COPY services/audit-ledger/pyproject.toml services/audit-ledger/
COPY services/guard-logs/pyproject.toml services/guard-logs/
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "$SERVICE" = cli ]; then selection="--all-packages"; else selection="--package aos-$SERVICE"; fi; \
    uv sync --no-install-workspace $selection
COPY libs libs
COPY cli cli
COPY gateway gateway
COPY sdk sdk
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "$SERVICE" = cli ]; then selection="--all-packages"; else selection="--package aos-$SERVICE"; fi; \
    uv sync --no-editable $selection

FROM python:3.11-slim
ARG SERVICE
ENV SERVICE=${SERVICE} \
    PATH=/opt/aos/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AOS_DATA_DIR=/var/lib/aos \
    AOS_PORT=8000 \
    AOS_GATEWAY_CONFIG=/etc/aos/gateway/dynamic.yml \
    AOS_CONSOLE_DIST=/opt/aos-console
RUN useradd --system --uid 10001 --home-dir /var/lib/aos --create-home aos
COPY --from=build /opt/aos /opt/aos
COPY --from=console /console/dist /opt/aos-console
# The gateway's routing document (Kubernetes mounts its ConfigMap over it).
COPY gateway/dynamic.yml /etc/aos/gateway/dynamic.yml
USER aos
WORKDIR /var/lib/aos
EXPOSE 8000
# AOS_PORT is the port this process listens on; docker-compose.yml and k8s/ set the API.md ports.
# Access logs are JSON lines from aos_common's logging (uvicorn's own formatter is not used).
CMD ["sh", "-c", "if [ \"$SERVICE\" = cli ]; then exec aos --help; fi; exec uvicorn \"aos_$(echo \"$SERVICE\" | tr - _).main:create_app\" --factory --host 0.0.0.0 --port \"$AOS_PORT\" --proxy-headers"]
