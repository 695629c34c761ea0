"""The declaration language of a site adapter (locale, parsers, table maps), the registry of sites,
and the documents generated from the declarations.
"""
