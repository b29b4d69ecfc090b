"""The `aos` command (Typer): run, migrate and inspect the AOS platform on one machine."""
