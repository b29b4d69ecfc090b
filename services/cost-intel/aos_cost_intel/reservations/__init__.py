"""The reservations domain of cost-intel: holds on hard budgets, settled or released."""
