"""The student's environment in a browser. A package, so that its conftest does not replace
tests/conftest.py as the module `conftest` that other tests import names from."""
