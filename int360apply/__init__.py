"""Int360 as code: biller settings for the CRM, validated, planned and applied from git."""

__version__ = "0.1.0"
