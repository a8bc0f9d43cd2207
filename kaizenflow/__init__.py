"""kaizenflow: nightly process mining that turns deviations into owned, measured improvements."""

__version__ = "0.1.0"
