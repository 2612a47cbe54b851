"""What may come back from a sandbox: untrusted JSON and arrays, read with limits."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from grading.sandbox.protocol import OutputBudget, OutputLimits, ProtocolError, clean_outputs, parse_json, read_arrays


def npz(**arrays) -> bytes:
    saved = io.BytesIO()
    np.savez(saved, **arrays)
    return saved.getvalue()


def test_deeply_nested_json_is_refused():
    with pytest.raises(ProtocolError, match="nested more than 20 levels"):
        parse_json("[" * 100_000 + "]" * 100_000, max_depth=20)


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_refused():
    assert parse_json('{"a": ' * 19 + "[]" + "}" * 19, max_depth=20) is not None
    with pytest.raises(ProtocolError, match="nested more than 20 levels"):
        parse_json('{"a": ' * 20 + "[]" + "}" * 20, max_depth=20)


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert parse_json('{"text": "[[[[[[[[[[[[", "n": [1]}', max_depth=2) == {"text": "[" * 12, "n": [1]}


# A scan that skipped strings with a regular expression took 33 s on 80 kB of escaped quotes: it
# backtracked quadratically, holding the interpreter's lock, so every run the grader followed
# meanwhile looked stuck. Parsed in a process of its own: a scan like that would hang this one.
QUADRATIC_ESCAPES = "parse_json('\\\\\"' * 2_000_000, max_depth=20)"


def test_text_that_made_a_string_scan_quadratic_is_refused_at_once():
    program = f"from grading.sandbox.protocol import parse_json\n{QUADRATIC_ESCAPES}"
    try:
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("parsing 4 MB of escaped quotes took more than a minute")
    assert "ProtocolError: not valid JSON" in done.stderr


def test_arrays_of_numbers_come_back_with_their_values():
    arrays = read_arrays(npz(a=np.arange(6.0).reshape(2, 3), flags=np.array([True, False])), max_elements=100)
    np.testing.assert_array_equal(arrays["a"], np.arange(6.0).reshape(2, 3))
    assert arrays["flags"].dtype == bool


def test_object_arrays_are_refused_without_unpickling():
    saved = io.BytesIO()
    np.save(saved, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("evil.npy", saved.getvalue())
    with pytest.raises(ProtocolError, match="not numbers"):
        read_arrays(data.getvalue(), max_elements=100)


def test_compressed_members_are_refused():
    data = io.BytesIO()
    np.savez_compressed(data, zeros=np.zeros(10**6))
    with pytest.raises(ProtocolError, match="unexpected member"):
        read_arrays(data.getvalue(), max_elements=10**7)


def test_arrays_larger_than_the_limit_are_refused_from_their_headers():
    with pytest.raises(ProtocolError, match="more numbers than the limit"):
        read_arrays(npz(big=np.zeros(5000)), max_elements=1000)


def test_a_header_that_lies_about_the_length_is_refused():
    data = bytearray(npz(a=np.zeros(10)))
    data = bytes(data).replace(b"(10,)", b"(99,)")
    with pytest.raises(ProtocolError):
        read_arrays(data, max_elements=1000)


def budget(**limits) -> OutputBudget:
    return OutputBudget(OutputLimits(**limits))


def test_only_allowed_mime_types_are_kept():
    raw = [
        {
            "output_type": "display_data",
            "data": {
                "text/plain": "x",
                "application/javascript": "alert(1)",
                "image/svg+xml": "<svg onload=alert(1)>",
                "image/png": "iVBORw0KGgo=",
            },
            "metadata": {"image/png": {"width": 10, "onload": "x"}},
        }
    ]
    (output,) = clean_outputs(raw, budget())
    assert set(output.data) == {"text/plain", "image/png"}
    assert output.metadata == {"image/png": {"width": 10}}


def test_images_count_against_a_per_cell_limit():
    raw = [{"output_type": "display_data", "data": {"image/png": "A" * 5000}, "metadata": {}}] * 3
    outputs = clean_outputs(raw, budget(image_bytes_per_cell=12_000))
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    assert "figure dropped" in outputs[-1].text


def test_text_is_capped_per_cell_with_one_note():
    raw = [{"output_type": "stream", "name": "stdout", "text": "x" * 600}] * 5
    outputs = clean_outputs(raw, budget(text_chars_per_cell=1000))
    assert [o.output_type for o in outputs] == ["stream", "stream"]
    assert "output truncated" in outputs[1].text


def test_unknown_output_types_and_stream_names_are_not_kept_as_such():
    raw = [
        {"output_type": "update_display_data", "data": {}},
        {"output_type": "stream", "name": "/dev/tty", "text": "a"},
    ]
    (output,) = clean_outputs(raw, budget())
    assert output.name == "stdout"


def test_an_output_that_is_not_an_object_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        clean_outputs(["<script>"], budget())
