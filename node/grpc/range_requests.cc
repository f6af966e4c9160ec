#include "node/grpc/range_requests.h"

#include "absl/strings/str_format.h"

namespace keel::node {

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

etcdserverpb::RangeRequest FirstCreatedRequest(const std::string& prefix) {
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(PrefixEnd(prefix));
  request.set_sort_target(etcdserverpb::RangeRequest::CREATE);
  request.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
  request.set_limit(1);
  return request;
}

etcdserverpb::RangeRequest LastCreatedBeforeRequest(const std::string& prefix,
                                                    int64_t max_create_revision) {
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(PrefixEnd(prefix));
  request.set_sort_target(etcdserverpb::RangeRequest::CREATE);
  request.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
  request.set_limit(1);
  request.set_max_create_revision(max_create_revision);
  return request;
}

std::string SessionKey(const std::string& prefix, int64_t lease_id) {
  return absl::StrFormat("%s%x", prefix, static_cast<uint64_t>(lease_id));
}

}  // namespace keel::node
