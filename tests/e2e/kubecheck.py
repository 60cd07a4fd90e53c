#!/usr/bin/python3
"""What kubectl does with a kubeconfig whose user is an exec plugin, for
machines without kubectl: read $KUBECONFIG (YAML, or JSON), take the current
context's cluster and user, run the plugin with KUBERNETES_EXEC_INFO as
client-go sets it, check its ExecCredential, and GET /version from the
server over TLS (its certificate-authority-data) with the bearer token.
Prints the server's answer; exits non-zero on any mismatch.
"""
import base64
import json
import os
import ssl
import subprocess
import sys
import urllib.request

import yaml


def named(items, name, key):
    for it in items:
        if it["name"] == name:
            return it[key]
    sys.exit("no %s named %s" % (key, name))


cfg = yaml.safe_load(open(os.environ.get("KUBECONFIG") or
                         os.path.expanduser("~/.kube/config")))
ctx = named(cfg["contexts"], cfg["current-context"], "context")
cluster = named(cfg["clusters"], ctx["cluster"], "cluster")
ex = named(cfg["users"], ctx["user"], "user")["exec"]
# As client-go: a command without a slash is looked up on the PATH.
info = {"apiVersion": ex["apiVersion"], "kind": "ExecCredential",
        "spec": {"interactive": False}}
env = dict(os.environ, KUBERNETES_EXEC_INFO=json.dumps(info))
out = subprocess.run([ex["command"]] + ex.get("args", []), env=env,
                     stdout=subprocess.PIPE, check=True).stdout
cred = json.loads(out)
assert cred["apiVersion"] == ex["apiVersion"], cred["apiVersion"]
assert cred["kind"] == "ExecCredential"
token = cred["status"]["token"]
tls = ssl.create_default_context(cadata=base64.b64decode(
    cluster["certificate-authority-data"]).decode())
req = urllib.request.Request(cluster["server"] + "/version",
                             headers={"Authorization": "Bearer " + token})
print(urllib.request.urlopen(req, context=tls).read().decode())
