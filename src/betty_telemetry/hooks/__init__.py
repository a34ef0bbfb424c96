"""Claude Code capture without code: hook documents become runs, and the hook entries of
Claude Code's settings files are installed and removed.

- ``ids``: trace and span ids derived from the session, tool call and subagent ids, so that
  the hook calls of one run agree without sharing any state.
- ``documents``: what one hook document records (pure: no store, no clock).
- ``recording``: writing it through the library's pipeline, pairing a run's end with its start.
- ``settings``: merging our hook entries into a settings file, and taking them out again.

Nothing here is imported by the package at start-up: ``betty-telemetry hook`` imports only
what a capture needs.
"""
