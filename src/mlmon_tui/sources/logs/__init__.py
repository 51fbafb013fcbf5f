"""Log-file readers: one module per format, behind `sources.base.Source`."""
