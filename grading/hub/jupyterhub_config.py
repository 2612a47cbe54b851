"""JupyterHub's configuration of the course's hub (`python -m grading hub` starts it with this file).

The settings come from `state/hub.json` in the hub's folder (named by COURSE_HUB_SETTINGS), which
`grading.hub.site` writes: the course, the hub's folder, the port, the accounts and their roles.
What to change for a real server is in the README ("The course on a JupyterHub").
"""

import json
import os
import pwd

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
with open(os.environ["COURSE_HUB_SETTINGS"]) as settings:
    hub = json.load(settings)
SITE, KIT_BIN = hub["site"], os.path.dirname(hub["kit_python"])
PORT = hub["port"]
INSTRUCTORS, STUDENTS = set(hub["instructors"]), set(hub["students"])
# Only the hub's processes see the kit's environment; students' servers run from the site's.
STUDENT_PATH = f"{SITE}/env/bin:/usr/local/bin:/usr/bin:/bin"
COURSE_ENVIRONMENT = {
    "PATH": f"{KIT_BIN}:/usr/local/bin:/usr/bin:/bin",
    "COURSE_EXCHANGE_ROOT": f"{SITE}/exchange",
}

# The hub on loopback: the proxy on PORT, the hub's own API on PORT + 1, the proxy's API on PORT + 2.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [hub["proxy"]]
c.ConfigurableHTTPProxy.pid_file = f"{SITE}/state/proxy.pid"
c.JupyterHub.db_url = f"sqlite:///{SITE}/state/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{SITE}/state/jupyterhub_cookie_secret"
c.JupyterHub.cleanup_servers = True  # a stopped hub leaves no server behind

# Real local accounts, checked by PAM; only the course's accounts may log in.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS
c.JupyterHub.load_groups = {
    "instructors": {"users": sorted(INSTRUCTORS)},
    "students": {"users": sorted(STUDENTS)},
}
# Instructors reach formgrader and the grading service's live page; nobody else does. A server's
# token carries its owner's permissions, so that nbgrader's course list in the instructor's server
# finds formgrader (a service named after the course, where nbgrader looks for it).
FORMGRADER = hub["course_id"]
c.JupyterHub.load_roles = [
    {
        "name": "course-instructor",
        "groups": ["instructors"],
        "scopes": [f"access:services!service={FORMGRADER}", "access:services!service=grading", "list:services"],
    },
    {"name": "server", "scopes": ["inherit"]},
]

# Each account's server runs as that account, from the students' environment, in its home, with
# its role's Jupyter settings (which of nbgrader's extensions it loads).
c.Spawner.cmd = [f"{SITE}/env/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {"PATH": STUDENT_PATH}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def role_settings(spawner):
    """The role's Jupyter settings (root's, read-only), and JupyterLab's own settings in the home."""
    role = "instructor" if spawner.user.name in INSTRUCTORS else "student"
    spawner.environment["JUPYTER_CONFIG_DIR"] = f"{SITE}/config/{role}"
    home = pwd.getpwnam(spawner.user.name).pw_dir
    spawner.environment["JUPYTERLAB_SETTINGS_DIR"] = f"{home}/.jupyter/lab/user-settings"


c.Spawner.pre_spawn_hook = role_settings

# Two services, run as the hub's account (the course's owner): formgrader in the course, and the
# grading service, which grades each lab as it is handed in and serves the instructor's live page.
c.JupyterHub.services = [
    {
        "name": FORMGRADER,
        "url": f"http://127.0.0.1:{PORT + 3}",
        "command": [f"{KIT_BIN}/jupyterhub-singleuser", "--allow-root", "--ServerApp.terminals_enabled=False"],
        "cwd": hub["course"],
        "oauth_no_confirm": True,
        "environment": {
            **COURSE_ENVIRONMENT,
            "JUPYTER_CONFIG_DIR": f"{SITE}/config/formgrader",
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
        },
    },
    {
        "name": "grading",
        "url": f"http://127.0.0.1:{PORT + 4}",
        "command": [hub["kit_python"], "-m", "grading", "serve", "--course", hub["course"]],
        "cwd": hub["course"],
        "oauth_no_confirm": True,
        "environment": COURSE_ENVIRONMENT,
    },
]
