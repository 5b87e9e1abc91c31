"""A registry login as External Secrets writes it: a docker `config.json` templated over a password.

Kubernetes pulls with it as a `kubernetes.io/dockerconfigjson` Secret (`.dockerconfigjson`), and
cosign and other registry clients read the same JSON as `$DOCKER_CONFIG/config.json`.
"""

from __future__ import annotations

import json

DOCKER_CONFIG_TYPE = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_KEY = ".dockerconfigjson"


def docker_config_template(host: str, user: str) -> str:
    """The login for `user` at `host`, as an ESO template over the Secret's `password` (alphanumeric
    by construction, so it needs no escaping in JSON). The actions are written in after the JSON
    is: their quotes are the template's, gone once it is rendered."""
    text = json.dumps({"auths": {host: {"username": user, "password": "@P@", "auth": "@A@"}}}, sort_keys=True)
    auth = '{{ printf "%s:%s" "' + user + '" .password | b64enc }}'
    return text.replace("@P@", "{{ .password }}").replace("@A@", auth)
