"""Active content in a submission's outputs (`grading.preprocessors.sanitize_outputs`): scripts and
event handlers never reach the feedback page or formgrader; the release's own Markdown stays."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grading.preprocessors.sanitize_outputs import SanitizeOutputs

SCRIPT = "<script>alert('owned')</script>"


def sanitized(*cells) -> object:
    nb, _ = SanitizeOutputs().preprocess(new_notebook(cells=list(cells)), {})
    return nb


def test_scripts_and_event_handlers_in_html_outputs_are_made_inert():
    cell = new_code_cell("show()")
    cell.outputs = [
        new_output("display_data", data={"text/html": f"<b onclick='steal()'>hi</b>{SCRIPT}", "text/plain": "hi"})
    ]
    html = sanitized(cell).cells[0].outputs[0].data["text/html"]
    assert "<b>hi</b>" in html and "onclick" not in html  # a harmless tag stays, without its handler
    assert "<script" not in html  # the script is shown as text, escaped
    assert "&lt;script&gt;alert('owned')&lt;/script&gt;" in html
    assert sanitized(cell).cells[0].outputs[0].data["text/plain"] == "hi"


def test_text_streams_and_the_releases_markdown_are_left_as_they_are():
    code = new_code_cell("print(x)")
    code.outputs = [new_output("stream", name="stdout", text=SCRIPT)]
    markdown = new_markdown_cell("$\\mu_j = \\frac{1}{m}$ <details><summary>Hint</summary>text</details>")
    nb = sanitized(code, markdown)
    assert nb.cells[0].outputs[0].text == SCRIPT  # plain text: escaped wherever it is shown
    assert nb.cells[1].source == markdown.source


def test_it_is_on_without_configuration_unlike_nbconverts_own_preprocessors():
    assert SanitizeOutputs().enabled
