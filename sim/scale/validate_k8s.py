"""Offline check of Kubernetes manifests against the API schema, where no cluster runs.

`kubectl --dry-run=client` needs a server for its schema, and Debian 12's kubectl
(kubernetes-client 1.20) predates Indexed Jobs. This reads each document with PyYAML and
walks it against the API models of Debian's python3-kubernetes (22.6, API 1.22): every
field must be one the model declares (a typo is an error, not silently ignored), every
value of the declared type, every required field present (the models' own client-side
validation). Then the keelsim-specific contract of keelsim-job.yaml: an Indexed Job whose
completions equal the SHARDS its pods use, pods that never restart in place, a shard
taken from JOB_COMPLETION_INDEX.

    /usr/bin/python3 sim/scale/validate_k8s.py sim/scale/keelsim-job.yaml ...
Exit status 0 when valid; otherwise one line per problem.
"""

import re
import sys

import yaml
from kubernetes import client
from kubernetes.client import models

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": str, "date": str}


def walk(value, type_name, path, problems):
    """Checks value against the model type name used in openapi_types."""
    if value is None:
        return
    if type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if type_name == "int" and isinstance(value, bool) or not isinstance(value, expected):
            problems.append("%s: %r is not %s" % (path, value, type_name))
        return
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            problems.append("%s: not a list" % path)
            return
        for i, item in enumerate(value):
            walk(item, m.group(1), "%s[%d]" % (path, i), problems)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append("%s: not a map" % path)
            return
        for key, item in value.items():
            walk(item, m.group(1), "%s.%s" % (path, key), problems)
        return
    cls = getattr(models, type_name, None)
    if cls is None:
        problems.append("%s: unknown model %s" % (path, type_name))
        return
    if not isinstance(value, dict):
        problems.append("%s: %s must be a map" % (path, type_name))
        return
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json:
            problems.append("%s: unknown field %r in %s" % (path, key, type_name))
            continue
        walk(item, cls.openapi_types[by_json[key]], "%s.%s" % (path, key), problems)


def model_of(doc):
    """The model class name of a document: apiVersion batch/v1 + kind Job -> V1Job."""
    version = str(doc.get("apiVersion", "")).split("/")[-1]
    name = version[:1].upper() + version[1:] + str(doc.get("kind", ""))
    return name if hasattr(models, name) else None


def required_fields(doc, type_name, path, problems):
    """The models' own validation: constructing them raises on a missing required field."""
    api = client.ApiClient()
    try:
        api._ApiClient__deserialize(doc, type_name)  # the client's own JSON -> model path
    except (ValueError, TypeError) as e:
        problems.append("%s: %s" % (path, e))


def keelsim_contract(doc, path, problems):
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        problems.append("%s: a Job's pods need restartPolicy Never or OnFailure" % path)
    name = doc.get("metadata", {}).get("name", "")
    if name != "keelsim-shards":
        return
    if spec.get("completionMode") != "Indexed":
        problems.append("%s: keelsim-shards must be completionMode: Indexed" % path)
    for c in pod.get("containers", []):
        env = {e.get("name"): e.get("value") for e in c.get("env", [])}
        if str(env.get("SHARDS")) != str(spec.get("completions")):
            problems.append("%s: SHARDS=%s but completions=%s" % (path, env.get("SHARDS"), spec.get("completions")))
        if "JOB_COMPLETION_INDEX" not in " ".join(c.get("command", []) + c.get("args", [])):
            problems.append("%s: the shard is not taken from JOB_COMPLETION_INDEX" % path)


def validate(path):
    problems = []
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        problems.append("%s: no documents" % path)
    for i, doc in enumerate(docs):
        where = "%s#%d" % (path, i)
        type_name = model_of(doc)
        if type_name is None:
            problems.append("%s: unknown apiVersion/kind %s/%s" % (where, doc.get("apiVersion"), doc.get("kind")))
            continue
        walk(doc, type_name, where, problems)
        required_fields(doc, type_name, where, problems)
        if type_name == "V1Job":
            keelsim_contract(doc, where, problems)
    return problems


def main(paths):
    problems = [p for path in paths for p in validate(path)]
    for p in problems:
        print(p)
    if not problems:
        print("valid: %s" % " ".join(paths))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
