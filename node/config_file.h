// etcd's --config-file: a YAML map whose keys are etcd's flag names (embed.Config's yaml
// tags), plus the nested client-transport-security / peer-transport-security maps. Read
// with Debian's yaml-cpp. Pure: the caller reads the file.
#ifndef KEEL_NODE_CONFIG_FILE_H_
#define KEEL_NODE_CONFIG_FILE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::node {

// Flag name -> value as the flag would take it: scalars as written, sequences joined with
// ',' (etcd's list flags), null values skipped; `client-transport-security: {cert-file:
// x}` becomes cert-file=x and `peer-transport-security` peer-cert-file=x (etcd's
// securityConfig keys). Keys are not checked here. kInvalidArgument for malformed YAML or
// a document that is not a map.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseEtcdConfigYaml(
    absl::string_view text);

}  // namespace keel::node

#endif  // KEEL_NODE_CONFIG_FILE_H_
