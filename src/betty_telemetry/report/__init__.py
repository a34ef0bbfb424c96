"""The HTML report (``betty-telemetry report``) and its live view (``betty-telemetry ui``).

``building`` reads a store once into a report's data (``digest`` aggregates, ``timeline``
buckets); ``page`` makes it one self-contained HTML page, drawn by ``assets/report.js`` with
plotly.js (the ``[report]`` extra); ``live`` serves that page on localhost, refreshed as
entries arrive.
"""
