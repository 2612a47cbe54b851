"""The course on a JupyterHub (`make hub`): the hub's set-up (`site`, `accounts`, JupyterHub's own
`jupyterhub_config.py`), the students' attempt-limited submit (`limited_submit`, copied into
their environment), and grading on submission: the exchange's inbound read with no trust in it
(`inbox`), the service that grades and returns feedback (`service`), and the instructor's live
page (`status_page`, served by `server`). A front end: the service runs the class coordinator."""
