"""Run a student's answer cells and call the graded function on each case (the verdict run).

This program runs inside the sandbox (see `grading.verdicts.isolated_call`), in the same process as
the student's code, and imports nothing of the kit. It reads from standard input one JSON
line, {"sources": [...], "function": NAME, "n_outputs": N, "arg_items": [...],
"inputs_bytes": B}, then B bytes of an `.npz` file with the cases' arguments; it writes to
its original standard output one JSON line, {"errors": {case: message}, "error_classes":
{case: [names]}, "types": {case: [words]}, "missing": reason or null, "arrays_bytes": B},
then B bytes of an `.npz` file with every case's outputs. Outputs keep their dtype (bool,
integer or float); "types" says what Python type the result and each value were
(`describe_return`), "error_classes" names the class of a raised error and its bases
(`error_classes`), as plain strings. The kit's own master-notebook checks import these
functions from here too, so both sides judge alike.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any


def as_outputs(result: Any, n_outputs: int) -> tuple:
    """Turn what a student's function returned into a tuple of arrays, or raise TypeError.

    Each array keeps the dtype of its value (bool stays bool, integers stay integers, a
    float32 result stays float32), so that the grader can check a dtype the specification
    names; only numbers are accepted (no objects, strings or complex numbers).
    """
    import numpy as np

    if n_outputs > 1 and not isinstance(result, (tuple, list)):
        raise TypeError(f"returned a single {type(result).__name__}, expected {n_outputs} values")
    values = tuple(result) if isinstance(result, (tuple, list)) and n_outputs > 1 else (result,)
    if len(values) != n_outputs:
        raise TypeError(f"returned {len(values)} values, expected {n_outputs}")
    arrays = []
    for value in values:
        try:
            array = np.array(value)  # a copy, and a plain ndarray whatever the value's class
        except (TypeError, ValueError) as error:
            raise TypeError(f"returned something that is not numbers ({error})") from None
        if array.dtype.kind not in "biuf" or array.dtype.fields is not None:
            what = "complex numbers" if array.dtype.kind == "c" else f"values of dtype {array.dtype}"
            raise TypeError(f"returned {what}, not real numbers")
        arrays.append(array.astype(array.dtype.newbyteorder("="), copy=False))
    return tuple(arrays)


VALUE_KINDS = ("ndarray", "bool", "int", "float", "list", "tuple", "other")
CONTAINERS = ("tuple", "list", "value")


def kind_of(value: Any) -> str:
    """What Python type a returned value is, in one of the words of VALUE_KINDS.

    "float" is a Python float or a numpy floating scalar (np.float64 is a float), "int" an
    integer that is not a bool, "bool" a Python or numpy bool.
    """
    import numpy as np

    if isinstance(value, np.ndarray):
        return "ndarray"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, tuple):
        return "tuple"
    return "other"


def describe_return(result: Any, n_outputs: int) -> list:
    """The container of a result ("tuple", "list" or "value") followed by the kind of each value."""
    if n_outputs > 1:
        container = "tuple" if isinstance(result, tuple) else "list"
        return [container] + [kind_of(value) for value in result]
    return ["value", kind_of(result)]


def error_classes(error: BaseException) -> list:
    """The qualified names of an error's class and of every class it derives from, e.g.
    ["__main__.ConstantSeriesError", "builtins.ValueError", "builtins.Exception", ...]."""
    names = []
    for cls in type(error).__mro__[:64]:
        names.append(f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', '?')}"[:200])
    return names


def call_quietly(function: Callable[..., Any], args: Sequence[Any]) -> Any:
    """Call a student's function on copies of `args`, hiding its warnings and printed output.

    Warnings (a division by zero that the function handles) would be stderr in a grade cell,
    which nbgrader scores as a failure; copies keep a function that edits its input in place
    from spoiling the next case. Scalars arrive as Python numbers and lists as lists, on both
    sides of the isolation alike.
    """
    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return function(*(_fresh_copy(arg) for arg in args))


def _fresh_copy(arg: Any) -> Any:
    """An array copied, a 0-d array as the Python scalar it holds, a list of arrays item by item."""
    import numpy as np

    if isinstance(arg, list):
        return [np.array(item, copy=True) for item in arg]
    array = np.array(arg, copy=True)
    return array.item() if array.ndim == 0 else array


class _NoShell:
    """Stands in for `get_ipython()`: magics in answer cells do nothing here."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def _as_python(source: str) -> str:
    """Answer cells may hold IPython syntax (magics); turn it into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def run(request: dict, inputs: bytes) -> tuple[dict, bytes]:
    """Execute the answer sources, call the function on every case; the report and the outputs' `.npz` bytes."""
    import numpy as np

    namespace: dict = {"__name__": "__main__", "get_ipython": _NoShell}
    exec("import numpy as np", namespace)
    definition_errors = []
    for source in request["sources"]:
        try:
            exec(compile(_as_python(source), "<answer cell>", "exec"), namespace)
        except BaseException as error:  # one broken answer cell must not hide another
            definition_errors.append(f"{type(error).__name__}: {error}")
    report: dict = {"errors": {}, "error_classes": {}, "types": {}, "missing": None}
    outputs: dict = {}
    function = namespace.get(request["function"])
    if not callable(function):
        reason = f"{request['function']} is not defined"
        if definition_errors:
            reason += f" (its cell raised {definition_errors[-1]})"
        report["missing"] = reason
    else:
        with np.load(io.BytesIO(inputs), allow_pickle=False) as arrays:
            for i, items in enumerate(request["arg_items"]):
                args = [
                    arrays[f"case{i}_arg{j}"]
                    if n_items is None
                    else [arrays[f"case{i}_arg{j}_item{k}"] for k in range(n_items)]
                    for j, n_items in enumerate(items)
                ]
                try:
                    result = call_quietly(function, args)
                    values = as_outputs(result, request["n_outputs"])
                    kinds = describe_return(result, request["n_outputs"])
                except BaseException as error:
                    report["errors"][i] = f"{type(error).__name__}: {error}"[:1000]
                    report["error_classes"][i] = error_classes(error)
                    continue
                report["types"][i] = kinds
                outputs.update({f"case{i}_out{j}": value for j, value in enumerate(values)})
    saved = io.BytesIO()
    np.savez(saved, **outputs)
    return report, saved.getvalue()


def serve(request: dict, inputs: bytes, protocol) -> None:
    """Answer the request, writing the report line and the outputs' `.npz` on `protocol` (a
    binary stream the student's code does not get)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # the student's code reads nothing and writes nowhere below Python
        os.dup2(devnull, fd)
    report, arrays = run(request, inputs)
    protocol.write(json.dumps({**report, "arrays_bytes": len(arrays)}).encode() + b"\n")
    protocol.write(arrays)
    protocol.flush()


def main() -> None:
    stdin = sys.stdin.buffer
    request = json.loads(stdin.readline())
    inputs = stdin.read(int(request["inputs_bytes"]))
    serve(request, inputs, os.fdopen(os.dup(1), "wb"))


if __name__ == "__main__":
    main()
