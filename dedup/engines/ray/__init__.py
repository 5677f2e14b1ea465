"""The Ray engine: the only subpackage that imports ray."""
