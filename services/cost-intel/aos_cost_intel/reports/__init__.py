"""The reports domain of cost-intel."""
