"""A toy multiple-choice suite that lives entirely in tests/ (see tests/runners/test_toy_suite.py)."""
