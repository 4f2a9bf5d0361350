"""Model bundles: manifest, checksums, stage folders, tiny random bundle."""
