"""Agent tracing internals; the public names are in `composo.tracing`."""
