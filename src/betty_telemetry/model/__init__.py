"""The entry model: fields, statuses, validation, times and filters (no bytes, no file formats)."""
