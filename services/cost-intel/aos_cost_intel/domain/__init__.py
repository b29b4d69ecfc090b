"""Pure domain logic of cost-intel (no I/O): pricing, detection, projection, consistency."""
