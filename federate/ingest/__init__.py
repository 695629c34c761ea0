"""A site's export in, a validated bundle out: planning, the streaming pass, lookup of patients,
mapping, settling keys and orphans, quarantine, writing.
"""
