"""``HTTPObjects``: the ObjectStore protocol over ``quire server``'s object routes."""
