"""The SQLite store: entries in a SQLite database, filtered, traced and summarized in SQL."""
