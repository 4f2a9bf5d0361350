"""Writers of bundles: tiny random ones for tests and demos, Karlo-layout ones, and their manifests."""
