"""The central pool: publishing bundles atomically, the catalog, the blinded area, trusted keys,
and the hash-chained audit log.
"""
