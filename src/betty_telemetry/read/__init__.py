"""The read side over any store: filtered streams, pages, statistics, trace trees, follow."""
