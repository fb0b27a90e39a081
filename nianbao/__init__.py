"""nianbao: harvest, parse, check and publish Chinese government information-disclosure annual reports."""

__version__ = "0.1.0"
