"""A site's submission on disk: the manifest, sealing with SHA-256 checksums, verification, and
Ed25519 signing.
"""
