"""The features domain of cost-intel."""
