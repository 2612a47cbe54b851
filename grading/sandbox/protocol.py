"""What may cross back from a sandbox to the grader: plain data, read with limits.

Everything a sandbox returns was written next to the student's code, so all of it is
untrusted: the JSON lines of a notebook's run are parsed with caps on line length, depth and
total size, and each output is rebuilt from the fields and MIME types that a lab needs, with
caps per cell and per notebook; arrays come back in `.npz` files whose every member header
(dtype, shape, size) is checked before a byte of data is read, never with pickles.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output


class ProtocolError(Exception):
    """What came back breaks the rules (too large, too deep, malformed); the message says which."""


# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputLimits:
    """Caps on the outputs kept from one notebook's run."""

    text_chars_per_cell: int = 100_000  # streams, text/plain, HTML, ... together
    image_bytes_per_cell: int = 2_000_000  # base64 text of every figure of one cell
    notebook_bytes: int = 20_000_000  # everything kept, all cells together
    line_bytes: int = 30_000_000  # one JSON line of the run (one cell's outputs)
    max_depth: int = 20  # nesting of one JSON line
    traceback_lines: int = 200


TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex")
IMAGE_TYPES = ("image/png", "image/jpeg")
STREAM_NAMES = ("stdout", "stderr")
IMAGE_METADATA_KEYS = ("width", "height")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def parse_json(text: str | bytes, max_depth: int) -> Any:
    """Parse untrusted JSON; deeper nesting than `max_depth` is refused.

    json's C parser is linear in the text and stops at the interpreter's recursion limit; the depth
    is then measured on what it built, without recursion. (A regular expression that skips the
    strings cannot do this: text such as `\\"\\"\\"...` makes it backtrack quadratically, and
    it holds the interpreter's lock, and with it every run this process follows, all along.)"""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("not UTF-8 text") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise ProtocolError(f"nested more than {max_depth} levels deep") from None
    except ValueError as error:
        raise ProtocolError(f"not valid JSON ({str(error)[:120]})") from None
    if _deeper_than(value, max_depth):
        raise ProtocolError(f"nested more than {max_depth} levels deep")
    return value


def _deeper_than(value: Any, most: int) -> bool:
    """Whether lists and objects nest more than `most` levels in `value` (walked without recursion)."""
    pending = [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        item, depth = pending.pop()
        if depth > most:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def read_lines(stream: IO[bytes], limits: OutputLimits) -> Iterator[Any]:
    """The JSON objects of a run's output, one per line, until the stream ends."""
    while True:
        line = stream.readline(limits.line_bytes + 1)
        if not line:
            return
        if len(line) > limits.line_bytes:
            raise ProtocolError(f"one cell's outputs exceed {limits.line_bytes:,} bytes")
        value = parse_json(line, limits.max_depth)
        if not isinstance(value, dict):
            raise ProtocolError("a line of the run is not a JSON object")
        yield value


# ---------------------------------------------------------------------------------------------
# Cell outputs
# ---------------------------------------------------------------------------------------------


@dataclass
class OutputBudget:
    """What is left of the notebook's allowance; each cell starts its own text and image allowances."""

    limits: OutputLimits
    notebook_left: int = 0
    text_left: int = 0
    images_left: int = 0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.notebook_left = self.limits.notebook_bytes

    def new_cell(self) -> None:
        self.text_left = self.limits.text_chars_per_cell
        self.images_left = self.limits.image_bytes_per_cell

    def take_text(self, text: str) -> str | None:
        if len(text) > min(self.text_left, self.notebook_left):
            self.text_left = 0  # nothing more of this cell's text: its outputs stay in order
            return None
        self.text_left -= len(text)
        self.notebook_left -= len(text)
        return text

    def take_image(self, data: str) -> str | None:
        if len(data) > min(self.images_left, self.notebook_left):
            return None
        self.images_left -= len(data)
        self.notebook_left -= len(data)
        return data


TRUNCATION_NOTE = "\n[output truncated"  # how the note starts where a cell's text was cut


def _text(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "".join(value)
    if isinstance(value, str):
        return value
    raise ProtocolError("an output holds something other than text where text belongs")


def clean_output(raw: Any, budget: OutputBudget) -> list[NotebookNode]:
    """The output as the grader keeps it (possibly a note that it was cut), or [] when none is left."""
    if not isinstance(raw, dict):
        raise ProtocolError("an output is not a JSON object")
    kind = raw.get("output_type")
    if kind == "stream":
        return _clean_stream(raw, budget)
    if kind == "error":
        return _clean_error(raw, budget)
    if kind in ("display_data", "execute_result"):
        return _clean_rich(raw, budget)
    return []  # other output types (widgets, javascript, ...) are not kept


def _clean_stream(raw: dict, budget: OutputBudget) -> list[NotebookNode]:
    name = raw.get("name") if raw.get("name") in STREAM_NAMES else "stdout"
    text = budget.take_text(_text(raw.get("text", "")))
    return [_truncated(budget) if text is None else new_output("stream", name=name, text=text)]


def _clean_error(raw: dict, budget: OutputBudget) -> list[NotebookNode]:
    """An error's name, message and last traceback lines, each cut to length; its first line alone
    when the cell's text budget is spent."""
    ename, evalue = _text(raw.get("ename", ""))[:200], _text(raw.get("evalue", ""))[:5000]
    traceback = raw.get("traceback", [])
    if not isinstance(traceback, list):
        raise ProtocolError("an error's traceback is not a list")
    lines = [line[:5000] for line in (_text(item) for item in traceback[-budget.limits.traceback_lines :])]
    if budget.take_text(ename + evalue + "".join(lines)) is None:
        lines = [f"{ename}: {evalue[:500]}"]
    return [new_output("error", ename=ename, evalue=evalue, traceback=lines)]


def _clean_rich(raw: dict, budget: OutputBudget) -> list[NotebookNode]:
    """A display or a result: its text and image types within the budget, the sizes of its images,
    and a note for what was dropped."""
    data = raw.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("rich output without data")
    kept, dropped = _kept_data(data, budget)
    result = []
    if kept:
        extra = {}
        if raw.get("output_type") == "execute_result":
            count = raw.get("execution_count")
            extra["execution_count"] = count if isinstance(count, int) else None
        metadata = _image_metadata(raw.get("metadata"), kept)
        result.append(new_output(raw["output_type"], data=kept, metadata=metadata, **extra))
    if any(mime in IMAGE_TYPES for mime in dropped):
        note = "[figure dropped: this cell's figures exceed the size limit]\n"
        result.append(new_output("stream", name="stdout", text=note))
    elif dropped:
        result.append(_truncated(budget))
    return result


def _kept_data(data: dict, budget: OutputBudget) -> tuple[dict[str, str], list[str]]:
    """The MIME types kept (text and base64 images, within the budget) and those dropped for it."""
    kept: dict[str, str] = {}
    dropped = []
    for mime, value in data.items():
        if mime in TEXT_TYPES:
            taken = budget.take_text(_text(value))
        elif mime in IMAGE_TYPES:
            image = _text(value)
            if not BASE64.fullmatch(image):
                raise ProtocolError(f"{mime} output is not base64")
            taken = budget.take_image(image)
        else:
            continue  # other types (HTML with scripts, widgets' state, ...) are not kept
        if taken is None:
            dropped.append(mime)
        else:
            kept[mime] = taken
    return kept, dropped


def _image_metadata(raw: object, kept: dict[str, str]) -> dict:
    """The kept images' sizes (width, height, ...): numbers only."""
    raw = raw if isinstance(raw, dict) else {}
    metadata = {}
    for mime in IMAGE_TYPES:
        if mime in kept and isinstance(raw.get(mime), dict):
            sizes = {
                key: value
                for key, value in raw[mime].items()
                if key in IMAGE_METADATA_KEYS and isinstance(value, (int, float))
            }
            if sizes:
                metadata[mime] = sizes
    return metadata


def _truncated(budget: OutputBudget) -> NotebookNode:
    note = f"{TRUNCATION_NOTE}: this cell printed more than {budget.limits.text_chars_per_cell:,} characters]\n"
    return new_output("stream", name="stdout", text=note)


def is_truncation_note(output: dict) -> bool:
    """Whether `output` is the note put where a cell's text was cut."""
    return output.get("output_type") == "stream" and output.get("text", "").startswith(TRUNCATION_NOTE)


def clean_outputs(raw: Any, budget: OutputBudget) -> list[NotebookNode]:
    """One cell's outputs as the grader keeps them; at most one truncation note."""
    if not isinstance(raw, list):
        raise ProtocolError("a cell's outputs are not a list")
    budget.new_cell()
    kept: list[NotebookNode] = []
    for item in raw[:10_000]:
        for output in clean_output(item, budget):
            if is_truncation_note(output) and any(is_truncation_note(other) for other in kept):
                continue
            kept.append(output)
    return kept


# ---------------------------------------------------------------------------------------------
# Arrays sent back by a verdict run
# ---------------------------------------------------------------------------------------------

ARRAY_KINDS = "biuf"  # bool, signed and unsigned integers, floats: never objects


def read_arrays(data: bytes, max_elements: int, max_members: int = 10_000) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file's bytes, every member's header checked before its data is read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ProtocolError(f"the arrays are not a valid .npz file ({error})") from None
    if len(members) > max_members:
        raise ProtocolError(f"more than {max_members} arrays")
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for member in members:
        try:
            arrays[member.filename[:-4]] = _read_member(archive, member, max_elements - total)
        except zipfile.BadZipFile as error:
            raise ProtocolError(f"the arrays are damaged ({error})") from None
        total += arrays[member.filename[:-4]].size
    return arrays


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_elements: int) -> np.ndarray:
    """One `.npy` member, its header checked (numbers only, at most `max_elements`) before its data is read."""
    if not member.filename.endswith(".npy") or member.compress_type != zipfile.ZIP_STORED:
        raise ProtocolError(f"unexpected member {member.filename[:60]!r} in the arrays")
    with archive.open(member) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise ValueError(f"format version {version}")
            shape, fortran, dtype = read_header(handle, max_header_size=10_000)
        except (ValueError, OSError, SyntaxError, TypeError) as error:
            raise ProtocolError(f"array {member.filename[:60]!r} has a bad header ({error})") from None
        if dtype.kind not in ARRAY_KINDS or dtype.hasobject or dtype.fields is not None:
            raise ProtocolError(f"array {member.filename[:60]!r} holds {dtype}, not numbers")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count < 0 or count > max_elements:
            raise ProtocolError("the arrays hold more numbers than the limit")
        expected = count * dtype.itemsize
        if member.file_size - handle.tell() != expected:
            raise ProtocolError(f"array {member.filename[:60]!r} is not as long as its header says")
        raw = handle.read(expected)
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()
