"""The periodic schedule: nightly loads and the reconciler sweep."""
