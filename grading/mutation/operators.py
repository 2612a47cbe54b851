"""The mutation operators: each one small, plausible change a student could make to an answer.

A mutant is the master's answer cell with one change, made on its syntax tree, so that the hidden
tests can be judged by the mistakes they let through rather than by the mistakes someone thought
of. The operators, and what each one changes:

| operator | change |
|---|---|
| `comparison` | `<` → `<=` and back, `>` → `>=` and back, `<` → `>`, `==` → `!=` |
| `arithmetic` | `+` → `-`, `-` → `+`, `*` → `/`, `/` → `*`, `//` → `/` |
| `constant` | a number one more or one less (`1000` → `999` or `1001`: the grid one step short or long) |
| `axis` | `axis=0` → `axis=1` and back, or the axis left out (the whole array) |
| `sample_statistic` | `/ m` → `/ (m - 1)`, `np.var` and `np.std` with `ddof=1`: the sample, not the population |
| `reduction` | `sum` → `mean`, `min` → `max`, `argmin` → `argmax` (and back), `abs(x)` → `x` |
| `slice_bound` | a slice's bound one more or one less: `x[:k]` → `x[:k + 1]`, `x[k:]` → `x[k - 1:]`, ... |
| `range_bound` | `range(n)` one longer or shorter; `arange(a, b, step)` one step longer or shorter |
| `float32` | an argument cast to float32 on entry |
| `returned_values` | the first two returned values swapped; a tuple returned as a list |
| `boolean` | `&` → `|`, `and` → `or` (and back), a `~` or `not` dropped |
| `rounding` | `int(x)` → `round(x)`: the other rounding of a split |

Only the graded function's body is changed, never its docstring.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# One change a node can take: what the change is called, and the function that makes it on a
# copy of the node (returning the node that replaces it).
Change = tuple[str, Callable[[ast.AST], ast.AST]]

COMPARISONS = {
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt,),
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
}
ARITHMETIC = {
    ast.Add: (ast.Sub,),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Div,),
    ast.Div: (ast.Mult,),
    ast.FloorDiv: (ast.Div,),
}
BOOLEAN = {ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.And: ast.Or, ast.Or: ast.And}
REDUCTIONS = {
    "sum": "mean",
    "mean": "sum",
    "min": "max",
    "max": "min",
    "argmin": "argmax",
    "argmax": "argmin",
    "maximum": "minimum",
    "minimum": "maximum",
}
SYMBOLS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    """The answer cell with one change: which operator made it, on which line, and the new source."""

    function: str
    operator: str
    line: int  # in the answer cell
    change: str
    source: str


def _called(node: ast.AST) -> str | None:
    """The name a call calls: `np.sum(...)` and `sum(...)` are both "sum"."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def _renamed(node: ast.Call, name: str) -> ast.Call:
    if isinstance(node.func, ast.Attribute):
        node.func.attr = name
    else:
        node.func.id = name
    return node


def _plus(node: ast.expr, amount: int) -> ast.expr:
    return ast.BinOp(left=node, op=ast.Add() if amount > 0 else ast.Sub(), right=ast.Constant(abs(amount)))


def comparison(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        for other in COMPARISONS.get(type(node.ops[0]), ()):
            yield (
                f"`{SYMBOLS[type(node.ops[0])]}` → `{SYMBOLS[other]}`",
                lambda n, other=other: ast.Compare(n.left, [other()], n.comparators),
            )


def arithmetic(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.BinOp):
        for other in ARITHMETIC.get(type(node.op), ()):
            yield (
                f"`{SYMBOLS[type(node.op)]}` → `{SYMBOLS[other]}`",
                lambda n, other=other: ast.BinOp(n.left, other(), n.right),
            )


def constant(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        for amount in (1, -1):
            yield (
                f"`{node.value!r}` → `{node.value + amount!r}`",
                lambda n, amount=amount: ast.Constant(n.value + amount),
            )


def axis(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.Call):
        for index, keyword in enumerate(node.keywords):
            if keyword.arg == "axis" and isinstance(keyword.value, ast.Constant) and keyword.value.value in (0, 1):
                other = 1 - keyword.value.value

                def swapped(n, index=index, other=other):
                    n.keywords[index].value = ast.Constant(other)
                    return n

                def dropped(n, index=index):
                    del n.keywords[index]
                    return n

                yield f"`axis={keyword.value.value}` → `axis={other}`", swapped
                yield f"`axis={keyword.value.value}` left out (the whole array)", dropped


def sample_statistic(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        denominator = node.right
        if isinstance(denominator, ast.Name) or _called(denominator) == "len":
            yield (
                f"`/ {ast.unparse(denominator)}` → `/ ({ast.unparse(denominator)} - 1)`",
                lambda n: ast.BinOp(n.left, ast.Div(), _plus(n.right, -1)),
            )
    if _called(node) in ("var", "std") and not any(keyword.arg == "ddof" for keyword in node.keywords):
        yield (
            f"`{_called(node)}` with `ddof=1`",
            lambda n: ast.Call(n.func, n.args, [*n.keywords, ast.keyword("ddof", ast.Constant(1))]),
        )


def reduction(node: ast.AST) -> Iterator[Change]:
    name = _called(node)
    if name in REDUCTIONS:
        yield f"`{name}` → `{REDUCTIONS[name]}`", lambda n, name=name: _renamed(n, REDUCTIONS[name])
    if name == "abs" and len(node.args) == 1:
        yield f"`{ast.unparse(node)}` → `{ast.unparse(node.args[0])}`", lambda n: n.args[0]


def slice_bound(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.Slice) and node.step is None:
        for field in ("lower", "upper"):
            bound = getattr(node, field)
            if bound is None:
                continue
            for amount in (1, -1):

                def moved(n, field=field, amount=amount):
                    setattr(n, field, _plus(getattr(n, field), amount))
                    return n

                yield f"`{ast.unparse(node)}` → `{ast.unparse(moved(copy.deepcopy(node)))}`", moved


def range_bound(node: ast.AST) -> Iterator[Change]:
    name = _called(node)
    if name == "range" and len(node.args) == 1:
        for amount in (1, -1):

            def longer(n, amount=amount):
                n.args[0] = _plus(n.args[0], amount)
                return n

            yield f"`{ast.unparse(node)}` → `{ast.unparse(longer(copy.deepcopy(node)))}`", longer
    if name == "arange" and len(node.args) == 3:
        for word, op in (("longer", ast.Add), ("shorter", ast.Sub)):

            def stepped(n, op=op):
                n.args[1] = ast.BinOp(n.args[1], op(), n.args[2])
                return n

            yield f"`{ast.unparse(node)}` one step {word}", stepped


def returned_values(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) >= 2:

        def swapped(n):
            n.value.elts[0], n.value.elts[1] = n.value.elts[1], n.value.elts[0]
            return n

        yield f"`{ast.unparse(node)}` with its first two values swapped", swapped
        yield f"`{ast.unparse(node)}` as a list", lambda n: ast.Return(ast.List(n.value.elts, ast.Load()))


def boolean(node: ast.AST) -> Iterator[Change]:
    if isinstance(node, ast.BinOp) and type(node.op) in BOOLEAN:
        other = BOOLEAN[type(node.op)]
        yield (
            f"`{SYMBOLS[type(node.op)]}` → `{SYMBOLS[other]}`",
            lambda n, other=other: ast.BinOp(n.left, other(), n.right),
        )
    if isinstance(node, ast.BoolOp):
        other = BOOLEAN[type(node.op)]
        yield f"`{SYMBOLS[type(node.op)]}` → `{SYMBOLS[other]}`", lambda n, other=other: ast.BoolOp(other(), n.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Invert, ast.Not)):
        yield f"`{ast.unparse(node)}` → `{ast.unparse(node.operand)}`", lambda n: n.operand


def rounding(node: ast.AST) -> Iterator[Change]:
    if _called(node) == "int" and isinstance(node.func, ast.Name) and len(node.args) == 1:
        yield f"`{ast.unparse(node)}` → `round(...)`", lambda n: _renamed(n, "round")


# The most specific operators first: a change two operators make is named after the first.
NODE_OPERATORS = {
    "axis": axis,
    "sample_statistic": sample_statistic,
    "range_bound": range_bound,
    "slice_bound": slice_bound,
    "returned_values": returned_values,
    "rounding": rounding,
    "comparison": comparison,
    "boolean": boolean,
    "reduction": reduction,
    "arithmetic": arithmetic,
    "constant": constant,
}


def _graded_function(tree: ast.Module, function: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return node
    raise ValueError(f"the answer cell does not define {function}()")


def _body_nodes(definition: ast.FunctionDef) -> list[ast.AST]:
    """Every node of the function's body, in a fixed order, without its docstring."""
    body = definition.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return [node for statement in body for node in ast.walk(statement)]


def _replace(parent_of: dict[int, tuple[ast.AST, str, int | None]], node: ast.AST, new: ast.AST) -> None:
    parent, field, index = parent_of[id(node)]
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new


def _parents(root: ast.AST) -> dict[int, tuple[ast.AST, str, int | None]]:
    parents = {}
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for index, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        parents[id(child)] = (parent, field, index)
            elif isinstance(value, ast.AST):
                parents[id(value)] = (parent, field, None)
    return parents


def _float32_casts(source: str, function: str) -> Iterator[Mutant]:
    tree = ast.parse(source)
    definition = _graded_function(tree, function)
    for argument in definition.args.args:
        mutated = copy.deepcopy(tree)
        target = _graded_function(mutated, function)
        cast = ast.parse(f"{argument.arg} = np.asarray({argument.arg}).astype(np.float32)").body[0]
        first = 1 if target.body and isinstance(target.body[0], ast.Expr) else 0
        target.body.insert(first, cast)
        yield Mutant(
            function, "float32", definition.lineno, f"`{argument.arg}` cast to float32 on entry", _source(mutated)
        )


def _source(tree: ast.Module) -> str:
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def mutants_of(source: str, function: str) -> list[Mutant]:
    """Every mutant of `function` in the answer cell `source`, operator by operator, in the order
    of the code; two changes that give the same code are one mutant (the first)."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    nodes = _body_nodes(_graded_function(tree, function))
    found: dict[str, Mutant] = {}
    for operator, changes_of in NODE_OPERATORS.items():
        for position, node in enumerate(nodes):
            for change, make in changes_of(node):
                mutated = copy.deepcopy(tree)
                target = _body_nodes(_graded_function(mutated, function))[position]
                _replace(_parents(mutated), target, make(target))
                text = _source(mutated)
                if text != original + "\n" and text not in found:
                    found[text] = Mutant(function, operator, getattr(node, "lineno", 0), change, text)
    for mutant in _float32_casts(source, function):
        found.setdefault(mutant.source, mutant)
    return list(found.values())
