"""The base of the feedback page's preprocessors."""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class FeedbackPreprocessor(Preprocessor):
    """An nbconvert preprocessor that is on once listed in `GenerateFeedback.preprocessors`.

    Not nbgrader's NbGraderPreprocessor: that one redeclares `display_data_priority` without
    `config=True`, so nbconvert's HTML exporter, which configures it, warns once per preprocessor.
    """

    enabled = Bool(True, help="Whether to use this preprocessor when generating feedback.").tag(config=True)
