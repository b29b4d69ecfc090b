"""The platform API reference the gateway serves: `/openapi.json` and the `/docs` page."""
