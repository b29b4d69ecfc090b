"""The records domain of cost-intel."""
