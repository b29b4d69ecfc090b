"""The gateway's reading of a Traefik v3 file-provider document."""

from aos_gateway.config.loader import (
    BUDGET_MARKER_HEADER,
    CompiledRouter,
    ConfigError,
    GatewayConfig,
    build_config,
    default_config_path,
    load_config,
    parse_document,
)

__all__ = [
    "BUDGET_MARKER_HEADER",
    "CompiledRouter",
    "ConfigError",
    "GatewayConfig",
    "build_config",
    "default_config_path",
    "load_config",
    "parse_document",
]
