"""The web console at `/`: its built files (static.py) and its cookie sessions (session.py, edge.py)."""
