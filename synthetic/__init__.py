"""A synthetic Seoul that looks like the city: every contract file plus its hidden truth (`_truth/`).

Training and serving never read `_truth/`; only evaluation against the best possible ranking does.
"""
