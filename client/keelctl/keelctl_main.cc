// keelctl: etcdctl 3.4's command line for Keel (and etcd). Same commands, flags, output
// formats, "Error: <message>" lines and exit codes (1 error, 3 bad input, 4 unsupported
// format, 128 bad arguments) for the subset listed in client/README.md.
#include <signal.h>

#include <string>

#include "CLI/CLI.hpp"
#include "client/keelctl/command_context.h"

namespace keel::client::keelctl {
namespace {

int Main(int argc, char** argv) {
  // lock/elect/watch wait for SIGINT/SIGTERM with sigwait: block them in every thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  bool waits_for_signal = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "lock" || a == "elect") waits_for_signal = true;
  }
  if (waits_for_signal) pthread_sigmask(SIG_BLOCK, &set, nullptr);

  CLI::App app{"keelctl: a simple command line client for Keel and etcd 3.4", "keelctl"};
  app.require_subcommand(1);
  // Global flags may follow the subcommand (`keelctl get k -w json`), as with etcdctl's pflag.
  app.fallthrough();
  Globals globals;
  app.add_option("--endpoints", globals.endpoints, "gRPC endpoints");
  app.add_option("--dial-timeout", globals.dial_timeout, "dial timeout for client connections");
  app.add_option("--command-timeout", globals.command_timeout, "timeout for short running command");
  app.add_option("-w,--write-out", globals.write_out, "set the output format (simple, json, table)");
  app.add_option("--cacert", globals.cacert, "verify certificates of TLS-enabled secure servers using this CA bundle");
  app.add_option("--cert", globals.cert, "identify secure client using this TLS certificate file");
  app.add_option("--key", globals.key, "identify secure client using this TLS key file");
  app.add_flag("--insecure-skip-tls-verify", globals.insecure_skip_tls_verify,
               "skip server certificate verification");
  Context ctx(globals);
  AddKvCommands(app, ctx);
  AddLeaseCommands(app, ctx);
  AddClusterCommands(app, ctx);
  AddConcurrencyCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    Fail(kExitBadArgs, e.what());
  }
  return 0;
}

}  // namespace
}  // namespace keel::client::keelctl

int main(int argc, char** argv) { return keel::client::keelctl::Main(argc, argv); }
