"""The budget alerts domain of cost-intel: thresholds crossed, sent to the tenant webhook."""
