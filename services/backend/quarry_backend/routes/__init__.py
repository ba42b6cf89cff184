"""The API's routes, one module per area; each stays thin and leaves the work to the core."""
