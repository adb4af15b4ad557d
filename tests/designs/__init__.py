"""Other correct designs of a step's concept, which `make check` must pass as it passes ours."""
