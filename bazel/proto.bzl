"""keel_cc_proto: .proto -> C++ (and optionally gRPC) with Debian's protoc and grpc_cpp_plugin.

Usage:
    keel_cc_proto(
        name = "raftpb",
        srcs = ["raft.proto"],          # files in this package
        deps = ["//raft/raftpb"],       # other keel_cc_proto targets whose .proto we import
        grpc = False,                   # True adds <stem>.grpc.pb.{h,cc} and links gRPC
    )

Imports are written from the workspace root (`import "raft/raftpb/raft.proto";`) and
generated headers are included the same way (`#include "raft/raftpb/raft.pb.h"`).
Generated code is compiled without -Werror: it is not ours to fix.
"""

_PROTOC = "/usr/bin/protoc"
_GRPC_PLUGIN = "/usr/bin/grpc_cpp_plugin"

def _protos_of(dep):
    """//a/b -> //a/b:b_protos, //a/b:c -> //a/b:c_protos (the .proto files of a dep)."""
    if ":" not in dep:
        dep = dep + ":" + dep.split("/")[-1]
    return dep + "_protos"

def keel_cc_proto(name, srcs, deps = [], grpc = False, visibility = None):
    hdrs = []
    cc_srcs = []
    for s in srcs:
        if "/" in s or not s.endswith(".proto"):
            fail("keel_cc_proto srcs must be .proto files in this package: " + s)
        stem = s[:-len(".proto")]
        hdrs.append(stem + ".pb.h")
        cc_srcs.append(stem + ".pb.cc")
        if grpc:
            hdrs.append(stem + ".grpc.pb.h")
            cc_srcs.append(stem + ".grpc.pb.cc")

    flags = "--proto_path=. --cpp_out=$(GENDIR)"
    if grpc:
        flags += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=" + _GRPC_PLUGIN
    native.filegroup(
        name = name + "_protos",
        srcs = srcs + [_protos_of(d) for d in deps],
        visibility = visibility,
    )
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [_protos_of(d) for d in deps],
        outs = hdrs + cc_srcs,
        cmd = "%s %s %s" % (_PROTOC, flags, " ".join(["$(location %s)" % s for s in srcs])),
        message = "protoc " + name,
    )
    native.cc_library(
        name = name,
        srcs = cc_srcs,
        hdrs = hdrs,
        copts = ["-w"],
        deps = deps + ["@system//:protobuf"] + (["@system//:grpc"] if grpc else []),
        visibility = visibility,
    )
