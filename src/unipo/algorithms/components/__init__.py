"""UNIPO's built-in component descriptors, one module per axis (torch-free; every module here is
imported by the registry). Each module registers its components with `registry.component`."""
