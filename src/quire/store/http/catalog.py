"""``HTTPCatalog``: the Catalog protocol, one request per verb to ``quire server``."""
