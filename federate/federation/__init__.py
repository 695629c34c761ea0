"""Federated analysis (issue 26): the hub (a mailbox of signed tasks and answers), the node (a
site answering allow-listed computations on its own validated bundle) and the analyst (posts
signed requests, checks every answer against the site's pinned key, and combines). No row
leaves a site; sums across sites are securely aggregated. docs/federated.md explains."""
