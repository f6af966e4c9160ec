#include "node/config_file.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

namespace keel::node {
namespace {

// etcd's securityConfig yaml keys (embed/config.go) -> the flag each one sets.
constexpr const char* kSecurityKeys[] = {"cert-file", "key-file", "client-cert-auth",
                                         "trusted-ca-file", "auto-tls"};

absl::StatusOr<std::string> ScalarOrList(const std::string& key, const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) {
    std::vector<std::string> items;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) break;
      items.push_back(item.Scalar());
    }
    if (items.size() == node.size()) return absl::StrJoin(items, ",");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("config file key \"", key, "\" must be a value or a list of values"));
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseEtcdConfigYaml(
    absl::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (root.IsNull()) return out;  // an empty file sets nothing, as in etcd
  if (!root.IsMap()) return absl::InvalidArgumentError("invalid YAML: the document is not a map");
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) return absl::InvalidArgumentError("invalid YAML: non-scalar key");
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (value.IsNull()) continue;
    if (key == "client-transport-security" || key == "peer-transport-security") {
      if (!value.IsMap()) {
        return absl::InvalidArgumentError(absl::StrCat("config file key \"", key, "\" must be a map"));
      }
      const std::string prefix = key == "peer-transport-security" ? "peer-" : "";
      for (const char* field : kSecurityKeys) {
        const YAML::Node sub = value[field];
        if (!sub.IsDefined() || sub.IsNull()) continue;
        absl::StatusOr<std::string> v = ScalarOrList(field, sub);
        if (!v.ok()) return v.status();
        out.emplace_back(absl::StrCat(prefix, field), *v);
      }
      continue;
    }
    absl::StatusOr<std::string> v = ScalarOrList(key, value);
    if (!v.ok()) return v.status();
    out.emplace_back(key, *v);
  }
  return out;
}

}  // namespace keel::node
