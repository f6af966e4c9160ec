"""Repository rule exposing Debian's system C++ libraries as cc_library targets.

The link lists come from `pkg-config` at fetch time, never from hand-written lists:
gRPC and Abseil need a long, version-specific tail (Debian's Abseil lives in the inline
namespace absl::debian3, so a missing -labsl_* shows up as undefined symbols).
Headers live in /usr/include, which the auto-configured toolchain already treats as a
built-in include directory.
"""

# name -> (pkg-config modules, extra linkopts). A None module list means "no .pc file".
_LIBS = {
    "absl": ([
        "absl_base",
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_synchronization",
        "absl_time",
        "absl_hash",
        "absl_flat_hash_map",
        "absl_flat_hash_set",
        "absl_btree",
        "absl_flags",
        "absl_flags_parse",
        "absl_flags_usage",
        "absl_cord",
        "absl_inlined_vector",
        "absl_span",
        "absl_optional",
        "absl_variant",
        "absl_function_ref",
        "absl_cleanup",
        "absl_crc32c",
    ], []),
    "protobuf": (["protobuf"], []),
    "grpc": (["grpc++", "grpc"], []),
    "zlib": (["zlib"], []),
    # XXH3-64: the simulator's trace hash (sim/trace.h).
    "xxhash": (["libxxhash"], []),
    "crypto": (["libcrypto"], []),
    # bcrypt for the auth store's passwords (server/auth_crypto.h): Debian's libxcrypt.
    "crypt": (["libcrypt"], []),
    "ssl": (["libssl", "libcrypto"], []),
    "leveldb": (None, ["-lleveldb"]),
    # keeld --config-file: etcd's YAML configuration file.
    "yaml_cpp": (["yaml-cpp"], []),
    "httplib": (["cpp-httplib"], ["-lpthread"]),
    "cli11": (None, []),
    "gtest": (None, ["-lgtest", "-lpthread"]),
    "gtest_main": (None, ["-lgtest_main", "-lgtest", "-lpthread"]),
    "gmock": (None, ["-lgmock", "-lpthread"]),
    "benchmark": (None, ["-lbenchmark", "-lpthread"]),
    "benchmark_main": (None, ["-lbenchmark_main", "-lbenchmark", "-lpthread"]),
}

def _pkg_config(ctx, modules):
    result = ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed (run tools/setup first): %s" %
             (" ".join(modules), result.stderr))
    return result.stdout.strip().split(" ")

def _optional_modules(ctx, modules):
    # absl_crc32c and a few others exist only in newer Abseil releases: keep those present.
    present = []
    for m in modules:
        if ctx.execute(["pkg-config", "--exists", m]).return_code == 0:
            present.append(m)
    return present

def _system_libs_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, spec in _LIBS.items():
        modules, extra = spec
        linkopts = []
        if modules != None:
            linkopts = _pkg_config(ctx, _optional_modules(ctx, modules))
        linkopts = [o for o in linkopts + extra if o]
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(linkopts))
        lines.append(")")
        lines.append("")
    ctx.file("BUILD", "\n".join(lines))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

system_libs = repository_rule(
    implementation = _system_libs_impl,
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
