"""Read-only SQL over the warehouse: the sandbox, the roles and their views, and disclosure control
on released tables (disclosure and secondary for every table; shape and release for an ad-hoc
query's result; sqltree for DuckDB's own reading of SQL).
"""
