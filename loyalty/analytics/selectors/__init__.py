"""The analytics' database reads: set-based SQL (aggregates, medians, histograms), never a Python
loop over members. Each returns the rows the report's pure arithmetic takes."""
