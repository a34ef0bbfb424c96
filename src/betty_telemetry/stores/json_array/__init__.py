"""The JSON-array store: the spec's file format."""
