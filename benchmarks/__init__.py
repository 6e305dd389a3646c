"""`make bench`: performance measurements, printed as tables (never asserted in unit tests)."""
