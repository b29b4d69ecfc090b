# One image recipe for every AOS process. Build with a SERVICE argument:
#   docker build --build-arg SERVICE=tenants -t aos-tenants .
# SERVICE is one of tenants, traces, cost-intel, audit-ledger, guard-logs, gateway, or cli
# (the `aos` command with every service package installed; docker-compose.yml runs
# `aos migrate` with it). The workspace is installed editable from /src so that files kept
# beside a package (gateway/dynamic.yml, migrations) are found exactly as in development.
FROM python:3.11-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build argument SERVICE is required" >&2; exit 1)
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/aos UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
COPY gateway gateway
COPY cli cli
COPY sdk sdk
RUN if [ "$SERVICE" = "cli" ]; then \
        uv sync --frozen --no-dev --all-packages; \
    else \
        uv sync --frozen --no-dev --package "aos-$SERVICE"; \
    fi

FROM python:3.11-slim
ARG SERVICE
ENV SERVICE=${SERVICE} \
    PATH=/opt/aos/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AOS_DATA_DIR=/var/lib/aos \
    AOS_PORT=8000
RUN useradd --system --uid 10001 --home-dir /var/lib/aos --create-home aos
COPY --from=build /opt/aos /opt/aos
COPY --from=build /src /src
USER aos
WORKDIR /var/lib/aos
EXPOSE 8000
# AOS_PORT is the port this process listens on; docker-compose.yml sets the API.md defaults.
CMD ["sh", "-c", "if [ \"$SERVICE\" = cli ]; then exec aos --help; fi; exec uvicorn \"aos_$(echo \"$SERVICE\" | tr - _).main:create_app\" --factory --host 0.0.0.0 --port \"$AOS_PORT\" --proxy-headers"]
