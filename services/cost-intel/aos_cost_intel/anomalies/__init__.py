"""The anomalies domain of cost-intel."""
