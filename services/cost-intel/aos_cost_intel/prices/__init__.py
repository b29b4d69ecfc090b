"""The prices domain of cost-intel."""
