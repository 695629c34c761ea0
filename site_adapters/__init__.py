"""One declaration per country. Installed as ``federate.site_adapters``; registered in
``federate.registry`` (an explicit list, so a misspelt module fails loudly)."""
