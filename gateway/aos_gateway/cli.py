"""`aos gateway ...` (mounted by the CLI): render the routing document for Kubernetes, check it."""

from __future__ import annotations

from pathlib import Path

import typer

from aos_gateway.config import ConfigError, default_config_path, load_config
from aos_gateway.k8s import OVERLAY_NAMESPACES, dump_all, render_traefik, render_tree

gateway_app = typer.Typer(help="The gateway's Traefik v3 routing document.", no_args_is_help=True)


@gateway_app.command("render-k8s")
def render_k8s(
    document: Path = typer.Option(
        None, help="The Traefik document (default: gateway/dynamic.yml)."
    ),
    namespace: str = typer.Option("aos", help="Namespace of the rendered resources."),
    output: Path = typer.Option(None, help="Write to this file instead of stdout."),
    tree: Path = typer.Option(
        None,
        help="Regenerate every generated file under this k8s/ directory "
        f"(base ConfigMap, overlays {', '.join(OVERLAY_NAMESPACES)}).",
    ),
) -> None:
    """Render the Kubernetes edge (IngressRoute: TLS, every path to the gateway but the direct
    ingest routes; their body-limit Middleware) and the gateway ConfigMap from dynamic.yml."""
    source = document or default_config_path()
    try:
        if tree is not None:
            for path, content in render_tree(source, tree).items():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
                typer.echo(f"wrote {path}")
            return
        rendered = dump_all(render_traefik(source.read_text(), namespace))
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if output is not None:
        output.write_text(rendered)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(rendered, nl=False)


@gateway_app.command("check")
def check(
    document: Path = typer.Option(
        None, help="The Traefik document (default: gateway/dynamic.yml)."
    ),
) -> None:
    """Load the document exactly as the gateway would at start-up and list its routers."""
    try:
        config = load_config(document or default_config_path())
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for router in config.routers:
        chain = ", ".join(m.name for m in router.middlewares) or "-"
        budget = "  [budget]" if router.budget_enforced else ""
        typer.echo(
            f"{router.priority:>5}  {router.name:<16} -> {router.service:<13} {chain}{budget}"
        )
