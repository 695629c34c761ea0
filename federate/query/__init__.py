"""Read-only SQL over the warehouse: the sandbox, the roles and their views, and disclosure control
on released tables.
"""
