"""The budgets domain of cost-intel."""
