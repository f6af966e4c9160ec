"""keel_cc_library_with_sim: a library and its keelsim variant from one declaration.

Defines `name` (what keeld links) and `name_sim`: the same sources compiled with
KEEL_SIMULATION, which turns on keelsim's bug-zoo switches (sim/cluster/bug_zoo.h).
`sim_deps` maps deps that have a simulation variant to it, e.g.
{"//raft": "//raft:raft_sim"}. A binary must link one variant of a library, never both.
"""

def keel_cc_library_with_sim(name, deps = [], sim_deps = {}, **kwargs):
    native.cc_library(name = name, deps = deps, **kwargs)
    native.cc_library(
        name = name + "_sim",
        deps = [sim_deps.get(d, d) for d in deps],
        defines = ["KEEL_SIMULATION"],
        **kwargs
    )
