"""The program that runs a student's answer cell in a fresh process (see `isolated_call`).

It must stand alone: the parent runs its text with ``python -I -S -c``, so that neither the
working directory nor the installed kit is importable and student code cannot reach the
grader's reference. Only numpy and IPython (for magics) are put on the path. The kernel-side
checks import `as_outputs` and `call_quietly` from here too, so both sides judge alike.

Usage: ``python -I -S -c <this file's text> WORKDIR SITE_PACKAGES_JSON``.
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence


def as_outputs(result: Any, n_outputs: int) -> tuple:
    """Turn what a student's function returned into a tuple of float arrays, or raise TypeError."""
    import numpy as np

    if n_outputs > 1 and not isinstance(result, (tuple, list)):
        raise TypeError(f"returned a single {type(result).__name__}, expected {n_outputs} values")
    values = tuple(result) if isinstance(result, (tuple, list)) and n_outputs > 1 else (result,)
    if len(values) != n_outputs:
        raise TypeError(f"returned {len(values)} values, expected {n_outputs}")
    try:
        return tuple(np.array(value, dtype=float) for value in values)
    except (TypeError, ValueError) as error:
        raise TypeError(f"returned something that is not numbers ({error})") from None


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


def run(work: Path) -> None:
    """Execute the answer sources of `work/request.json`, call the function on every case."""
    import numpy as np

    request = json.loads((work / "request.json").read_text())
    namespace: dict = {"__name__": "__main__", "get_ipython": _NoShell}
    exec("import numpy as np", namespace)
    definition_errors = []
    for source in request["sources"]:
        try:
            exec(compile(_as_python(source), "<answer cell>", "exec"), namespace)
        except BaseException as error:  # one broken answer cell must not hide another
            definition_errors.append(f"{type(error).__name__}: {error}")
    report: dict = {"errors": {}, "missing": None}
    outputs: dict = {}
    function = namespace.get(request["function"])
    if not callable(function):
        reason = f"{request['function']} is not defined"
        if definition_errors:
            reason += f" (its cell raised {definition_errors[-1]})"
        report["missing"] = reason
    else:
        with np.load(work / "inputs.npz", allow_pickle=False) as inputs:
            for i, items in enumerate(request["arg_items"]):
                args = [inputs[f"case{i}_arg{j}"] if n_items is None
                        else [inputs[f"case{i}_arg{j}_item{k}"] for k in range(n_items)]
                        for j, n_items in enumerate(items)]
                try:
                    values = as_outputs(call_quietly(function, args), request["n_outputs"])
                except BaseException as error:
                    report["errors"][i] = f"{type(error).__name__}: {error}"
                    continue
                outputs.update({f"case{i}_out{j}": value for j, value in enumerate(values)})
    np.savez(work / "outputs.npz", **outputs)
    (work / "result.json").write_text(json.dumps(report))


if __name__ == "__main__":
    sys.path.extend(json.loads(sys.argv[2]))
    run(Path(sys.argv[1]))
