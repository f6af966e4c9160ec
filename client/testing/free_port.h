// Free loopback TCP ports for tests and harnesses that start real servers (EtcdCluster,
// chaos/keelchaos). Shared with tests/harness/cluster.py's free_ports: same pool (outside the
// ephemeral range) and the same per-port flock files in /tmp/keel-test-ports, so C++ and
// python tests running in parallel never hand out one port twice.
#ifndef KEEL_CLIENT_TESTING_FREE_PORT_H_
#define KEEL_CLIENT_TESTING_FREE_PORT_H_

namespace keel::client::testing {

// A port outside the ephemeral range that is bindable on 127.0.0.1 now and reserved (flock
// held until this process exits) against every other test on the machine.
int PickFreePort();

}  // namespace keel::client::testing

#endif  // KEEL_CLIENT_TESTING_FREE_PORT_H_
