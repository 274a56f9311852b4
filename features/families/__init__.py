"""The feature families: one module per family, each a point-in-time DuckDB query over a validated delivery.

"As of D" means at the end of day D: a family's query sees rows reported, valid, visited or measured on
or before D and nothing later. Every window ends on D and is named in the catalogue.
"""
