"""A store's whole life beyond appends and reads: rotation into archives (and, as they land,
retention, conversion and checks). Works on any store through the seam (``stores.base``)."""
