"""Normalizes etcdctl transcripts so that two clusters' runs of one script compare equal
exactly when they behaved the same.

What varies legitimately between two runs, and becomes a placeholder:
  * ports           127.0.0.1:<port>          -> <member>.client / .peer / .metrics
  * member IDs      hex or decimal             -> the member's name
  * cluster ID                                 -> <cluster>
  * lease IDs       captured with `=> L1`      -> L1; any other lease ID -> <lease>
  * raft term/index, db sizes, server version  -> <n>, <size>, <version>
  * hashes          first distinct hash -> <hash1>, second -> <hash2> ... so "all members
                    report the same hash" still shows, while the value itself (which
                    embeds lease IDs) does not
  * timings         took = 1.2ms, remaining(97s), log timestamps
What must NOT vary and is kept: keys, values, revisions, create/mod revisions, versions,
counts, error messages, exit codes, event order.
"""

import json
import re

HEX_ID = re.compile(r"\b[0-9a-f]{1,16}\b")
ENDPOINT = re.compile(r"(?:https?://)?127\.0\.0\.1:(\d+)")
TOOK = re.compile(r"took = [0-9.]+[µnm]?s")
REMAINING = re.compile(r"remaining\(-?\d+s\)")
ATTACHED_KEYS = re.compile(r"attached keys\(\[(.*?)\]\)")
LEASE_GRANTED = re.compile(r"lease ([0-9a-f]+) granted")
LEASE_WORD = re.compile(r"\blease ([0-9a-f]+)\b")
VERSION = re.compile(r"\b3\.\d+\.\d+\b")
SIZE = re.compile(r"\b\d+(?:\.\d+)? [kMG]?B\b")

# JSON keys whose values are replaced wholesale.
_JSON_NUMERIC = {"raft_term": "<n>", "raftTerm": "<n>", "raftIndex": "<n>",
                 "raftAppliedIndex": "<n>", "raft_index": "<n>", "dbSize": "<size>",
                 "dbSizeInUse": "<size>"}


class Context:
    """What one cluster's run knows about its own identities."""

    def __init__(self, cluster, member_ids, cluster_id, captured_leases):
        self.port_names = {}
        for m in cluster.members:
            self.port_names[m.client_port] = m.name + ".client"
            self.port_names[m.peer_port] = m.name + ".peer"
            self.port_names[m.metrics_port] = m.name + ".metrics"
        self.member_names = {int(v): k for k, v in member_ids.items()}
        self.cluster_id = cluster_id
        self.leases = {v: k for k, v in captured_leases.items()}
        self.first_seen = {}

    def ordinal(self, kind, value):
        """<kind1> for the first distinct value of this kind, <kind2> for the next..."""
        seen = self.first_seen.setdefault(kind, {})
        if value not in seen:
            seen[value] = "<%s%d>" % (kind, len(seen) + 1)
        return seen[value]

    def hash_name(self, value):
        return self.ordinal("hash", value)

    def id_name(self, value):
        """Placeholder for a 64-bit ID, or None if it is not one we know."""
        if value in self.member_names:
            return self.member_names[value]
        if value == self.cluster_id:
            return "<cluster>"
        if value in self.leases:
            return self.leases[value]
        return None


def _ports(text, ctx):
    def repl(m):
        port = int(m.group(1))
        return ctx.port_names.get(port, "<port>")
    return ENDPOINT.sub(repl, text)


def _hex_ids(text, ctx, lease_context=False):
    def repl(m):
        token = m.group(0)
        if len(token) < 4 and not lease_context:
            return token  # too short to be an ID we issue; keeps "a", "10" etc. intact
        name = ctx.id_name(int(token, 16))
        if name is not None:
            return name
        return "<lease>" if lease_context else token
    return HEX_ID.sub(repl, text)


def _json_value(key, value, ctx):
    if isinstance(value, dict):
        return {k: _json_value(k, v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        items = [_json_value(key, v, ctx) for v in value]
        if key == "keys":  # a lease's attached keys come in map order
            items.sort()
        return items
    if key == "version" and isinstance(value, str):  # server version; a kv's is an int
        return "<version>"
    if isinstance(value, str):
        return _ports(value, ctx)
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    if key in _JSON_NUMERIC:
        return _JSON_NUMERIC[key]
    if key == "hash":
        return ctx.hash_name(value)
    if key in ("TTL", "ttl"):  # remaining TTL (timetolive, keep-alive): timing
        return "<ttl>"
    if key == "leader":  # which member leads is up to each cluster's elections
        return ctx.ordinal("leader", value)
    if key in ("cluster_id", "member_id", "ID", "IDs", "id", "lease"):
        if value == 0:
            return 0
        name = ctx.id_name(value)
        return name if name is not None else "<id>"
    return value


def _json_line(line, ctx):
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, (dict, list)):
        return None
    if isinstance(doc, dict) and "level" in doc and "msg" in doc:
        # etcdctl's own client log record: keep what it says, not when or where.
        return "log %s: %s%s" % (doc["level"], doc["msg"],
                                 (" (%s)" % doc["error"]) if "error" in doc else "")
    return json.dumps(_json_value(None, doc, ctx), sort_keys=True)


def _endpoint_row(line, ctx, columns):
    """Simple (comma) or table (|) output of `endpoint status`/`hashkv`: per column rules."""
    table = line.startswith("|")
    cells = [c.strip() for c in (line.strip("|").split("|") if table else line.split(","))]
    out = []
    for i, cell in enumerate(cells):
        name = columns[i] if i < len(columns) else ""
        if name in ("VERSION", "DB SIZE", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX",
                    "IS LEADER"):
            cell = "<%s>" % name.lower().replace(" ", "_")
        elif name == "HASH":
            cell = ctx.hash_name(int(cell)) if cell.isdigit() else cell
        out.append(cell)
    return (" | " if table else ", ").join(out)


def _table_cells(line):
    """A table row without the padding that depends on other rows' cell widths."""
    return "| " + " | ".join(c.strip() for c in line.strip().strip("|").split("|")) + " |"


_STATUS_COLUMNS = ["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER",
                   "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"]
_HASHKV_COLUMNS = ["ENDPOINT", "HASH"]


def normalize(transcript, ctx):
    out = []
    command = ""
    sorted_from = None  # index in `out` where the current [sorted] output starts
    for raw in transcript:
        if raw.startswith("$ ") or raw.startswith("exit "):
            if sorted_from is not None:
                out[sorted_from:] = sorted(out[sorted_from:])
                sorted_from = None
        if raw.startswith("$ "):
            command = raw
            out.append(raw)
            if raw.startswith("$ [sorted]"):
                sorted_from = len(out)
            continue
        if raw.startswith("exit "):
            out.append(raw)
            continue
        stderr = raw.startswith("! ")
        line = raw[2:] if stderr else raw
        prefix = "! " if stderr else ""
        as_json = _json_line(line, ctx) if line[:1] in "{[" else None
        if as_json is not None:
            out.append(prefix + as_json)
            continue
        line = _ports(line, ctx)
        if line.startswith("+-"):
            # Column widths follow the cell contents, which hold IDs and ports that differ
            # between runs: keep only the number of columns.
            out.append(prefix + "+" + "-+" * (line.strip().count("+") - 1))
            continue
        if line.startswith("|") and line.rstrip().endswith("|") and line.upper() == line and \
                "ENDPOINT" in line:
            out.append(prefix + _table_cells(line))  # header rows
            continue
        if not stderr and " endpoint status" in command:
            line = _endpoint_row(_hex_ids(line, ctx), ctx, _STATUS_COLUMNS)
        elif not stderr and " endpoint hashkv" in command:
            line = _endpoint_row(line, ctx, _HASHKV_COLUMNS)
        elif " lease list" in command and HEX_ID.fullmatch(line.strip()):
            line = _hex_ids(line, ctx, lease_context=True)
        else:
            line = LEASE_WORD.sub(lambda m: "lease " + _hex_ids(m.group(1), ctx, True), line)
            line = _hex_ids(line, ctx)
        line = TOOK.sub("took = <t>", line)
        line = REMAINING.sub("remaining(<n>s)", line)
        line = ATTACHED_KEYS.sub(
            lambda m: "attached keys([%s])" % " ".join(sorted(m.group(1).split())), line)
        if line.startswith("|") and line.rstrip().endswith("|"):
            line = _table_cells(line)
        out.append(prefix + line)
    if sorted_from is not None:
        out[sorted_from:] = sorted(out[sorted_from:])
    return out
